"""A real-time collaboration client for a ``ServerProcess``: the collaboration session
request and the Y websocket a JupyterLab tab opens, driven with pycrdt (tests only)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import websocket
from jupyter_ydoc import YNotebook
from pycrdt import Doc, Text, create_sync_message, create_update_message, handle_sync_message

from .servers import ServerProcess


def notebook_model(source: str) -> dict[str, Any]:
    """A contents-API model of a notebook with one code cell."""
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "c1",
        "metadata": {},
        "outputs": [],
        "source": source,
    }
    content = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return {"type": "notebook", "format": "json", "content": content}


def notebook_source(server: ServerProcess, path: str, user: str = "alice") -> str:
    """The notebook's first cell as saved on disk (through the contents API)."""
    r = server.request("GET", f"/api/contents/{path}", user=user)
    assert r.status_code == 200, r.text
    return "".join(c["source"] for c in r.json()["content"]["cells"])


def ws_url(server: ServerProcess, path: str) -> str:
    return server.url.replace("http://", "ws://", 1) + path


def ws_headers(server: ServerProcess, user: str) -> list[str]:
    return [f"Authorization: token {server.token}", f"X-Test-User: {user}"]


class YRoomClient:
    """One user's live view of a notebook's document room (or of a fork's room), given
    how to ask for the collaboration session and where the server's websockets are."""

    def __init__(
        self,
        put_session: Callable[[str], Any],
        ws_base: str,
        headers: list[str],
        path: str,
        user: str,
        room: str | None = None,
    ):
        self.user = user
        r = put_session(f"api/collaboration/session/{path}")
        assert r.status_code in (200, 201), r.text
        session = r.json()
        self.room = f"json:notebook:{session['fileId']}"
        url = f"{ws_base}/api/collaboration/room/{room or self.room}"
        self.ws = websocket.create_connection(
            f"{url}?sessionId={session['sessionId']}", header=headers, timeout=10
        )
        self.doc = Doc()
        self.nb = YNotebook(self.doc)
        self.ws.send_binary(create_sync_message(self.doc))

    def source(self) -> str:
        cells = self.nb.ycells
        return str(cells[0]["source"]) if len(cells) else ""

    def pump(self, until: Callable[[], bool], timeout: float = 20) -> None:
        """Apply what the server sends (answering sync requests) until ``until()``."""
        deadline = time.monotonic() + timeout
        while not until():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.user}: document is {self.source()!r}")
            self.ws.settimeout(min(remaining, 0.5))
            try:
                message = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            if isinstance(message, bytes) and message[:1] == b"\x00":
                reply = handle_sync_message(message[1:], self.doc)
                if reply is not None:
                    self.ws.send_binary(reply)

    def append(self, text: str) -> None:
        """Type at the end of the first cell and send the change, as the editor would."""
        state = self.doc.get_state()
        source = self.nb.ycells[0]["source"]
        assert isinstance(source, Text)
        source.insert(len(source), text)
        self.ws.send_binary(create_update_message(self.doc.get_update(state)))

    def close(self) -> None:
        self.ws.close()


class YNotebookClient(YRoomClient):
    """A ``YRoomClient`` on a ``ServerProcess``, as ``user``."""

    def __init__(self, server: ServerProcess, path: str, user: str, room: str | None = None):
        def put_session(url: str) -> Any:
            body = {"format": "json", "type": "notebook"}
            return server.request("PUT", "/" + url, user=user, json=body)

        super().__init__(
            put_session, ws_url(server, ""), ws_headers(server, user), path, user, room
        )
