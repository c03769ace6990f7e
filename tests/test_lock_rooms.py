"""The lease holds in jupyter-collaboration's rooms: a real ``jupyter server`` with the
collaboration extensions as installed, two users (the test header identity), live Y
websockets driven with pycrdt.

Each test makes its own Workspace and documents; the server is shared for speed only.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from emrws_testing.servers import ServerProcess
from emrws_testing.ydoc import YNotebookClient, notebook_model


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("rooms")
    studio = {"id": "es-rooms", "backup_uri": str(base / "store"), "lease_seconds": 60}
    proc = ServerProcess(base / "root", studio, name="rooms")
    try:
        yield proc.start()
    finally:
        proc.stop()


def new_workspace(server: ServerProcess, user: str = "alice") -> tuple[str, str]:
    r = server.api("POST", "/workspaces", user=user, json={"name": f"ws-{uuid.uuid4().hex[:8]}"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"]), str(r.json()["path"])


def open_workspace(server: ServerProcess, wid: str, user: str = "alice") -> dict[str, Any]:
    r = server.api("POST", f"/workspaces/{wid}/open", user=user)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def close_workspace(server: ServerProcess, wid: str, token: str, user: str = "alice") -> None:
    r = server.api("POST", f"/workspaces/{wid}/close", user=user, json={"token": token})
    assert r.status_code == 204, r.text


def save(server: ServerProcess, path: str, source: str, user: str = "alice") -> None:
    r = server.request("PUT", f"/api/contents/{path}", user=user, json=notebook_model(source))
    assert r.status_code in (200, 201), r.text


def wait_for(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def saved_with(server: ServerProcess, path: str, text: str) -> str | None:
    """The notebook as saved on disk, once it contains ``text``. Read from disk, not
    through the contents API: jupyter_server writes in place, and a read through it
    that meets a save in progress takes the file for a failed write and rolls it back."""
    try:
        cells = json.loads((server.root / path).read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return None  # being written
    source = "".join("".join(c["source"]) for c in cells)
    return source if text in source else None


def raw_request(server: ServerProcess, method: str, target: str, user: str) -> tuple[int, Any]:
    """A request whose target goes out byte for byte (requests would decode %XX of
    unreserved characters before sending)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(
            method,
            target,
            headers={"Authorization": f"token {server.token}", "X-Test-User": user},
        )
        response = conn.getresponse()
        body = response.read()
        return response.status, json.loads(body) if body.strip() else None
    finally:
        conn.close()


def percent_encoded(text: str) -> str:
    """Every character as %XX: what tornado decodes before the handler sees it."""
    return "".join(f"%{b:02X}" for b in text.encode())


def test_a_percent_encoded_fork_merge_needs_the_lease(server: ServerProcess) -> None:
    wid, folder = new_workspace(server)
    open_workspace(server, wid)
    path = f"{folder}/forked.ipynb"
    save(server, path, "x = 1\n")
    alice = YNotebookClient(server, path, "alice")
    try:
        alice.pump(lambda: alice.source() == "x = 1\n")
        for user, text, status in (("bob", "bob was here\n", 423), ("alice", "y = 2\n", 200)):
            r = server.request("PUT", f"/api/collaboration/fork/{alice.room}", user=user, json={})
            assert r.status_code == 201, r.text
            fork = r.json()["fork_roomid"]
            editor = YNotebookClient(server, path, user, room=fork)
            try:
                editor.pump(lambda e=editor: e.source() == "x = 1\n")  # type: ignore[misc]
                editor.append(text)
                # the fork room takes the edit (forks are nobody's Workspace) ...
                check = YNotebookClient(server, path, user, room=fork)
                check.pump(lambda c=check, t=text: t in c.source())  # type: ignore[misc]
                check.close()
            finally:
                editor.close()
            # ... but merging it into the document, with the id spelt in %XX, needs the lease
            target = f"/api/collaboration/fork/{percent_encoded(fork)}?merge=true"
            code, body = raw_request(server, "DELETE", target, user)
            assert code == status, body
            if status == 423:
                assert wid in body["message"], body
        alice.pump(lambda: "y = 2" in alice.source())
        assert "bob" not in alice.source()
    finally:
        alice.close()


def test_a_merge_whose_fork_cannot_be_resolved_is_refused(server: ServerProcess) -> None:
    r = server.request(
        "DELETE", f"/api/collaboration/fork/{uuid.uuid4().hex}?merge=true", user="bob"
    )
    assert r.status_code == 403, r.text
    assert "could be in a Workspace" in r.json()["message"]


def test_a_document_moved_into_a_workspace_stops_taking_a_non_holders_edits(
    server: ServerProcess,
) -> None:
    wid, folder = new_workspace(server)
    outside = f"draft-{uuid.uuid4().hex[:8]}.ipynb"
    save(server, outside, "x = 1\n")
    bob = YNotebookClient(server, outside, "bob")
    try:
        bob.pump(lambda: bob.source() == "x = 1\n")
        bob.append("b1 = 1\n")  # outside every Workspace: anyone may edit
        wait_for(lambda: saved_with(server, outside, "b1"), "bob's edit saved outside")

        # alice opens the Workspace and moves the document into it; bob stays connected
        open_workspace(server, wid)
        inside = f"{folder}/moved.ipynb"
        r = server.request("PATCH", f"/api/contents/{outside}", json={"path": inside})
        assert r.status_code == 200, r.text
        bob.append("b2 = 2\n")

        alice = YNotebookClient(server, inside, "alice")
        try:
            alice.pump(lambda: "b1" in alice.source())
            alice.append("a3 = 3\n")  # the holder's edit is taken and saved ...
            bob.pump(lambda: "a3" in bob.source())
            saved = wait_for(lambda: saved_with(server, inside, "a3"), "alice's edit saved")
            # ... bob's, sent after the move, reached neither the room nor the file
            assert "b2" not in saved and "b2" not in alice.source()
        finally:
            alice.close()
    finally:
        bob.close()


def test_a_room_joined_before_the_lease_follows_it(server: ServerProcess) -> None:
    """Joined while nobody holds the lease, the same connection edits once its user
    opens the Workspace and is read-only again once they close it."""
    wid, folder = new_workspace(server)
    lease = open_workspace(server, wid)["lease"]
    path = f"{folder}/early.ipynb"
    save(server, path, "x = 1\n")
    close_workspace(server, wid, lease["token"])
    bob = YNotebookClient(server, path, "bob")
    try:
        bob.pump(lambda: bob.source() == "x = 1\n")
        bob_lease = open_workspace(server, wid, "bob")["lease"]
        bob.append("kept = 1\n")
        wait_for(lambda: saved_with(server, path, "kept"), "bob's edit under his lease")
        close_workspace(server, wid, bob_lease["token"], "bob")
        bob.append("dropped = 2\n")

        lease = open_workspace(server, wid)["lease"]
        alice = YNotebookClient(server, path, "alice")
        try:
            alice.pump(lambda: "kept" in alice.source())
            alice.append("a = 3\n")
            saved = wait_for(lambda: saved_with(server, path, "a = 3"), "alice's edit saved")
            assert "dropped" not in saved and "dropped" not in alice.source()
        finally:
            alice.close()
        close_workspace(server, wid, lease["token"])
    finally:
        bob.close()


def test_a_symlink_into_a_workspace_does_not_open_a_side_door(server: ServerProcess) -> None:
    wid, folder = new_workspace(server)
    lease = open_workspace(server, wid)["lease"]
    target = f"{folder}/linked.ipynb"
    save(server, target, "x = 1\n")
    link = f"link-{uuid.uuid4().hex[:8]}.ipynb"
    (server.root / link).symlink_to(server.root / target)
    # the room of a path outside every Workspace, whose file is inside one
    bob = YNotebookClient(server, link, "bob")
    try:
        bob.pump(lambda: bob.source() == "x = 1\n")
        bob.append("through the link\n")
        alice = YNotebookClient(server, link, "alice")  # she holds the lease
        try:
            alice.pump(lambda: alice.source().startswith("x = 1\n"))
            alice.append("a = 2\n")
            bob.pump(lambda: "a = 2" in bob.source())
            saved = wait_for(lambda: saved_with(server, target, "a = 2"), "alice's edit saved")
            assert "through the link" not in saved and "through" not in alice.source()
        finally:
            alice.close()
    finally:
        bob.close()
    close_workspace(server, wid, lease["token"])
