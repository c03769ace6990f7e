"""The served API keeps its contract: schemathesis (every check, a fixed time budget)
against ``/emr-workspace/api/openapi.yaml`` on a real ``jupyter server``, as installed.

It fails on any finding: a 5xx, a status or body the document does not list, a request
the schema allows that the server refuses, one it forbids that the server accepts, a
missing 401 without credentials, a 405 without ``Allow``. ``EMRWS_CONTRACT_SEED`` picks
another seed (the default keeps runs reproducible); ``EMRWS_CONTRACT_SECONDS`` another
budget.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import yaml
from emrws_testing.servers import ServerProcess

from jupyter_emr_workspace import parts

CONFIG = Path(__file__).with_name("schemathesis") / "schemathesis.toml"
SECONDS = int(os.environ.get("EMRWS_CONTRACT_SECONDS", "60"))
SEED = os.environ.get("EMRWS_CONTRACT_SEED", "1")
ALL = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def test_the_served_api_matches_its_openapi_document(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "root",
        {
            "backup_uri": str(tmp_path / "store"),
            "id": "es-contract",
            # a policy, so the served document lists a name putSessionMapping accepts
            "policies": {"all": ALL},
            "assignments": {"user:alice": "all"},
        },
        name="contract",
    )
    server.start()
    try:
        result = subprocess.run(
            # every check runs: schemathesis 4 enables all by default, and `--checks all`
            # would also override the two per-operation exceptions in CONFIG
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(CONFIG),
                "--no-color",
                "run",
                f"{server.url}/emr-workspace/api/openapi.yaml",
                "-H",
                f"Authorization: token {server.token}",
                "--max-time",
                str(SECONDS),
                "--seed",
                SEED,
                "--workers",
                "1",
                "--generation-database",
                "none",
                "--output-sanitize",
                "false",
                "--report",
                "junit",
                "--report-dir",
                str(tmp_path / "report"),
            ],
            capture_output=True,
            text=True,
            timeout=SECONDS * 3 + 60,
            cwd=tmp_path,
            # constraints the document states in words (tag keys unique ignoring case)
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "contract_hooks",
                "PYTHONPATH": os.pathsep.join(
                    [str(CONFIG.parent), os.environ.get("PYTHONPATH", "")]
                ),
            },
        )
    finally:
        server.stop()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]
    # the run reached every operation and generated real traffic: a setup that broke
    # (no schema, every request refused before the API) must not pass as "no failures"
    # (schemathesis leaves out the operation at the schema's own URL, GET /openapi.yaml,
    # which test_core_openapi.py checks)
    tested = re.search(r"Tested:\s+(\d+)", output)
    generated = re.search(r"(\d+) generated", output)
    assert tested and int(tested.group(1)) == len(documented_operations()) - 1, output[-3000:]
    assert generated and int(generated.group(1)) >= 200, output[-3000:]
    print(output[output.find("SUMMARY") :])  # shown with -s / -rP: what the run covered


def documented_operations() -> list[tuple[str, str]]:
    doc = yaml.safe_load(files("jupyter_emr_workspace").joinpath("openapi.yaml").read_text())
    return [
        (method, path)
        for path, item in doc["paths"].items()
        if item.get("x-emr-workspace-part", None) in (None, *parts.PARTS)
        for method in ("get", "post", "put", "patch", "delete")
        if method in item
    ]


def test_the_contract_hook_leaves_out_only_tags_that_differ_in_case() -> None:
    sys.path.insert(0, str(CONFIG.parent))
    try:
        from contract_hooks import unique_ignoring_case
    finally:
        sys.path.remove(str(CONFIG.parent))
    assert not unique_ignoring_case({"tags": {"m": "1", "M": "2"}})
    assert unique_ignoring_case({"tags": {"m": "1", "n": "2"}})
    assert unique_ignoring_case({"name": "x"}) and unique_ignoring_case(None)
