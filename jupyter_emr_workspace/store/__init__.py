"""The shared store: a flat key → bytes map with ETag preconditions.

Everything shared between servers (Workspace metadata, lease locks, backups) lives
here, so the same code runs on S3 and on a local folder. Conditional writes
(create-only, replace-if-ETag, delete-if-ETag) are what make the lease lock safe.
"""

from __future__ import annotations

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

__all__ = [
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
]
