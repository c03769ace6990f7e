"""Kernelspecs for sparkmagic's wrapper kernels, run through the Workspace provisioner.

The same specs ship as static files under `kernels/specs/<name>/kernel.json` (installed with
the wheel into `share/jupyter/kernels`); `write_kernelspecs` produces them for a custom
location, such as a test's `JUPYTER_PATH` or a JupyterHub image.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

PROVISIONER_NAME = "emr-workspace-provisioner"
SPECS_DIR = Path(__file__).parent / "specs"
# name -> (display name, kernel module, language); each module is sparkmagic's wrapper kernel
# plus errors that name the Workspace's cluster (cluster_hints.py)
KERNELS: dict[str, tuple[str, str, str]] = {
    "emr-pysparkkernel": (
        "PySpark (EMR Workspace)",
        "jupyter_emr_workspace.kernels.pysparkkernel",
        "python",
    ),
    "emr-sparkkernel": (
        "Spark (EMR Workspace)",
        "jupyter_emr_workspace.kernels.sparkkernel",
        "scala",
    ),
    "emr-sparkrkernel": (
        "SparkR (EMR Workspace)",
        "jupyter_emr_workspace.kernels.sparkrkernel",
        "r",
    ),
}


def kernelspec(name: str, python: str = "python") -> dict[str, Any]:
    """kernel.json content; "python" is replaced by the server's interpreter at launch."""
    display_name, module, language = KERNELS[name]
    return {
        "argv": [python, "-m", module, "-f", "{connection_file}"],
        "display_name": display_name,
        "language": language,
        "interrupt_mode": "signal",  # sparkmagic turns the KeyboardInterrupt into a cancel
        "metadata": {
            "kernel_provisioner": {"provisioner_name": PROVISIONER_NAME, "config": {}},
        },
    }


def write_kernelspecs(
    kernels_dir: str | os.PathLike[str], python: str = "python", names: list[str] | None = None
) -> list[Path]:
    """Write `<kernels_dir>/<name>/kernel.json` for each kernel; returns the spec folders.

    `kernels_dir` is a `kernels` folder on the Jupyter path, e.g.
    `Path(jupyter_data_dir()) / "kernels"`.
    """
    written = []
    for name in names or list(KERNELS):
        folder = Path(kernels_dir) / name
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(kernelspec(name, python), indent=2) + "\n"
        (folder / "kernel.json").write_text(text, encoding="utf-8")
        written.append(folder)
    return written
