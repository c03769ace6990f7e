"""What the registry knows of a cluster source: one `SourceSpec` per source module.

A spec is all the rest of the code reads about a source: its API name, what the panel
calls it, how to build it from the Studio, which ARN its clusters have, the ``c.Studio``
settings it brings and their start-time checks. Nothing else names a source.

Source modules are imported while ``studio.Studio`` is being defined (their settings are
its traits), so they import ``Studio``, ``Identity`` and ``Arns`` for annotations only.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from traitlets import HasTraits

if TYPE_CHECKING:
    from ...assignments import Arns
    from ...studio import Studio
    from ..model import ClientFactory, ClusterSource


@dataclass(frozen=True)
class SourceContext:
    """What a source is built from: the Studio's settings, its ARNs and boto3 clients
    acting for a user (so IAM Identity Center session policies apply)."""

    studio: Studio
    arns: Arns
    clients: ClientFactory


class NoSettings(HasTraits):
    """For a source without ``c.Studio`` settings of its own."""


@dataclass(frozen=True)
class SourceSpec:
    #: the name in the API and in ``c.Studio.compute_sources`` ("emr-ec2")
    type: str
    #: what the panel calls it ("EMR on EC2")
    label: str
    #: a ClusterSource for this Studio
    build: Callable[[SourceContext], ClusterSource]
    #: its clusters' ARN: ``{region}``, ``{account}`` and ``{id}`` are filled in
    arn_format: str
    #: the action a user needs to list it (EMR Studio's names)
    list_action: str
    #: its ``c.Studio`` traits (a HasTraits mixin of Studio), declared beside the source
    settings: builtins.type[HasTraits] = NoSettings
    #: start-time checks of those settings: raise ConfigError naming the setting
    validate: Callable[[Any], None] | None = None
    #: listed by default only when the Studio has subnet_ids (an AWS Studio)
    needs_aws: bool = True
    #: the source's own words for states, where EMR's (ready, busy, ...) do not fit
    states: Mapping[str, str] = field(default_factory=dict)
    #: a sentence the panel shows about attaching to this source's clusters
    attach_note: str = ""

    def arn(self, arns: Arns, cluster_id: str) -> str:
        return self.arn_format.format(region=arns.region, account=arns.account, id=cluster_id)

    def display(self) -> dict[str, Any]:
        """What the frontend shows of the source (served in ``GET /clusters``)."""
        return {
            "type": self.type,
            "label": self.label,
            "states": dict(self.states),
            "attach_note": self.attach_note,
        }
