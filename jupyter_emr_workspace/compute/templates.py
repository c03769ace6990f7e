"""Cluster templates: admin-defined RunJobFlow parameter sets with fields users fill in.

A template's ``run_job_flow`` may hold ``"{{field}}"`` placeholders: a string that is only a
placeholder takes the field's typed value (numbers stay numbers), a longer string gets the
text. Values are validated against the field before anything reaches AWS. A template with
``service_catalog`` provisions a Service Catalog product instead, passing the fields as
provisioning parameters.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest, ConfigError

PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
FIELD_TYPES = ("string", "number", "choice")
CLUSTER_NAME_RE = re.compile(r"^[^\x00-\x1f]{1,256}$")


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "string"
    label: str = ""
    description: str = ""
    choices: tuple[str, ...] = ()
    default: Any = None
    required: bool = False
    min: float | None = None
    max: float | None = None
    pattern: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label or self.name,
            "type": self.type,
            "required": self.required,
        }
        if self.description:
            out["description"] = self.description
        if self.choices:
            out["choices"] = list(self.choices)
        if self.default is not None:
            out["default"] = self.default
        for key in ("min", "max", "pattern"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    def check(self, value: Any) -> Any:
        """The value as the template needs it, or BadRequest naming the field."""
        where = f"parameter {self.name!r}"
        if self.type == "number":
            if isinstance(value, bool):
                raise BadRequest(f"{where} must be a number")
            try:
                number = float(value)
            except (TypeError, ValueError, OverflowError):
                raise BadRequest(f"{where} must be a number, not {str(value)[:40]!r}") from None
            if not math.isfinite(number):
                # NaN passes every min/max comparison and would reach EMR as "nan"
                raise BadRequest(f"{where} must be a finite number, not {str(value)[:40]!r}")
            if self.min is not None and number < self.min:
                raise BadRequest(f"{where} must be at least {self.min:g}")
            if self.max is not None and number > self.max:
                raise BadRequest(f"{where} must be at most {self.max:g}")
            return int(number) if number.is_integer() else number
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise BadRequest(f"{where} must be a string")
        text = str(value)
        if self.type == "choice" and text not in self.choices:
            raise BadRequest(f"{where} must be one of {list(self.choices)}")
        if len(text) > 256 or "\x00" in text:
            raise BadRequest(f"{where}: at most 256 characters")
        if self.pattern and not re.fullmatch(self.pattern, text):
            raise BadRequest(f"{where} must match {self.pattern}")
        return text


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    fields: tuple[Field, ...]
    run_job_flow: dict[str, Any] = field(default_factory=dict)
    service_catalog: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "fields": [f.to_json() for f in self.fields],
        }
        if self.service_catalog:
            out["service_catalog"] = True
        return out

    def values(self, parameters: Any) -> dict[str, Any]:
        """Checked values of every field (defaults filled in)."""
        if parameters is None:
            parameters = {}
        if not isinstance(parameters, dict):
            raise BadRequest("parameters must be an object of field name → value")
        known = {f.name for f in self.fields}
        unknown = sorted(set(parameters) - known)
        if unknown:
            raise BadRequest(
                f"template {self.name!r} has no fields {unknown}; it has {sorted(known)}"
            )
        out: dict[str, Any] = {}
        for f in self.fields:
            value = parameters.get(f.name, f.default)
            if value is None or value == "":
                if f.required:
                    raise BadRequest(f"parameter {f.name!r} is required")
                continue
            out[f.name] = f.check(value)
        return out

    def render(
        self, name: str, values: dict[str, Any], *, subnet_ids: list[str], tags: dict[str, str]
    ) -> dict[str, Any]:
        """RunJobFlow parameters: placeholders filled, the cluster name, tags and a subnet."""
        if not isinstance(name, str) or not CLUSTER_NAME_RE.match(name):
            raise BadRequest("name must be 1-256 characters without control characters")
        params = substitute(self.run_job_flow, values)
        params["Name"] = name
        params["Tags"] = [
            *params.get("Tags", []),
            *({"Key": k, "Value": v} for k, v in tags.items()),
        ]
        instances = params.setdefault("Instances", {})
        chosen = [
            s for s in [instances.get("Ec2SubnetId"), *instances.get("Ec2SubnetIds", [])] if s
        ]
        if not chosen and subnet_ids:
            key = "Ec2SubnetIds" if "InstanceFleets" in instances else "Ec2SubnetId"
            instances[key] = list(subnet_ids) if key == "Ec2SubnetIds" else subnet_ids[0]
        elif subnet_ids and any(s not in subnet_ids for s in chosen):
            raise BadRequest(f"subnet {chosen} is not one of the Studio's subnets {subnet_ids}")
        return params


def substitute(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            sub = substitute(v, values)
            if sub is not _DROP:
                out[k] = sub
        return out
    if isinstance(value, list):
        return [s for s in (substitute(v, values) for v in value) if s is not _DROP]
    if isinstance(value, str):
        whole = PLACEHOLDER_RE.fullmatch(value.strip())
        if whole:
            return values.get(whole.group(1), _DROP)  # an optional field left empty: omitted
        return PLACEHOLDER_RE.sub(lambda m: str(values.get(m.group(1), "")), value)
    return value


_DROP = object()


def placeholders(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    if isinstance(value, str):
        return set(PLACEHOLDER_RE.findall(value))
    return set()


def parse_templates(raw: list[Any], subnet_ids: list[str]) -> dict[str, Template]:
    """``c.Studio.cluster_templates`` checked; ConfigError names the template and the key."""
    out: dict[str, Template] = {}
    for i, item in enumerate(raw):
        where = f"c.Studio.cluster_templates[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be a dict")
        unknown = set(item) - {"name", "description", "run_job_flow", "fields", "service_catalog"}
        if unknown:
            raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}.name must be a non-empty string")
        if name in out:
            raise ConfigError(f"{where}.name {name!r} is used twice")
        fields = tuple(
            _parse_field(f, f"{where}.fields[{j}]") for j, f in enumerate(item.get("fields") or [])
        )
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}.fields: names must be unique")
        rjf = item.get("run_job_flow") or {}
        catalog = item.get("service_catalog")
        if not isinstance(rjf, dict):
            raise ConfigError(f"{where}.run_job_flow must be a dict of RunJobFlow parameters")
        if catalog is None and not rjf:
            raise ConfigError(f"{where}: give run_job_flow parameters or a service_catalog")
        if catalog is not None and (
            not isinstance(catalog, dict)
            or not catalog.get("product_id")
            or not catalog.get("provisioning_artifact_id")
        ):
            raise ConfigError(
                f"{where}.service_catalog needs product_id and provisioning_artifact_id"
            )
        missing = placeholders(rjf) - set(names)
        if missing:
            raise ConfigError(
                f"{where}.run_job_flow uses {sorted(missing)}, which are not fields of the template"
            )
        instances = rjf.get("Instances") or {}
        literal = [
            s
            for s in [instances.get("Ec2SubnetId"), *instances.get("Ec2SubnetIds", [])]
            if isinstance(s, str) and not PLACEHOLDER_RE.search(s)
        ]
        bad = [s for s in literal if subnet_ids and s not in subnet_ids]
        if bad:
            raise ConfigError(
                f"{where}.run_job_flow.Instances names subnet(s) {bad}, which "
                "are not in c.Studio.subnet_ids"
            )
        out[name] = Template(name, str(item.get("description", "")), fields, rjf, catalog)
    return out


def _parse_field(raw: Any, where: str) -> Field:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ConfigError(f"{where} must be a dict with a name")
    unknown = set(raw) - {
        "name",
        "type",
        "label",
        "description",
        "choices",
        "default",
        "required",
        "min",
        "max",
        "pattern",
    }
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    ftype = raw.get("type", "string")
    if ftype not in FIELD_TYPES:
        raise ConfigError(f"{where}.type must be one of {FIELD_TYPES}")
    choices = raw.get("choices") or []
    if ftype == "choice" and (not isinstance(choices, list) or not choices):
        raise ConfigError(f"{where}: a choice field needs a list of choices")
    if raw.get("pattern"):
        try:
            re.compile(raw["pattern"])
        except re.error as e:
            raise ConfigError(f"{where}.pattern: {e}") from None
    f = Field(
        name=raw["name"],
        type=ftype,
        label=str(raw.get("label", "")),
        description=str(raw.get("description", "")),
        choices=tuple(str(c) for c in choices),
        default=raw.get("default"),
        required=bool(raw.get("required", False)),
        min=raw.get("min"),
        max=raw.get("max"),
        pattern=raw.get("pattern"),
    )
    if f.default is not None:
        try:
            f.check(f.default)
        except BadRequest as e:
            raise ConfigError(f"{where}.default: {e.message}") from None
    return f
