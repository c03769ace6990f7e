"""The Workspace REST API against a real jupyter-server (local-folder store)."""

from __future__ import annotations

import re

from conftest import Api


async def test_studio_reports_user_version_and_permissions(api: Api) -> None:
    r = await api("GET", "studio", user="alice", groups="data")
    assert r.code == 200
    assert r.json["user"] == {"name": "alice", "groups": ["data"]}
    assert r.json["id"] == "es-test"
    assert r.json["permissions"]["elasticmapreduce:CreateEditor"] is True
    from jupyter_emr_workspace import __version__

    assert r.json["version"] == __version__


async def test_create_list_get_patch_delete(api: Api, services) -> None:
    r = await api(
        "POST", "workspaces", {"name": "Churn model", "description": "d", "tags": {"team": "ds"}}
    )
    assert r.code == 201, r
    ws = r.json
    assert re.fullmatch(r"e-[A-Z0-9]{25}", ws["id"])
    assert ws["tags"] == {"team": "ds", "creatorUserId": "alice"}
    assert ws["created_by"] == "alice"
    assert ws["path"] == f"workspaces/{ws['id']}"
    assert ws["lock"] is None and ws["attachment"] is None
    assert (services.folders.local_path(ws["id"])).is_dir()

    listed = (await api("GET", "workspaces")).json["workspaces"]
    assert [w["id"] for w in listed] == [ws["id"]]

    r = await api("PATCH", f"workspaces/{ws['id']}", {"description": "new"})
    assert r.code == 200 and r.json["description"] == "new"
    assert (await api("GET", f"workspaces/{ws['id']}")).json["description"] == "new"

    r = await api("DELETE", f"workspaces/{ws['id']}")
    assert r.code == 200
    assert r.json["id"] == ws["id"] and r.json["backups_kept"] is True
    assert "storage" in r.json["message"]
    assert (await api("GET", f"workspaces/{ws['id']}")).code == 404
    assert (await api("GET", "workspaces")).json["workspaces"] == []
    # the name is free again
    assert (await api("POST", "workspaces", {"name": "Churn model"})).code == 201


async def test_names_are_unique_case_insensitively(api: Api) -> None:
    assert (await api("POST", "workspaces", {"name": "Sales"})).code == 201
    r = await api("POST", "workspaces", {"name": "sales"}, user="bob")
    assert r.code == 409 and r.error["code"] == "NameTaken"


async def test_open_is_exclusive_and_idempotent(api: Api) -> None:
    wid = (await api("POST", "workspaces", {"name": "w"})).json["id"]
    first = await api("POST", f"workspaces/{wid}/open")
    assert first.code == 200, first
    again = await api("POST", f"workspaces/{wid}/open")
    assert again.json["lease"]["token"] == first.json["lease"]["token"]
    assert again.json["lease"]["generation"] == first.json["lease"]["generation"]

    r = await api("POST", f"workspaces/{wid}/open", user="bob")
    assert r.code == 409
    assert r.error["code"] == "WorkspaceInUse"
    assert r.error["holder"]["user"] == "alice" and r.error["holder"]["since"]
    assert "alice" in r.error["message"]

    listed = (await api("GET", "workspaces", user="bob")).json["workspaces"][0]
    assert [h["user"] for h in listed["lock"]["holders"]] == ["alice"]
    assert "token" not in str(listed["lock"])

    token = first.json["lease"]["token"]
    hb = await api("POST", f"workspaces/{wid}/heartbeat", {"token": token})
    assert hb.code == 200 and hb.json["lease"]["token"] == token
    assert (await api("POST", f"workspaces/{wid}/close", {"token": token})).code == 204

    bob = await api("POST", f"workspaces/{wid}/open", user="bob")
    assert bob.code == 200
    assert bob.json["lease"]["generation"] > first.json["lease"]["generation"]
    # alice's old token is dead
    r = await api("POST", f"workspaces/{wid}/heartbeat", {"token": token})
    assert r.code == 409 and r.error["code"] == "LeaseLost"


async def test_force_release(api: Api) -> None:
    wid = (await api("POST", "workspaces", {"name": "w"})).json["id"]
    lease = (await api("POST", f"workspaces/{wid}/open")).json["lease"]
    assert (await api("DELETE", f"workspaces/{wid}/lock", user="admin")).code == 204
    r = await api("POST", f"workspaces/{wid}/heartbeat", {"token": lease["token"]})
    assert r.code == 409 and r.error["code"] == "LeaseLost"
    assert (await api("POST", f"workspaces/{wid}/open", user="bob")).code == 200


async def test_delete_refused_while_open_by_another(api: Api) -> None:
    wid = (await api("POST", "workspaces", {"name": "w"})).json["id"]
    assert (await api("POST", f"workspaces/{wid}/open", user="bob")).code == 200
    r = await api("DELETE", f"workspaces/{wid}")
    assert r.code == 409 and "bob" in r.error["message"]
    assert (await api("GET", f"workspaces/{wid}")).code == 200


async def test_collaboration_mode_admits_listed_collaborators_only(api: Api) -> None:
    body = {
        "name": "team",
        "collaboration": {"enabled": True, "collaborators": ["user:bob", "group:ml"]},
    }
    wid = (await api("POST", "workspaces", body)).json["id"]
    assert (await api("POST", f"workspaces/{wid}/open", user="alice")).code == 200
    assert (await api("POST", f"workspaces/{wid}/open", user="bob")).code == 200
    assert (await api("POST", f"workspaces/{wid}/open", user="carol", groups="ml")).code == 200
    r = await api("POST", f"workspaces/{wid}/open", user="mallory")
    assert r.code == 409 and r.error["code"] == "WorkspaceInUse"
    lock = (await api("GET", f"workspaces/{wid}")).json["lock"]
    assert sorted(h["user"] for h in lock["holders"]) == ["alice", "bob", "carol"]


async def test_studios_sharing_a_store_do_not_see_each_other(api: Api, services, tmp_path) -> None:
    from jupyter_emr_workspace.app import build_services
    from jupyter_emr_workspace.studio import Identity, Studio

    await api("POST", "workspaces", {"name": "mine"})
    other = Studio(
        id="es-other",
        backup_uri=services.studio.resolved_backup_uri,
        audit_log_path=str(tmp_path / "other.jsonl"),
    )
    other_services = build_services(other, str(tmp_path / "other-root"), "server-b")
    assert await other_services.workspaces.list_workspaces(Identity("alice")) == []
    await other_services.workspaces.create_workspace(Identity("alice"), {"name": "theirs"})
    names = [w["name"] for w in (await api("GET", "workspaces")).json["workspaces"]]
    assert names == ["mine"]
