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


class InstalledServer:
    """A server started the way an admin starts one after ``pip install``.

    ``command`` is an installed entry point (``jupyter-server``, ``jupyter-lab``,
    ``jupyterhub-singleuser``); ``config`` is the admin's Python config file, written to
    the config folder (``JUPYTER_CONFIG_DIR``) or, with ``via_flag``, passed as
    ``--config=FILE``. The installed ``jupyter_server_config.d`` enables the extensions;
    nothing else is configured but the address and a token (``JUPYTER_TOKEN``).
    """

    def __init__(
        self,
        tmp: Path,
        command: str,
        config: str,
        *,
        via_flag: bool = False,
        env: dict[str, str] | None = None,
        prefix: str = "/",
        port: int | None = None,
        token: str = "admin-token",
    ) -> None:
        self.tmp = tmp
        self.root = tmp / "root"
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}{prefix.rstrip('/')}"
        self.token = token
        config_dir = tmp / "config"
        config_dir.mkdir(exist_ok=True)
        config_file = (
            tmp / "admin_config.py" if via_flag else config_dir / "jupyter_server_config.py"
        )
        config_file.write_text(config)
        self.argv = [
            str(Path(sys.executable).parent / command),
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            "--no-browser",
            *(["--allow-root"] if os.geteuid() == 0 else []),
            *([f"--config={config_file}"] if via_flag else []),
        ]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
        self.env.update(
            {
                "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
                "JUPYTER_CONFIG_DIR": str(config_dir),
                "JUPYTER_DATA_DIR": str(tmp / "data"),
                "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
                "JUPYTER_TOKEN": token,
                **(env or {}),
            }
        )
        self.log_path = tmp / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> InstalledServer:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.root
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited:\n{self.log()[-4000:]}")
            try:
                if self.request("GET", "/api/status").status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.argv[0]} did not start:\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.request(method, "/emr-workspace/api" + path, **kwargs)

    def stop(self, timeout: float = 20) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
