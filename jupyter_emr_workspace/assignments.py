"""Who may do what: Studio assignments turned into policy decisions.

IAM mode attaches policies to user and group principals, as IAM attaches them to
identities. IAM Identity Center mode admits only assigned principals and treats their
policies as session policies (also used when assuming the Studio's user role). The
session mappings can change while servers run: they live in the shared store and
override the configured ones.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from . import actions

# re-exported: the UI's action lists used to live here
from .actions import STUDIO_ACTIONS as STUDIO_ACTIONS
from .actions import WORKSPACE_ACTIONS as WORKSPACE_ACTIONS
from .errors import BadRequest, Forbidden
from .iam_policy import Decision, Request, evaluate
from .store import BlobStore, ObjectNotFound, PreconditionFailed
from .studio import Identity, Studio, check_assignments, policy_names
from .workspace_registry import CREATOR_TAG


def tag_context(tags: Mapping[str, str]) -> dict[str, str]:
    """Tags as policy context keys: at most one key per spelling-ignoring-case.

    Policy condition keys are read without regard to case, so tags whose keys differ only
    in case would leave the decision to whichever the evaluator reads last. New tags are
    refused such duplicates (``validate_tags``); for tags stored before that rule, the
    server-set ``creatorUserId`` always wins over any other spelling, and otherwise the
    first key (in stored order) wins, so the outcome never depends on dict order.
    """
    out: dict[str, str] = {}
    by_case: dict[str, str] = {}
    creator = CREATOR_TAG.lower()
    if CREATOR_TAG in tags:
        out[CREATOR_TAG] = tags[CREATOR_TAG]
        by_case[creator] = CREATOR_TAG
    for key, value in tags.items():
        lowered = key.lower()
        if lowered in by_case:
            continue
        if lowered == creator:
            continue  # only the server's exact spelling counts as the creator
        by_case[lowered] = key
        out[key] = value
    return out


class Arns:
    """Resource names in EMR's ARN format."""

    def __init__(self, region: str, account: str, studio_id: str):
        self.region, self.account, self.studio_id = region, account, studio_id

    def _emr(self, resource: str) -> str:
        return f"arn:aws:{actions.EMR}:{self.region}:{self.account}:{resource}"

    def studio(self) -> str:
        return self._emr(f"studio/{self.studio_id}")

    def workspace(self, workspace_id: str) -> str:
        return self._emr(f"editor/{workspace_id}")

    def notebook_execution(self, execution_id: str) -> str:
        return self._emr(f"notebook-execution/{execution_id}")

    def cluster(self, cluster_id: str) -> str:
        return self._emr(f"cluster/{cluster_id}")

    def virtual_cluster(self, vc_id: str) -> str:
        where = f"{actions.EMR_CONTAINERS}:{self.region}:{self.account}"
        return f"arn:aws:{where}:/virtualclusters/{vc_id}"


class SessionMappings:
    """Principal → policy names, from config plus the runtime overlay in the store."""

    def __init__(self, studio: Studio, store: BlobStore, key: str):
        self.studio, self.store, self.key = studio, store, key
        self._overlay: dict[str, list[str]] = {}
        self._etag: str | None = None
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    async def _refresh(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._fetched < self.studio.session_mapping_ttl:
            return
        async with self._lock:
            if not force and time.monotonic() - self._fetched < self.studio.session_mapping_ttl:
                return
            try:
                blob = await self.store.get(self.key)
                self._overlay, self._etag = json.loads(blob.data), blob.etag
            except ObjectNotFound:
                self._overlay, self._etag = {}, None
            self._fetched = time.monotonic()

    async def effective(self) -> dict[str, list[str]]:
        await self._refresh()
        merged = {p: policy_names(v) for p, v in self.studio.assignments.items()}
        merged.update(self._overlay)
        return {p: names for p, names in merged.items() if names}

    async def put(self, principal: str, names: Sequence[str] | None) -> dict[str, list[str]]:
        """Set (or with ``None``/empty, remove) one principal's policies; atomic via ETag."""
        if len(principal) > 256 or "\x00" in principal:
            raise BadRequest("principal: at most 256 characters, no NUL")
        try:
            check_assignments({principal: list(names or [])}, self.studio.policies, "mapping")
        except ValueError as e:
            raise BadRequest(str(e)) from None
        for _ in range(10):
            await self._refresh(force=True)
            overlay = dict(self._overlay)
            overlay[principal] = list(names or [])
            data = json.dumps(overlay, sort_keys=True).encode()
            try:
                if self._etag is None:
                    await self.store.put(self.key, data, if_none_match=True)
                else:
                    await self.store.put(self.key, data, if_match=self._etag)
            except PreconditionFailed:
                continue
            await self._refresh(force=True)
            return await self.effective()
        raise BadRequest("session mappings are changing too fast; try again")


class AccessControl:
    """Evaluates EMR Studio actions for an Identity."""

    def __init__(self, studio: Studio, arns: Arns, mappings: SessionMappings):
        self.studio, self.arns, self.mappings = studio, arns, mappings

    @property
    def open_mode(self) -> bool:
        """No policies and no assignments: every authenticated user may do everything."""
        return (
            self.studio.auth_mode == "IAM"
            and not self.studio.policies
            and not self.studio.assignments
        )

    async def assigned_policies(self, identity: Identity) -> list[str] | None:
        """Names of the policies that apply to ``identity``; None in open mode."""
        if self.open_mode:
            return None
        mapping = await self.mappings.effective()
        names: list[str] = []
        for principal in identity.principals:
            names += [n for n in mapping.get(principal, []) if n not in names]
        return names

    async def is_member(self, identity: Identity) -> bool:
        if self.studio.auth_mode != "IDENTITY_CENTER":
            return True
        mapping = await self.mappings.effective()
        return any(p in mapping for p in identity.principals)

    async def require_member(self, identity: Identity) -> None:
        if not await self.is_member(identity):
            raise Forbidden(
                f"{identity.name} is not assigned to Studio {self.studio.name!r} "
                f"({self.studio.id}); ask your Studio admin to assign you or one of your groups",
                code="NotAssignedToStudio",
            )

    async def session_policy(self, identity: Identity) -> dict[str, Any] | None:
        """One policy document combining the identity's assigned policies."""
        names = await self.assigned_policies(identity)
        if names is None:
            return None
        statements: list[Any] = []
        for name in names:
            doc = self.studio.policies[name]
            stmts = doc.get("Statement", [])
            statements += stmts if isinstance(stmts, list) else [stmts]
        return {"Version": "2012-10-17", "Statement": statements}

    def context(
        self,
        identity: Identity,
        resource_tags: Mapping[str, str] | None = None,
        request_tags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "aws:username": identity.name,
            "aws:userid": identity.name,
            "aws:PrincipalType": "User",
            "aws:CurrentTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:RequestedRegion": self.arns.region,
            actions.GROUPS_KEY: list(identity.groups),
            actions.STUDIO_ID_KEY: self.studio.id,
        }
        if identity.source_ip:
            ctx["aws:SourceIp"] = identity.source_ip
        resource = tag_context(resource_tags or {})
        for key, value in resource.items():
            ctx[f"aws:ResourceTag/{key}"] = value
            ctx[f"{actions.EMR_RESOURCE_TAG_PREFIX}{key}"] = value
        if request_tags:
            requested = tag_context(request_tags)
            for key, value in requested.items():
                ctx[f"aws:RequestTag/{key}"] = value
            ctx["aws:TagKeys"] = list(requested)
        return ctx

    async def decide(
        self,
        identity: Identity,
        action: str,
        resource: str,
        *,
        resource_tags: Mapping[str, str] | None = None,
        request_tags: Mapping[str, str] | None = None,
    ) -> Decision:
        if not await self.is_member(identity):
            return Decision.IMPLICIT_DENY
        names = await self.assigned_policies(identity)
        if names is None:
            return Decision.ALLOW
        docs = [self.studio.policies[n] for n in names]
        ctx = self.context(identity, resource_tags, request_tags)
        return evaluate(docs, Request(action=action, resource=resource, context=ctx))

    async def permissions(
        self,
        identity: Identity,
        actions: Sequence[str],
        resource: str,
        resource_tags: Mapping[str, str] | None = None,
    ) -> dict[str, bool]:
        return {
            a: (await self.decide(identity, a, resource, resource_tags=resource_tags)).allowed
            for a in actions
        }
