"""Bad ``c.Studio.*`` values stop the server at start with a message naming the setting."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from emrws_testing.servers import ServerProcess
from traitlets.config import Config

from jupyter_emr_workspace.errors import ConfigError
from jupyter_emr_workspace.studio import Studio


def start_fails(server: ServerProcess) -> str:
    """Start a server that must exit; return its log."""
    try:
        server.start(timeout=90)
    except RuntimeError as e:  # ServerProcess: "server ... exited"
        assert server.proc is not None and server.proc.returncode not in (0, None)
        return str(e) + server.log_path.read_text()
    finally:
        server.stop()
    pytest.fail(f"server {server.name} started with a bad configuration")


def test_bad_settings_stop_the_server_naming_the_setting(tmp_path: Path) -> None:
    cases = {
        # caught by Studio.validate
        "lease": ({"lease_seconds": 5}, "c.Studio.lease_seconds=5"),
        # caught by traitlets (a type error), which must stop the server too
        "mode": ({"auth_mode": "LDAP"}, "auth_mode"),
    }
    servers = {
        name: ServerProcess(
            tmp_path / name / "root",
            {"backup_uri": str(tmp_path / "store"), **studio},
            name=f"bad-{name}",
        )
        for name, (studio, _) in cases.items()
    }
    with ThreadPoolExecutor(len(servers)) as pool:
        logs = dict(zip(servers, pool.map(start_fails, servers.values()), strict=True))
    for name, (_, expected) in cases.items():
        assert expected in logs[name], logs[name][-2000:]
        assert "invalid configuration" in logs[name], logs[name][-2000:]


def studio(**settings: Any) -> Studio:
    return Studio(config=Config({"Studio": settings}))


POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"id": "bad id!"}, "c.Studio.id"),
        ({"id": ""}, "c.Studio.id"),
        ({"backup_uri": "ftp://host/x"}, "c.Studio.backup_uri"),
        ({"backup_uri": "s3://"}, "c.Studio.backup_uri"),
        ({"subnet_ids": ["sub-1"]}, "c.Studio.subnet_ids"),
        ({"lease_seconds": 9}, "c.Studio.lease_seconds"),
        ({"autosave_interval": 0}, "c.Studio.autosave_interval"),
        ({"service_role_arn": "arn:aws:iam::1:role/x"}, "c.Studio.service_role_arn"),
        ({"user_role_arn": "role"}, "c.Studio.user_role_arn"),
        ({"auth_mode": "IDENTITY_CENTER"}, "c.Studio.assignments"),
        ({"workspaces_dir": "../out"}, "c.Studio.workspaces_dir"),
        ({"workspaces_dir": "/abs"}, "c.Studio.workspaces_dir"),
        ({"policies": {"p": {"Statement": [{"Effect": "Maybe"}]}}}, "c.Studio.policies['p']"),
        ({"policies": {"p": POLICY}, "assignments": {"alice": "p"}}, "c.Studio.assignments"),
        ({"policies": {"p": POLICY}, "assignments": {"user:alice": "q"}}, "c.Studio.assignments"),
        ({"groups": {"alice": "data"}}, "c.Studio.groups['alice']"),
    ],
)
def test_validate_names_the_setting(settings: dict[str, Any], names: str) -> None:
    with pytest.raises(ConfigError) as e:
        studio(**settings).validate()
    assert names in str(e.value)


# Each good value next to the bad one just past it: the good one validates and is what
# the Studio then uses, the bad one is refused, so neither half can pass vacuously.
GOOD_AND_BAD: list[tuple[str, Any, Any]] = [
    ("id", "es-ok_1", "es ok"),
    ("backup_uri", "s3://bucket/prefix", "s3://"),
    ("backup_uri", "relative/folder", "ftp://host/x"),
    ("subnet_ids", ["subnet-0123abcd"], ["sub-1"]),
    ("lease_seconds", 10, 9),
    ("autosave_interval", 1, 0),
    ("service_role_arn", "arn:aws:iam::123456789012:role/EMRStudio", "arn:aws:iam::1:role/x"),
    ("user_role_arn", "arn:aws:iam::123456789012:role/path/User", "role"),
    ("workspaces_dir", "nested/workspaces", "../out"),
    ("groups", {"alice": ["data"]}, {"alice": "data"}),
    # executions/settings.py (mixed into Studio): heartbeat 15 s by default
    ("execution_claim_timeout", 31.0, 30.0),
    ("execution_poll_seconds", 0.5, 0.0),
    ("execution_concurrency", 1, 0),
]


@pytest.mark.parametrize(("name", "good", "bad"), GOOD_AND_BAD, ids=lambda v: str(v)[:30])
def test_good_settings_validate_and_take_effect(name: str, good: Any, bad: Any) -> None:
    ok = studio(**{name: good})
    ok.validate()
    assert getattr(ok, name) == good
    with pytest.raises(ConfigError, match=re.escape(f"c.Studio.{name}")):
        studio(**{name: bad}).validate()


def test_a_full_identity_center_studio_validates_and_is_used_as_given() -> None:
    s = studio(
        id="es-ok",
        backup_uri="s3://bucket/prefix",
        subnet_ids=["subnet-0123abcd"],
        auth_mode="IDENTITY_CENTER",
        policies={"p": POLICY},
        assignments={"group:data": ["p"]},
        groups={"alice": ["data"]},
        service_role_arn="arn:aws:iam::123456789012:role/EMRStudio",
    )
    s.validate()
    assert s.resolved_backup_uri == "s3://bucket/prefix"
    assert s.aws_settings().service_role_arn == "arn:aws:iam::123456789012:role/EMRStudio"
    # the same Studio with its only assignment gone is refused: IDENTITY_CENTER needs one
    s.assignments = {}
    with pytest.raises(ConfigError, match=re.escape("c.Studio.assignments")):
        s.validate()
