"""Fixtures the compute tests share (a pytest plugin, registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emrws_testing.compute import FakeLivy, subnet_id
from emrws_testing.loop_thread import LoopThread
from jupyter_emr_workspace.livy import EngineProcess


@pytest.fixture
def kernel_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server and the provisioner agree on the registry (and so on conf dirs); a module
    that attaches Workspaces uses it with ``pytest.mark.usefixtures("kernel_registry")``."""
    path = tmp_path / "runtime" / "emr-workspace" / "kernels.json"
    monkeypatch.setenv("EMR_WORKSPACE_KERNEL_REGISTRY", str(path))
    return path


@pytest.fixture
def subnets() -> list[str]:
    """Fresh subnets per test: clusters other tests left in moto are outside the Studio."""
    return [subnet_id(), subnet_id()]


@pytest.fixture
def livy() -> Iterator[FakeLivy]:
    server = FakeLivy()
    yield server
    server.close()


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineProcess]:
    """The embedded engine as its own process, one per module that asks for it: the
    cluster's Livy (its sessions start their own JVMs; it outlives the servers a test
    restarts)."""
    lt = LoopThread()
    eng = EngineProcess(idle_timeout=0)
    lt.run(eng.start())
    yield eng
    lt.run(eng.stop())
    lt.close()
