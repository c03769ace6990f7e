"""Real ``jupyter server`` processes for multi-server tests (two users, one store)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

TESTS_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """One jupyter-server with the extension, configured by a JSON config file.

    Its lease-lock id (``EmrWorkspaceApp.server_id``) is the installed default (random per
    start, as after a real restart) unless a test that must name servers passes one."""

    def __init__(
        self,
        root: Path,
        studio: dict[str, Any],
        *,
        name: str,
        extra: dict[str, Any] | None = None,
        server_id: str | None = None,
    ):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.token = "test-token"
        self.name = name
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "ServerApp": {
                "port": self.port,
                "port_retries": 0,
                "ip": "127.0.0.1",
                "root_dir": str(root),
                "open_browser": False,
                "allow_root": True,
                "identity_provider_class": "emrws_testing.identity.HeaderIdentityProvider",
                "jpserver_extensions": {"jupyter_emr_workspace": True},
            },
            "IdentityProvider": {"token": self.token},
            **({"EmrWorkspaceApp": {"server_id": server_id}} if server_id else {}),
            "Studio": studio,
            **(extra or {}),
        }
        self.config_path = root.parent / f"{name}-config.json"
        self.config_path.write_text(json.dumps(config))
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = root.parent / f"{name}.log"

    def start(self, timeout: float = 60) -> ServerProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")])
        env["JUPYTER_DATA_DIR"] = str(self.root.parent / f"{self.name}-data")
        env["JUPYTER_RUNTIME_DIR"] = str(self.root.parent / f"{self.name}-runtime")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--config={self.config_path}"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.root,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server {self.name} exited:\n{self.log_path.read_text()[-3000:]}"
                )
            try:
                if self.request("GET", "/api/status").status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise TimeoutError(
            f"server {self.name} did not start:\n{self.log_path.read_text()[-3000:]}"
        )

    def request(
        self, method: str, path: str, *, user: str = "alice", groups: str = "", **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"token {self.token}", "X-Test-User": user}
        if groups:
            headers["X-Test-Groups"] = groups
        return requests.request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.request(method, "/emr-workspace/api" + path, **kwargs)

    def stop(self, sig: int = 15, timeout: float = 20) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if hasattr(self, "_log"):
            self._log.close()
