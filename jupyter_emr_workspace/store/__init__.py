"""The shared store: a flat key → bytes map with ETag preconditions.

Everything shared between servers (Workspace metadata, lease locks, backups) lives
here, so the same code runs on S3 and on a local folder. Conditional writes
(create-only, replace-if-ETag, delete-if-ETag) are what make the lease lock safe.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from .base import (
    Blob,
    BlobStore,
    Listing,
    ObjectInfo,
    ObjectNotFound,
    PreconditionFailed,
    StoreError,
    StoreUnavailable,
    WriteResult,
    check_key,
)

#: URI scheme → the module that opens stores there ("": a plain folder path; ".x" is
#: this package's module x). Each has ``URI_FORM`` (for messages), ``check_uri(uri)``
#: (ValueError saying what is wrong) and ``open_uri(uri, clients)``: adding a backend is
#: such a module plus one line here (docs/design.md, "How to add a store").
BACKENDS: dict[str, str] = {
    "s3": ".s3",
    "file": ".local",
    "": ".local",
}
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def backend_of(uri: str) -> Any:
    """The backend module for ``uri``'s scheme; ValueError naming the known forms if none."""
    match = _SCHEME_RE.match(uri)
    scheme = match.group(1).lower() if match else ""
    if scheme not in BACKENDS:
        forms = ", ".join(dict.fromkeys(_module(s).URI_FORM for s in BACKENDS))
        raise ValueError(f"no store for {scheme}:// URIs; use {forms}")
    return _module(scheme)


def _module(scheme: str) -> Any:
    return importlib.import_module(BACKENDS[scheme], __name__)


def check_uri(uri: str) -> None:
    """Raise ValueError saying what is wrong with ``uri`` as a store location."""
    backend_of(uri).check_uri(uri)


def open_store(uri: str, clients: Any = None) -> BlobStore:
    """The store at ``uri``, by its scheme. ``clients`` gives backends their SDK clients
    (``clients.service_client("s3")``, an ``aws.AwsClients``); None: the SDK's defaults."""
    backend = backend_of(uri)
    backend.check_uri(uri)
    store: BlobStore = backend.open_uri(uri, clients)
    return store


__all__ = [
    "BACKENDS",
    "Blob",
    "BlobStore",
    "Listing",
    "ObjectInfo",
    "ObjectNotFound",
    "PreconditionFailed",
    "StoreError",
    "StoreUnavailable",
    "WriteResult",
    "check_key",
    "check_uri",
    "open_store",
]
