"""``c.EventLogger.handlers`` (README, "Audit"): logging handlers an admin configures in a
Python config file receive the audit events of a real ``jupyter server``."""

from __future__ import annotations

import json
from pathlib import Path

from emrws_testing.servers import ServerProcess


def test_event_logger_handlers_from_the_config_file_receive_audit_events(
    tmp_path: Path,
) -> None:
    sink = tmp_path / "sink.jsonl"
    server = ServerProcess(
        tmp_path / "root", {"backup_uri": str(tmp_path / "store"), "id": "es-sinks"}, name="sinks"
    )
    # what an admin writes: the server's settings, and a logging handler as the sink
    config = tmp_path / "jupyter_server_config.py"
    config.write_text(
        "import json, logging\n"
        "from traitlets.config import Config\n"
        f"c.merge(Config(json.loads(open({str(server.config_path)!r}).read())))\n"
        f"c.EventLogger.handlers = [logging.FileHandler({str(sink)!r})]\n"
    )
    server.config_path = config
    server.start()
    try:
        r = server.api("POST", "/workspaces", json={"name": "audited"})
        assert r.status_code == 201, r.text
        denied = server.api("DELETE", "/workspaces/e-" + "A" * 25)
        assert denied.status_code == 404
    finally:
        server.stop()
    events = [json.loads(line) for line in sink.read_text().splitlines() if line.strip()]
    audit = [e for e in events if e.get("__schema__", "").endswith("jupyter_emr_workspace/audit")]
    created = [e for e in audit if e["action"] == "elasticmapreduce:CreateEditor"]
    assert len(created) == 1, events
    assert created[0]["user"] == "alice" and created[0]["outcome"] == "success"
    assert created[0]["details"]["workspace_id"] == r.json()["id"]
    assert created[0]["studio_id"] == "es-sinks"
