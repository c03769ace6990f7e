"""The Workspace registry: metadata of a Studio's Workspaces in the shared store.

One JSON object per Workspace, written with ETag preconditions so concurrent updates
from several servers never overwrite each other. A listing LISTs the objects (the truth)
and reads only those whose ETag it does not know: from the Studio's listing index
(``listing_index.py``) when many changed, else by GET. Writers keep the index current.
"""

from __future__ import annotations

import builtins
import json
import logging
import re
import secrets
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import BadRequest, Conflict, NotFound
from .layout import Layout
from .listing_index import ListingIndex
from .listing_index import gather_limited as gather_limited  # its old home
from .store import BlobStore, ObjectNotFound, PreconditionFailed
from .studio import PRINCIPAL_RE

WORKSPACE_ID_RE = re.compile(r"^e-[A-Z0-9]{25}$")
NAME_RE = re.compile(r"^(?!\.)[\w .-]{1,64}$")
CREATOR_TAG = "creatorUserId"
MAX_TAGS = 50
MAX_COLLABORATORS = 100
_ID_ALPHABET = string.ascii_uppercase + string.digits
log = logging.getLogger(__name__)


def new_workspace_id() -> str:
    return "e-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(25))


def utcnow_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def validate_name(name: Any) -> str:
    if not isinstance(name, str):
        raise BadRequest("name must be a string")
    if not NAME_RE.match(name) or name != name.strip():
        raise BadRequest(
            f"invalid Workspace name {name[:80]!r}: 1-64 letters, digits, spaces, '-', '_' or "
            "'.', not starting with '.' and without leading or trailing spaces"
        )
    return name


def validate_description(description: Any) -> str:
    if not isinstance(description, str) or len(description) > 256 or "\x00" in description:
        raise BadRequest("description must be a string of at most 256 characters")
    return description


def validate_tags(tags: Any) -> dict[str, str]:
    """Tags as a client may send them.

    Keys are unique ignoring case: IAM reads condition keys such as
    ``aws:ResourceTag/creatorUserId`` without regard to case, so ``Team`` and ``team`` (or
    a client's ``creatoruserid`` next to the server's ``creatorUserId``) would make a
    policy decision depend on which spelling is read. ``creatorUserId`` spelt any other
    way is refused here; the exact key is the caller's to refuse or check, as the server
    sets it.
    """
    if not isinstance(tags, dict):
        raise BadRequest("tags must be an object of string keys and values")
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"at most {MAX_TAGS} tags")
    seen: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or "\x00" in key:
            raise BadRequest(f"invalid tag key {str(key)[:80]!r}: 1-128 characters")
        if key.lower().startswith("aws:"):
            raise BadRequest(f"tag key {key!r}: the 'aws:' prefix is reserved")
        folded = key.casefold()
        if folded in seen:
            raise BadRequest(
                f"tag keys {seen[folded]!r} and {key!r} differ only in case; tag keys must be "
                "unique ignoring case"
            )
        seen[folded] = key
        if folded == CREATOR_TAG.casefold() and key != CREATOR_TAG:
            raise BadRequest(f"tag key {key!r}: {CREATOR_TAG!r} (in any case) is set by the server")
        if not isinstance(value, str) or len(value) > 256 or "\x00" in value:
            raise BadRequest(f"tag {key!r}: the value must be a string of at most 256 characters")
    return dict(tags)


def validate_collaboration(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest("collaboration must be an object {enabled, collaborators}")
    unknown = set(value) - {"enabled", "collaborators"}
    if unknown:
        raise BadRequest(f"collaboration: unknown fields {sorted(unknown)}")
    enabled = value.get("enabled", False)
    if not isinstance(enabled, bool):
        raise BadRequest("collaboration.enabled must be true or false")
    collaborators = value.get("collaborators", [])
    if not isinstance(collaborators, list) or len(collaborators) > MAX_COLLABORATORS:
        raise BadRequest(
            f"collaboration.collaborators must be a list of at most {MAX_COLLABORATORS}"
        )
    for c in collaborators:
        if not isinstance(c, str) or not PRINCIPAL_RE.match(c) or len(c) > 256 or "\x00" in c:
            raise BadRequest(f"collaborator {str(c)[:80]!r}: use 'user:NAME' or 'group:NAME'")
    return {"enabled": enabled, "collaborators": list(dict.fromkeys(collaborators))}


def check_workspace_id(workspace_id: str) -> str:
    if not WORKSPACE_ID_RE.match(workspace_id):
        raise NotFound(
            f"No Workspace {workspace_id[:80]!r}: ids are 'e-' and 25 upper-case letters or digits"
        )
    return workspace_id


@dataclass
class Workspace:
    id: str
    name: str
    studio_id: str
    created_by: str
    created_at: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    collaboration: dict[str, Any] = field(
        default_factory=lambda: {"enabled": False, "collaborators": []}
    )
    attachment: dict[str, Any] | None = None
    updated_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Workspace:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def is_collaborator(self, principals: Iterable[str]) -> bool:
        if self.created_by and f"user:{self.created_by}" in principals:
            return True
        listed = set(self.collaboration.get("collaborators", []))
        return any(p in listed for p in principals)


class WorkspaceRegistry:
    def __init__(
        self,
        store: BlobStore,
        layout: Layout,
        studio_id: str,
        *,
        index: ListingIndex | None = None,
        max_age: float = 0.0,
    ):
        self.store, self.layout, self.studio_id = store, layout, studio_id
        #: shared with the lease manager (``app.py``), so a cold listing reads it once
        self.index = index or ListingIndex(store, layout)
        #: ``list`` answers from memory while its last LIST is younger than this (s):
        #: other servers' changes show within it; this server's own at once.
        self.max_age = max_age
        self._cache: dict[str, tuple[str, Workspace]] = {}
        self._listed_at = float("-inf")  # when the last LIST was sent (monotonic)
        #: key → when this server last wrote, deleted or read it (newer than a LIST
        #: sent before then, which must not undo it)
        self._known_at: dict[str, float] = {}

    def _keep(self, key: str, entry: tuple[str, Workspace] | None) -> None:
        if entry is None:
            self._cache.pop(key, None)
        else:
            self._cache[key] = entry
        self._known_at[key] = time.monotonic()

    async def _read(self, workspace_id: str) -> tuple[Workspace, str]:
        check_workspace_id(workspace_id)
        key = self.layout.workspace(workspace_id)
        try:
            blob = await self.store.get(key)
        except ObjectNotFound:
            self._keep(key, None)
            raise NotFound(f"No Workspace {workspace_id} in this Studio") from None
        ws = Workspace.from_json(json.loads(blob.data))
        self._keep(key, (blob.etag, ws))
        return ws, blob.etag

    async def get(self, workspace_id: str) -> Workspace:
        return (await self._read(workspace_id))[0]

    def cached(self, workspace_id: str) -> Workspace | None:
        """The last version this server saw, without I/O (for the authorizer)."""
        entry = self._cache.get(self.layout.workspace(workspace_id))
        return entry[1] if entry else None

    async def list(self, max_age: float | None = None) -> list[Workspace]:
        """Every Workspace of the Studio: one LIST when nothing changed since the last
        listing; a cold listing adds one GET of the listing index. Within ``max_age``
        (default: the registry's) of the last LIST, no request at all."""
        started = time.monotonic()
        if started - self._listed_at < (self.max_age if max_age is None else max_age):
            return self._sorted()
        prefix = self.layout.workspaces_prefix
        listed = await self.store.list(prefix)
        # what this server wrote, deleted or read since the LIST was sent is newer
        newer = {k for k, at in self._known_at.items() if at >= started}
        infos = [
            i
            for i in listed
            if WORKSPACE_ID_RE.match(Layout.workspace_id_of(i.key) or "")
            and i.key == self.layout.workspace(Layout.workspace_id_of(i.key) or "")
            and i.key not in newer
        ]
        live = {i.key for i in infos} | newer
        for key in list(self._cache):
            if key not in live:
                del self._cache[key]
        fetched = await self.index.resolve(
            infos,
            lambda key, etag: self._cache.get(key, ("",))[0] == etag,
            prefix=prefix,
            started=started,
        )
        for key, f in fetched.items():
            try:
                self._cache[key] = (f.etag, Workspace.from_json(f.body))
            except (TypeError, AttributeError) as e:  # not a Workspace: left out, said so
                log.warning("%s is not a Workspace's metadata: %s", key, e)
        self._listed_at = max(self._listed_at, started)
        self._known_at = {k: at for k, at in self._known_at.items() if at >= started}
        return self._sorted()

    def _sorted(self) -> builtins.list[Workspace]:
        return sorted(
            (ws for _, ws in self._cache.values() if ws.studio_id == self.studio_id),
            key=lambda ws: (ws.name.casefold(), ws.id),
        )

    async def create(
        self,
        name: str,
        created_by: str,
        *,
        description: str = "",
        tags: dict[str, str] | None = None,
        collaboration: dict[str, Any] | None = None,
        workspace_id: str | None = None,
    ) -> Workspace:
        ws = Workspace(
            id=workspace_id or new_workspace_id(),
            name=validate_name(name),
            studio_id=self.studio_id,
            created_by=created_by,
            created_at=utcnow_iso(),
            description=validate_description(description),
            tags={**validate_tags(tags or {}), CREATOR_TAG: created_by},
            # None is "not given"; any other value must be a valid object ([] or "" is not)
            collaboration=validate_collaboration({} if collaboration is None else collaboration),
        )
        name_key = self.layout.name(ws.name)
        try:
            await self.store.put(name_key, ws.id.encode(), if_none_match=True)
        except PreconditionFailed:
            raise Conflict(
                f"A Workspace named {ws.name!r} already exists in this Studio; choose another name",
                code="NameTaken",
            ) from None
        try:
            result = await self.store.put(
                self.layout.workspace(ws.id), _dump(ws), if_none_match=True
            )
        except BaseException:
            await self.store.delete(name_key)
            raise
        self._keep(self.layout.workspace(ws.id), (result.etag, ws))
        await self.index.record(self.layout.workspace(ws.id), result.etag, ws.to_json())
        return ws

    async def update(self, workspace_id: str, change: Callable[[Workspace], None]) -> Workspace:
        """Apply ``change`` to the current version and write it if nobody wrote in between."""
        for _ in range(10):
            ws, etag = await self._read(workspace_id)
            change(ws)
            ws.updated_at = utcnow_iso()
            try:
                result = await self.store.put(
                    self.layout.workspace(workspace_id), _dump(ws), if_match=etag
                )
            except PreconditionFailed:
                continue
            self._keep(self.layout.workspace(workspace_id), (result.etag, ws))
            await self.index.record(self.layout.workspace(workspace_id), result.etag, ws.to_json())
            return ws
        raise Conflict(f"Workspace {workspace_id} is being changed by others; try again")

    async def delete(self, ws: Workspace) -> None:
        await self.store.delete(self.layout.workspace(ws.id))
        self._keep(self.layout.workspace(ws.id), None)
        await self.index.forget(self.layout.workspace(ws.id))
        try:
            blob = await self.store.get(self.layout.name(ws.name))
            if blob.data.decode() == ws.id:
                await self.store.delete(self.layout.name(ws.name), if_match=blob.etag)
        except (ObjectNotFound, PreconditionFailed):
            pass


def _dump(ws: Workspace) -> bytes:
    return json.dumps(ws.to_json(), sort_keys=True).encode()
