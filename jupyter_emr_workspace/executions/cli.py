"""``jupyter-emr-workspace run`` and ``jupyter-emr-workspace runner``.

``run WORKSPACE NOTEBOOK -p key=value`` submits an execution through a Jupyter server's
REST API (so policies and audit apply as in the UI) and, unless ``--no-wait``, follows it
to its end: exit status 0 when it FINISHED, 1 otherwise. ``-p`` values are read as JSON
when they are JSON (``-p n=42`` is a number, ``-p day=monday`` a string).

``runner`` is a standalone runner for the Studio's store, for a JupyterHub service (see
examples/jupyterhub/): it runs everyone's queued executions and fires schedules, so
neither depends on anyone's single-user server. It stops on SIGTERM or SIGINT, ending
what it runs as STOPPED with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..studio import Studio

    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

FINAL = {"FINISHED", "FAILED", "STOPPED"}


def register(subparsers: SubParsers) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a Workspace notebook headless with parameters (StartNotebookExecution)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("workspace", help="the Workspace's id (e-...) or name")
    p.add_argument("notebook", help="the notebook's path in the Workspace")
    p.add_argument(
        "-p", "--parameter", action="append", default=[], metavar="KEY=VALUE", help="a parameter"
    )
    p.add_argument("--cluster", help="TYPE:ID (default: the Workspace's attachment, with its role)")
    p.add_argument(
        "--execution-role",
        metavar="ARN",
        help="with --cluster: the IAM role its Spark runs as (emr-ec2 runtime roles), or "
        "'none' (default: the attachment's role when --cluster is the attachment's)",
    )
    p.add_argument("--output-format", choices=["ipynb", "html", "both"], default="ipynb")
    p.add_argument("--name", help="a name for the execution")
    p.add_argument("--no-wait", action="store_true", help="print the execution and return")
    p.add_argument("--url", help="the Jupyter server (default: the running one)")
    p.add_argument("--token", help="its token (default: JUPYTER_TOKEN or the server's)")
    p.set_defaults(func=run_command)

    r = subparsers.add_parser(
        "runner",
        help="run queued notebook executions and schedules (a JupyterHub service)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("--config", help="jupyter_server_config.py or .json with the c.Studio settings")
    r.add_argument("--backup-uri", help="the Studio's backup_uri (instead of --config)")
    r.add_argument("--studio-id", help="the Studio id (instead of --config)")
    r.add_argument("--endpoint-url", help="AWS endpoint (a local S3, moto)")
    r.add_argument("--region", help="AWS region")
    r.add_argument("--runner-id", help="how records name this runner (default: host and pid)")
    r.set_defaults(func=runner_command)


# -- run --------------------------------------------------------------------------------------
def parse_parameters(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"-p {item!r}: use KEY=VALUE")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def find_server(url: str | None, token: str | None) -> tuple[str, str]:
    """The server to talk to: given, or the running one this user started."""
    token = token or os.environ.get("JUPYTER_TOKEN") or ""
    if url is None:
        from jupyter_server.serverapp import list_running_servers

        servers = list(list_running_servers())
        if not servers:
            raise ValueError("no running Jupyter server found: give --url and --token")
        url, token = servers[0]["url"], token or servers[0].get("token", "")
    return url.rstrip("/") + "/", token or os.environ.get("JUPYTERHUB_API_TOKEN", "")


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.base, self.token = urllib.parse.urljoin(url, "emr-workspace/api/"), token

    def __call__(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The JSON object the API answers (every route ``run`` uses answers one)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError as e:
            try:
                error = json.loads(e.read())["error"]
                message = f"{error['code']}: {error['message']}"
            except (ValueError, KeyError, TypeError):
                message = str(e)
            raise RuntimeError(f"{method} {path}: {e.code} {message}") from None


def run_command(args: argparse.Namespace) -> int:
    try:
        parameters = parse_parameters(args.parameter)
        api = Api(*find_server(args.url, args.token))
        workspace = args.workspace
        if not workspace.startswith("e-"):
            named = [w for w in api("GET", "workspaces")["workspaces"] if w["name"] == workspace]
            if not named:
                raise ValueError(f"no Workspace named {workspace!r}")
            workspace = named[0]["id"]
        body: dict[str, Any] = {
            "workspace_id": workspace,
            "relative_path": args.notebook,
            "parameters": parameters,
            "output_format": args.output_format,
        }
        if args.name:
            body["name"] = args.name
        if args.cluster:
            kind, sep, cluster_id = args.cluster.partition(":")
            if not sep:
                raise ValueError("--cluster TYPE:ID, e.g. emr-ec2:j-123 or local:local")
            body["cluster"] = {"type": kind, "id": cluster_id}
            if args.execution_role:
                role = None if args.execution_role.lower() == "none" else args.execution_role
                body["cluster"]["execution_role_arn"] = role
        elif args.execution_role:
            raise ValueError("--execution-role goes with --cluster TYPE:ID")
        ex = api("POST", "executions", body)
        if args.no_wait:
            print(json.dumps(ex, indent=2))
            return 0
        print(f"{ex['id']}: {ex['status']}", file=sys.stderr)
        status = ex["status"]
        while ex["status"] not in FINAL:
            time.sleep(2)
            ex = api("GET", f"executions/{ex['id']}")
            if ex["status"] != status:
                status = ex["status"]
                print(f"{ex['id']}: {status}", file=sys.stderr)
        print(json.dumps(ex, indent=2))
        return 0 if ex["status"] == "FINISHED" else 1
    except (ValueError, RuntimeError, OSError) as e:
        print(f"jupyter-emr-workspace run: {e}", file=sys.stderr)
        return 2 if isinstance(e, ValueError) else 1


# -- runner -----------------------------------------------------------------------------------
def runner_command(args: argparse.Namespace) -> int:
    from ..contents.importer import load_studio
    from ..errors import ConfigError

    try:
        studio = load_studio(args)
    except (ConfigError, ValueError) as e:
        print(f"jupyter-emr-workspace runner: {e}", file=sys.stderr)
        return 2
    runner_id = args.runner_id or f"runner:{socket.gethostname()}-{os.getpid()}"
    asyncio.run(serve(studio, runner_id))
    return 0


async def serve(studio: Studio, runner_id: str) -> None:
    """Run until SIGTERM/SIGINT: the runner (everyone's executions) and the scheduler."""
    from ..app import build_services
    from ..compute.service import ComputeService
    from . import part

    root = tempfile.mkdtemp(prefix="emr-runner-")  # no Workspace folders live here
    services = build_services(studio, root, runner_id)
    compute = ComputeService(
        studio,
        services.aws,
        services.registry,
        services.leases,
        services.access,
        services.guard,
        services.arns,
        services.folders,
        services.workspaces,
    )
    services.compute = compute
    services.executions = service = part.build(services)
    runner = part.make_runner(services, service, runner_id, shared=True)
    service.runner = runner
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    runner.start()
    scheduler = part.make_scheduler(services, service, shared=True)
    service.scheduler = scheduler
    scheduler.start()
    print(f"jupyter-emr-workspace runner {runner_id}: store {services.store.uri}", flush=True)
    try:
        await done.wait()
    finally:
        await scheduler.stop()
        await runner.stop(budget=studio.flush_timeout)
        await compute.stop()
        await services.store.close()
