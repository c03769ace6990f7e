"""The embedded engine as a cluster source: Spark on this server, no AWS account needed.

The engine process starts on the first attach (or on opening a Workspace attached to it)
and stops with the server. Without Java or PySpark it is listed, not attachable, with why.
Each Workspace's kernels get that Workspace's own engine credential (`workspace_endpoint`):
they reach only the Spark sessions they created. The engine's admin token stays here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from traitlets import Float, HasTraits, Int, Unicode

from ... import actions
from ...errors import ConfigError, Conflict, NotFound, UpstreamError
from ..model import Cluster, LivyEndpoint
from .spec import SourceSpec

if TYPE_CHECKING:
    from ...studio import Identity, Studio

log = logging.getLogger(__name__)
LOCAL_ID = "local"


class LocalEngineSettings(HasTraits):
    """``c.Studio.local_engine_*``: the embedded engine's limits."""

    local_engine_idle_timeout = Float(
        3600.0, config=True, help="Embedded engine: stop Spark sessions idle this long (0: never)."
    )
    local_engine_python = Unicode(
        "", config=True, help="Embedded engine: Python for its sessions (default: the server's)."
    )
    local_engine_max_sessions = Int(
        4,
        config=True,
        help="Embedded engine: active Spark sessions (one per running kernel, each a JVM) one "
        "Workspace may have; 0: no cap.",
    )
    local_engine_max_output_chars = Int(
        10_000_000,
        config=True,
        help="Embedded engine: characters of one statement's output the engine keeps; the rest "
        "is cut, with a note saying how much.",
    )


def validate_settings(studio: Any) -> None:
    if studio.local_engine_idle_timeout < 0:
        raise ConfigError("c.Studio.local_engine_idle_timeout: 0 (never) or more seconds")
    if studio.local_engine_max_sessions < 0:
        raise ConfigError("c.Studio.local_engine_max_sessions: 0 (no cap) or more sessions")
    if studio.local_engine_max_output_chars < 1000:
        raise ConfigError("c.Studio.local_engine_max_output_chars: 1000 or more characters")


class LocalEngineSource:
    type = "local"
    list_action = actions.LIST_CLUSTERS

    def __init__(self, studio: Studio, arn_of: Any) -> None:
        self.studio = studio
        self._arn_of = arn_of
        self.engine: Any = None  # livy.EngineProcess, created lazily (imports stay light)
        self._owned = False
        self._lock = asyncio.Lock()

    def arn(self, cluster_id: str) -> str:
        return str(self._arn_of(cluster_id))

    def use(self, engine: Any) -> None:
        """Use an engine someone else runs (tests, embedding); it is not stopped by us."""
        self.engine, self._owned = engine, False

    async def unavailable_reason(self) -> str | None:
        from ...livy import engine_unavailable_reason

        return await asyncio.to_thread(engine_unavailable_reason)

    @property
    def running(self) -> bool:
        return bool(self.engine is not None and self.engine.running)

    async def list_clusters(self, identity: Identity) -> list[Cluster]:
        reason = await self.unavailable_reason()
        return [
            Cluster(
                type=self.type,
                id=LOCAL_ID,
                name="Local Spark (this server)",
                state="RUNNING"
                if self.running
                else ("WAITING" if reason is None else "UNAVAILABLE"),
                livy_url=self.engine.url if self.running else None,
                release_label=_pyspark_version(),
                applications=["Spark", "Livy"],
                attachable=reason is None,
                reason=reason,
            )
        ]

    async def resolve(
        self, identity: Identity | None, cluster_id: str, endpoint_id: str | None
    ) -> tuple[Cluster, LivyEndpoint]:
        if cluster_id != LOCAL_ID:
            raise NotFound(
                f"The local source has one cluster, {LOCAL_ID!r}, not {cluster_id!r}",
                code="ClusterNotFound",
            )
        reason = await self.unavailable_reason()
        if reason:
            raise Conflict(
                f"The local Spark engine cannot run on this server: {reason}",
                code="ClusterNotReady",
            )
        url = await self.ensure_started()
        cluster = (
            (await self.list_clusters(identity))[0]
            if identity
            else Cluster(
                type=self.type, id=LOCAL_ID, name="Local Spark (this server)", state="RUNNING"
            )
        )
        cluster.livy_url = url
        # no credential: a Workspace's comes from workspace_endpoint (a config written
        # without it fails closed, with 401s)
        return cluster, LivyEndpoint(url=url)

    def workspace_endpoint(self, workspace_id: str, endpoint: LivyEndpoint) -> LivyEndpoint:
        """`endpoint` with `workspace_id`'s own credential on the engine."""
        if self.engine is None:
            raise UpstreamError("The local Spark engine is not running", code="EngineStopped")
        try:
            auth = self.engine.sparkmagic_auth(workspace_id)
        except ValueError as e:  # an id that cannot be a Basic-auth user name
            raise Conflict(
                f"The local Spark engine cannot serve this Workspace: {e}", code="ClusterNotReady"
            ) from None
        return LivyEndpoint(url=endpoint.url, **auth)

    async def ensure_started(self) -> str:
        async with self._lock:
            if self.engine is None:
                from ...livy import EngineProcess

                self.engine = EngineProcess(
                    idle_timeout=self.studio.local_engine_idle_timeout,
                    python=self.studio.local_engine_python or None,
                    max_sessions_per_owner=self.studio.local_engine_max_sessions,
                    max_output_chars=self.studio.local_engine_max_output_chars,
                )
                self._owned = True
            if not self._owned:
                if not self.running:
                    raise UpstreamError(
                        "The local Spark engine this server was given is not running",
                        code="EngineStopped",
                    )
                return str(self.engine.url)
            try:
                return str(await self.engine.start())
            except Exception as e:  # EngineStartError carries the engine's last output
                raise UpstreamError(
                    f"The local Spark engine did not start: {e}", code="EngineStartFailed"
                ) from None

    async def stop(self) -> None:
        if self.engine is not None and self._owned:
            await self.engine.stop()


def _pyspark_version() -> str | None:
    import importlib.metadata

    try:
        return "pyspark-" + importlib.metadata.version("pyspark")
    except importlib.metadata.PackageNotFoundError:
        return None


SOURCE: SourceSpec = SourceSpec(
    type=LocalEngineSource.type,
    label="Local",
    build=lambda ctx: LocalEngineSource(ctx.studio, lambda cid: SOURCE.arn(ctx.arns, cid)),
    arn_format="arn:aws:elasticmapreduce:{region}:{account}:cluster/{id}",
    list_action=LocalEngineSource.list_action,
    settings=LocalEngineSettings,
    validate=validate_settings,
    needs_aws=False,
    states={
        "RUNNING": "ready",
        "WAITING": "stopped: starts when attached",
        "UNAVAILABLE": "unavailable",
    },
    attach_note="Spark on this server: the engine starts on the first attach and each "
    "Workspace reaches only its own sessions.",
)
