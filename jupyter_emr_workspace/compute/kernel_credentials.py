"""Expiring credentials for a Workspace's kernels, written for them and renewed before expiry.

EMR Serverless's Livy endpoint wants SigV4 with the credentials the Studio acts with for the
user (in IDENTITY_CENTER mode: the user role narrowed by the user's session policy); Livy on
EMR on EC2 with a runtime role wants the user and password of GetClusterSessionCredentials.
Both expire. The server writes them 0600 beside the Workspace's sparkmagic config (this
server's runtime dir, never the Workspace folder, the browser or a notebook) and one task
rewrites each before it expires; the kernels' authenticators (kernels/aws_auth.py) read the
file again when it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: ``await fetch()`` → the file's content; its ``expiration`` (epoch seconds) or None
Fetch = Callable[[], Awaitable[dict[str, Any]]]


def epoch(value: Any) -> float | None:
    """An AWS expiry (datetime or ISO text) as epoch seconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Atomically, readable by this user only (it holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".cred-", suffix=".json")
    try:
        os.chmod(tmp, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass
class _Entry:
    path: Path
    fetch: Fetch
    renew_at: float | None
    expiration: float | None = None


class KernelCredentials:
    """Per Workspace: one credentials file and when to renew it."""

    #: renew this long before expiry (or halfway through shorter lifetimes)
    MARGIN = 600.0
    #: the longest the renewal task sleeps before looking at the clock again
    CHECK_SECONDS = 30.0
    #: after a failed renewal, try again this soon
    RETRY_SECONDS = 30.0

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self.now = now
        self._entries: dict[str, _Entry] = {}
        self._task: asyncio.Task[None] | None = None

    def renew_at(self, expiration: float | None) -> float | None:
        if expiration is None:
            return None  # static credentials: nothing to renew
        lifetime = max(expiration - self.now(), 0.0)
        return expiration - min(self.MARGIN, lifetime / 2)

    async def issue(self, workspace_id: str, path: Path, fetch: Fetch) -> dict[str, Any]:
        """Fetch, write and keep renewing the Workspace's credentials (replacing others)."""
        data = await fetch()
        await asyncio.to_thread(write_private, path, data)
        old = self._entries.get(workspace_id)
        if old is not None and old.path != path:  # another kind (role → SigV4): not left behind
            with contextlib.suppress(OSError):
                await asyncio.to_thread(old.path.unlink)
        expiration = epoch(data.get("expiration"))
        self._entries[workspace_id] = _Entry(path, fetch, self.renew_at(expiration), expiration)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return data

    def holds(self, workspace_id: str) -> bool:
        """Whether the Workspace's credentials are written and renewed here."""
        return workspace_id in self._entries

    def expiration(self, workspace_id: str) -> float | None:
        entry = self._entries.get(workspace_id)
        return entry.expiration if entry else None

    async def forget(self, workspace_id: str) -> None:
        """Stop renewing and remove the file (detach, close, delete)."""
        entry = self._entries.pop(workspace_id, None)
        if entry is not None:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(entry.path.unlink)

    async def renew_due(self) -> list[str]:
        """Renew every Workspace whose credentials are close to expiry; their ids."""
        renewed = []
        for workspace_id, entry in list(self._entries.items()):
            if entry.renew_at is None or entry.renew_at > self.now():
                continue
            try:
                data = await entry.fetch()
                await asyncio.to_thread(write_private, entry.path, data)
            except Exception as e:  # keep the old ones; they may still work for a while
                log.warning(
                    "Workspace %s: renewing its kernels' credentials failed: %s", workspace_id, e
                )
                entry.renew_at = self.now() + self.RETRY_SECONDS
                continue
            if self._entries.get(workspace_id) is entry:
                entry.expiration = epoch(data.get("expiration"))
                entry.renew_at = self.renew_at(entry.expiration)
                renewed.append(workspace_id)
        return renewed

    async def _run(self) -> None:
        while self._entries:
            due = [e.renew_at for e in self._entries.values() if e.renew_at is not None]
            wait = min([self.CHECK_SECONDS, *(d - self.now() for d in due)])
            await asyncio.sleep(max(wait, 0.05))
            await self.renew_due()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
