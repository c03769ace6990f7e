"""Stores are chosen by the URI's scheme from one table (``store.BACKENDS``): the server,
the settings check and the importer all open stores through ``store.open_store``, and a
new backend is one module plus one line (docs/design.md, "How to add a store").

This module also plays a newcomer's backend (``URI_FORM``, ``check_uri``, ``open_uri``)
for ``box://`` URIs, registered by the fixture `box_registered`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Api, make_bucket
from emrws_testing.moto_servers import MotoHttp

from jupyter_emr_workspace import store
from jupyter_emr_workspace.aws import AwsClients, AwsSettings
from jupyter_emr_workspace.errors import ConfigError
from jupyter_emr_workspace.store import open_store
from jupyter_emr_workspace.store.local import LocalStore
from jupyter_emr_workspace.store.s3 import S3Store
from jupyter_emr_workspace.studio import Studio

# -- the newcomer's backend: box:///folder, a LocalStore that says it is one ---------------

URI_FORM = "box:///folder"


class BoxStore(LocalStore):
    pass


def check_uri(uri: str) -> None:
    if not uri.startswith("box:///"):
        raise ValueError("use box:///absolute/folder")


def open_uri(uri: str, clients: Any) -> BoxStore:
    return BoxStore(uri[len("box://") :])


@pytest.fixture
def box_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one line: ``"box": ".box"`` in store/__init__.py's BACKENDS."""
    monkeypatch.setitem(store.BACKENDS, "box", __name__)


@pytest.fixture
def studio_config(tmp_path: Path, box_registered: None) -> dict[str, Any]:
    """The server of this module keeps its Workspaces in a box."""
    return {"backup_uri": f"box://{tmp_path / 'box-store'}", "id": "es-test"}


# -- the tests -----------------------------------------------------------------------------


async def test_open_store_picks_the_backend_by_scheme(tmp_path: Path, moto: MotoHttp) -> None:
    aws = AwsClients(AwsSettings(region="us-east-1", endpoint_url=moto.url))
    s3 = open_store(f"s3://{make_bucket(moto.url)}/prefix", aws)
    folder = open_store(str(tmp_path / "plain"))
    same_folder = open_store((tmp_path / "plain").as_uri())  # file:///...
    try:
        assert isinstance(s3, S3Store) and s3.prefix == "prefix"
        assert type(folder) is LocalStore and type(same_folder) is LocalStore
        await s3.put("k", b"in s3")
        assert (await s3.get("k")).data == b"in s3"
        await same_folder.put("k", b"in the folder")
        assert (await folder.get("k")).data == b"in the folder"  # one folder, two spellings
    finally:
        for opened in (s3, folder, same_folder):
            await opened.close()


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("ftp://host/x", "no store for ftp:// URIs; use s3://bucket/prefix, a folder"),
        ("s3://", "not an s3:// URI"),
        ("file://elsewhere/x", "use file:///absolute/folder (no host)"),
    ],
)
def test_a_uri_no_backend_takes_stops_the_server_naming_it(uri: str, says: str) -> None:
    with pytest.raises(ValueError) as e:
        store.check_uri(uri)
    assert says in str(e.value)
    with pytest.raises(ConfigError) as e2:
        Studio(backup_uri=uri).validate()
    assert str(e2.value).startswith(f"c.Studio.backup_uri={uri!r}: ") and says in str(e2.value)


def test_a_file_uri_is_a_folder(tmp_path: Path) -> None:
    Studio(backup_uri=(tmp_path / "store").as_uri()).validate()


async def test_a_registered_backend_serves_the_studio(
    tmp_path: Path, api: Api, services: Any
) -> None:
    assert isinstance(services.store, BoxStore)
    r = await api("POST", "workspaces", {"name": "in-a-box"})
    assert r.code == 201, r
    stored = await services.store.list(".emr-workspace/studios/es-test/workspaces/")
    assert [Path(o.key).stem for o in stored] == [r.json["id"]]
    assert (tmp_path / "box-store").is_dir()
