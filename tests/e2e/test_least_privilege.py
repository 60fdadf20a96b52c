"""IAM least privilege, proven on what the e2e suite made every principal do.

Runs after every other e2e test (see conftest), so the recorded calls cover the whole
HTTP contract, the worker's success/retry/failure paths, the outbox pipe (its failures
too), the DLQ bookkeeping and its schedule.
"""

from __future__ import annotations

import pytest
from scripts import bootstrap_policies as bp

from tests.e2e.conftest import Stack
from tests.e2e.iam_audit import Call, as_list, audit, load_calls, role_policies
from tests.iam.policy_eval import Request, evaluate
from tests.iam.stacks import ALLOW_ALL

pytestmark = pytest.mark.after_all_e2e


def principals(stack: Stack) -> dict[str, str]:
    """principal (function name or pipe:<name>) -> role ARN, as deployed."""
    lambda_client = stack.client("lambda")
    roles = {
        name: lambda_client.get_function_configuration(FunctionName=name)["Role"]
        for name in stack.outputs["function_names"].values()
    }
    pipe_name = stack.outputs["pipe_name"]
    roles[f"pipe:{pipe_name}"] = stack.client("pipes").describe_pipe(Name=pipe_name)["RoleArn"]
    # EventBridge Scheduler invokes a scheduled function with the schedule's own role.
    scheduler = stack.client("scheduler")
    for summary in scheduler.list_schedules()["Schedules"]:
        schedule = scheduler.get_schedule(Name=summary["Name"])
        if schedule["Target"]["Arn"].rsplit(":", 1)[1] in stack.outputs["function_names"].values():
            roles[f"schedule:{schedule['Name']}"] = schedule["Target"]["RoleArn"]
    assert any(p.startswith("schedule:") for p in roles), "the DLQ bookkeeping's schedule"
    return roles


def calls_of(stack: Stack, principal: str) -> set[Call]:
    return load_calls(stack.state_dir / "calls" / f"{principal.replace(':', '-')}.jsonl")


def test_every_principal_is_granted_exactly_what_it_uses(stack: Stack) -> None:
    iam = stack.client("iam")
    problems = []
    for principal, role_arn in principals(stack).items():
        calls = calls_of(stack, principal)
        assert calls, f"no calls recorded for {principal}: the audit would prove nothing"
        problems += audit(principal, calls, role_policies(iam, role_arn))
    assert problems == [], "\n".join(problems)


def test_audit_catches_an_added_unused_grant(stack: Stack) -> None:
    api = stack.outputs["function_names"]["api"]
    role = principals(stack)[api]
    policies = role_policies(stack.client("iam"), role)
    table_arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{stack.outputs['jobs_table_name']}"
    policies.append(
        {"Statement": [{"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": table_arn}]}
    )

    problems = audit(api, calls_of(stack, api), policies)

    assert problems == [f"{api}: unused grant dynamodb:Scan on {table_arn} (?)"]


def test_audit_catches_a_removed_needed_grant(stack: Stack) -> None:
    authorizer = stack.outputs["function_names"]["authorizer"]
    policies = role_policies(stack.client("iam"), principals(stack)[authorizer])
    for policy in policies:
        for statement in policy["Statement"]:
            actions = as_list(statement["Action"])
            statement["Action"] = [a for a in actions if a != "dynamodb:GetItem"] or [
                "logs:PutLogEvents"
            ]

    problems = audit(authorizer, calls_of(stack, authorizer), policies)

    assert any("missing grant dynamodb:GetItem" in p for p in problems), problems


def test_every_role_carries_the_boundary_and_stays_within_it(stack: Stack) -> None:
    """The bootstrap's permissions boundary (bootstrap/template.yaml, resolved for this
    environment) is on every role Terraform created, and allows every call the suite made
    each principal do: the boundary is a ceiling the platform fits under, not a guess."""
    boundary_stack = bp.Stack(bp.load_template(), {**bp.COMMON, "Environment": "local"})
    boundary_arn = boundary_stack.ref("PermissionsBoundary")
    boundary = boundary_stack.managed_policy("PermissionsBoundary")
    iam, kms = stack.client("iam"), stack.client("kms")
    problems = []
    for principal, role_arn in principals(stack).items():
        role = iam.get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
        attached = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        if attached != boundary_arn:
            problems.append(f"{principal}: boundary {attached!r}, want {boundary_arn}")
        for call in sorted(calls_of(stack, principal), key=lambda c: (c.action, c.resource)):
            context = {}
            if call.action.startswith("kms:"):  # keys are the environment's by their tag
                tags = kms.list_resource_tags(KeyId=call.resource)["Tags"]
                context = {f"aws:ResourceTag/{t['TagKey']}": t["TagValue"] for t in tags}
            request = Request(role_arn, call.action, call.resource, context)
            if not evaluate(request, [ALLOW_ALL], boundary=boundary).allowed:
                problems.append(
                    f"{principal}: {call.action} on {call.resource}: not in the boundary"
                )
    assert problems == [], "\n".join(problems)
