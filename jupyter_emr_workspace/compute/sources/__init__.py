"""The cluster sources: one module each, and the one table the rest of the code reads.

Settings (``c.Studio``), the compute service, the API and the panel know a source only
through its `SourceSpec` in `SOURCES`. Adding a source is a module here that defines a
``ClusterSource`` and its ``SOURCE = SourceSpec(...)``, plus one line in `REGISTERED`
(docs/design.md, "How to add a compute source").
"""

from __future__ import annotations

import importlib

from .spec import SourceContext, SourceSpec

#: One line per source: the module that defines its ``SOURCE`` (".x": this package's x).
#: The order is the panel's and the default ``compute_sources``'.
REGISTERED: tuple[str, ...] = (
    ".emr_ec2",
    ".emr_eks",
    ".emr_serverless",
    ".local",
)


def load(modules: tuple[str, ...]) -> tuple[SourceSpec, ...]:
    """The ``SOURCE`` of each module, in order."""
    found = []
    for name in modules:
        try:
            module = importlib.import_module(name, __name__)
        except ImportError as e:
            if "partially initialized" not in str(e):
                raise
            raise ImportError(
                f"cluster source {name}: {e}. Source modules are imported while "
                "studio.Studio is built from their settings: import Studio, Identity and "
                "Arns there for annotations only, under `if TYPE_CHECKING:` (docs/design.md)"
            ) from e
        found.append(module.SOURCE)
    return tuple(found)


SOURCES: tuple[SourceSpec, ...] = load(REGISTERED)


def by_type() -> dict[str, SourceSpec]:
    """The registered sources by API name (read at call time, so tests may add one)."""
    return {spec.type: spec for spec in SOURCES}


__all__ = ["REGISTERED", "SOURCES", "SourceContext", "SourceSpec", "by_type", "load"]
