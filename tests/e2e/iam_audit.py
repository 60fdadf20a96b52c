"""Least privilege, proven: the AWS calls each principal made vs what its role grants.

Observed calls come from the local stack: every function process records its own API
calls (botocore hook, `scripts/local_stack/runtime.py`), and the pipe and the SQS event
source mapping emulations record the calls AWS makes with the pipe's and the worker's
roles. Granted statements are the role policies Terraform created, read back from the
emulator. `audit` is pure, so its failure modes are tested on mutated policies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

# Granted actions that AWS uses with the role on the principal's behalf, which no
# emulator call shows. Each needs a reason; anything else granted must be observed.
SERVICE_SIDE_ACTIONS: dict[str, str] = {
    "logs:CreateLogStream": "Lambda writes the function's logs to its log group with its role",
    "logs:PutLogEvents": "Lambda writes the function's logs to its log group with its role",
    "xray:PutTraceSegments": "Lambda active tracing sends trace segments with the role",
    "xray:PutTelemetryRecords": "Lambda active tracing sends telemetry with the role",
    "sqs:GetQueueAttributes": "Lambda's SQS event source mapping reads the queue's attributes",
    "kms:Decrypt": "SSE-KMS: SQS, DynamoDB Streams and Secrets Manager decrypt with the "
    "reader's role",
    "kms:GenerateDataKey": "SSE-KMS: SQS encrypts messages the pipe sends with a data key "
    "generated for the pipe's role",
    "dynamodb:ListStreams": "EventBridge Pipes lists the table's streams for a DynamoDB "
    "stream source (AWS docs: required permission)",
}

# Statements (by Sid) that AWS uses only when something fails, so a healthy run cannot
# show them: each needs a reason, and its own `terraform test`.
ON_FAILURE_ONLY_STATEMENTS: dict[str, str] = {
    "DeadLetterOnFailure": "Pipes sends a batch's failure record to the DLQ only after "
    "maximum_retry_attempts deliveries failed (terraform/modules/outbox/tests)",
}

# Actions AWS offers no resource-level permission for: `*` is the only valid resource.
WILDCARD_RESOURCE_ACTIONS: dict[str, str] = {
    "xray:PutTraceSegments": "X-Ray supports no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray supports no resource-level permissions",
}


@dataclass(frozen=True)
class Call:
    action: str
    resource: str


def as_list(value: Any) -> list[Any]:
    """IAM takes a single value (an action, a resource, a statement) wherever it takes a list."""
    return [value] if isinstance(value, str | dict) else list(value or [])


def allows(action: str, resource: str, call: Call) -> bool:
    """IAM's matching: action case-insensitive, resource case-sensitive, `*`/`?` wildcards."""
    return fnmatchcase(call.action.lower(), action.lower()) and fnmatchcase(call.resource, resource)


def allow_statements(policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in policies
        for statement in as_list(policy["Statement"])
        if statement.get("Effect") == "Allow"
    ]


def audit(principal: str, calls: set[Call], policies: list[dict[str, Any]]) -> list[str]:
    """Every problem: a call no statement allows, a grant no call uses, a wildcard."""
    problems: list[str] = []
    statements = allow_statements(policies)
    for statement in statements:
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{principal}: NotAction/NotResource in {statement.get('Sid')}")
    grants = [
        (action, resource, statement.get("Sid", "?"))
        for statement in statements
        for action in as_list(statement.get("Action"))
        for resource in as_list(statement.get("Resource"))
    ]
    for action, resource, sid in grants:
        if action == "*" or action.endswith(":*"):
            problems.append(f"{principal}: wildcard action {action} ({sid})")
        if resource == "*" and action not in WILDCARD_RESOURCE_ACTIONS:
            problems.append(f"{principal}: wildcard resource for {action} ({sid})")
    for call in sorted(calls, key=lambda c: (c.action, c.resource)):
        if not any(allows(action, resource, call) for action, resource, _ in grants):
            problems.append(f"{principal}: missing grant {call.action} on {call.resource}")
    for action, resource, sid in grants:
        used = any(allows(action, resource, call) for call in calls)
        if (
            not used
            and action not in SERVICE_SIDE_ACTIONS
            and sid not in ON_FAILURE_ONLY_STATEMENTS
        ):
            problems.append(f"{principal}: unused grant {action} on {resource} ({sid})")
    return problems


def load_calls(path: Path) -> set[Call]:
    if not path.exists():
        return set()
    return {Call(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()}


def role_policies(iam: Any, role_arn: str) -> list[dict[str, Any]]:
    """The role's inline and attached policies, as the emulator holds them."""
    role_name = role_arn.rsplit("/", 1)[1]
    documents: list[Any] = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        documents.append(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(
            PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
        )
        documents.append(version["PolicyVersion"]["Document"])
    return [json.loads(d) if isinstance(d, str) else d for d in documents]
