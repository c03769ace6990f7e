"""IAM-syntax policy evaluation: each row is one rule IAM has and admins' policies rely on."""

from __future__ import annotations

import re
from typing import Any

import pytest

from jupyter_emr_workspace.iam_policy import (
    Decision,
    PolicyError,
    Request,
    evaluate,
    is_allowed,
    validate_policy,
)

ARN = "arn:aws:elasticmapreduce:us-east-1:123456789012"
EDITOR = f"{ARN}:editor/e-ABCDEFGHIJKLMNOPQRSTUVWXY"
OTHER_EDITOR = f"{ARN}:editor/e-ZYXWVUTSRQPONMLKJIHGFEDCBA"
CLUSTER = f"{ARN}:cluster/j-1ABCDEFGHIJKL"
ALLOW = Decision.ALLOW
DENY = Decision.EXPLICIT_DENY
NONE = Decision.IMPLICIT_DENY


def stmt(effect: str = "Allow", action: Any = "*", resource: Any = "*", **more: Any) -> dict:
    """A statement; pass action=None / resource=None to leave the element out."""
    s: dict[str, Any] = {"Effect": effect, **more}
    if action is not None:
        s["Action"] = action
    if resource is not None:
        s["Resource"] = resource
    return s


def doc(*statements: Any) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def req(action: str = "elasticmapreduce:DescribeEditor", resource: str = EDITOR, **ctx: Any):
    return Request(action, resource, {"aws:username": "alice", **ctx})


# --- effects, actions, resources -----------------------------------------------------------

EVALUATE_CASES = [
    ("allow", [doc(stmt())], req(), ALLOW),
    ("allow-single-statement-object", [{"Statement": stmt()}], req(), ALLOW),
    ("no-policies-default-deny", [], req(), NONE),
    (
        "nothing-matches-default-deny",
        [doc(stmt(action="elasticmapreduce:ListEditors"))],
        req("elasticmapreduce:DeleteEditor"),
        NONE,
    ),
    (
        "deny-in-second-policy-beats-allow",
        [doc(stmt()), doc(stmt("Deny", "elasticmapreduce:DeleteEditor"))],
        req("elasticmapreduce:DeleteEditor"),
        DENY,
    ),
    (
        "deny-in-first-policy-beats-allow",
        [doc(stmt("Deny", "elasticmapreduce:DeleteEditor")), doc(stmt())],
        req("elasticmapreduce:DeleteEditor"),
        DENY,
    ),
    (
        "deny-for-other-action-leaves-allow",
        [doc(stmt(), stmt("Deny", "elasticmapreduce:DeleteEditor"))],
        req("elasticmapreduce:CreateEditor"),
        ALLOW,
    ),
    (
        "deny-alone-is-explicit",
        [doc(stmt("Deny"))],
        req(),
        DENY,
    ),
    # NotAction: everything except the listed actions
    (
        "notaction-allows-others",
        [doc(stmt(action=None, NotAction="elasticmapreduce:Delete*"))],
        req("elasticmapreduce:CreateEditor"),
        ALLOW,
    ),
    (
        "notaction-excludes-listed",
        [doc(stmt(action=None, NotAction="elasticmapreduce:Delete*"))],
        req("elasticmapreduce:DeleteEditor"),
        NONE,
    ),
    (
        "deny-notaction-denies-all-but-listed",
        [doc(stmt(), stmt("Deny", None, NotAction=["elasticmapreduce:Describe*"]))],
        req("elasticmapreduce:CreateEditor"),
        DENY,
    ),
    (
        "deny-notaction-spares-listed",
        [doc(stmt(), stmt("Deny", None, NotAction=["elasticmapreduce:Describe*"]))],
        req("elasticmapreduce:DescribeEditor"),
        ALLOW,
    ),
    # NotResource: everything except the listed resources
    (
        "notresource-allows-others",
        [doc(stmt(resource=None, NotResource=OTHER_EDITOR))],
        req(resource=EDITOR),
        ALLOW,
    ),
    (
        "notresource-excludes-listed",
        [doc(stmt(resource=None, NotResource=[CLUSTER, OTHER_EDITOR]))],
        req(resource=OTHER_EDITOR),
        NONE,
    ),
    (
        "missing-resource-means-star",
        [doc(stmt(resource=None))],
        req(resource=CLUSTER),
        ALLOW,
    ),
]


@pytest.mark.parametrize(
    ("policies", "request_", "expected"),
    [c[1:] for c in EVALUATE_CASES],
    ids=[c[0] for c in EVALUATE_CASES],
)
def test_evaluate(policies: list[dict], request_: Request, expected: Decision) -> None:
    assert evaluate(policies, request_) is expected
    assert is_allowed(policies, request_) is (expected is ALLOW)


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("*", "emr-workspace:ForceReleaseLock", True),
        ("elasticmapreduce:*", "elasticmapreduce:CreateEditor", True),
        ("elasticmapreduce:*", "emr-containers:ListVirtualClusters", False),
        ("elasticmapreduce:*", "emr-workspace:ForceReleaseLock", False),
        ("elasticmapreduce:Describe*", "elasticmapreduce:DescribeEditor", True),
        ("elasticmapreduce:Describe*", "elasticmapreduce:ListEditors", False),
        ("elasticmapreduce:Describe", "elasticmapreduce:DescribeEditor", False),
        ("emr-containers:List*", "emr-containers:ListManagedEndpoints", True),
        ("emr-containers:List*", "elasticmapreduce:ListClusters", False),
        ("emr-workspace:ForceReleaseLock", "emr-workspace:ForceReleaseLock", True),
        ("emr-workspace:ForceReleaseLock", "emr-workspace:ReadAuditLog", False),
        ("elasticmapreduce:?escribeEditor", "elasticmapreduce:DescribeEditor", True),
        ("elasticmapreduce:?Editor", "elasticmapreduce:DescribeEditor", False),
        ("ELASTICMAPREDUCE:describeeditor", "elasticmapreduce:DescribeEditor", True),
        ("elasticmapreduce:describe*", "ElasticMapReduce:DESCRIBEEDITOR", True),
        ("*:List*", "emr-containers:ListVirtualClusters", True),
    ],
)
def test_action_matching(pattern: str, action: str, matches: bool) -> None:
    assert is_allowed([doc(stmt(action=[pattern]))], req(action)) is matches


@pytest.mark.parametrize(
    ("pattern", "resource", "matches"),
    [
        ("*", CLUSTER, True),
        (EDITOR, EDITOR, True),
        (EDITOR, OTHER_EDITOR, False),
        (f"{ARN}:editor/*", EDITOR, True),
        (f"{ARN}:editor/*", CLUSTER, False),
        ("arn:aws:elasticmapreduce:*:*:editor/*", EDITOR, True),
        # a Resource * spans ":" and "/"
        (f"{ARN}:*", EDITOR, True),
        ("arn:*", CLUSTER, True),
        ("arn:aws:elasticmapreduce:*/e-ABCDEFGHIJKLMNOPQRSTUVWXY", EDITOR, True),
        # ARNs are case-sensitive
        (f"{ARN}:EDITOR/*", EDITOR, False),
        (EDITOR.lower(), EDITOR, False),
        (f"{ARN}:editor/e-?BCDEFGHIJKLMNOPQRSTUVWXY", EDITOR, True),
        (f"{ARN}:editor/e-?", EDITOR, False),
        # regex metacharacters in a pattern are literal
        ("arn:aws:s3:::bucket.name/(a)+", "arn:aws:s3:::bucketXname/(a)+", False),
        ("arn:aws:s3:::bucket.name/(a)+", "arn:aws:s3:::bucket.name/(a)+", True),
    ],
)
def test_resource_matching(pattern: str, resource: str, matches: bool) -> None:
    assert is_allowed([doc(stmt(resource=pattern))], req(resource=resource)) is matches


# --- policy variables ----------------------------------------------------------------------

HOME = "arn:aws:s3:::studio-bucket/home"


@pytest.mark.parametrize(
    ("pattern", "resource", "context", "matches"),
    [
        (f"{HOME}/${{aws:username}}/*", f"{HOME}/alice/nb.ipynb", {"aws:username": "alice"}, True),
        (f"{HOME}/${{aws:username}}/*", f"{HOME}/bob/nb.ipynb", {"aws:username": "alice"}, False),
        # a missing variable matches nothing, rather than becoming "" or "*"
        (f"{HOME}/${{aws:username}}/*", f"{HOME}//nb.ipynb", {}, False),
        (f"{HOME}/${{aws:username}}*", f"{HOME}/x", {}, False),
        # a substituted value is literal: a "*" in it is no wildcard
        (f"{HOME}/${{aws:username}}", f"{HOME}/anything", {"aws:username": "*"}, False),
        (f"{HOME}/${{aws:username}}", f"{HOME}/*", {"aws:username": "*"}, True),
        # context keys (and so variables) are case-insensitive
        (f"{HOME}/${{AWS:UserName}}/*", f"{HOME}/alice/x", {"aws:username": "alice"}, True),
        (
            f"{HOME}/${{aws:PrincipalTag/team}}/*",
            f"{HOME}/data/x",
            {"aws:PrincipalTag/team": "data"},
            True,
        ),
        # default values
        (f"{HOME}/${{aws:PrincipalTag/team, 'shared'}}/*", f"{HOME}/shared/x", {}, True),
        (
            f"{HOME}/${{aws:PrincipalTag/team, 'shared'}}/*",
            f"{HOME}/shared/x",
            {"aws:PrincipalTag/team": "data"},
            False,
        ),
        # a multi-valued key is no variable
        (f"{HOME}/${{aws:groups}}/*", f"{HOME}/admins/x", {"aws:groups": ["admins"]}, False),
        # escapes
        (f"{HOME}/${{*}}", f"{HOME}/*", {}, True),
        (f"{HOME}/${{*}}", f"{HOME}/x", {}, False),
        (f"{HOME}/${{?}}", f"{HOME}/?", {}, True),
        (f"{HOME}/${{?}}", f"{HOME}/x", {}, False),
        (f"{HOME}/${{$}}x", f"{HOME}/$x", {}, True),
    ],
)
def test_variables_in_resource(pattern: str, resource: str, context: dict, matches: bool) -> None:
    request = Request("s3:GetObject", resource, context)
    assert is_allowed([doc(stmt(resource=pattern))], request) is matches


def test_missing_variable_in_notresource_excludes_nothing() -> None:
    policy = doc(stmt(resource=None, NotResource=f"{HOME}/${{aws:username}}/*"))
    assert is_allowed([policy], Request("s3:GetObject", f"{HOME}/alice/x", {}))


# --- ABAC: users manage their own Workspaces -------------------------------------------------

OWN_WORKSPACES = doc(
    stmt(action=["elasticmapreduce:ListEditors", "elasticmapreduce:DescribeEditor"]),
    stmt(
        action="elasticmapreduce:DeleteEditor",
        resource=f"{ARN}:editor/*",
        Condition={
            "StringEquals": {"elasticmapreduce:ResourceTag/creatorUserId": "${aws:username}"}
        },
    ),
)
NOT_OTHERS = doc(
    stmt(),
    stmt(
        "Deny",
        "elasticmapreduce:DeleteEditor",
        Condition={
            "StringNotEquals": {"elasticmapreduce:ResourceTag/creatorUserId": "${aws:username}"}
        },
    ),
)


@pytest.mark.parametrize(
    ("policy", "user", "creator", "expected"),
    [
        (OWN_WORKSPACES, "alice", "alice", ALLOW),
        (OWN_WORKSPACES, "alice", "bob", NONE),
        (OWN_WORKSPACES, "bob", "bob", ALLOW),
        (OWN_WORKSPACES, "alice", None, NONE),  # untagged Workspace
        (OWN_WORKSPACES, None, "alice", NONE),  # no user name in the context
        (NOT_OTHERS, "alice", "alice", ALLOW),
        (NOT_OTHERS, "alice", "bob", DENY),
        (NOT_OTHERS, "alice", None, DENY),  # negated operator on a missing key is true
    ],
)
def test_abac_delete_own_workspace(
    policy: dict, user: str | None, creator: str | None, expected: Decision
) -> None:
    context: dict[str, Any] = {}
    if user is not None:
        context["aws:username"] = user
    if creator is not None:
        context["elasticmapreduce:ResourceTag/creatorUserId"] = creator
    request = Request("elasticmapreduce:DeleteEditor", EDITOR, context)
    assert evaluate([policy], request) is expected
    # the unconditional statements are unaffected
    describe = Request("elasticmapreduce:DescribeEditor", EDITOR, context)
    assert is_allowed([policy], describe)


# --- condition operators -------------------------------------------------------------------

GROUPS = {"aws:groups": ["data", "analysts"]}
NO_GROUPS: dict[str, Any] = {"aws:groups": []}
IP = {"aws:SourceIp": "10.1.2.3"}
IP6 = {"aws:SourceIp": "2001:db8::1"}
NOW = {"aws:CurrentTime": "2024-06-01T12:00:00Z"}
TAG = "elasticmapreduce:ResourceTag/team"

CONDITION_CASES: list[tuple[str, str, Any, dict[str, Any], bool]] = [
    # operator, key, policy value(s), context, condition holds
    ("StringEquals", "aws:username", "alice", {}, True),
    ("StringEquals", "aws:username", "Alice", {}, False),
    ("StringEquals", "aws:username", ["bob", "alice"], {}, True),  # values OR
    ("StringEquals", "aws:username", "${aws:username}", {}, True),
    ("StringEquals", TAG, "${aws:PrincipalTag/team}", {TAG: "data"}, False),  # var missing
    (
        "StringEquals",
        TAG,
        "${aws:PrincipalTag/team}",
        {TAG: "x", "aws:PrincipalTag/team": "x"},
        True,
    ),
    ("StringEquals", TAG, "data", {}, False),  # missing key
    ("StringEquals", "AWS:USERNAME", "alice", {}, True),  # key names are case-insensitive
    ("StringNotEquals", "aws:username", "bob", {}, True),
    ("StringNotEquals", "aws:username", "alice", {}, False),
    ("StringNotEquals", "aws:username", ["bob", "alice"], {}, False),  # negated: NOR
    ("StringNotEquals", TAG, "data", {}, True),  # missing key
    ("StringEqualsIgnoreCase", "aws:username", "ALICE", {}, True),
    ("StringEqualsIgnoreCase", "aws:username", "bob", {}, False),
    ("StringNotEqualsIgnoreCase", "aws:username", "ALICE", {}, False),
    ("StringNotEqualsIgnoreCase", "aws:username", "BOB", {}, True),
    ("StringLike", "aws:username", "al*", {}, True),
    ("StringLike", "aws:username", "a?ice", {}, True),
    ("StringLike", "aws:username", "AL*", {}, False),
    # a substituted value is literal: its "*" is no wildcard
    ("StringLike", TAG, "${aws:username}", {"aws:username": "a*", TAG: "abc"}, False),
    ("StringLike", TAG, "${aws:username}", {"aws:username": "a*", TAG: "a*"}, True),
    ("StringLike", "aws:username", "${*}", {"aws:username": "*"}, True),
    ("StringNotLike", "aws:username", "b*", {}, True),
    ("StringNotLike", "aws:username", "a*", {}, False),
    ("Bool", "aws:MultiFactorAuthPresent", "true", {"aws:MultiFactorAuthPresent": True}, True),
    ("Bool", "aws:MultiFactorAuthPresent", True, {"aws:MultiFactorAuthPresent": "true"}, True),
    ("Bool", "aws:MultiFactorAuthPresent", "false", {"aws:MultiFactorAuthPresent": True}, False),
    ("Bool", "aws:MultiFactorAuthPresent", "false", {}, False),
    ("BoolIfExists", "aws:MultiFactorAuthPresent", "false", {}, True),
    ("ArnEquals", "aws:SourceArn", CLUSTER, {"aws:SourceArn": CLUSTER}, True),
    ("ArnEquals", "aws:SourceArn", CLUSTER, {"aws:SourceArn": EDITOR}, False),
    ("ArnLike", "aws:SourceArn", f"{ARN}:cluster/*", {"aws:SourceArn": CLUSTER}, True),
    (
        "ArnLike",
        "aws:SourceArn",
        "arn:aws:elasticmapreduce:*:*:*",
        {"aws:SourceArn": CLUSTER},
        True,
    ),
    # each ARN part is matched on its own: * does not span ":" here, unlike in Resource
    ("ArnLike", "aws:SourceArn", "arn:aws:elasticmapreduce:*", {"aws:SourceArn": CLUSTER}, False),
    ("ArnLike", "aws:SourceArn", f"{ARN}:cluster/*", {"aws:SourceArn": "not-an-arn"}, False),
    ("ArnNotEquals", "aws:SourceArn", CLUSTER, {"aws:SourceArn": EDITOR}, True),
    ("ArnNotLike", "aws:SourceArn", f"{ARN}:editor/*", {"aws:SourceArn": EDITOR}, False),
    ("ArnNotLike", "aws:SourceArn", f"{ARN}:editor/*", {"aws:SourceArn": CLUSTER}, True),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", IP, True),
    ("IpAddress", "aws:SourceIp", "192.168.0.0/16", IP, False),
    ("IpAddress", "aws:SourceIp", ["192.168.0.0/16", "10.1.2.3/32"], IP, True),
    ("IpAddress", "aws:SourceIp", "10.1.2.3", IP, True),  # a bare address is a /32
    ("IpAddress", "aws:SourceIp", "2001:db8::/32", IP6, True),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", IP6, False),  # other IP version
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", {"aws:SourceIp": "localhost"}, False),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", {}, False),
    ("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", IP, False),
    ("NotIpAddress", "aws:SourceIp", "192.168.0.0/16", IP, True),
    ("NumericEquals", "s3:max-keys", "10", {"s3:max-keys": "10"}, True),
    ("NumericEquals", "s3:max-keys", 10, {"s3:max-keys": "10.0"}, True),
    ("NumericEquals", "s3:max-keys", "10", {"s3:max-keys": "ten"}, False),
    ("NumericNotEquals", "s3:max-keys", "10", {"s3:max-keys": "11"}, True),
    ("NumericNotEquals", "s3:max-keys", "10", {"s3:max-keys": "10"}, False),
    ("NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": "9"}, True),
    ("NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": "10"}, False),
    ("NumericLessThanEquals", "s3:max-keys", "10", {"s3:max-keys": "10"}, True),
    ("NumericLessThanEquals", "s3:max-keys", "10", {"s3:max-keys": "11"}, False),
    ("NumericGreaterThan", "s3:max-keys", "10", {"s3:max-keys": "11"}, True),
    ("NumericGreaterThan", "s3:max-keys", "10", {"s3:max-keys": "10"}, False),
    ("NumericGreaterThanEquals", "s3:max-keys", "10", {"s3:max-keys": "10"}, True),
    ("NumericGreaterThanEquals", "s3:max-keys", "10", {"s3:max-keys": "9"}, False),
    ("DateEquals", "aws:CurrentTime", "2024-06-01T12:00:00+00:00", NOW, True),
    ("DateEquals", "aws:CurrentTime", "2024-06-01T14:00:00+02:00", NOW, True),  # same instant
    ("DateEquals", "aws:CurrentTime", "2024-06-01T12:00:01Z", NOW, False),
    ("DateEquals", "aws:CurrentTime", "1717243200", NOW, True),  # epoch seconds
    ("DateNotEquals", "aws:CurrentTime", "2024-06-01T12:00:00Z", NOW, False),
    ("DateLessThan", "aws:CurrentTime", "2025-01-01T00:00:00Z", NOW, True),
    ("DateLessThan", "aws:CurrentTime", "2024-01-01", NOW, False),
    ("DateLessThan", "aws:CurrentTime", "2024-06-01T12:00:00Z", NOW, False),
    ("DateLessThanEquals", "aws:CurrentTime", "2024-06-01T12:00:00Z", NOW, True),
    ("DateGreaterThan", "aws:CurrentTime", "2024-01-01T00:00:00Z", NOW, True),
    ("DateGreaterThan", "aws:CurrentTime", "2025-01-01T00:00:00Z", NOW, False),
    ("DateGreaterThanEquals", "aws:CurrentTime", "2024-06-01T12:00:00Z", NOW, True),
    ("DateGreaterThan", "aws:CurrentTime", "2024-01-01", {"aws:CurrentTime": "soon"}, False),
    ("Null", TAG, "true", {}, True),
    ("Null", TAG, "true", {TAG: "data"}, False),
    ("Null", TAG, "false", {TAG: "data"}, True),
    ("Null", TAG, False, {}, False),
    ("Null", "aws:groups", "true", NO_GROUPS, False),  # an empty list is present
    # IfExists: a missing key passes, a present one is tested
    ("StringEqualsIfExists", TAG, "data", {}, True),
    ("StringEqualsIfExists", TAG, "data", {TAG: "data"}, True),
    ("StringEqualsIfExists", TAG, "data", {TAG: "ops"}, False),
    ("StringLikeIfExists", TAG, "d*", {TAG: "ops"}, False),
    ("NumericLessThanIfExists", "s3:max-keys", "10", {}, True),
    ("IpAddressIfExists", "aws:SourceIp", "10.0.0.0/8", {}, True),
    ("IpAddressIfExists", "aws:SourceIp", "10.0.0.0/8", {"aws:SourceIp": "8.8.8.8"}, False),
    # set operators over a multi-valued key
    ("ForAnyValue:StringEquals", "aws:groups", "data", GROUPS, True),
    ("ForAnyValue:StringEquals", "aws:groups", ["ops", "admins"], GROUPS, False),
    ("ForAnyValue:StringLike", "aws:groups", "ana*", GROUPS, True),
    ("ForAnyValue:StringEquals", "aws:groups", "data", NO_GROUPS, False),
    ("ForAnyValue:StringEquals", "aws:groups", "data", {}, False),
    ("ForAnyValue:StringNotEquals", "aws:groups", "data", GROUPS, True),  # analysts != data
    ("ForAllValues:StringEquals", "aws:groups", ["data", "analysts", "ops"], GROUPS, True),
    ("ForAllValues:StringEquals", "aws:groups", ["data", "ops"], GROUPS, False),
    ("ForAllValues:StringEquals", "aws:groups", "data", NO_GROUPS, True),  # vacuously
    ("ForAllValues:StringEquals", "aws:groups", "data", {}, True),  # missing key
    ("ForAllValues:StringNotEquals", "aws:groups", ["ops", "admins"], GROUPS, True),
    ("ForAllValues:StringNotEquals", "aws:groups", "data", GROUPS, False),
    ("ForAnyValue:StringEqualsIfExists", "aws:groups", "data", {}, True),
    # a list without a set operator: any value matches; negated, none may match
    ("StringEquals", "aws:groups", "analysts", GROUPS, True),
    ("StringNotEquals", "aws:groups", "analysts", GROUPS, False),
    ("StringNotEquals", "aws:groups", "ops", GROUPS, True),
]


@pytest.mark.parametrize(
    ("operator", "key", "value", "context", "holds"),
    CONDITION_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CONDITION_CASES)],
)
def test_condition_operator(
    operator: str, key: str, value: Any, context: dict[str, Any], holds: bool
) -> None:
    policy = doc(stmt(Condition={operator: {key: value}}))
    assert is_allowed([policy], req(**context)) is holds
    # the same condition on a Deny flips the decision
    deny = doc(stmt(), stmt("Deny", Condition={operator: {key: value}}))
    assert evaluate([deny], req(**context)) is (DENY if holds else ALLOW)


def req_with(context: dict[str, Any]) -> Request:
    return Request("elasticmapreduce:DescribeEditor", EDITOR, context)


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        # keys within an operator AND
        (
            {"StringEquals": {"aws:username": "alice", TAG: "data"}},
            {"aws:username": "alice", TAG: "data"},
            True,
        ),
        (
            {"StringEquals": {"aws:username": "alice", TAG: "data"}},
            {"aws:username": "alice", TAG: "ops"},
            False,
        ),
        # operators AND
        (
            {
                "StringEquals": {"aws:username": "alice"},
                "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
            },
            {"aws:username": "alice", "aws:SourceIp": "10.0.0.1"},
            True,
        ),
        (
            {
                "StringEquals": {"aws:username": "alice"},
                "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
            },
            {"aws:username": "alice", "aws:SourceIp": "127.0.0.1"},
            False,
        ),
        ({}, {}, True),
    ],
)
def test_condition_logic(condition: dict, context: dict[str, Any], holds: bool) -> None:
    assert is_allowed([doc(stmt(Condition=condition))], req_with(context)) is holds


# --- validation ----------------------------------------------------------------------------

# Each valid document with a request it decides, so "valid" means accepted *and* read as
# written: a validator that accepted a document it then misread would fail here.
VALID: list[tuple[str, dict[str, Any], Request, Decision]] = [
    ("plain", doc(stmt()), req(), ALLOW),
    (
        "single-statement-without-resource",
        {"Statement": {"Effect": "Deny", "Action": "elasticmapreduce:*"}},
        req(),
        DENY,
    ),
    (
        "old-version-resource-list",
        {"Version": "2008-10-17", "Statement": [stmt(resource=[EDITOR, CLUSTER])]},
        req(resource=CLUSTER),
        ALLOW,
    ),
    (
        "id-and-notaction",
        {"Id": "p1", **doc(stmt(action=None, NotAction="emr-workspace:*", resource=None))},
        req("emr-workspace:ForceReleaseLock"),
        NONE,
    ),
    (
        "notresource-with-variable",
        doc(stmt(resource=None, NotResource=f"{ARN}:editor/${{aws:username}}")),
        req(resource=f"{ARN}:editor/alice"),
        NONE,
    ),
    (
        "set-operator-ifexists",
        doc(stmt(Sid="Own", Condition={"ForAllValues:StringLikeIfExists": {"aws:groups": ["a*"]}})),
        req(**{"aws:groups": ["analysts", "admins"]}),
        ALLOW,
    ),
    (
        "null-and-numeric",
        doc(stmt(Condition={"Null": {TAG: True}, "NumericLessThan": {"n": 3}})),
        req(n="2"),
        ALLOW,
    ),
    (
        "ip-ranges",
        doc(stmt(Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::1"]}})),
        req(**{"aws:SourceIp": "::1"}),
        ALLOW,
    ),
]


@pytest.mark.parametrize(
    ("policy", "request_", "decision"), [v[1:] for v in VALID], ids=[v[0] for v in VALID]
)
def test_valid_documents_are_accepted_and_read_as_written(
    policy: dict, request_: Request, decision: Decision
) -> None:
    assert validate_policy(policy) is None
    assert evaluate([policy], request_) is decision


INVALID: list[tuple[str, Any, str]] = [
    ("not-an-object", ["Allow"], "a policy must be a JSON object, not list"),
    ("no-statement", {"Version": "2012-10-17"}, "Statement must be an object or a non-empty list"),
    ("empty-statement", doc(), "Statement must be an object or a non-empty list"),
    ("bad-version", {"Version": "2020-01-01", "Statement": stmt()}, "Version must be one of"),
    (
        "unknown-element",
        {"Statement": stmt(), "Statment": []},
        "unknown policy element(s) Statment",
    ),
    ("statement-not-object", doc(stmt(), "Allow *"), "Statement[1] must be an object, not str"),
    (
        "missing-effect",
        doc(stmt(), {"Action": "*", "Resource": "*"}),
        "Statement[1].Effect must be Allow or Deny",
    ),
    ("lowercase-effect", {"Statement": stmt("allow")}, "Statement.Effect must be Allow or Deny"),
    (
        "action-and-notaction",
        doc(stmt(NotAction="elasticmapreduce:DeleteEditor")),
        "Statement[0] must have exactly one of Action or NotAction",
    ),
    (
        "no-action",
        doc(stmt(action=None)),
        "Statement[0] must have exactly one of Action or NotAction",
    ),
    (
        "resource-and-notresource",
        doc(stmt(NotResource=EDITOR)),
        "Statement[0] must not have both Resource and NotResource",
    ),
    ("principal", doc(stmt(Principal="*")), "Statement[0] has unsupported element(s) Principal"),
    ("empty-action-list", doc(stmt(action=[])), "Statement[0].Action must be a non-empty string"),
    ("action-not-string", doc(stmt(action=[1])), "Statement[0].Action must be a non-empty string"),
    (
        "action-without-service",
        doc(stmt(action="DeleteEditor")),
        'Statement[0].Action: \'DeleteEditor\' must be "*" or "service:action"',
    ),
    (
        "resource-not-arn",
        doc(stmt(resource="editor/*")),
        "Statement[0].Resource: 'editor/*' must be \"*\" or an ARN",
    ),
    (
        "unknown-operator",
        doc(stmt(Condition={"StringEqualz": {"aws:username": "alice"}})),
        "Statement[0].Condition: unknown condition operator 'StringEqualz'",
    ),
    (
        "unknown-set-operator",
        doc(stmt(Condition={"ForSomeValues:StringEquals": {"aws:groups": "a"}})),
        "unknown condition operator 'ForSomeValues:StringEquals'",
    ),
    (
        "null-if-exists",
        doc(stmt(Condition={"NullIfExists": {TAG: "true"}})),
        "unknown condition operator 'NullIfExists'",
    ),
    (
        "condition-not-object",
        doc(stmt(Condition=["x"])),
        "Statement[0].Condition must be an object",
    ),
    (
        "condition-block-not-object",
        doc(stmt(Condition={"StringEquals": "alice"})),
        "Statement[0].Condition.StringEquals must be a non-empty object",
    ),
    (
        "condition-value-empty-list",
        doc(stmt(Condition={"StringEquals": {"aws:username": []}})),
        "Statement[0].Condition.StringEquals.aws:username must be a value or a non-empty list",
    ),
    (
        "bad-cidr",
        doc(stmt(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}})),
        "Statement[0].Condition.IpAddress.aws:SourceIp: '10.0.0.0/33' is not valid for IpAddress",
    ),
    (
        "bad-number",
        doc(stmt(Condition={"NumericLessThan": {"n": "ten"}})),
        "'ten' is not valid for NumericLessThan",
    ),
    (
        "bad-date",
        doc(stmt(Condition={"DateLessThan": {"aws:CurrentTime": "tomorrow"}})),
        "'tomorrow' is not valid for DateLessThan",
    ),
    ("bad-bool", doc(stmt(Condition={"Bool": {"k": "yes"}})), "'yes' is not valid for Bool"),
    ("bad-null", doc(stmt(Condition={"Null": {"k": "maybe"}})), "'maybe' is not valid for Null"),
    (
        "variable-without-version",
        {"Statement": stmt(resource=f"{ARN}:editor/${{aws:username}}")},
        "Statement.Resource: policy variables like",
    ),
    (
        "condition-variable-without-version",
        {
            "Version": "2008-10-17",
            "Statement": stmt(Condition={"StringEquals": {TAG: "${aws:username}"}}),
        },
        'need "Version": "2012-10-17"',
    ),
]


@pytest.mark.parametrize(
    ("policy", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_documents(policy: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)):
        validate_policy(policy)
    # evaluate refuses too, even when another policy would decide on its own
    with pytest.raises(PolicyError, match=re.escape(message)):
        evaluate([doc(stmt("Deny")), policy], req())


def test_policy_error_is_a_value_error() -> None:
    assert issubclass(PolicyError, ValueError)


@pytest.mark.parametrize(("decision", "allowed"), [(ALLOW, True), (DENY, False), (NONE, False)])
def test_decision_allowed(decision: Decision, allowed: bool) -> None:
    assert decision.allowed is allowed


def test_policies_may_be_any_iterable() -> None:
    assert evaluate(iter([doc(stmt())]), req()) is ALLOW
    assert evaluate((p for p in [doc(stmt("Deny")), doc(stmt())]), req()) is DENY
