"""A TCP proxy in front of moto: stop it to make S3 unreachable, start it again on the
same port, or add a delay to every request (real S3 is ~20 ms away; loopback moto is not).

The delay is applied once per request/response turn on a connection: when the client
starts sending after the server last answered (keep-alive connections carry many
requests). It runs its own event loop in a daemon thread, so tests and benchmarks with
or without a loop of their own can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
from collections.abc import Callable
from typing import Any

_REQUEST_LINE = re.compile(r"^[A-Z]+ \S+ HTTP/1\.[01]$")


_SLOW_DOWN = (
    b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nConnection: close\r\n"
    b"Content-Length: 83\r\n\r\n"
    b"<?xml version='1.0'?><Error><Code>SlowDown</Code><Message>refused</Message></Error>"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DelayProxy:
    def __init__(self, upstream_port: int, *, delay: float = 0.0, port: int | None = None):
        self.upstream_port = upstream_port
        self.delay = delay
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests = 0
        #: "METHOD /path" of each request seen (first line of each request turn)
        self.request_lines: list[str] = []
        #: ``refuse("METHOD /path?query")`` true: answer that request 503 SlowDown without
        #: passing it on (a store that refuses some requests: one operation, one prefix)
        self.refuse: Callable[[str], bool] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def start(self) -> DelayProxy:
        self._call(self._start())
        return self

    def stop(self) -> None:
        """Refuse new connections and cut the open ones (as an outage does)."""
        self._call(self._stop())

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._handle, "127.0.0.1", self.port, reuse_address=True
            )

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._conns):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._conns.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._conns.update({writer, up_writer})
        turn = {"new_request": True}

        async def pump(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, upstream: bool
        ) -> None:
            try:
                while data := await src.read(1 << 16):
                    if upstream and turn["new_request"]:
                        turn["new_request"] = False
                        line = data.split(b"\r\n", 1)[0].decode("latin-1")
                        if _REQUEST_LINE.match(line):  # not a body after "100 Continue"
                            self.requests += 1
                            request = " ".join(line.split(" ")[:2])
                            self.request_lines.append(request)
                            if self.refuse is not None and self.refuse(request):
                                writer.write(_SLOW_DOWN)
                                await writer.drain()
                                writer.transport.close()
                                up_writer.transport.abort()
                                return
                            if self.delay:
                                await asyncio.sleep(self.delay)
                    if not upstream:
                        turn["new_request"] = True
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        try:
            await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))
        finally:
            self._conns.discard(writer)
            self._conns.discard(up_writer)
