"""IAM-syntax policy evaluation (docs/design.md, section 1 "Policies").

Admins bring the identity policies they already wrote for EMR Studio, so this module follows
IAM's own rules rather than inventing friendlier ones: explicit Deny wins, then Allow, else
default deny; wildcards, ``${...}`` policy variables and condition operators behave as in AWS.

It is pure (no I/O, no clock, no AWS calls) so the authorizer can ask it many questions per
request and tests can pin every rule down.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Decision", "PolicyError", "Request", "evaluate", "is_allowed", "validate_policy"]

VERSIONS = ("2012-10-17", "2008-10-17")
_VARIABLES_VERSION = "2012-10-17"
_DOC_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)


class PolicyError(ValueError):
    """An invalid policy document; the message names what is wrong and where."""


class Decision(enum.Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"  # nothing matched: default deny

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOW


ContextValue = str | bool | Sequence[str]


@dataclass(frozen=True)
class Request:
    """One question: may the principal described by ``context`` do ``action`` on ``resource``?"""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


# --- wildcards and variables -------------------------------------------------------------

# A pattern after variable substitution: (text, literal) pieces. Substituted values and the
# ${*} ${?} ${$} escapes are literal; everything else keeps its * and ? wildcards.
_Pattern = tuple[tuple[str, bool], ...]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^(.+?)\s*,\s*'(.*)'$")  # ${aws:PrincipalTag/team, 'none'}
_ESCAPES = frozenset({"*", "?", "$"})


@functools.lru_cache(maxsize=4096)
def _compile(pattern: _Pattern, ignore_case: bool) -> re.Pattern[str]:
    """Translate an IAM wildcard pattern once; every request after that is one fullmatch."""
    regex = []
    for text, literal in pattern:
        if literal:
            regex.append(re.escape(text))
        else:
            regex.extend(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile("".join(regex), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _glob(pattern: _Pattern, value: str, ignore_case: bool = False) -> bool:
    return _compile(pattern, ignore_case).fullmatch(value) is not None


def _text(pattern: _Pattern) -> str:
    return "".join(text for text, _ in pattern)


class _Context:
    """The request context with IAM's case-insensitive key lookup."""

    def __init__(self, context: Mapping[str, ContextValue]) -> None:
        self._values: dict[str, ContextValue] = {}
        spelled: dict[str, str] = {}
        for key, value in context.items():
            lowered = key.lower()
            if lowered in spelled:
                # which one a condition reads would depend on dict order: the caller must
                # decide (access.tag_context lets the server-set creatorUserId win)
                raise ValueError(
                    f"request context keys {spelled[lowered]!r} and {key!r} differ only in case"
                )
            spelled[lowered] = key
            self._values[lowered] = value

    def values(self, key: str) -> list[str] | None:
        """All values of ``key`` as strings (booleans as "true"/"false"); None if absent."""
        if key.lower() not in self._values:
            return None
        value = self._values[key.lower()]
        if isinstance(value, str | bool | int | float):
            return [_scalar(value)]
        return [_scalar(v) for v in value]

    def scalar(self, key: str) -> str | None:
        """The single value of ``key`` for a ``${key}`` variable; multi-valued keys have none."""
        value = self._values.get(key.lower())
        if value is None or not isinstance(value, str | bool | int | float):
            return None
        return _scalar(value)


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _resolve(text: str, context: _Context) -> _Pattern | None:
    """Substitute ``${...}`` variables in a Resource or condition value.

    None when a variable is missing from the context (and has no default): IAM then treats
    that value as matching nothing, which is the safe reading for both Allow and Deny.
    """
    if "${" not in text:
        return ((text, False),)
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for match in _VARIABLE.finditer(text):
        pieces.append((text[pos : match.start()], False))
        name = match.group(1).strip()
        if name in _ESCAPES:
            pieces.append((name, True))
        else:
            default = _DEFAULT.match(name)
            key, fallback = (default.group(1), default.group(2)) if default else (name, None)
            value = context.scalar(key)
            if value is None:
                value = fallback
            if value is None:
                return None
            pieces.append((value, True))
        pos = match.end()
    pieces.append((text[pos:], False))
    return tuple(piece for piece in pieces if piece[0])


# --- condition operators -----------------------------------------------------------------

# A test compares one context value with one (resolved) policy value.
_Test = Callable[[str, _Pattern], bool]


def _number(value: str) -> float:
    return float(value)


def _date(value: str) -> datetime:
    """ISO 8601 (a trailing Z allowed) or epoch seconds, as IAM accepts; naive means UTC."""
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _compare(parse: Callable[[str], Any], compare: Callable[[Any, Any], bool]) -> _Test:
    def test(value: str, pattern: _Pattern) -> bool:
        try:
            return compare(parse(value), parse(_text(pattern)))
        except (ValueError, OverflowError):
            return False  # a context value of the wrong type matches nothing

    return test


def _ip_in(value: str, pattern: _Pattern) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(_text(pattern), strict=False)
    except ValueError:
        return False


def _arn_like(value: str, pattern: _Pattern) -> bool:
    """ARN conditions match each of the six colon-separated parts on its own (unlike Resource)."""
    values = value.split(":", 5)
    patterns = _split_pattern(pattern)
    return len(values) == len(patterns) == 6 and all(map(_glob, patterns, values))


def _split_pattern(pattern: _Pattern) -> list[_Pattern]:
    """Split a pattern at its first five non-literal colons, keeping literal pieces whole."""
    parts: list[list[tuple[str, bool]]] = [[]]
    for text, literal in pattern:
        if literal:
            parts[-1].append((text, True))
            continue
        chunks = text.split(":", 6 - len(parts))
        parts[-1].append((chunks[0], False))
        parts.extend([(chunk, False)] for chunk in chunks[1:])
    return [tuple(part) for part in parts]


def _string_equals(value: str, pattern: _Pattern) -> bool:
    return value == _text(pattern)


def _string_equals_ignore_case(value: str, pattern: _Pattern) -> bool:
    return value.casefold() == _text(pattern).casefold()


def _string_like(value: str, pattern: _Pattern) -> bool:
    return _glob(pattern, value)


def _bool_equals(value: str, pattern: _Pattern) -> bool:
    return value.lower() == _text(pattern).lower()


# Operator name -> (test, negated, parser that validates a policy value or None).
_OPERATORS: dict[str, tuple[_Test, bool, Callable[[str], object] | None]] = {
    "StringEquals": (_string_equals, False, None),
    "StringNotEquals": (_string_equals, True, None),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False, None),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True, None),
    "StringLike": (_string_like, False, None),
    "StringNotLike": (_string_like, True, None),
    "Bool": (_bool_equals, False, lambda v: {"true": True, "false": False}[v.lower()]),
    "ArnEquals": (_arn_like, False, None),
    "ArnLike": (_arn_like, False, None),
    "ArnNotEquals": (_arn_like, True, None),
    "ArnNotLike": (_arn_like, True, None),
    "IpAddress": (_ip_in, False, lambda v: ipaddress.ip_network(v, strict=False)),
    "NotIpAddress": (_ip_in, True, lambda v: ipaddress.ip_network(v, strict=False)),
    "NumericEquals": (_compare(_number, operator.eq), False, _number),
    "NumericNotEquals": (_compare(_number, operator.eq), True, _number),
    "NumericLessThan": (_compare(_number, operator.lt), False, _number),
    "NumericLessThanEquals": (_compare(_number, operator.le), False, _number),
    "NumericGreaterThan": (_compare(_number, operator.gt), False, _number),
    "NumericGreaterThanEquals": (_compare(_number, operator.ge), False, _number),
    "DateEquals": (_compare(_date, operator.eq), False, _date),
    "DateNotEquals": (_compare(_date, operator.eq), True, _date),
    "DateLessThan": (_compare(_date, operator.lt), False, _date),
    "DateLessThanEquals": (_compare(_date, operator.le), False, _date),
    "DateGreaterThan": (_compare(_date, operator.gt), False, _date),
    "DateGreaterThanEquals": (_compare(_date, operator.ge), False, _date),
}
_SET_PREFIXES = ("ForAnyValue:", "ForAllValues:")


@dataclass(frozen=True)
class _Operator:
    name: str  # the base name, e.g. "StringEquals"
    set_prefix: str | None  # "ForAnyValue:", "ForAllValues:" or None
    if_exists: bool


@functools.lru_cache(maxsize=256)
def _parse_operator(text: str) -> _Operator:
    """Split ``ForAllValues:StringLikeIfExists`` into its parts; PolicyError if unknown."""
    prefix = next((p for p in _SET_PREFIXES if text.startswith(p)), None)
    name = text.removeprefix(prefix or "")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists") if if_exists else name
    if name == "Null" and not (prefix or if_exists):
        return _Operator(name, None, False)
    if name not in _OPERATORS:
        raise PolicyError(f"unknown condition operator {text!r}")
    return _Operator(name, prefix, if_exists)


def _key_matches(
    op: _Operator, present: list[str] | None, values: list[str], ctx: _Context
) -> bool:
    """One condition key: policy values OR'ed, negated operators NOR'ed, as IAM does."""
    if op.name == "Null":
        return any((v.lower() == "true") == (present is None) for v in values)
    test, negated, _ = _OPERATORS[op.name]
    if present is None:  # missing key
        if op.if_exists or op.set_prefix == "ForAllValues:":
            return True
        return negated and op.set_prefix is None
    patterns = [p for p in (_resolve(v, ctx) for v in values) if p is not None]

    def one(value: str) -> bool:
        return any(test(value, p) for p in patterns) != negated

    if op.set_prefix == "ForAllValues:":
        return all(one(v) for v in present)
    if op.set_prefix == "ForAnyValue:":
        return any(one(v) for v in present)
    return any(test(v, p) for v in present for p in patterns) != negated


def _conditions_match(condition: Mapping[str, Mapping[str, Any]], ctx: _Context) -> bool:
    """Operators AND, keys within an operator AND."""
    return all(
        _key_matches(_parse_operator(op), ctx.values(key), _as_strings(raw), ctx)
        for op, block in condition.items()
        for key, raw in block.items()
    )


# --- validation --------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _as_strings(value: Any) -> list[str]:
    return [_scalar(v) for v in _as_list(value)]


def _statements(doc: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(location, statement) pairs; a single dict Statement is located as "Statement"."""
    raw = doc.get("Statement")
    if isinstance(raw, Mapping):
        return [("Statement", raw)]
    return [(f"Statement[{i}]", s) for i, s in enumerate(raw or [])]


def validate_policy(doc: Mapping[str, Any]) -> None:
    """Raise PolicyError for a document IAM would reject, or one this module would misread.

    Beyond IAM, ``${...}`` variables without ``"Version": "2012-10-17"`` are rejected: IAM
    would compare them as literal text, which silently breaks the policy.
    """
    if not isinstance(doc, Mapping):
        raise PolicyError(f"a policy must be a JSON object, not {type(doc).__name__}")
    if unknown := sorted(set(doc) - _DOC_KEYS):
        raise PolicyError(f"unknown policy element(s) {', '.join(unknown)}")
    version = doc.get("Version")
    if version is not None and version not in VERSIONS:
        raise PolicyError(f"Version must be one of {', '.join(VERSIONS)}, not {version!r}")
    raw = doc.get("Statement")
    if not raw or not isinstance(raw, Mapping | list):
        raise PolicyError("Statement must be an object or a non-empty list of objects")
    for where, statement in _statements(doc):
        _validate_statement(where, statement, version == _VARIABLES_VERSION)


def _validate_statement(where: str, statement: Any, variables: bool) -> None:
    if not isinstance(statement, Mapping):
        raise PolicyError(f"{where} must be an object, not {type(statement).__name__}")
    if unknown := sorted(set(statement) - _STATEMENT_KEYS):
        raise PolicyError(
            f"{where} has unsupported element(s) {', '.join(unknown)}"
            " (identity policies have no Principal)"
        )
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError(f"{where}.Effect must be Allow or Deny")
    if ("Action" in statement) == ("NotAction" in statement):
        raise PolicyError(f"{where} must have exactly one of Action or NotAction")
    if "Resource" in statement and "NotResource" in statement:
        raise PolicyError(f"{where} must not have both Resource and NotResource")
    for element in ("Action", "NotAction", "Resource", "NotResource"):
        if element in statement:
            _validate_names(f"{where}.{element}", statement[element], variables)
    if "Condition" in statement:
        _validate_condition(f"{where}.Condition", statement["Condition"], variables)


def _validate_names(where: str, raw: Any, variables: bool) -> None:
    names = _as_list(raw)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise PolicyError(f"{where} must be a non-empty string or list of non-empty strings")
    for name in names:
        if where.endswith("Action") and name != "*" and ":" not in name:
            raise PolicyError(f'{where}: {name!r} must be "*" or "service:action"')
        if where.endswith("Resource") and name != "*" and not name.startswith("arn:"):
            raise PolicyError(f'{where}: {name!r} must be "*" or an ARN')
        _check_variables(where, name, variables)


def _validate_condition(where: str, condition: Any, variables: bool) -> None:
    if not isinstance(condition, Mapping):
        raise PolicyError(f"{where} must be an object of operator: {{key: values}}")
    for name, block in condition.items():
        try:
            op = _parse_operator(name)
        except PolicyError as e:
            raise PolicyError(f"{where}: {e}") from None
        if not isinstance(block, Mapping) or not block:
            raise PolicyError(f"{where}.{name} must be a non-empty object of key: values")
        for key, raw in block.items():
            values = _as_list(raw)
            if not values or not all(isinstance(v, str | bool | int | float) for v in values):
                raise PolicyError(f"{where}.{name}.{key} must be a value or a non-empty list")
            for value in _as_strings(raw):
                _check_variables(f"{where}.{name}.{key}", value, variables)
                _check_value(f"{where}.{name}.{key}", op, value)


def _check_value(where: str, op: _Operator, value: str) -> None:
    """Catch a typo'd number, date, CIDR or boolean now, not as a silent non-match later."""
    parse = _OPERATORS[op.name][2] if op.name != "Null" else _OPERATORS["Bool"][2]
    if parse is None or "${" in value:
        return
    try:
        parse(value)
    except (ValueError, KeyError, OverflowError):
        raise PolicyError(f"{where}: {value!r} is not valid for {op.name}") from None


def _check_variables(where: str, text: str, variables: bool) -> None:
    if not variables and _VARIABLE.search(text):
        raise PolicyError(
            f'{where}: policy variables like {text!r} need "Version": "2012-10-17"'
            " (IAM would read them as literal text)"
        )


# --- evaluation --------------------------------------------------------------------------


def _statement_matches(statement: Mapping[str, Any], request: Request, ctx: _Context) -> bool:
    action = request.action
    if "Action" in statement:
        if not any(_glob(((a, False),), action, True) for a in _as_list(statement["Action"])):
            return False
    elif any(_glob(((a, False),), action, True) for a in _as_list(statement["NotAction"])):
        return False
    if "NotResource" in statement:
        if _resource_in(statement["NotResource"], request.resource, ctx):
            return False
    elif not _resource_in(statement.get("Resource", "*"), request.resource, ctx):
        return False
    return _conditions_match(statement.get("Condition", {}), ctx)


def _resource_in(raw: Any, resource: str, ctx: _Context) -> bool:
    """Resource wildcards span the whole ARN (``*`` crosses ``:`` and ``/``), case-sensitive."""
    patterns = (_resolve(r, ctx) for r in _as_list(raw))
    return any(p is not None and _glob(p, resource) for p in patterns)


def evaluate(policies: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """Explicit Deny in any policy wins, then any Allow, else IMPLICIT_DENY.

    Every policy is validated first (PolicyError), so a broken document never yields a
    decision from its readable half.
    """
    docs = list(policies)
    for doc in docs:
        validate_policy(doc)
    ctx = _Context(request.context)
    allowed = False
    for doc in docs:
        for _, statement in _statements(doc):
            if _statement_matches(statement, request, ctx):
                if statement["Effect"] == "Deny":
                    return Decision.EXPLICIT_DENY
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def is_allowed(policies: Iterable[Mapping[str, Any]], request: Request) -> bool:
    return evaluate(policies, request).allowed
