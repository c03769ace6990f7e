"""sparkmagic wiring: per-Workspace sparkmagic config, the kernel provisioner, kernelspecs.

Server-extension side: `write_sparkmagic_config(conf_dir, livy_url, ...)`, then
`register_workspace_conf(workspace_folder, conf_dir)`; `unregister_workspace_conf(folder)`
on detach. The provisioner (`provisioner.py`) is loaded by jupyter_client in its own right.
"""

from __future__ import annotations

from .kernelspecs import KERNELS, PROVISIONER_NAME, write_kernelspecs
from .registry import (
    find_workspace_conf,
    read_registry,
    register_workspace_conf,
    registry_path,
    unregister_workspace_conf,
)
from .sparkmagic_config import build_sparkmagic_config, write_sparkmagic_config

__all__ = [
    "KERNELS",
    "PROVISIONER_NAME",
    "build_sparkmagic_config",
    "find_workspace_conf",
    "read_registry",
    "register_workspace_conf",
    "registry_path",
    "unregister_workspace_conf",
    "write_kernelspecs",
    "write_sparkmagic_config",
]
