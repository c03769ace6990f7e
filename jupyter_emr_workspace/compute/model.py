"""What every cluster source deals in: a cluster as listed, and a Livy endpoint to use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # studio.py composes Studio from the sources' settings, which import this
    from ..studio import Identity

#: ``await clients(identity, "emr")`` → a boto3 client acting for that user (or None: the
#: Studio's own credentials, e.g. when re-resolving on open).
ClientFactory = Callable[["Identity | None", str], Awaitable[Any]]


@dataclass
class Cluster:
    """One entry of ``GET /clusters``."""

    type: str
    id: str
    name: str
    state: str
    subnet_id: str | None = None
    livy_url: str | None = None
    release_label: str | None = None
    applications: list[str] = field(default_factory=list)
    attachable: bool = True
    reason: str | None = None
    endpoint_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LivyEndpoint:
    """Where kernels reach Livy and how they authenticate (sparkmagic's auth names).

    The password never goes into Workspace metadata, only into the 0600 sparkmagic config.
    """

    url: str
    auth: str = "None"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def sparkmagic_kwargs(self) -> dict[str, Any]:
        return {"auth": self.auth, "username": self.username, "password": self.password}


class ClusterSource(Protocol):
    #: "emr-ec2", "emr-eks" or "local"
    type: str
    #: the action a user needs to list this source (EMR Studio's names)
    list_action: str

    async def list_clusters(self, identity: Identity) -> list[Cluster]:
        """Clusters a user of this Studio may see; raises on failure (listed as an error)."""
        ...

    async def resolve(
        self, identity: Identity | None, cluster_id: str, endpoint_id: str | None
    ) -> tuple[Cluster, LivyEndpoint]:
        """The cluster, checked attachable (NotFound, Forbidden, Conflict otherwise), and its
        Livy endpoint, checked reachable (UpstreamError with a hint otherwise)."""
        ...

    def arn(self, cluster_id: str) -> str:
        """The resource name attach/detach events and policies refer to."""
        ...
