"""BlobStore on S3: conditional writes make the lease lock atomic across servers.

boto3 is blocking, so every call runs in a bounded thread pool; the event loop never
waits on the network.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlparse

import botocore.exceptions

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

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_PRECONDITION = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (bucket, prefix without slashes at either end)."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return parsed.netloc, parsed.path.strip("/")


def _store_time(response: dict[str, Any]) -> datetime:
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if date:
        try:
            return parsedate_to_datetime(date).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC)


class S3Store(BlobStore):
    def __init__(self, client: Any, uri: str, *, max_workers: int = 16):
        super().__init__()
        self.client = client
        self.bucket, self.prefix = parse_s3_uri(uri)
        self.uri = uri.rstrip("/")
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="emr-ws-s3")

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _rel(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    async def _call(self, op: str, **params: Any) -> dict[str, Any]:
        self.requests[op] += 1
        fn = functools.partial(getattr(self.client, op), **params)
        try:
            result: dict[str, Any] = await asyncio.get_running_loop().run_in_executor(
                self._executor, fn
            )
            return result
        except botocore.exceptions.ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            status = str(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code == "NoSuchBucket":  # the store itself is missing, not an object in it
                raise StoreUnavailable(f"S3 bucket {self.bucket} does not exist ({op})") from e
            if code in _NOT_FOUND or (status == "404" and code not in _PRECONDITION):
                raise ObjectNotFound(params.get("Key", "")) from None
            if code in _PRECONDITION or status in {"412"}:
                raise PreconditionFailed(f"{params.get('Key')}: {code}") from None
            if status.startswith("5") or code in {"SlowDown", "RequestTimeout", "Throttling"}:
                raise StoreUnavailable(f"S3 {op} failed: {code} {e}") from e
            raise StoreError(f"S3 {op} on s3://{self.bucket} failed: {code}: {e}") from e
        except (
            botocore.exceptions.EndpointConnectionError,
            botocore.exceptions.ConnectionClosedError,
            botocore.exceptions.ReadTimeoutError,
            botocore.exceptions.ConnectTimeoutError,
            botocore.exceptions.HTTPClientError,
        ) as e:
            raise StoreUnavailable(f"S3 unreachable ({op}): {e}") from e
        except botocore.exceptions.NoCredentialsError as e:
            raise StoreUnavailable(
                "No AWS credentials found: configure the standard AWS credential chain "
                "(environment, profile or instance role)"
            ) from e

    async def get(self, key: str) -> Blob:
        r = await self._call("get_object", Bucket=self.bucket, Key=self._key(key))
        data = await asyncio.get_running_loop().run_in_executor(self._executor, r["Body"].read)
        return Blob(
            data=data,
            etag=r["ETag"],
            store_time=_store_time(r),
            last_modified=r.get("LastModified"),
            metadata=dict(r.get("Metadata") or {}),
        )

    async def head(self, key: str) -> ObjectInfo:
        r = await self._call("head_object", Bucket=self.bucket, Key=self._key(key))
        return ObjectInfo(
            key,
            r["ETag"],
            int(r.get("ContentLength", 0)),
            r.get("LastModified"),
            dict(r.get("Metadata") or {}),
        )

    async def put(
        self,
        key: str,
        data: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> WriteResult:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key), "Body": data}
        if if_none_match:
            params["IfNoneMatch"] = "*"
        if if_match is not None:
            params["IfMatch"] = if_match
        if metadata:
            params["Metadata"] = metadata
        try:
            r = await self._call("put_object", **params)
        except ObjectNotFound:
            # S3 answers If-Match on a missing object with 404: for the contract (and the
            # lease's retry loops) that is a failed precondition, as on the local store
            if if_match is None:
                raise
            raise PreconditionFailed(f"{key} is gone") from None
        return WriteResult(etag=r["ETag"], store_time=_store_time(r))

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if if_match is not None:
            params["IfMatch"] = if_match
        try:
            await self._call("delete_object", **params)
        except ObjectNotFound:
            if if_match is not None:
                raise PreconditionFailed(f"{key} is gone") from None

    async def list(self, prefix: str) -> list[ObjectInfo]:
        return (await self.list_at(prefix))[0]

    async def list_at(self, prefix: str) -> Listing:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        out: list[ObjectInfo] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": full}
            if token:
                params["ContinuationToken"] = token
            r = await self._call("list_objects_v2", **params)
            for obj in r.get("Contents", []):
                out.append(
                    ObjectInfo(self._rel(obj["Key"]), obj["ETag"], obj["Size"], obj["LastModified"])
                )
            if not r.get("IsTruncated"):
                break
            token = r.get("NextContinuationToken")
        return out, _store_time(r)

    async def delete_prefix(self, prefix: str) -> int:
        infos = await self.list(prefix)
        for start in range(0, len(infos), 1000):
            batch = infos[start : start + 1000]
            await self._call(
                "delete_objects",
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._key(i.key)} for i in batch], "Quiet": True},
            )
        return len(infos)

    async def close(self) -> None:
        self._executor.shutdown(wait=False)


# -- the registry's entry points (store/__init__.py: BACKENDS) ------------------------------
URI_FORM = "s3://bucket/prefix"


def check_uri(uri: str) -> None:
    parse_s3_uri(uri)


def open_uri(uri: str, clients: Any) -> S3Store:
    if clients is None:
        import boto3

        return S3Store(boto3.client("s3"), uri)
    return S3Store(clients.service_client("s3"), uri)
