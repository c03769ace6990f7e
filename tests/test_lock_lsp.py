"""A language server runs with the server's rights, like a kernel: its websocket
(``/lsp/ws/<server>``, jupyter-lsp) follows the rule for running code at every message,
not only when it connects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import tornado.httpclient
from conftest import Api
from test_core_lock import open_workspace


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    jp_server_config["ServerApp"]["jpserver_extensions"]["jupyter_lsp"] = True
    jp_server_config["LanguageServerManager"] = {"autodetect": False}
    return jp_server_config


async def test_a_language_server_connection_stops_when_someone_else_opens_a_workspace(
    api: Api, jp_serverapp: Any, jp_ws_fetch: Any
) -> None:
    manager = jp_serverapp.language_server_manager
    delivered: list[str] = []
    arrived = asyncio.Event()
    forward = manager.on_client_message

    async def on_client_message(message: str, handler: Any) -> None:
        delivered.append(message)
        arrived.set()
        await forward(message, handler)

    manager.on_client_message = on_client_message
    # nothing is held: bob may run code, and talks to a language server
    ws = await jp_ws_fetch("lsp", "ws", "pylsp", headers={"X-Test-User": "bob"})
    try:
        await ws.write_message('{"id": 1}')
        await asyncio.wait_for(arrived.wait(), 30)
        # alice opens a Workspace: bob's next message is not delivered
        await open_workspace(api)
        await ws.write_message('{"id": 2}')
        assert await asyncio.wait_for(ws.read_message(), 10) is None
        assert ws.close_code == 4423
        assert delivered == ['{"id": 1}']
    finally:
        ws.close()
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await jp_ws_fetch("lsp", "ws", "pylsp", headers={"X-Test-User": "bob"})
    assert refused.value.code == 423
