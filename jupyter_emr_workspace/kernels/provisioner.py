"""Kernel provisioner: point sparkmagic kernels at the cluster of the Workspace they run in.

sparkmagic reads `SPARKMAGIC_CONF_DIR` once, at import, so the choice of cluster has to be
in the kernel's environment before it starts. This provisioner is LocalProvisioner plus that
variable, looked up from the kernel's working directory in the registry the server
extension keeps (`kernels/registry.py`), and the Workspace folder (`EMR_WORKSPACE_FOLDER`),
so the kernel names its Spark session for the notebook's place in the Workspace. It sets
nothing else.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

from .notebook_session import FOLDER_ENV
from .registry import find_workspace_conf

CONF_DIR_ENV = "SPARKMAGIC_CONF_DIR"


class WorkspaceKernelProvisioner(LocalProvisioner):
    """LocalProvisioner that sets `SPARKMAGIC_CONF_DIR` from the kernel's Workspace folder.

    Registered as the `emr-workspace-provisioner` entry point; the emr-* kernelspecs name it.
    Override `find_conf_dir` to look Workspaces up another way.
    """

    async def find_conf_dir(self, cwd: str) -> str | None:
        """The sparkmagic conf dir of the Workspace holding `cwd`, or None."""
        found = await asyncio.to_thread(find_workspace_conf, cwd)
        if found:
            self._workspace_folder = found[0]
        return found[1] if found else None

    def _is_spark_kernel(self) -> bool:
        argv = " ".join(getattr(self.kernel_spec, "argv", None) or [])
        return "sparkmagic" in argv or "jupyter_emr_workspace.kernels" in argv

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        kwargs = await super().pre_launch(**kwargs)
        cwd = str(kwargs.get("cwd") or os.getcwd())
        conf_dir = await self.find_conf_dir(cwd)
        env: dict[str, str] = kwargs["env"]
        if conf_dir is not None:
            env[CONF_DIR_ENV] = conf_dir
            folder = getattr(self, "_workspace_folder", None)
            if folder:  # the notebook's place in it names its Spark session (notebook_session)
                env[FOLDER_ENV] = folder
            self.log.info("Spark kernel in %s uses the sparkmagic config in %s", cwd, conf_dir)
            config = os.path.join(conf_dir, "config.json")
            if self._is_spark_kernel() and not await asyncio.to_thread(os.path.exists, config):
                self.log.warning(
                    "%s is missing: sparkmagic will use its defaults (Livy at "
                    "http://localhost:8998). Reattach the Workspace.",
                    config,
                )
        elif self._is_spark_kernel():
            current = env.get(CONF_DIR_ENV, "~/.sparkmagic")
            self.log.warning(
                "Kernel %r started in %s, which is not inside an open EMR Workspace that is "
                "attached to a cluster, so sparkmagic falls back to %s/config.json (by default "
                "Livy at http://localhost:8998). Open the notebook from an attached "
                "Workspace's folder to use its cluster.",
                getattr(self.kernel_spec, "display_name", "?"),
                cwd,
                current,
            )
        return kwargs
