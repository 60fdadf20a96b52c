"""IAM least privilege, proven on what the e2e suite made every principal do.

Runs after every other e2e test (see conftest), so the recorded calls cover the whole
HTTP contract, the worker's success/retry/failure paths and the outbox pipe.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.iam_audit import Call, as_list, audit, load_calls, role_policies

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
