"""`python -m jupyter_emr_workspace.livy --port N`: the embedded Livy-compatible engine.

Prints `Livy-compatible engine ready at <url>` once it listens. The admin token for Basic
auth, if any, comes from the environment (`EMR_WORKSPACE_LIVY_TOKEN`), never from the command
line, which other local users can read. Owners' credentials derive from it
(`credentials.owner_password`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable

from .availability import engine_unavailable_reason
from .output import DEFAULT_MAX_OUTPUT_CHARS
from .registry import DEFAULT_MAX_SESSIONS_PER_OWNER
from .server import READY_PREFIX, TOKEN_ENV, LivyEngine


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {value}")
        return value

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m jupyter_emr_workspace.livy",
        description="Livy-compatible REST server on local PySpark.",
    )
    parser.add_argument("--port", type=int, default=8998, help="0 picks a free port (8998)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=3600.0,
        help="stop sessions idle this many seconds; 0 = never (3600)",
    )
    parser.add_argument(
        "--retain",
        type=float,
        default=600.0,
        help="seconds a dead or killed session stays visible (600)",
    )
    parser.add_argument(
        "--max-sessions-per-owner",
        type=_at_least(0),
        default=DEFAULT_MAX_SESSIONS_PER_OWNER,
        help="active sessions one owner (Workspace) may have; 0 = no cap "
        f"({DEFAULT_MAX_SESSIONS_PER_OWNER})",
    )
    parser.add_argument(
        "--max-output-chars",
        type=_at_least(1000),
        default=DEFAULT_MAX_OUTPUT_CHARS,
        help="characters one statement's output keeps; the rest is cut with "
        f"a note ({DEFAULT_MAX_OUTPUT_CHARS})",
    )
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="stop when stdin closes, i.e. when the parent process dies",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def _watch_stdin(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass
    stop.set()


async def serve(args: argparse.Namespace) -> None:
    reason = await asyncio.to_thread(engine_unavailable_reason)
    if reason:
        logging.warning("sessions will be refused: %s", reason)
    token = os.environ.pop(TOKEN_ENV, None) or None  # not for session processes to see
    engine = LivyEngine(
        args.host,
        idle_timeout=args.idle_timeout,
        retain_final=args.retain,
        token=token,
        max_sessions_per_owner=args.max_sessions_per_owner,
        max_output_chars=args.max_output_chars,
    )
    url = await engine.start(args.port)
    print(f"{READY_PREFIX}{url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.ensure_future(_watch_stdin(stop)) if args.exit_on_stdin_eof else None
    await stop.wait()
    logging.info("stopping: shutting down all sessions")
    if watcher is not None:
        watcher.cancel()
    await engine.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="[livy-engine %(asctime)s %(levelname)s] %(message)s",
    )
    if logging.getLogger().level > logging.DEBUG:  # one line per sparkmagic poll is noise
        logging.getLogger("tornado.access").setLevel(logging.WARNING)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
