"""Helpers shared by the storage tests: polling with a deadline, notebooks, S3 reads."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any


def notebook(text: str, size: int = 0) -> dict[str, Any]:
    """A valid nbformat 4 notebook whose one cell says ``text`` (padded to ``size``)."""
    source = text + ("x" * max(0, size - len(text)))
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [{"cell_type": "markdown", "id": "c1", "metadata": {}, "source": source}],
    }


def nb_model(text: str, size: int = 0) -> dict[str, Any]:
    return {"type": "notebook", "format": "json", "content": notebook(text, size)}


async def until(
    check: Callable[[], Any], what: str, limit: float = 30.0, every: float = 0.1
) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy, or fail."""
    deadline = time.monotonic() + limit
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if isinstance(last, Awaitable):
            last = await last
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def wait_sync(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    out: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


def read(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def cell_text(data: bytes | None) -> str | None:
    if data is None:
        return None
    source = json.loads(data)["cells"][0]["source"]
    return "".join(source) if isinstance(source, list) else str(source)
