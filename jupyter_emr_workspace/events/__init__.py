"""Audit events through jupyter_events: one per action and one per denial.

Sinks are ordinary logging handlers (``c.EventLogger.handlers``); with none configured
events go to a JSON-lines file. The last events are kept in memory for ``GET /events``.
"""

from __future__ import annotations

import collections
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jupyter_events import EventLogger

from ..studio import Identity

SCHEMA_PATH = Path(__file__).with_name("audit.yaml")
SCHEMA_ID = "https://events.jupyter.org/jupyter_emr_workspace/audit"
SCHEMA_VERSION = "1"
_SECRET_KEYS = {"token", "password", "secret", "credentials", "authorization"}


class AuditLog:
    def __init__(
        self,
        studio_id: str,
        path: str | os.PathLike[str],
        *,
        server_id: str | None = None,
        event_logger: EventLogger | None = None,
        keep: int = 1000,
    ) -> None:
        self.studio_id = studio_id
        self.server_id = server_id
        self.path = Path(path)
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self._load_tail(keep)
        self.logger = event_logger or EventLogger()
        if not self.logger.handlers:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(self.path, encoding="utf-8")
            self.logger.register_handler(handler)
        self.logger.register_event_schema(SCHEMA_PATH)

    def _load_tail(self, keep: int) -> None:
        """Recent events survive a restart: read the end of the JSON-lines file."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 512 * keep))
                lines = fh.read().splitlines()[1:] if fh.tell() > 512 * keep else None
        except FileNotFoundError:
            return
        if lines is None:
            lines = self.path.read_bytes().splitlines()
        for line in lines[-keep:]:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("__schema__") == SCHEMA_ID and event.get("studio_id") == self.studio_id:
                self._recent.append(_public(event))

    def record(
        self,
        identity: Identity,
        action: str,
        resource: str,
        outcome: str,
        *,
        error_code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        data = {
            "studio_id": self.studio_id,
            "user": identity.name,
            "groups": list(identity.groups),
            "action": action,
            "resource": resource,
            "outcome": outcome,
            "error_code": error_code,
            "source_ip": identity.source_ip,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "server_id": self.server_id,
            "details": _scrub(details or {}),
        }
        self.logger.emit(schema_id=SCHEMA_ID, data=data)
        self._recent.append(data)
        return data

    def recent(self, limit: int = 100, *, user: str | None = None) -> list[dict[str, Any]]:
        events = [e for e in self._recent if user is None or e.get("user") == user]
        return list(reversed(events[-limit:]))


def _scrub(details: dict[str, Any]) -> dict[str, Any]:
    return {
        k: ("<redacted>" if any(s in k.lower() for s in _SECRET_KEYS) else v)
        for k, v in details.items()
    }


def _public(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if not k.startswith("__")}
