"""A notebook execution as EMR Studio describes it: ids, statuses and the record.

Statuses are EMR's (``StartNotebookExecution``): an execution is START_PENDING until a
runner claims it, STARTING while its kernel and Spark session start, RUNNING through its
cells, FINISHING/FAILING while the output is written, and ends FINISHED, FAILED or
STOPPED. A stop moves it through STOP_PENDING (asked) and STOPPING (the runner cancels
the running statement). Only the three end states are final; every other state has a
runner (or nobody, for START_PENDING) that must keep heartbeating, so an execution whose
runner died is found and ended instead of staying RUNNING forever.
"""

from __future__ import annotations

import posixpath
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import BadRequest
from ..studio import ROLE_ARN_RE

START_PENDING = "START_PENDING"
STARTING = "STARTING"
RUNNING = "RUNNING"
FINISHING = "FINISHING"
FINISHED = "FINISHED"
FAILING = "FAILING"
FAILED = "FAILED"
STOP_PENDING = "STOP_PENDING"
STOPPING = "STOPPING"
STOPPED = "STOPPED"
STATUSES = (
    START_PENDING,
    STARTING,
    RUNNING,
    FINISHING,
    FINISHED,
    FAILING,
    FAILED,
    STOP_PENDING,
    STOPPING,
    STOPPED,
)
FINAL = frozenset({FINISHED, FAILED, STOPPED})
#: States a runner holds: it heartbeats while in them.
CLAIMED = frozenset({STARTING, RUNNING, FINISHING, FAILING, STOP_PENDING, STOPPING})

OUTPUT_FORMATS = ("ipynb", "html", "both")
#: Sources executions do not run on (as in EMR Studio: no executions on EMR Serverless).
NOT_FOR_EXECUTIONS = frozenset({"emr-serverless"})
EXECUTION_ID_RE = re.compile(r"^ex-[0-9A-Z]{25}$")
#: Crockford's base32: ASCII order is numeric order, so ids sort by creation time.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
#: Variables the runner sets for the kernel, or that change what code the kernel process
#: loads or which credentials it uses; an execution may not set them.
RESERVED_ENV = frozenset({"PATH", "HOME", "SHELL", "IFS"})
RESERVED_ENV_PREFIXES = ("SPARKMAGIC", "PYTHON", "JUPYTER", "LD_", "DYLD_", "AWS_", "EMR_WORKSPACE")
MAX_PARAMETERS_BYTES = 64 * 1024
CREATOR_TAG = "creatorUserId"


def new_execution_id(now_ms: int | None = None) -> str:
    """``ex-`` and 25 characters: 9 of creation time (ms, base32), 16 random. Listing
    the store's keys in order lists executions oldest first, without reading them."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    stamp = ""
    for _ in range(9):
        ms, digit = divmod(ms, 32)
        stamp = _ALPHABET[digit] + stamp
    return "ex-" + stamp + "".join(secrets.choice(_ALPHABET) for _ in range(16))


def id_time_ms(execution_id: str) -> int:
    """When an execution was created, read from its id (for from/to filters)."""
    value = 0
    for ch in execution_id[3:12]:
        value = value * 32 + _ALPHABET.index(ch)
    return value


def utcnow_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any, name: str) -> datetime:
    """An ISO-8601 time from a query (``Z`` or an offset; naive means UTC)."""
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} must be an ISO-8601 time such as 2026-01-31T12:00:00Z")
    text = value.upper().replace("Z", "+00:00")  # RFC 3339 allows 't' and 'z'
    text = re.sub(r"(T\d\d:\d\d):60", r"\1:59", text)  # a leap second reads as :59
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"{name}={value[:64]!r} is not an ISO-8601 time such as 2026-01-31T12:00:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Execution:
    """The record, one JSON object in the Studio's store (``records.ExecutionStore``)."""

    id: str
    workspace_id: str
    relative_path: str
    name: str
    created_by: str
    created_at: str
    #: The submitter's groups: the runner acts for the submitter (their policies decide
    #: whether they may still pass the execution role when it runs).
    created_by_groups: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    #: ``{type, id, endpoint_id, execution_role_arn}``: where it runs, and as which IAM
    #: role (EMR on EC2 runtime roles; None: the cluster's own identity)
    cluster: dict[str, Any] | None = None
    output_format: str = "ipynb"
    environment: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    status: str = START_PENDING
    kernel_name: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    reason: str | None = None
    #: The store URIs of the executed notebook and its HTML, once written.
    output: dict[str, str] = field(default_factory=dict)
    #: The cell that failed: index, the start of its source, the error's name and value.
    error: dict[str, Any] | None = None
    schedule_id: str | None = None
    #: The runner that claimed it, and whether a stop was asked (by whom).
    runner: dict[str, Any] | None = None
    stop_requested_by: str | None = None
    events: list[dict[str, str]] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Execution:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def note(self, status: str, message: str = "") -> None:
        """Change status and remember the change (the record's own short history)."""
        self.status = status
        entry = {"time": utcnow_iso(), "status": status}
        if message:
            entry["message"] = message[:500]
        self.events = [*self.events[-19:], entry]

    def view(self, backup_uri: str) -> dict[str, Any]:
        """As the API shows it (the runner's private bookkeeping stays out)."""
        data = self.to_json()
        del data["created_by_groups"]
        data["output_folder"] = f"{backup_uri.rstrip('/')}/{output_prefix(self)}"
        data["output_path"] = f"executions/{self.id}/"
        data["duration_seconds"] = duration(self.started_at, self.ended_at)
        return data


def duration(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((parse_time(end, "end") - parse_time(start, "start")).total_seconds(), 3)


def output_prefix(ex: Execution) -> str:
    """Key prefix (relative to the backup location) of an execution's output: inside the
    Workspace's backups, so a restore brings it into the Workspace's ``executions/``."""
    return f"{ex.workspace_id}/executions/{ex.id}/"


def output_name(ex: Execution, ext: str) -> str:
    stem = posixpath.splitext(posixpath.basename(ex.relative_path))[0]
    return f"{output_prefix(ex)}{stem}{ext}"


# -- validation of a submission --------------------------------------------------------
def validate_relative_path(value: Any) -> str:
    """A notebook path inside a Workspace: relative, no '..', ends with .ipynb."""
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise BadRequest("relative_path must be the notebook's path inside the Workspace")
    if "\\" in value or "\x00" in value or value.startswith("/"):
        raise BadRequest("relative_path must be relative, with '/' between folders")
    parts = value.split("/")
    if any(p in {"", ".", ".."} for p in parts):
        raise BadRequest(f"relative_path {value[:200]!r} has an empty, '.' or '..' part")
    if not value.endswith(".ipynb"):
        raise BadRequest("relative_path must name a notebook (.ipynb)")
    if parts[0] == "executions":
        raise BadRequest("notebooks under executions/ are outputs; run the original notebook")
    return value


def validate_parameters(value: Any) -> dict[str, Any]:
    import json

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("parameters must be an object of name → JSON value")
    for key in value:
        if not isinstance(key, str) or not key.isidentifier():
            raise BadRequest(f"parameter name {str(key)[:64]!r} is not a valid identifier")
    if len(json.dumps(value)) > MAX_PARAMETERS_BYTES:
        raise BadRequest(f"parameters are larger than {MAX_PARAMETERS_BYTES} bytes of JSON")
    return dict(value)


def validate_environment(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 100:
        raise BadRequest("environment must be an object of at most 100 NAME → string")
    out: dict[str, str] = {}
    for key, val in value.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise BadRequest(f"environment variable name {str(key)[:64]!r} is not valid")
        if key in RESERVED_ENV or key.upper().startswith(RESERVED_ENV_PREFIXES):
            raise BadRequest(f"environment variable {key} is set by the runner")
        if not isinstance(val, str) or len(val) > 4096 or "\x00" in val:
            raise BadRequest(f"environment[{key!r}] must be a string of at most 4096 characters")
        out[key] = val
    return out


def validate_cluster(value: Any) -> dict[str, Any] | None:
    """``{type, id, endpoint_id?, execution_role_arn?}``. ``execution_role_arn`` is kept
    only when given (None included): left out, the submission takes the Workspace's
    attachment's role when the cluster is the attachment's (``ExecutionService``)."""
    if value is None:
        return None
    allowed = {"type", "id", "endpoint_id", "execution_role_arn"}
    if not isinstance(value, dict) or set(value) - allowed:
        raise BadRequest("cluster must be {type, id, endpoint_id?, execution_role_arn?}")
    kind, cid = value.get("type"), value.get("id")
    if not isinstance(kind, str) or not isinstance(cid, str) or not kind or not cid:
        raise BadRequest("cluster.type and cluster.id must be non-empty strings")
    endpoint = value.get("endpoint_id")
    if endpoint is not None and not isinstance(endpoint, str):
        raise BadRequest("cluster.endpoint_id must be a string")
    out: dict[str, Any] = {"type": kind, "id": cid, "endpoint_id": endpoint}
    if "execution_role_arn" in value:
        role = value["execution_role_arn"]
        if role is not None and (not isinstance(role, str) or not ROLE_ARN_RE.match(role)):
            raise BadRequest(
                f"cluster.execution_role_arn: {str(role)[:200]!r} is not an IAM role ARN"
            )
        out["execution_role_arn"] = role
    return out


def validate_name(value: Any, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or not 1 <= len(value) <= 256 or "\x00" in value:
        raise BadRequest("name must be a string of 1-256 characters")
    return value


def is_attachment(attachment: dict[str, Any] | None, cluster: dict[str, Any]) -> bool:
    """Whether an execution's ``cluster`` ({type, id}) is the Workspace's attachment
    (whose role and session settings it then inherits)."""
    att = attachment or {}
    return bool(att) and (att.get("type"), att.get("cluster_id")) == (
        cluster.get("type"),
        cluster.get("id"),
    )
