"""A small IAM policy evaluator: enough of AWS's evaluation logic to judge the bootstrap
template's policies WITH their conditions (tests/iam/test_escalation_paths.py).

What it implements, after the IAM User Guide's "Policy evaluation logic" and "IAM JSON
policy elements: Condition operators":

- statements: Effect Allow/Deny; Action/NotAction (case-insensitive, `*`/`?` wildcards);
  Resource/NotResource (case-sensitive wildcards); Principal in resource policies
  (`*`, an ARN, an account root, a service);
- conditions: String*, Arn* (each of the six ARN parts matched on its own), Numeric*,
  Bool, Null; the `IfExists` suffix; `ForAllValues:`/`ForAnyValue:` for multivalued keys;
  AND across operators and keys, OR across a key's values; a missing key makes a positive
  operator false and a negated one (`StringNotEquals`, `ArnNotLike`, ...) true;
- the decision: an explicit Deny anywhere wins; otherwise the identity policies must
  allow, within the permissions boundary if the principal has one; a resource policy
  that names the principal (or `*`) allows on its own, one that names the account root
  delegates to IAM; a KMS key policy must allow (directly or by that delegation).

Anything else (policy variables, NotPrincipal, Date operators, a multivalued key under a
single-valued operator) raises, so an unsupported construct can never pass silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

Policy = Mapping[str, Any]
ContextValue = str | Sequence[str]


@dataclass(frozen=True)
class Request:
    """One API call: who (`principal`, an ARN or a service name), what, on which resource."""

    principal: str
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def full_context(self) -> dict[str, ContextValue]:
        ctx: dict[str, ContextValue] = {"aws:SecureTransport": "true"}
        if self.principal.startswith("arn:"):
            ctx["aws:PrincipalArn"] = self.principal
            ctx["aws:PrincipalAccount"] = self.principal.split(":")[4]
        ctx.update(self.context)
        return ctx


@dataclass(frozen=True)
class Decision:
    allowed: bool
    denied_by: tuple[str, ...] = ()  # "<policy label>:<Sid>" of every matching Deny
    allowed_by: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.denied_by:
            return "explicit deny by " + ", ".join(self.denied_by)
        return "allowed by " + ", ".join(self.allowed_by) if self.allowed else "implicit deny"


# ---------------------------------------------------------------- matching


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    if "${" in pattern:
        raise NotImplementedError(f"policy variables are not evaluated: {pattern!r}")
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).match(value) is not None


def arn_match(pattern: str, value: str) -> bool:
    """ArnLike/ArnEquals: each of the six colon-separated parts is matched separately."""
    p_parts, v_parts = pattern.split(":", 5), value.split(":", 5)
    if len(p_parts) != 6 or len(v_parts) != 6:
        return pattern == value
    return all(wildcard_match(p, v) for p, v in zip(p_parts, v_parts, strict=True))


def as_list(value: Any) -> list[Any]:
    """IAM takes a single value wherever it takes a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


# ---------------------------------------------------------------- conditions


def _string_equals(ctx: str, want: str) -> bool:
    return ctx == want


def _string_equals_ignore_case(ctx: str, want: str) -> bool:
    return ctx.lower() == want.lower()


def _string_like(ctx: str, want: str) -> bool:
    return wildcard_match(want, ctx)


def _numeric(compare: str) -> Any:
    def match(ctx: str, want: str) -> bool:
        a, b = float(ctx), float(want)
        return {
            "Equals": a == b,
            "LessThan": a < b,
            "LessThanEquals": a <= b,
            "GreaterThan": a > b,
            "GreaterThanEquals": a >= b,
        }[compare]

    return match


def _bool(ctx: str, want: str) -> bool:
    return str(ctx).lower() == str(want).lower()


# operator -> (matcher, negated)
OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (lambda c, w: arn_match(w, c), False),
    "ArnLike": (lambda c, w: arn_match(w, c), False),
    "ArnNotEquals": (lambda c, w: arn_match(w, c), True),
    "ArnNotLike": (lambda c, w: arn_match(w, c), True),
    "NumericEquals": (_numeric("Equals"), False),
    "NumericNotEquals": (_numeric("Equals"), True),
    "NumericLessThan": (_numeric("LessThan"), False),
    "NumericLessThanEquals": (_numeric("LessThanEquals"), False),
    "NumericGreaterThan": (_numeric("GreaterThan"), False),
    "NumericGreaterThanEquals": (_numeric("GreaterThanEquals"), False),
    "Bool": (_bool, False),
}


def condition_holds(operator: str, key: str, wanted: Any, context: Mapping[str, Any]) -> bool:
    """One `"<operator>": {"<key>": <values>}` entry of a Condition block."""
    qualifier, _, op = operator.rpartition(":")
    values = [str(v).lower() if isinstance(v, bool) else str(v) for v in as_list(wanted)]
    if any("${" in v for v in values):
        raise NotImplementedError(f"policy variables are not evaluated: {wanted!r}")
    present = key in context
    if op == "Null":
        if qualifier or len(values) != 1 or values[0] not in ("true", "false"):
            raise ValueError(f"Null takes one true/false: {operator} {key} {wanted!r}")
        return (not present) == (values[0] == "true")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    if op not in OPERATORS:
        raise NotImplementedError(f"condition operator {operator}")
    matcher, negated = OPERATORS[op]

    def matches_any(item: str) -> bool:
        return any(matcher(item, v) for v in values)

    ctx = context.get(key)
    if qualifier == "":
        if not present:
            return if_exists or negated
        if not isinstance(ctx, str):
            raise ValueError(f"{key} is multivalued: use ForAllValues:/ForAnyValue: with {op}")
        return not matches_any(ctx) if negated else matches_any(ctx)
    items = [ctx] if isinstance(ctx, str) else list(ctx or [])
    if qualifier == "ForAnyValue":
        return any((not matches_any(i)) if negated else matches_any(i) for i in items)
    if qualifier == "ForAllValues":
        return all((not matches_any(i)) if negated else matches_any(i) for i in items)
    raise NotImplementedError(f"condition qualifier {qualifier}")


def conditions_hold(block: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any]) -> bool:
    return all(
        condition_holds(operator, key, wanted, context)
        for operator, entries in block.items()
        for key, wanted in entries.items()
    )


# ---------------------------------------------------------------- statements


def _principal_matches(statement: Mapping[str, Any], principal: str) -> str | None:
    """None: not this principal; "direct": names it (or `*`); "account": its account root."""
    if "NotPrincipal" in statement:
        raise NotImplementedError("NotPrincipal")
    spec = statement["Principal"]
    if spec == "*":
        return "direct"
    for kind, ids in spec.items():
        for ident in as_list(ids):
            if ident in ("*", principal):
                return "direct"
            if kind == "AWS" and principal.startswith("arn:"):
                account = principal.split(":")[4]
                if ident in (account, f"arn:aws:iam::{account}:root"):
                    return "account"
    return None


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    action = request.action
    if "Action" in statement:
        if not any(
            wildcard_match(a, action, ignore_case=True) for a in as_list(statement["Action"])
        ):
            return False
    elif any(wildcard_match(a, action, ignore_case=True) for a in as_list(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(wildcard_match(r, request.resource) for r in as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement and any(
        wildcard_match(r, request.resource) for r in as_list(statement["NotResource"])
    ):
        return False
    # Neither: a role's trust policy, whose resource is the role it is attached to.
    return conditions_hold(statement.get("Condition", {}), request.full_context())


def _matches(
    label: str, policies: Sequence[Policy], request: Request, *, resource_policy: bool = False
) -> tuple[list[str], list[str], list[str]]:
    """(deny labels, allow labels, allow-by-account-root labels) of the statements that apply."""
    denies, allows, delegated = [], [], []
    for index, policy in enumerate(policies):
        for statement in as_list(policy["Statement"]):
            if statement["Effect"] not in ("Allow", "Deny"):
                raise ValueError(f"Effect {statement['Effect']!r}")
            how = _principal_matches(statement, request.principal) if resource_policy else "direct"
            if how is None or not statement_applies(statement, request):
                continue
            name = f"{label}[{index}]:{statement.get('Sid', '?')}"
            if statement["Effect"] == "Deny":
                denies.append(name)
            elif how == "account":
                delegated.append(name)
            else:
                allows.append(name)
    return denies, allows, delegated


def evaluate(
    request: Request,
    identity: Sequence[Policy],
    *,
    boundary: Policy | None = None,
    resource_policy: Policy | None = None,
    key_policy: bool = False,
) -> Decision:
    """AWS's decision for a principal of the resource's account (no SCPs, no sessions)."""
    id_deny, id_allow, _ = _matches("identity", identity, request)
    b_deny, b_allow, _ = _matches("boundary", [boundary] if boundary else [], request)
    rp_deny, rp_allow, rp_root = _matches(
        "resource", [resource_policy] if resource_policy else [], request, resource_policy=True
    )
    denies = tuple(id_deny + b_deny + rp_deny)
    if denies:
        return Decision(False, denied_by=denies)
    within_boundary = boundary is None or bool(b_allow)
    by_identity = bool(id_allow) and within_boundary
    if key_policy:
        # A key policy must allow: directly, or by naming the account root (then IAM decides).
        allowed = (bool(rp_allow) and within_boundary) or (bool(rp_root) and by_identity)
    else:
        allowed = by_identity or (bool(rp_allow) and within_boundary)
    return Decision(allowed, allowed_by=tuple(id_allow + rp_allow + rp_root) if allowed else ())
