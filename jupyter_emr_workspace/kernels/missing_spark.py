"""The Spark kernels without the `spark` extra: one clear message, not five dead kernels.

The wheel installs the "PySpark/Spark/SparkR (EMR Workspace)" kernelspecs whether or not
sparkmagic is installed. Without it the kernel module fails at import, and JupyterLab
restarts it five times before giving up with "kernel died". This kernel speaks just enough
of the Jupyter protocol (with jupyter_client and pyzmq, which jupyter-server brings; no
ipykernel, which the extra brings) to start, answer, and give every cell the same message
that says what to install.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

INSTALL = "pip install 'jupyter-emr-workspace[spark]'"
LANGUAGES = {"pyspark": "python", "spark": "scala", "sparkr": "r"}


def message(display_name: str, error: BaseException | str) -> str:
    return (
        f"The {display_name} kernel needs sparkmagic, which is not installed on this Jupyter "
        f"server ({error}). Install it with:\n\n    {INSTALL}\n\n(the `spark` extra of "
        "jupyter-emr-workspace; an admin does this in the server's environment), then "
        "restart the Jupyter server."
    )


def serve(connection_file: str, display_name: str, language: str, text: str) -> None:
    """Serve kernel requests until a shutdown request; every cell gets `text` as error."""
    import zmq
    from jupyter_client.session import Session

    with open(connection_file, encoding="utf-8") as f:
        info = json.load(f)
    session = Session(
        key=info.get("key", "").encode(), signature_scheme=info.get("signature_scheme")
    )
    context = zmq.Context()

    def bind(kind: int, port_key: str) -> Any:
        sock = context.socket(kind)
        sock.bind(f"{info.get('transport', 'tcp')}://{info['ip']}:{info[port_key]}")
        return sock

    shell, control = bind(zmq.ROUTER, "shell_port"), bind(zmq.ROUTER, "control_port")
    stdin, iopub = bind(zmq.ROUTER, "stdin_port"), bind(zmq.PUB, "iopub_port")
    heartbeat = bind(zmq.REP, "hb_port")
    poller = zmq.Poller()
    for sock in (shell, control, heartbeat):
        poller.register(sock, zmq.POLLIN)
    count = 0
    sys.stderr.write(text + "\n")
    language_info = {"name": language, "mimetype": "text/plain", "file_extension": ".txt"}
    replies: dict[str, dict[str, Any]] = {
        "kernel_info_request": {
            "status": "ok",
            "protocol_version": "5.3",
            "implementation": "emr-workspace-missing-spark",
            "implementation_version": "1",
            "language_info": language_info,
            "banner": text,
            "help_links": [],
        },
        "comm_info_request": {"status": "ok", "comms": {}},
        "is_complete_request": {"status": "complete"},
        "complete_request": {
            "status": "ok",
            "matches": [],
            "cursor_start": 0,
            "cursor_end": 0,
            "metadata": {},
        },
        "inspect_request": {"status": "ok", "found": False, "data": {}, "metadata": {}},
        "history_request": {"status": "ok", "history": []},
        "interrupt_request": {"status": "ok"},
    }
    while True:
        for sock, _ in poller.poll():
            if sock is heartbeat:
                heartbeat.send(heartbeat.recv())
                continue
            idents, msg = session.recv(sock, mode=0)
            if msg is None:
                continue
            kind = msg["header"]["msg_type"]
            session.send(iopub, "status", {"execution_state": "busy"}, parent=msg)
            if kind == "execute_request":
                count += 1
                error = {"ename": "SparkNotInstalled", "evalue": text, "traceback": [text]}
                session.send(iopub, "error", error, parent=msg)
                reply = {"status": "error", "execution_count": count, **error}
                session.send(sock, "execute_reply", reply, parent=msg, ident=idents)
            elif kind == "shutdown_request":
                content = {"status": "ok", "restart": bool(msg["content"].get("restart"))}
                session.send(sock, "shutdown_reply", content, parent=msg, ident=idents)
                session.send(iopub, "status", {"execution_state": "idle"}, parent=msg)
                return
            elif kind in replies:
                reply_type = kind.replace("_request", "_reply")
                session.send(sock, reply_type, replies[kind], parent=msg, ident=idents)
            session.send(iopub, "status", {"execution_state": "idle"}, parent=msg)
    del stdin  # bound so the client connects; this kernel never asks for input


def run(display_name: str, kind: str, error: BaseException) -> None:
    """`python -m jupyter_emr_workspace.kernels.<kernel> -f CONNECTION_FILE` without sparkmagic."""
    parser = argparse.ArgumentParser()
    parser.add_argument("-f", dest="connection_file", required=True)
    args, _ = parser.parse_known_args()
    serve(args.connection_file, display_name, LANGUAGES[kind], message(display_name, error))
