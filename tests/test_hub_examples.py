"""The deployment files an admin copies: valid, consistent with each other, and with a
Studio configuration the extension accepts (no hub needed; fast)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from traitlets.config import Config, PyFileConfigLoader

from jupyter_emr_workspace.studio import Studio

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "jupyterhub"
SHARING_SCOPES = {"shares!user", "read:users:name", "read:groups"}


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    data = yaml.safe_load((EXAMPLES / "z2jh-values.yaml").read_text())
    assert isinstance(data, dict)
    return data


def load_py_config(name: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> Config:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    loader = PyFileConfigLoader(name, path=str(EXAMPLES))
    return loader.load_config()


def test_z2jh_values_have_what_the_docs_promise(values: dict[str, Any]) -> None:
    single = values["singleuser"]
    assert single["image"]["name"] and single["image"]["tag"]
    assert single["serviceAccountName"]  # IRSA
    assert single["cmd"] == "jupyterhub-singleuser"
    assert {"AWS_REGION", "AWS_DEFAULT_REGION"} <= set(single["extraEnv"])
    studio_file = single["extraFiles"]["emr-studio"]
    assert studio_file["mountPath"].endswith("/jupyter_server_config.d/emr-studio.json")
    assert single["extraPodConfig"]["terminationGracePeriodSeconds"] >= 30
    roles = values["hub"]["loadRoles"]
    assert SHARING_SCOPES <= set(roles["user"]["scopes"]) and "self" in roles["user"]["scopes"]
    assert SHARING_SCOPES <= set(roles["server"]["scopes"])
    assert "access:servers!server" in roles["server"]["scopes"]


def test_z2jh_studio_config_is_accepted_by_the_extension(values: dict[str, Any]) -> None:
    data = values["singleuser"]["extraFiles"]["emr-studio"]["data"]
    json.dumps(data)  # extraFiles renders it as JSON: it must be JSON-able
    studio = Studio(config=Config(data))
    studio.validate()
    assert studio.backup_uri.startswith("s3://")
    assert any(p.startswith("group:") for p in studio.assignments)
    assert data["HubOAuth"]["cache_max_age"] <= 60


def test_example_hub_config_matches_the_z2jh_roles(
    values: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = load_py_config(
        "jupyterhub_config.py", monkeypatch, EMR_HUB_SPAWNER="simple", AWS_REGION="eu-west-1"
    )
    hub = config.JupyterHub
    assert hub.spawner_class.endswith("TermFirstSimpleLocalProcessSpawner")
    roles = {r["name"]: set(r["scopes"]) for r in hub.load_roles}
    z2jh = values["hub"]["loadRoles"]
    assert roles["user"] == set(z2jh["user"]["scopes"])
    assert roles["server"] == set(z2jh["server"]["scopes"])
    assert config.Spawner.args[0] == f"--config={EXAMPLES / 'studio_config.py'}"
    assert config.Spawner.environment["AWS_REGION"] == "eu-west-1"
    local = load_py_config("jupyterhub_config.py", monkeypatch, EMR_HUB_SPAWNER="local")
    assert local.JupyterHub.spawner_class.endswith("TermFirstLocalProcessSpawner")


def test_the_spawners_import_and_stop_with_sigterm_first() -> None:
    from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner

    from jupyter_emr_workspace.hub import spawners

    assert issubclass(spawners.TermFirstLocalProcessSpawner, LocalProcessSpawner)
    assert issubclass(spawners.TermFirstSimpleLocalProcessSpawner, SimpleLocalProcessSpawner)


def test_example_studio_config_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_py_config(
        "studio_config.py",
        monkeypatch,
        EMR_STUDIO_BACKUP_URI="s3://bucket/studio",
        EMR_STUDIO_SUBNETS="subnet-0123456789abcdef0",
        EMR_STUDIO_MEMBERS="carol,dave",
    )
    studio = Studio(config=config)
    studio.validate()
    assert studio.assignments["user:dave"] == "own-workspaces"
    assert studio.subnet_ids == ["subnet-0123456789abcdef0"]
