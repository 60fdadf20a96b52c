"""The evaluator itself, against the rules of the IAM User Guide (each case cites the
behaviour it pins: a wrong evaluator would make the escalation table prove nothing)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.iam.policy_eval import (
    Request,
    arn_match,
    condition_holds,
    evaluate,
    wildcard_match,
)

ROLE = "arn:aws:iam::123456789012:role/app"
OTHER_ROLE = "arn:aws:iam::123456789012:role/other"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/app-jobs"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def req(action: str = "dynamodb:GetItem", resource: str = TABLE, **context: Any) -> Request:
    return Request(ROLE, action, resource, context)


# ---------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("pattern", "value", "ignore_case", "want"),
    [
        ("dynamodb:Get*", "dynamodb:GetItem", False, True),
        ("dynamodb:get*", "DynamoDB:GetItem", True, True),  # actions: case-insensitive
        ("table/app-*", "table/App-jobs", False, False),  # resources: case-sensitive
        ("a?c", "abc", False, True),
        ("a?c", "abbc", False, False),
        ("a[b]c", "abc", False, False),  # no character classes in IAM (fnmatch has them)
        ("*", "", False, True),
    ],
)
def test_wildcards(pattern: str, value: str, ignore_case: bool, want: bool) -> None:
    assert wildcard_match(pattern, value, ignore_case=ignore_case) is want


def test_arn_like_matches_each_part_on_its_own() -> None:
    assert arn_match("arn:aws:lambda:*:123456789012:function:app-*", TABLE) is False
    assert arn_match(
        "arn:aws:lambda:*:123456789012:function:app-*",
        "arn:aws:lambda:us-east-1:123456789012:function:app-api",
    )
    # `*` in the region part does not swallow the account part.
    assert not arn_match(
        "arn:aws:lambda:*:function:app-*", "arn:aws:lambda:us-east-1:123:function:app-x"
    )


# ---------------------------------------------------------------- condition operators


@pytest.mark.parametrize(
    ("operator", "wanted", "context", "want"),
    [
        ("StringEquals", "dev", {"k": "dev"}, True),
        ("StringEquals", ["prod", "dev"], {"k": "dev"}, True),  # OR across values
        ("StringEquals", "dev", {}, False),  # missing key: a positive operator fails
        ("StringNotEquals", "dev", {}, True),  # ... and a negated one holds
        ("StringNotEquals", ["dev", "prod"], {"k": "prod"}, False),  # NOT any value
        ("StringEqualsIfExists", "dev", {}, True),
        ("StringEqualsIfExists", "dev", {"k": "prod"}, False),
        ("StringEqualsIgnoreCase", "DEV", {"k": "dev"}, True),
        ("StringLike", "app-*", {"k": "app-x"}, True),
        ("StringNotLike", "app-*", {"k": "other"}, True),
        ("ArnLike", "arn:aws:iam::*:role/app-*", {"k": "arn:aws:iam::1:role/app-x"}, True),
        ("ArnNotEquals", "arn:aws:iam::1:role/a", {"k": "arn:aws:iam::1:role/b"}, True),
        ("ArnNotEquals", "arn:aws:iam::1:role/a", {}, True),
        ("Bool", "true", {"k": "true"}, True),
        ("Bool", True, {"k": "true"}, True),
        ("Bool", "false", {}, False),
        ("BoolIfExists", "false", {}, True),
        ("BoolIfExists", "false", {"k": "true"}, False),
        ("NumericLessThan", "1.2", {"k": "1.0"}, True),
        ("NumericLessThan", "1.2", {"k": "1.3"}, False),
        ("Null", "true", {}, True),
        ("Null", "true", {"k": "x"}, False),
        ("Null", "false", {"k": "x"}, True),
        # Multivalued keys (aws:TagKeys): the IAM guide's set operators.
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["a"]}, True),
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["a", "c"]}, False),
        ("ForAllValues:StringEquals", ["a"], {}, True),  # vacuously true when missing
        ("ForAnyValue:StringEquals", ["a"], {"k": ["c", "a"]}, True),
        ("ForAnyValue:StringEquals", ["a"], {}, False),  # false when missing
        ("ForAnyValue:StringNotEquals", ["a"], {"k": ["a", "b"]}, True),
        ("ForAllValues:StringNotEquals", ["a"], {"k": ["b", "c"]}, True),
        ("ForAllValues:StringNotEquals", ["a"], {"k": ["b", "a"]}, False),
    ],
)
def test_condition_operators(
    operator: str, wanted: Any, context: dict[str, Any], want: bool
) -> None:
    assert condition_holds(operator, "k", wanted, context) is want


@pytest.mark.parametrize(
    ("operator", "wanted", "context", "error"),
    [
        ("StringEquals", "a", {"k": ["a", "b"]}, ValueError),  # multivalued needs a set op
        ("DateLessThan", "2020-01-01", {"k": "x"}, NotImplementedError),
        ("Null", "maybe", {}, ValueError),
        ("StringEquals", "${aws:username}", {"k": "x"}, NotImplementedError),
    ],
)
def test_unsupported_constructs_raise(
    operator: str, wanted: Any, context: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        condition_holds(operator, "k", wanted, context)


def test_conditions_are_anded_across_operators_and_keys() -> None:
    cond = {"StringEquals": {"a": "1", "b": "2"}, "Null": {"c": "true"}}
    st = allow("dynamodb:GetItem", TABLE, Condition=cond)
    assert evaluate(req(a="1", b="2"), [policy(st)]).allowed
    assert not evaluate(req(a="1", b="3"), [policy(st)]).allowed
    assert not evaluate(req(a="1", b="2", c="x"), [policy(st)]).allowed


# ---------------------------------------------------------------- decisions


def test_implicit_deny_without_an_allow() -> None:
    decision = evaluate(req(), [policy(allow("dynamodb:PutItem", TABLE))])
    assert not decision.allowed and decision.denied_by == ()


def test_explicit_deny_wins_over_any_allow() -> None:
    decision = evaluate(req(), [policy(allow()), policy({**deny("dynamodb:*"), "Sid": "No"})])
    assert not decision.allowed
    assert decision.denied_by == ("identity[1]:No",)


def test_not_action_and_not_resource() -> None:
    guard = {"Sid": "G", "Effect": "Deny", "NotAction": "dynamodb:GetItem", "Resource": TABLE}
    assert evaluate(req("dynamodb:GetItem"), [policy(allow(), guard)]).allowed
    assert not evaluate(req("dynamodb:DeleteTable"), [policy(allow(), guard)]).allowed
    scope = {"Effect": "Deny", "Action": "iam:*", "NotResource": "arn:aws:iam::*:role/app-*"}
    assert evaluate(
        req("iam:PassRole", "arn:aws:iam::1:role/app-x"), [policy(allow(), scope)]
    ).allowed
    assert not evaluate(
        req("iam:PassRole", "arn:aws:iam::1:role/admin"), [policy(allow(), scope)]
    ).allowed


def test_permissions_boundary_intersects_with_identity_policies() -> None:
    boundary = policy(allow("dynamodb:GetItem", TABLE))
    assert evaluate(req(), [policy(allow())], boundary=boundary).allowed
    assert not evaluate(req("iam:CreateRole", "*"), [policy(allow())], boundary=boundary).allowed
    # The boundary grants nothing by itself.
    assert not evaluate(req(), [policy(allow("sqs:*"))], boundary=boundary).allowed


def test_resource_policy_deny_applies_to_everyone_it_names() -> None:
    bucket = policy(
        {
            "Sid": "OnlyApp",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": ROLE}},
        }
    )
    admin = Request(OTHER_ROLE, "s3:GetObject", "arn:aws:s3:::b/key")
    assert not evaluate(admin, [policy(allow())], resource_policy=bucket).allowed
    app = Request(ROLE, "s3:GetObject", "arn:aws:s3:::b/key")
    assert evaluate(app, [policy(allow())], resource_policy=bucket).allowed


def test_resource_policy_naming_the_principal_allows_on_its_own() -> None:
    rp = policy(
        {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": "*"}
    )
    assert evaluate(
        Request(ROLE, "s3:GetObject", "arn:aws:s3:::b/k"), [], resource_policy=rp
    ).allowed


def test_key_policy_must_allow_and_the_account_root_delegates_to_iam() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/k"
    delegating = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": ROLE}},
        }
    )
    decrypt = Request(ROLE, "kms:Decrypt", key)
    assert evaluate(decrypt, [policy(allow())], resource_policy=delegating, key_policy=True).allowed
    # Root delegation still needs the IAM allow...
    assert not evaluate(decrypt, [], resource_policy=delegating, key_policy=True).allowed
    # ... and an IAM allow is not enough when the key policy does not include the caller.
    other = Request(OTHER_ROLE, "kms:Decrypt", key)
    assert not evaluate(
        other, [policy(allow())], resource_policy=delegating, key_policy=True
    ).allowed


def test_service_principal_in_a_resource_policy() -> None:
    rp = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::logs/*",
        }
    )
    assert evaluate(
        Request("logging.s3.amazonaws.com", "s3:PutObject", "arn:aws:s3:::logs/x"),
        [],
        resource_policy=rp,
    ).allowed
