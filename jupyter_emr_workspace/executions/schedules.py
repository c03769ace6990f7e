"""Schedules: a notebook, its parameters and cluster, and a cron in a time zone.

Each firing is an ordinary execution, tagged with its schedule (``schedule_id``), and
submitted as the schedule's owner (so their policies apply at every firing). Records live
in the Studio's store (``schedules/<id>.json``); every runner's scheduler looks at them,
and a firing is claimed by a conditional write of the schedule's ``last_slot`` (the
firing time it served): of several runners, one fires each slot. When no runner was up
for several slots, the next one fires once, for the latest, and says how many it missed
(in the schedule and in the execution's history), never one per missed slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import actions
from ..errors import BadRequest, NotFound, check_fields
from ..layout import Layout
from ..store import BlobStore, ObjectNotFound, PreconditionFailed
from ..studio import Identity
from ..workspace_registry import Workspace, validate_tags
from .cron import Cron, CronError
from .model import (
    OUTPUT_FORMATS,
    parse_time,
    validate_cluster,
    validate_name,
    validate_parameters,
    validate_relative_path,
)

if TYPE_CHECKING:
    from ..services import Services
    from .service import ExecutionService

SCHEDULE_ID_RE = re.compile(r"^sch-[0-9a-z]{20}$")
log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Schedule:
    id: str
    workspace_id: str
    relative_path: str
    name: str
    cron: str
    timezone: str
    created_by: str
    created_at: str
    enabled: bool = True
    parameters: dict[str, Any] = field(default_factory=dict)
    cluster: dict[str, Any] | None = None
    output_format: str = "ipynb"
    tags: dict[str, str] = field(default_factory=dict)
    #: the firing time last served (claimed by a conditional write); starts at creation
    last_slot: str = ""
    last_fired_at: str | None = None
    last_execution_id: str | None = None
    last_error: str | None = None
    missed: int = 0
    fired: int = 0
    #: the owner's groups when it was created: firings are authorized as them
    owner_groups: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schedule:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def view(self, at: datetime) -> dict[str, Any]:
        data = self.to_json()
        upcoming = Cron.parse(self.cron, self.timezone).next_after(at) if self.enabled else None
        data["next_fire_at"] = iso(upcoming) if upcoming else None
        return data


def validate_cron(expression: Any, timezone: Any) -> Cron:
    try:
        return Cron.parse(expression, timezone)
    except CronError as e:
        raise BadRequest(str(e)) from None


class ScheduleStore:
    def __init__(self, store: BlobStore, layout: Layout) -> None:
        self.store, self.prefix = store, f"{layout.base}/schedules/"

    def key(self, schedule_id: str) -> str:
        return f"{self.prefix}{schedule_id}.json"

    async def create(self, sch: Schedule) -> None:
        data = json.dumps(sch.to_json()).encode()
        await self.store.put(self.key(sch.id), data, if_none_match=True)

    async def read(self, schedule_id: str) -> tuple[Schedule, str]:
        if not SCHEDULE_ID_RE.match(schedule_id):
            raise NotFound(f"No schedule {schedule_id[:80]!r}", code="ScheduleNotFound")
        try:
            blob = await self.store.get(self.key(schedule_id))
        except ObjectNotFound:
            raise NotFound(f"No schedule {schedule_id}", code="ScheduleNotFound") from None
        return Schedule.from_json(json.loads(blob.data)), blob.etag

    async def write(self, sch: Schedule, etag: str) -> str:
        data = json.dumps(sch.to_json()).encode()
        return (await self.store.put(self.key(sch.id), data, if_match=etag)).etag

    async def update(self, schedule_id: str, change: Callable[[Schedule], None]) -> Schedule:
        for _ in range(20):
            sch, etag = await self.read(schedule_id)
            change(sch)
            try:
                await self.write(sch, etag)
                return sch
            except PreconditionFailed:
                await asyncio.sleep(0.05)
        raise PreconditionFailed(f"schedule {schedule_id} kept changing; try again")

    async def delete(self, schedule_id: str) -> None:
        await self.store.delete(self.key(schedule_id))

    async def ids(self) -> list[str]:
        infos = await self.store.list(self.prefix)
        ids = [i.key[len(self.prefix) : -len(".json")] for i in infos if i.key.endswith(".json")]
        return sorted(i for i in ids if SCHEDULE_ID_RE.match(i))


#: ``await submit(schedule, note)`` → the execution id (ExecutionService.start as its owner)
Submit = Callable[[Schedule, str], Awaitable[str]]


class Scheduler:
    """Fires due schedules; ``clock`` is injectable, so tests compress time."""

    def __init__(
        self,
        schedules: ScheduleStore,
        submit: Submit,
        *,
        tick_seconds: float = 20.0,
        clock: Callable[[], datetime] = now,
        idle_seconds: float | None = None,
    ) -> None:
        """``idle_seconds``: with no schedule in the store, look this seldom (creating one
        through this server wakes it); None: every ``tick_seconds`` (a hub runner)."""
        self.schedules, self.submit = schedules, submit
        self.tick_seconds, self.clock, self.idle_seconds = tick_seconds, clock, idle_seconds
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._any = True

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler: tick failed")
            self._wake.clear()
            wait = self.tick_seconds
            if self.idle_seconds is not None and not self._any:
                wait = max(wait, self.idle_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def tick(self) -> list[str]:
        """Fire every schedule due now (once each); returns the executions submitted."""
        fired: list[str] = []
        ids = await self.schedules.ids()
        self._any = bool(ids)
        for schedule_id in ids:
            try:
                execution_id = await self._fire_if_due(schedule_id)
            except NotFound:
                continue  # deleted meanwhile
            if execution_id:
                fired.append(execution_id)
        return fired

    async def _fire_if_due(self, schedule_id: str) -> str | None:
        sch, etag = await self.schedules.read(schedule_id)
        if not sch.enabled:
            return None
        at = self.clock()
        cron = Cron.parse(sch.cron, sch.timezone)
        latest, count = cron.slots(parse_time(sch.last_slot, "last_slot"), at)
        if latest is None:
            return None
        claimed = copy.deepcopy(sch)
        claimed.last_slot, claimed.last_fired_at = iso(latest), iso(at)
        claimed.missed += count - 1
        claimed.fired += 1
        try:
            etag = await self.schedules.write(claimed, etag)
        except PreconditionFailed:
            return None  # another runner fired this slot (or the schedule changed)
        note = f"fired by schedule {sch.id} for {iso(latest)}"
        if count > 1:
            note += (
                f"; {count - 1} earlier firing{'s' if count > 2 else ''} since "
                f"{sch.last_slot} {'were' if count > 2 else 'was'} missed while no runner was "
                "up, and run once now"
            )
        try:
            execution_id = await self.submit(claimed, note)
            error = None
        except Exception as e:
            execution_id, error = None, getattr(e, "message", None) or f"{type(e).__name__}: {e}"
            log.warning("schedule %s: firing failed: %s", sch.id, error)

        def record(current: Schedule) -> None:
            current.last_execution_id = execution_id or current.last_execution_id
            current.last_error = error

        await self.schedules.update(sch.id, record)
        return execution_id


class ScheduleService:
    """The /schedules API; authorizes with ``emr-workspace:ManageSchedules``."""

    FIELDS = {
        "workspace_id",
        "relative_path",
        "name",
        "parameters",
        "cluster",
        "output_format",
        "cron",
        "timezone",
        "enabled",
        "tags",
    }
    MUTABLE = FIELDS - {"workspace_id"}

    def __init__(
        self, services: Services, executions: ExecutionService, schedules: ScheduleStore
    ) -> None:
        self.services, self.executions, self.schedules = services, executions, schedules
        self.registry, self.guard = services.registry, services.guard
        #: the time of creations and re-enablings (tests compress it, as the Scheduler's)
        self.clock: Callable[[], datetime] = now

    async def _require(self, identity: Identity, workspace_id: str) -> Workspace:
        ws = await self.registry.get(workspace_id)
        await self.guard.on_workspace(identity, actions.MANAGE_SCHEDULES, ws)
        return ws

    @staticmethod
    def _apply(sch: Schedule, body: dict[str, Any]) -> None:
        if "relative_path" in body:
            sch.relative_path = validate_relative_path(body["relative_path"])
        if "name" in body:
            sch.name = validate_name(body["name"], sch.relative_path)
        if "parameters" in body:
            sch.parameters = validate_parameters(body["parameters"])
        if "cluster" in body:
            sch.cluster = validate_cluster(body["cluster"])
        if "output_format" in body:
            if body["output_format"] not in OUTPUT_FORMATS:
                raise BadRequest(f"output_format must be one of {list(OUTPUT_FORMATS)}")
            sch.output_format = body["output_format"]
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise BadRequest("enabled must be true or false")
            sch.enabled = body["enabled"]
        if "tags" in body:
            sch.tags = validate_tags(body["tags"])
        if "cron" in body or "timezone" in body:
            sch.cron = body.get("cron", sch.cron)
            sch.timezone = body.get("timezone", sch.timezone)
        validate_cron(sch.cron, sch.timezone)

    async def create(self, identity: Identity, body: dict[str, Any]) -> dict[str, Any]:
        check_fields(body, self.FIELDS, {"workspace_id", "relative_path", "cron"})
        if not isinstance(body["workspace_id"], str):
            raise BadRequest("workspace_id must be a string")
        at = self.clock()
        sch = Schedule(
            id="sch-" + secrets.token_hex(10),
            workspace_id=body["workspace_id"],
            relative_path="",
            name="",
            cron="",
            timezone="UTC",
            created_by=identity.name,
            created_at=iso(at),
            last_slot=iso(at),
            owner_groups=list(identity.groups),
        )
        self._apply(sch, {"timezone": "UTC", **body})
        if not body.get("name"):
            sch.name = sch.relative_path.rsplit("/", 1)[-1]
        ws = await self.registry.get(sch.workspace_id)
        # a schedule reads the notebook and starts executions as its owner: those rights
        # are needed now (and at every firing)
        await self.guard.on_workspace(identity, actions.DESCRIBE_EDITOR, ws)
        await self.guard.on_workspace(identity, actions.START_NOTEBOOK_EXECUTION, ws)
        async with self.guard.on_workspace(
            identity,
            actions.MANAGE_SCHEDULES,
            ws,
            details={"operation": "create", "workspace_id": ws.id, "cron": sch.cron},
        ) as facts:
            if sch.cluster:  # an execution role it names: may the owner pass it
                await self.executions.check_role(identity, sch.cluster)
            await self.executions.read_notebook(ws, sch.relative_path)  # it exists now
            await self.schedules.create(sch)
            facts["schedule_id"] = sch.id
        if self.executions.scheduler is not None:
            self.executions.scheduler.wake()
        return sch.view(at)

    async def list(self, identity: Identity, workspace_id: str | None) -> dict[str, Any]:
        await self.guard.require_member(identity)
        out = []
        for schedule_id in await self.schedules.ids():
            try:
                sch, _ = await self.schedules.read(schedule_id)
                if workspace_id and sch.workspace_id != workspace_id:
                    continue
                ws = await self.registry.get(sch.workspace_id)
            except NotFound:
                continue
            allowed = await self.guard.permissions_on_workspace(
                identity, [actions.MANAGE_SCHEDULES], ws
            )
            if allowed[actions.MANAGE_SCHEDULES]:
                out.append(sch.view(self.clock()))
        return {"schedules": out}

    async def get(self, identity: Identity, schedule_id: str) -> dict[str, Any]:
        sch, _ = await self.schedules.read(schedule_id)
        await self._require(identity, sch.workspace_id)
        return sch.view(self.clock())

    async def update(
        self, identity: Identity, schedule_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        unknown = set(body) - self.MUTABLE
        if unknown or not body:
            raise BadRequest(f"send some of {sorted(self.MUTABLE)}; unknown: {sorted(unknown)}")
        sch, _ = await self.schedules.read(schedule_id)
        ws = await self.registry.get(sch.workspace_id)
        changed = copy.deepcopy(sch)
        self._apply(changed, body)  # refuse bad input before anything is written
        async with self.guard.on_workspace(
            identity,
            actions.MANAGE_SCHEDULES,
            ws,
            details={"operation": "update", "schedule_id": sch.id, "fields": sorted(body)},
        ):
            if "cluster" in body and changed.cluster:
                # it fires as its owner: the owner and whoever sets the role must pass it
                owner = Identity(sch.created_by, tuple(sch.owner_groups))
                for who in {owner.name: owner, identity.name: identity}.values():
                    await self.executions.check_role(who, changed.cluster)
            at = self.clock()

            def change(current: Schedule) -> None:
                was_enabled = current.enabled
                self._apply(current, body)
                if current.enabled and not was_enabled:
                    current.last_slot = iso(at)  # re-enabling does not fire what passed

            sch = await self.schedules.update(sch.id, change)
        return sch.view(at)

    async def delete(self, identity: Identity, schedule_id: str) -> None:
        sch, _ = await self.schedules.read(schedule_id)
        ws: Workspace | str
        try:
            ws = await self.registry.get(sch.workspace_id)
        except NotFound:  # its Workspace is gone: the schedule can still be deleted
            ws = sch.workspace_id  # judged by its ARN alone
        async with self.guard.on_workspace(
            identity,
            actions.MANAGE_SCHEDULES,
            ws,
            details={"operation": "delete", "schedule_id": sch.id},
        ):
            await self.schedules.delete(sch.id)

    async def submit(self, sch: Schedule, note: str) -> str:
        """A firing: an ordinary execution, submitted as the schedule's owner."""
        body: dict[str, Any] = {
            "workspace_id": sch.workspace_id,
            "relative_path": sch.relative_path,
            "name": sch.name,
            "parameters": sch.parameters,
            "output_format": sch.output_format,
            "tags": sch.tags,
        }
        if sch.cluster:
            body["cluster"] = sch.cluster
        owner = Identity(sch.created_by, tuple(sch.owner_groups))
        ex = await self.executions.start(owner, body, schedule_id=sch.id, note=note)
        return str(ex["id"])
