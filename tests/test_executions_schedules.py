"""Schedules: cron in a time zone, each firing an ordinary execution tagged with its
schedule, one firing per slot however many runners look, a missed run of slots fired
once (and said so), and a hub-managed runner (`jupyter-emr-workspace runner`, a real
process) that fires and runs them while the user's server runs nothing. The clock of the
in-process scheduler is compressed (injected); the runner process uses the real one, with
the schedule's last firing set an hour back as if no runner had been up since."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Api
from test_executions_api import notebook, workspace_with

from jupyter_emr_workspace.executions.cron import Cron, CronError
from jupyter_emr_workspace.executions.schedules import Scheduler, iso

LOCAL = {"type": "local", "id": "local"}
EVERYONE = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
NO_SCHEDULES = {
    "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "emr-workspace:ManageSchedules", "Resource": "*"},
    ]
}


@pytest.fixture
def studio_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-sched",
        "executions_runner": False,  # the user's server runs and fires nothing
        "policies": {"all": EVERYONE, "no-schedules": NO_SCHEDULES},
        "assignments": {"user:alice": "all", "user:carol": "no-schedules"},
    }


def test_cron_fires_on_the_wall_clock_of_its_time_zone() -> None:
    cron = Cron.parse("0 9 * * 1-5", "Europe/Paris")
    monday = datetime(2026, 11, 30, tzinfo=UTC)  # CET is UTC+1 in winter
    assert cron.next_after(monday) == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 3, tzinfo=UTC)  # a Friday; CEST is UTC+2
    assert cron.next_after(summer) == datetime(2026, 7, 3, 7, 0, tzinfo=UTC)
    saturday = datetime(2026, 12, 5, 10, tzinfo=UTC)
    assert cron.next_after(saturday) == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    latest, count = Cron.parse("*/15 * * * *").slots(monday, monday + timedelta(hours=1))
    assert (latest, count) == (monday + timedelta(hours=1), 4)
    for bad in ("* * *", "61 * * * *", "*/0 * * * *", "a b c d e"):
        with pytest.raises(CronError):
            Cron.parse(bad)
    with pytest.raises(CronError, match="time zone"):
        Cron.parse("* * * * *", "Mars/Olympus")


async def test_each_slot_fires_once_and_missed_slots_fire_once_said_so(
    api: Api, services: Any
) -> None:
    wid = await workspace_with(api, "nightly", {"a.ipynb": notebook("n = 1")})
    body = {
        "workspace_id": wid,
        "relative_path": "a.ipynb",
        "cron": "*/5 * * * *",
        "timezone": "Europe/Paris",
        "parameters": {"n": 7},
        "cluster": LOCAL,
    }
    r = await api("POST", "schedules", body)
    assert r.code == 201, r
    sch = r.json
    assert sch["id"].startswith("sch-") and sch["next_fire_at"]
    schedules = services.executions.schedules
    start = datetime.fromisoformat(sch["last_slot"].replace("Z", "+00:00"))
    start = start.replace(minute=start.minute - start.minute % 5, second=0)  # a slot
    clock = {"now": start + timedelta(minutes=4)}

    schedules.clock = lambda: clock["now"]  # what re-enabling calls "now", too

    def scheduler() -> Scheduler:
        return Scheduler(schedules.schedules, schedules.submit, clock=lambda: clock["now"])

    first, second = scheduler(), scheduler()  # two runners look at once
    assert await first.tick() == []  # nothing due yet
    clock["now"] = start + timedelta(minutes=5, seconds=10)
    fired = await asyncio.gather(first.tick(), second.tick())
    assert sorted(len(f) for f in fired) == [0, 1]  # one runner fired the slot
    (eid,) = fired[0] or fired[1]
    assert await first.tick() == [] and await second.tick() == []  # once per slot
    ex = (await api("GET", f"executions/{eid}")).json
    assert ex["schedule_id"] == sch["id"] and ex["parameters"] == {"n": 7}
    assert ex["created_by"] == "alice" and ex["status"] == "START_PENDING"
    assert f"for {iso(start + timedelta(minutes=5))}" in ex["events"][0]["message"]

    # no runner for 30 minutes: six slots passed; one firing, saying five were missed
    clock["now"] = start + timedelta(minutes=35, seconds=10)
    (late,) = await first.tick()
    note = (await api("GET", f"executions/{late}")).json["events"][0]["message"]
    assert "5 earlier firings" in note and "missed while no runner was up" in note
    got = (await api("GET", f"schedules/{sch['id']}")).json
    assert got["missed"] == 5 and got["fired"] == 2 and got["last_execution_id"] == late
    listed = (await api("GET", "executions", params={"schedule_id": sch["id"]})).json
    assert [e["id"] for e in listed["executions"]] == [late, eid]

    # disabled: nothing fires; re-enabled: what passed meanwhile is not fired
    r = await api("PATCH", f"schedules/{sch['id']}", {"enabled": False})
    assert r.code == 200 and r.json["next_fire_at"] is None
    clock["now"] = start + timedelta(minutes=50, seconds=10)
    assert await first.tick() == []
    assert (await api("PATCH", f"schedules/{sch['id']}", {"enabled": True})).code == 200
    assert await first.tick() == []
    assert (await api("DELETE", f"schedules/{sch['id']}")).code == 204
    assert (await api("GET", f"schedules/{sch['id']}")).code == 404
    actions = [e["action"] for e in services.audit.recent(100)]
    assert actions.count("emr-workspace:ManageSchedules") >= 4


async def test_bad_schedules_are_refused_and_need_manage_schedules(api: Api) -> None:
    wid = await workspace_with(api, "bad schedules", {"a.ipynb": notebook("1")})
    base = {"workspace_id": wid, "relative_path": "a.ipynb", "cron": "0 * * * *"}
    for change, needle in [
        ({"cron": "every day"}, "5 fields"),
        ({"timezone": "Nowhere/Town"}, "time zone"),
        ({"relative_path": "missing.ipynb"}, "No notebook"),
        ({"enabled": "yes"}, "enabled"),
        ({"every": 5}, "unknown fields"),
    ]:
        r = await api("POST", "schedules", {**base, **change})
        assert r.code in (400, 404) and needle in r.error["message"], (change, r)
    r = await api("POST", "schedules", base, user="carol")
    assert r.code == 403 and "ManageSchedules" in r.error["message"]
    sid = (await api("POST", "schedules", base)).json["id"]
    assert (await api("PATCH", f"schedules/{sid}", {"cron": "x"})).code == 400
    assert (await api("GET", f"schedules/{sid}")).json["cron"] == "0 * * * *"
    assert (await api("GET", f"schedules/{sid}", user="carol")).code == 403
    assert (await api("GET", "schedules", user="carol")).json["schedules"] == []
    assert (await api("DELETE", f"schedules/{sid}", user="carol")).code == 403


async def test_the_hub_runner_fires_a_missed_schedule_once_while_the_users_server_is_idle(
    api: Api, services: Any, tmp_path: Path
) -> None:
    local = notebook("%%local\nimport os\nprint(os.environ)", "1")
    wid = await workspace_with(api, "hub runs", {"a.ipynb": notebook("1"), "local.ipynb": local})
    await services.store.put(f"{wid}/a.ipynb", json.dumps(notebook("1")).encode())  # backed up
    # code that would run on the runner's machine (with its credentials) is refused there
    body = {"workspace_id": wid, "relative_path": "local.ipynb", "cluster": LOCAL}
    refused = (await api("POST", "executions", body)).json["id"]
    body = {
        "workspace_id": wid,
        "relative_path": "a.ipynb",
        "cron": "*/10 * * * *",
        "cluster": {"type": "local", "id": "no-such-cluster"},  # fails fast, no JVM
    }
    sid = (await api("POST", "schedules", body)).json["id"]
    schedules = services.executions.schedules.schedules

    def an_hour_ago(sch: Any) -> None:  # as if no runner had been up for an hour
        sch.last_slot = iso(datetime.now(UTC) - timedelta(hours=1))

    await schedules.update(sid, an_hour_ago)
    config = tmp_path / "runner_config.py"
    config.write_text(
        "c.Studio.id = 'es-sched'\n"
        f"c.Studio.backup_uri = {services.studio.resolved_backup_uri!r}\n"
        f"c.Studio.policies = {{'all': {EVERYONE!r}}}\n"
        "c.Studio.assignments = {'user:alice': 'all'}\n"
        f"c.Studio.audit_log_path = {str(tmp_path / 'runner-audit.jsonl')!r}\n"
        "c.Studio.execution_poll_seconds = 0.3\n"
        "c.Studio.schedule_tick_seconds = 0.3\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    log = tmp_path / "runner.log"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jupyter_emr_workspace.cli", "runner", "--config", str(config),
        "--runner-id", "hub-runner",
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            listed = (await api("GET", "executions", params={"schedule_id": sid})).json
            if listed["executions"] and listed["executions"][0]["status"] == "FAILED":
                break
            assert proc.returncode is None, log.read_text()
            assert time.monotonic() < deadline, listed
            await asyncio.sleep(0.3)
        await asyncio.sleep(1.5)  # several more ticks of the runner: nothing more fires
        listed = (await api("GET", "executions", params={"schedule_id": sid})).json
        (ex,) = listed["executions"]
        assert ex["runner"]["id"] == "hub-runner" and ex["created_by"] == "alice"
        assert "no-such-cluster" in ex["reason"]  # it ran (and failed) in the hub runner
        assert "5 earlier firings" in ex["events"][0]["message"]
        sch = (await api("GET", f"schedules/{sid}")).json
        assert sch["fired"] == 1 and sch["missed"] == 5
        ex = (await api("GET", f"executions/{refused}")).json
        assert ex["status"] == "FAILED" and ex["error"]["ename"] == "LocalCodeRefused"
        assert ex["error"]["cell_number"] == 1 and "runner's machine" in ex["reason"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0, log.read_text()


def test_the_example_hub_runs_the_runner_as_a_managed_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from traitlets.config import PyFileConfigLoader

    from jupyter_emr_workspace.cli import build_parser
    from jupyter_emr_workspace.executions.cli import runner_command

    examples = Path(__file__).resolve().parent.parent / "examples" / "jupyterhub"
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(examples)).load_config()
    (service,) = [s for s in config.JupyterHub.services if s["name"] == "emr-workspace-runner"]
    command = service["command"]
    assert command[1:4] == ["-m", "jupyter_emr_workspace.cli", "runner"]
    args = build_parser().parse_args(command[3:])
    assert args.func is runner_command and args.config == str(examples / "studio_config.py")
    assert service["environment"]["AWS_REGION"] == "eu-west-1"
