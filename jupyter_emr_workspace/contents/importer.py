"""Register an existing EMR Studio backup prefix as a Workspace of this Studio.

EMR Studio keeps a Workspace's notebooks under ``s3://<studio bucket>/<prefix>/<e-id>/``.
Importing keeps the id when it is free here and the objects already sit under this
Studio's ``backup_uri/<id>/``; otherwise the objects are copied (server-side on S3) under
``backup_uri/<id>/``. Keys that could not be restored safely are skipped and listed.
Opening the Workspace afterwards restores the files like any backup.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from traitlets.config import Config
from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

from ..aws import AwsClients
from ..errors import ApiError, ConfigError, NotFound
from ..layout import Layout
from ..store import BlobStore, StoreError, open_store
from ..store.s3 import S3Store, parse_s3_uri
from ..studio import Studio
from ..workspace_registry import WORKSPACE_ID_RE, WorkspaceRegistry
from .paths import unsafe_reason


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "import",
        help="register an EMR Studio Workspace backup (s3://bucket/prefix/e-...) here",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "source", help="s3://bucket/prefix/<workspace-id> (the Workspace's backup prefix)"
    )
    p.add_argument("--name", required=True, help="name of the Workspace in this Studio")
    p.add_argument("--description", default="", help="description (default: where it came from)")
    p.add_argument("--created-by", default=None, help="owner user name (default: you)")
    p.add_argument("--new-id", action="store_true", help="always give it a new Workspace id")
    p.add_argument("--config", help="jupyter_server_config.py or .json with the c.Studio settings")
    p.add_argument("--backup-uri", help="the Studio's backup_uri (instead of --config)")
    p.add_argument("--studio-id", help="the Studio id (instead of --config)")
    p.add_argument("--endpoint-url", help="S3 endpoint (a local S3, moto)")
    p.add_argument("--region", help="AWS region")
    p.set_defaults(func=run)


def load_studio(args: argparse.Namespace) -> Studio:
    config = Config()
    if args.config:
        path = Path(args.config).expanduser().resolve()
        loader_class = JSONFileConfigLoader if path.suffix == ".json" else PyFileConfigLoader
        config.merge(loader_class(path.name, path=str(path.parent)).load_config())
    overrides = {
        "backup_uri": args.backup_uri,
        "id": args.studio_id,
        "endpoint_url": args.endpoint_url,
        "region": args.region,
    }
    for key, value in overrides.items():
        if value is not None:
            config.Studio[key] = value
    studio = Studio(config=config)
    studio.validate()
    return studio


def run(args: argparse.Namespace) -> int:
    try:
        studio = load_studio(args)
        result = asyncio.run(import_workspace(studio, args))
    except (ConfigError, ValueError) as e:
        print(f"jupyter-emr-workspace import: {e}", file=sys.stderr)
        return 2
    except ApiError as e:
        print(f"jupyter-emr-workspace import: {e.message}", file=sys.stderr)
        return 1
    except (StoreError, BotoCoreError, ClientError) as e:
        print(f"jupyter-emr-workspace import: S3 failed: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


async def import_workspace(studio: Studio, args: argparse.Namespace) -> dict[str, Any]:
    src_bucket, src_prefix = parse_s3_uri(args.source)
    tail = src_prefix.rsplit("/", 1)[-1]
    aws = AwsClients(studio.aws_settings())
    s3 = aws.service_client("s3")
    uri = studio.resolved_backup_uri
    store: BlobStore = open_store(uri, aws)
    registry = WorkspaceRegistry(store, Layout(studio.id), studio.id)
    try:
        workspace_id = tail if WORKSPACE_ID_RE.match(tail) and not args.new_id else None
        if workspace_id and await _exists(registry, workspace_id):
            workspace_id = None
        ws = await registry.create(
            args.name,
            args.created_by or getpass.getuser(),
            description=args.description or f"Imported from {args.source}"[:256],
            workspace_id=workspace_id,
        )
        try:
            copied, skipped = await _copy(s3, src_bucket, src_prefix, store, ws.id)
        except BaseException:
            await registry.delete(ws)  # so that running it again works
            raise
    finally:
        await store.close()
    return {
        "workspace_id": ws.id,
        "name": ws.name,
        "source": args.source,
        "backup_uri": f"{store.uri}/{ws.id}/",
        "copied": copied,
        "skipped": skipped,
    }


async def _exists(registry: WorkspaceRegistry, workspace_id: str) -> bool:
    try:
        await registry.get(workspace_id)
    except NotFound:
        return False
    return True


def _get_body(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


async def _copy(
    s3: Any, bucket: str, prefix: str, store: BlobStore, workspace_id: str
) -> tuple[int, list[dict[str, str]]]:
    """Copy every object under ``prefix`` to ``<workspace_id>/`` in the Studio's store;
    nothing when they are already there (same bucket and key)."""

    def listing() -> list[str]:
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix + "/"
        ):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    copied, skipped = 0, []
    for key in await asyncio.to_thread(listing):
        rel = key[len(prefix) + 1 :]
        if rel.endswith("/"):
            continue
        reason = unsafe_reason(rel)
        if reason:
            skipped.append({"key": key, "reason": reason})
            continue
        target = f"{workspace_id}/{rel}"
        if isinstance(store, S3Store):
            full = store._key(target)
            if (store.bucket, full) == (bucket, key):
                continue  # already in place
            await asyncio.to_thread(s3.copy, {"Bucket": bucket, "Key": key}, store.bucket, full)
        else:
            body = await asyncio.to_thread(_get_body, s3, bucket, key)
            await store.put(target, body)
        copied += 1
    return copied, skipped
