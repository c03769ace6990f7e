"""jupyter_server's own contents tests pass against WorkspaceContentsManager.

Outside Workspaces the manager and its checkpoints must be indistinguishable from stock;
the strictest check is jupyter_server's own test modules of the installed release
(``tests/services/contents/test_{manager,api,largefilemanager,checkpoints}.py``) with
their own pytest settings (warnings are errors). They are not in the wheel:
``scripts/test.sh`` copies them from the sdist into ``.cache/jupyter-server-tests/``
(``fetch_jupyter_server_tests`` in ``scripts/_env.sh``); nothing is fetched here.
``emrws_testing.stock_contents`` replaces their manager fixtures with ours, and serves
``test_api.py`` from a server with the extension enabled as installed (no contents
manager named).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import jupyter_server
import pytest

REPO = Path(__file__).resolve().parent.parent
MODULES = [
    "tests/services/contents/test_manager.py",
    "tests/services/contents/test_api.py",
    "tests/services/contents/test_largefilemanager.py",
    "tests/services/contents/test_checkpoints.py",
]
# Writes 10,000 files per run (~15 s): run once, with atomic writing. Copying a folder
# never goes through ``save``, so the non-atomic variant tests nothing more of ours.
DESELECT = ["tests/services/contents/test_manager.py::test_copy_big_dir[jp_contents_manager1]"]


def stock_tests() -> Path:
    version = jupyter_server.__version__
    root = REPO / ".cache" / "jupyter-server-tests" / version
    if not (root / MODULES[0]).is_file():
        pytest.fail(
            f"jupyter_server {version}'s test modules are not in {root}: scripts/test.sh "
            "copies them from its sdist (or run: . scripts/_env.sh; PY=$(which python); "
            "fetch_jupyter_server_tests)"
        )
    return root


def test_jupyter_servers_contents_tests_pass_against_workspace_contents_manager() -> None:
    root = stock_tests()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), str(REPO / "tests"), *filter(None, [env.get("PYTHONPATH")])]
    )
    args = ["-p", "emrws_testing.stock_contents", "-p", "no:cacheprovider", "--color=no"]
    for node in DESELECT:
        args += ["--deselect", node]
    r = subprocess.run(
        [sys.executable, "-m", "pytest", *args, *MODULES],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-12000:]
    summary = out.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) > 0, summary
    assert not re.search(r"\d+ (failed|errors?|xpassed)\b", summary), summary
