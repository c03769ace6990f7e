"""The BlobStore interface shared by the S3 and local-folder stores."""

from __future__ import annotations

import abc
import collections
from dataclasses import dataclass, field
from datetime import UTC, datetime


class StoreError(Exception):
    """Base class for store failures."""


class ObjectNotFound(StoreError, KeyError):
    """No object under this key."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else "object not found"


class PreconditionFailed(StoreError):
    """An If-Match / If-None-Match condition did not hold: someone else wrote first."""


class StoreUnavailable(StoreError):
    """The store could not be reached or refused the request; the caller may retry."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    etag: str
    size: int
    last_modified: datetime | None = None
    #: User metadata (``head`` fills it; ``list`` cannot): backups' generation and writer.
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteResult:
    etag: str
    #: The store's clock when it answered (S3's ``Date`` header): leases judge expiry by it.
    store_time: datetime


@dataclass(frozen=True)
class Blob:
    data: bytes
    etag: str
    store_time: datetime
    last_modified: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)


#: What ``list_at`` answers: the objects and the store's time of the answer.
Listing = tuple[list[ObjectInfo], datetime]

_BAD_SEGMENTS = {"", ".", ".."}


def check_key(key: str) -> str:
    """Refuse keys that could escape the store's root or confuse a file system."""
    if not isinstance(key, str) or not key or len(key.encode()) > 1024:
        raise ValueError(f"invalid store key {key!r}")
    if key.startswith("/") or "\\" in key or "\x00" in key:
        raise ValueError(f"invalid store key {key!r}: absolute, backslash or NUL")
    if any(part in _BAD_SEGMENTS for part in key.split("/")):
        raise ValueError(f"invalid store key {key!r}: empty, '.' or '..' segment")
    return key


class BlobStore(abc.ABC):
    """Async key/value store with ETag preconditions.

    ``requests`` counts calls by operation so tests and benchmarks can assert how
    many round trips an operation costs.
    """

    uri: str

    def __init__(self) -> None:
        self.requests: collections.Counter[str] = collections.Counter()

    @abc.abstractmethod
    async def get(self, key: str) -> Blob:
        """Read an object; raises ObjectNotFound."""

    @abc.abstractmethod
    async def head(self, key: str) -> ObjectInfo:
        """Read an object's info without its body; raises ObjectNotFound."""

    @abc.abstractmethod
    async def put(
        self,
        key: str,
        data: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> WriteResult:
        """Write an object. ``if_none_match`` creates only; ``if_match`` replaces only
        the version with that ETag. Raises PreconditionFailed otherwise."""

    @abc.abstractmethod
    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Delete an object; missing objects are fine unless ``if_match`` is given."""

    @abc.abstractmethod
    async def list(self, prefix: str) -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (recursive), sorted by key."""

    async def list_at(self, prefix: str) -> Listing:
        """``list`` and the store's time of the answer: a reader judges lease expiry from
        the objects' ``last_modified`` against it, with no further request. Stores that
        cannot tell their time answer with this machine's."""
        return await self.list(prefix), datetime.now(UTC)

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many."""
        infos = await self.list(prefix)
        for info in infos:
            await self.delete(info.key)
        return len(infos)

    async def close(self) -> None:
        """Release resources (thread pools); nothing to do by default."""
        return None
