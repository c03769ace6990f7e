"""The cluster sources: one module each, and the one table the rest of the code reads.

Settings (``c.Studio``), the compute service, the API and the panel know a source only
through its `SourceSpec` in `SOURCES`. Adding a source is a module here that defines a
``ClusterSource`` and its ``SOURCE = SourceSpec(...)``, plus one line below
(docs/design.md, "How to add a compute source").
"""

from __future__ import annotations

from . import emr_ec2, emr_eks, local
from .spec import SourceContext, SourceSpec

SOURCES: tuple[SourceSpec, ...] = (
    emr_ec2.SOURCE,
    emr_eks.SOURCE,
    local.SOURCE,
)


def by_type() -> dict[str, SourceSpec]:
    """The registered sources by API name (read at call time, so tests may add one)."""
    return {spec.type: spec for spec in SOURCES}


__all__ = ["SOURCES", "SourceContext", "SourceSpec", "by_type"]
