"""Adding a cluster source is one module plus one registry line (docs/design.md, "How to
add a compute source"), as a newcomer would do it: this module plays the new file (a
`ClusterSource` and its `SourceSpec`), the fixture `toy_registered` the one line, and the
real jupyter-server lists the source, serves its display words and attaches Workspaces
to it. Nothing else in the package is told about it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Api
from emrws_testing.compute import FakeLivy

from jupyter_emr_workspace.compute import livy_url, sources
from jupyter_emr_workspace.compute.model import Cluster, LivyEndpoint
from jupyter_emr_workspace.compute.sources import SourceSpec
from jupyter_emr_workspace.errors import Conflict, NotFound
from jupyter_emr_workspace.kernels import find_workspace_conf

pytestmark = pytest.mark.usefixtures("kernel_registry")

# -- the new file: a source with two clusters, one ready and one still starting ----------


class ToySource:
    """Clusters whose Livy URLs the admin lists in ``c.Studio.livy_urls``."""

    type = "toy"
    list_action = "toy:ListClusters"

    def __init__(self, studio: Any, arns: Any) -> None:
        self.studio, self.arns = studio, arns

    def arn(self, cluster_id: str) -> str:
        return SOURCE.arn(self.arns, cluster_id)

    async def list_clusters(self, identity: Any) -> list[Cluster]:
        ready = Cluster(type=self.type, id="toy-1", name="Toy one", state="HUMMING")
        ready.livy_url = self.studio.livy_urls.get("toy-1")
        starting = Cluster(type=self.type, id="toy-2", name="Toy two", state="WARMING")
        starting.attachable, starting.reason = False, "Still warming up"
        return [ready, starting]

    async def resolve(
        self, identity: Any, cluster_id: str, endpoint_id: str | None
    ) -> tuple[Cluster, LivyEndpoint]:
        found = {c.id: c for c in await self.list_clusters(identity)}
        if cluster_id not in found:
            raise NotFound(f"No toy cluster {cluster_id}", code="ClusterNotFound")
        cluster = found[cluster_id]
        if not cluster.attachable or not cluster.livy_url:
            raise Conflict(f"Cannot attach {cluster_id}: {cluster.reason}", code="ClusterNotReady")
        url = cluster.livy_url
        await asyncio.to_thread(livy_url.probe, url, 1.0, cluster_id=cluster_id)
        return cluster, LivyEndpoint(url=url)


SOURCE = SourceSpec(
    type=ToySource.type,
    label="Toy clusters",
    build=lambda ctx: ToySource(ctx.studio, ctx.arns),
    arn_format="arn:aws:toy:{region}:{account}:cluster/{id}",
    list_action=ToySource.list_action,
    needs_aws=False,  # listed without subnet_ids, as the local engine is
    states={"HUMMING": "ready", "WARMING": "starting"},
    attach_note="Toy clusters run wherever c.Studio.livy_urls says.",
)

# -- the tests ----------------------------------------------------------------------------


@pytest.fixture
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one line: this module named in compute/sources/__init__.py's REGISTERED."""
    registered = (*sources.REGISTERED, __name__)
    monkeypatch.setattr(sources, "SOURCES", sources.load(registered))


@pytest.fixture
def studio_config(tmp_path: Path, livy: FakeLivy, toy_registered: None) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-test",
        "region": "us-east-1",
        "livy_urls": {"toy-1": livy.url},
    }


async def test_a_registered_source_is_listed_with_its_words_and_attachable(
    api: Api, jp_fetch: Any, services: Any, livy: FakeLivy
) -> None:
    r = await api("GET", "clusters")
    assert r.code == 200, r
    assert r.json["errors"] == []
    toys = {c["id"]: c for c in r.json["clusters"] if c["type"] == "toy"}
    assert toys["toy-1"]["attachable"] is True and toys["toy-1"]["livy_url"] == livy.url
    assert toys["toy-2"]["attachable"] is False and toys["toy-2"]["reason"]
    shown = {s["type"]: s for s in r.json["sources"]}
    assert list(shown) == ["local", "toy"]  # the registry's order, default sources
    assert shown["toy"] == SOURCE.display()
    assert shown["local"]["label"] == "Local"

    # the served API document accepts it as a ClusterType
    served = await jp_fetch("emr-workspace", "api", "openapi.yaml", headers={"X-Test-User": "a"})
    doc = yaml.safe_load(served.body)
    assert doc["components"]["schemas"]["ClusterType"]["enum"] == ["local", "toy"]

    r = await api("POST", "workspaces", {"name": "toy-work"})
    wid = r.json["id"]
    opened = await api("POST", f"workspaces/{wid}/open")
    assert opened.code == 200, opened
    r = await api("POST", f"workspaces/{wid}/attach", {"type": "toy", "cluster_id": "toy-1"})
    assert r.code == 200, r
    assert r.json["attachment"]["type"] == "toy" and r.json["attachment"]["livy_url"] == livy.url
    folder = services.folders.local_path(wid)
    found = find_workspace_conf(folder)
    assert found is not None
    config = json.loads((Path(found[1]) / "config.json").read_text())
    assert config["kernel_python_credentials"]["url"] == livy.url
    attach = [e for e in services.audit.recent(100) if e["action"].endswith(":AttachEditor")]
    assert (
        attach[-1]["details"]["cluster_arn"] == "arn:aws:toy:us-east-1:000000000000:cluster/toy-1"
    )

    # the source's refusals reach the user as they are
    r = await api("POST", f"workspaces/{wid}/attach", {"type": "toy", "cluster_id": "toy-2"})
    assert r.code == 409 and r.error["code"] == "ClusterNotReady", r
    r = await api("POST", f"workspaces/{wid}/attach", {"type": "toy", "cluster_id": "toy-9"})
    assert r.code == 404 and r.error["code"] == "ClusterNotFound", r

    # reopening re-resolves through the source, and detaching unwires it
    token = opened.json["lease"]["token"]
    assert (await api("POST", f"workspaces/{wid}/close", {"token": token})).code == 204
    r = await api("POST", f"workspaces/{wid}/open")
    assert r.code == 200 and r.json.get("attachment_livy_url") == livy.url, r
    assert (await api("POST", f"workspaces/{wid}/detach")).code == 200
    assert find_workspace_conf(folder) is None


def test_compute_sources_names_a_registered_source(toy_registered: None) -> None:
    """``c.Studio.compute_sources`` knows every registered source, and only those."""
    from jupyter_emr_workspace.compute.config import effective_sources, validate_compute
    from jupyter_emr_workspace.errors import ConfigError
    from jupyter_emr_workspace.studio import Studio

    only_toy = Studio(compute_sources=["toy"])
    validate_compute(only_toy)
    assert effective_sources(only_toy) == ["toy"]
    assert effective_sources(Studio(subnet_ids=["subnet-0123456789abcdef0"])) == [
        "emr-ec2",
        "emr-eks",
        "emr-serverless",
        "local",
        "toy",
    ]
    with pytest.raises(ConfigError, match="'toys' is not one of"):
        validate_compute(Studio(compute_sources=["toys"]))


def test_a_source_brings_its_own_c_studio_settings(tmp_path: Path) -> None:
    """A source's settings (``SourceSpec.settings``) are ``c.Studio`` settings read from a
    config file, and its check (``SourceSpec.validate``) stops the server naming them.
    In a fresh interpreter: Studio's traits are composed when studio.py is first imported,
    after the registry's line, as in an installed package."""
    (tmp_path / "toy_source.py").write_text(  # the new file
        textwrap.dedent(
            """
            from traitlets import HasTraits, Unicode

            from jupyter_emr_workspace.compute.sources import SourceSpec
            from jupyter_emr_workspace.errors import ConfigError


            class ToySettings(HasTraits):
                toy_greeting = Unicode("hi", config=True, help="What toy clusters say.")


            def check(studio):
                if not studio.toy_greeting.isalpha():
                    raise ConfigError(f"c.Studio.toy_greeting={studio.toy_greeting!r}: letters")


            SOURCE = SourceSpec(
                type="toy",
                label="Toy",
                build=lambda ctx: None,
                list_action="toy:ListClusters",
                arn_format="arn:aws:toy:{region}:{account}:cluster/{id}",
                settings=ToySettings,
                validate=check,
            )
            """
        )
    )
    (tmp_path / "jupyter_server_config.py").write_text(
        "c.Studio.toy_greeting = 'hello'\nc.Studio.compute_sources = ['toy']\n"
    )
    script = textwrap.dedent(
        """
        import json, sys
        from traitlets.config.loader import PyFileConfigLoader
        from jupyter_emr_workspace.compute import sources
        from jupyter_emr_workspace.errors import ConfigError

        sys.path.insert(0, sys.argv[1])
        sources.SOURCES = sources.load((*sources.REGISTERED, "toy_source"))  # the line

        from jupyter_emr_workspace.studio import Studio

        config = PyFileConfigLoader("jupyter_server_config.py", path=sys.argv[1]).load_config()
        studio = Studio(config=config)
        studio.validate()
        out = {"greeting": studio.toy_greeting, "help": "toy_greeting" in Studio.class_get_help()}
        studio.toy_greeting = "hello there"
        try:
            studio.validate()
        except ConfigError as e:
            out["refused"] = str(e)
        print(json.dumps(out))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["greeting"] == "hello" and out["help"] is True
    assert out["refused"] == "c.Studio.toy_greeting='hello there': letters"
