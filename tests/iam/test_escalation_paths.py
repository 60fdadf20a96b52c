"""Privilege-escalation paths against the bootstrap roles, evaluated WITH conditions.

Every row is a request an attacker holding one of the GitHub roles (or a role it created)
would make, from the public catalogues: Rhino Security Labs' "AWS IAM privilege
escalation methods" (RSL-n), Bishop Fox's iam-vulnerable (BF), pathfinding.cloud (PF),
and the cross-environment paths of issue 8 (I8). All three environments share one account
here (the single-account layout): per-account stacks only remove paths.

Three proofs per row:
1. the policies as deployed deny it (`test_escalation_is_denied`);
2. the rows' named stoppers deny it on their own: next to an `Allow *:*` added to the
   attacker's identity policies (someone widens an allow tomorrow), the guardrails, the
   state's resource policies or the permissions boundary still refuse
   (`test_stoppers_hold_against_an_allow_all`). Rows stopped only by the allows' name
   scoping are marked SCOPE;
3. each guardrail is load-bearing: with it removed, some row it names goes through
   (`test_each_guardrail_is_load_bearing`), and every guardrail of the template is named
   by some row (`test_every_guardrail_has_a_row`).

`python -m pytest tests/iam -q -rA -k escalation` prints the table with the decisions
(`test_print_table`, docs/security.md quotes it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.iam.policy_eval import ContextValue, Decision
from tests.iam.stacks import (
    ACCOUNT,
    ADMIN,
    REGION,
    World,
    api,
    cmk,
    creating,
    distribution,
    function,
    role,
    secret,
    table,
    tagged,
)

SCOPE = "scope"  # stopped by the allows' name/tag scoping only
BOUNDARY = "boundary"  # stopped by the permissions boundary
KEY_POLICY = "key-policy:StateRolesUseTheKey"
BUCKET_POLICY = "bucket-policy:DenyStateAccessToAllButThisEnvironmentsRoles"

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
ADMIN_USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
ADMIN_GROUP = f"arn:aws:iam::{ACCOUNT}:group/admins"
PROFILE = f"arn:aws:iam::{ACCOUNT}:instance-profile/admin"
FOREIGN_FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ops-admin-tool"
WORLD = World.deploy()


@dataclass(frozen=True)
class Attempt:
    id: str
    source: str
    actor: tuple[str, str]  # (environment of the stack, "deploy" | "plan" | "workload" | "admin")
    action: str
    resource: str | Callable[[World], str]
    stoppers: tuple[str, ...]
    context: dict[str, ContextValue] = field(default_factory=dict)

    def target(self, world: World) -> str:
        return self.resource(world) if callable(self.resource) else self.resource

    def decide(self, world: World, **kwargs: Any) -> Decision:
        env, who = self.actor
        return world.decide(env, who, self.action, self.target(world), self.context, **kwargs)


DEV_DEPLOY, STAGING_PLAN, DEV_PLAN = ("dev", "deploy"), ("staging", "plan"), ("dev", "plan")
WORKLOAD = ("dev", "workload")
NO_BOUNDARY: dict[str, ContextValue] = {}  # a role without (or with another) boundary


ATTEMPTS: list[Attempt] = [
    # ---- IAM: policies, versions, users, groups (RSL 1-2, 4-8, 10-11, 13; PF)
    Attempt(
        "create-policy-version-of-the-boundary",
        "RSL-1",
        DEV_DEPLOY,
        "iam:CreatePolicyVersion",
        lambda w: w.boundary_arn("dev"),
        ("DenyIamBeyondThisEnvironmentsRoles",),
    ),
    Attempt(
        "set-default-policy-version",
        "RSL-2",
        DEV_DEPLOY,
        "iam:SetDefaultPolicyVersion",
        lambda w: str(w.stacks["dev"].ref("Guardrails")),
        ("DenyIamBeyondThisEnvironmentsRoles",),
    ),
    Attempt(
        "create-access-key-for-an-admin",
        "RSL-4",
        DEV_DEPLOY,
        "iam:CreateAccessKey",
        ADMIN_USER,
        ("DenyIamBeyondThisEnvironmentsRoles",),
    ),
    Attempt(
        "create-login-profile",
        "RSL-5",
        DEV_DEPLOY,
        "iam:CreateLoginProfile",
        ADMIN_USER,
        ("DenyIamBeyondThisEnvironmentsRoles",),
    ),
    Attempt(
        "update-login-profile",
        "RSL-6",
        DEV_DEPLOY,
        "iam:UpdateLoginProfile",
        ADMIN_USER,
        ("DenyIamBeyondThisEnvironmentsRoles",),
    ),
    Attempt(
        "attach-user-policy",
        "RSL-7",
        DEV_DEPLOY,
        "iam:AttachUserPolicy",
        ADMIN_USER,
        ("DenyIamBeyondThisEnvironmentsRoles",),
        {"iam:PolicyARN": ADMIN_POLICY},
    ),
    Attempt(
        "attach-group-policy",
        "RSL-8",
        DEV_DEPLOY,
        "iam:AttachGroupPolicy",
        ADMIN_GROUP,
        ("DenyIamBeyondThisEnvironmentsRoles",),
        {"iam:PolicyARN": ADMIN_POLICY},
    ),
    Attempt(
        "put-user-policy",
        "RSL-10",
        DEV_DEPLOY,
        "iam:PutUserPolicy",
        ADMIN_USER,
        ("DenyIamBeyondThisEnvironmentsRoles",),
    ),
    Attempt(
        "put-group-policy",
        "RSL-11",
        DEV_DEPLOY,
        "iam:PutGroupPolicy",
        ADMIN_GROUP,
        ("DenyIamBeyondThisEnvironmentsRoles",),
    ),
    Attempt(
        "add-user-to-group",
        "RSL-13",
        DEV_DEPLOY,
        "iam:AddUserToGroup",
        ADMIN_GROUP,
        ("DenyIamBeyondThisEnvironmentsRoles",),
    ),
    Attempt(
        "create-instance-profile-for-admin-role",
        "BF",
        DEV_DEPLOY,
        "iam:AddRoleToInstanceProfile",
        PROFILE,
        ("DenyIamBeyondThisEnvironmentsRoles",),
    ),
    Attempt(
        "create-oidc-provider",
        "PF",
        DEV_DEPLOY,
        "iam:CreateOpenIDConnectProvider",
        f"arn:aws:iam::{ACCOUNT}:oidc-provider/evil.example.com",
        ("DenyIamBeyondThisEnvironmentsRoles",),
    ),
    # ---- IAM: roles (RSL 9, 12, 14; PF boundary paths; I8 "mint an admin role")
    Attempt(
        "create-role-without-boundary",
        "I8",
        DEV_DEPLOY,
        "iam:CreateRole",
        role("dev", "minted"),
        ("DenyRolesWithoutTheBoundary",),
        NO_BOUNDARY,
    ),
    Attempt(
        "create-role-with-another-boundary",
        "PF",
        DEV_DEPLOY,
        "iam:CreateRole",
        role("dev", "minted"),
        ("DenyRolesWithoutTheBoundary",),
        {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/permissive"},
    ),
    Attempt(
        "put-role-policy-on-a-role-without-boundary",
        "RSL-12",
        DEV_DEPLOY,
        "iam:PutRolePolicy",
        role("dev", "legacy"),
        ("DenyRolesWithoutTheBoundary",),
        NO_BOUNDARY,
    ),
    Attempt(
        "attach-admin-policy-to-own-environment-role",
        "RSL-9",
        DEV_DEPLOY,
        "iam:AttachRolePolicy",
        role("dev", "legacy"),
        ("DenyRolesWithoutTheBoundary",),
        {"iam:PolicyARN": ADMIN_POLICY},
    ),
    Attempt(
        "swap-the-boundary-for-another",
        "PF",
        DEV_DEPLOY,
        "iam:PutRolePermissionsBoundary",
        role("dev"),
        ("DenyRolesWithoutTheBoundary",),
        {"iam:PermissionsBoundary": ADMIN_POLICY},
    ),
    Attempt(
        "delete-the-boundary",
        "PF",
        DEV_DEPLOY,
        "iam:DeleteRolePermissionsBoundary",
        role("dev"),
        ("DenyBoundaryRemoval",),
    ),
    Attempt(
        "put-role-policy-on-itself",
        "RSL-12",
        DEV_DEPLOY,
        "iam:PutRolePolicy",
        lambda w: w.stacks["dev"].role_arn("DeployRole"),
        ("DenyIamBeyondThisEnvironmentsRoles",),
    ),
    Attempt(
        "detach-its-guardrails",
        "PF",
        DEV_DEPLOY,
        "iam:DetachRolePolicy",
        lambda w: w.stacks["dev"].role_arn("DeployRole"),
        ("DenyIamBeyondThisEnvironmentsRoles",),
        {"iam:PolicyARN": "guardrails"},
    ),
    Attempt(
        "update-assume-role-policy-of-an-admin-role",
        "RSL-14",
        DEV_DEPLOY,
        "iam:UpdateAssumeRolePolicy",
        ADMIN,
        ("DenyIamBeyondThisEnvironmentsRoles",),
    ),
    Attempt(
        "update-assume-role-policy-of-prod-role",
        "RSL-14",
        DEV_DEPLOY,
        "iam:UpdateAssumeRolePolicy",
        role("prod"),
        ("DenyIamBeyondThisEnvironmentsRoles", "DenyOtherEnvironmentsResources"),
        tagged("prod"),
    ),
    Attempt(
        "update-assume-role-policy-of-the-prod-deploy-role",
        "RSL-14",
        DEV_DEPLOY,
        "iam:UpdateAssumeRolePolicy",
        lambda w: w.stacks["prod"].role_arn("DeployRole"),
        ("DenyIamBeyondThisEnvironmentsRoles",),
    ),
    # ---- PassRole + compute (RSL 3, 15-16, 19-21; BF)
    Attempt(
        "pass-admin-role-to-ec2",
        "RSL-3",
        DEV_DEPLOY,
        "iam:PassRole",
        ADMIN,
        ("DenyIamBeyondThisEnvironmentsRoles",),
        {"iam:PassedToService": "ec2.amazonaws.com"},
    ),
    Attempt(
        "pass-admin-role-to-lambda",
        "RSL-15",
        DEV_DEPLOY,
        "iam:PassRole",
        ADMIN,
        ("DenyIamBeyondThisEnvironmentsRoles",),
        {"iam:PassedToService": "lambda.amazonaws.com"},
    ),
    Attempt(
        "pass-prod-function-role-to-a-new-function",
        "RSL-15",
        DEV_DEPLOY,
        "iam:PassRole",
        role("prod"),
        ("DenyIamBeyondThisEnvironmentsRoles", "DenyOtherEnvironmentsResources"),
        {**tagged("prod"), "iam:PassedToService": "lambda.amazonaws.com"},
    ),
    Attempt(
        "pass-admin-role-to-cloudformation",
        "RSL-19",
        DEV_DEPLOY,
        "iam:PassRole",
        ADMIN,
        ("DenyIamBeyondThisEnvironmentsRoles",),
        {"iam:PassedToService": "cloudformation.amazonaws.com"},
    ),
    Attempt(
        "pass-admin-role-to-glue",
        "RSL-21",
        DEV_DEPLOY,
        "iam:PassRole",
        ADMIN,
        ("DenyIamBeyondThisEnvironmentsRoles",),
        {"iam:PassedToService": "glue.amazonaws.com"},
    ),
    Attempt(
        "pass-own-role-to-ec2",
        "BF",
        DEV_DEPLOY,
        "iam:PassRole",
        role("dev"),
        (SCOPE,),
        {**tagged("dev"), "iam:PassedToService": "ec2.amazonaws.com"},
    ),
    Attempt(
        "update-code-of-prod-function",
        "RSL-17",
        DEV_DEPLOY,
        "lambda:UpdateFunctionCode",
        function("prod"),
        ("DenyOtherEnvironmentsResources",),
        tagged("prod"),
    ),
    Attempt(
        "update-code-of-another-workloads-function",
        "RSL-17",
        DEV_DEPLOY,
        "lambda:UpdateFunctionCode",
        FOREIGN_FUNCTION,
        (SCOPE,),
    ),
    Attempt(
        "event-source-mapping-on-another-function",
        "RSL-16",
        DEV_DEPLOY,
        "lambda:CreateEventSourceMapping",
        "*",
        (SCOPE,),
        {"lambda:FunctionArn": FOREIGN_FUNCTION},
    ),
    Attempt(
        "invoke-prod-function",
        "BF",
        DEV_DEPLOY,
        "lambda:InvokeFunction",
        function("prod"),
        ("DenyOtherEnvironmentsResources",),
        tagged("prod"),
    ),
    Attempt(
        "assume-an-admin-role-trusting-the-account",
        "BF",
        DEV_DEPLOY,
        "sts:AssumeRole",
        ADMIN,
        ("DenyAssumingOtherRoles",),
    ),
    Attempt(
        "assume-own-environment-role",
        "PF",
        DEV_DEPLOY,
        "sts:AssumeRole",
        role("dev"),
        ("DenyAssumingOtherRoles",),
        tagged("dev"),
    ),
    Attempt(
        "ssm-send-command-to-admin-instance",
        "BF",
        DEV_DEPLOY,
        "ssm:SendCommand",
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0",
        (SCOPE,),
    ),
    Attempt(
        "codebuild-start-build-override",
        "BF",
        DEV_DEPLOY,
        "codebuild:StartBuild",
        f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/admin",
        (SCOPE,),
    ),
    Attempt(
        "change-the-bootstrap-stack",
        "PF",
        DEV_DEPLOY,
        "cloudformation:UpdateStack",
        lambda w: w.stacks["dev"].stack_id,
        ("DenyChangingTheBootstrapStack",),
    ),
    # ---- re-tagging and cross-environment changes (I8)
    Attempt(
        "retag-prod-cmk-as-dev",
        "I8",
        DEV_DEPLOY,
        "kms:TagResource",
        cmk("prod"),
        ("DenyOtherEnvironmentsResources", "DenyChangingTheEnvironmentTag"),
        {**tagged("prod"), "aws:RequestTag/environment": "dev", "aws:TagKeys": ["environment"]},
    ),
    Attempt(
        "put-key-policy-on-prod-cmk",
        "I8",
        DEV_DEPLOY,
        "kms:PutKeyPolicy",
        cmk("prod"),
        ("DenyOtherEnvironmentsResources",),
        tagged("prod"),
    ),
    Attempt(
        "schedule-deletion-of-prod-cmk",
        "I8",
        DEV_DEPLOY,
        "kms:ScheduleKeyDeletion",
        cmk("prod"),
        ("DenyOtherEnvironmentsResources",),
        tagged("prod"),
    ),
    Attempt(
        "retag-prod-distribution-as-dev",
        "I8",
        DEV_DEPLOY,
        "cloudfront:TagResource",
        distribution("prod"),
        ("DenyOtherEnvironmentsResources", "DenyChangingTheEnvironmentTag"),
        {**tagged("prod"), "aws:RequestTag/environment": "dev", "aws:TagKeys": ["environment"]},
    ),
    Attempt(
        "update-prod-distribution",
        "I8",
        DEV_DEPLOY,
        "cloudfront:UpdateDistribution",
        distribution("prod"),
        ("DenyOtherEnvironmentsResources",),
        tagged("prod"),
    ),
    Attempt(
        "repoint-prod-authorizer",
        "I8",
        DEV_DEPLOY,
        "apigateway:PATCH",
        api("prod", "/authorizers/au1"),
        ("DenyOtherEnvironmentsResources",),
        tagged("prod"),
    ),
    Attempt(
        "repoint-prod-integration",
        "I8",
        DEV_DEPLOY,
        "apigateway:PATCH",
        api("prod", "/integrations/in1"),
        ("DenyOtherEnvironmentsResources",),
        tagged("prod"),
    ),
    Attempt(
        "retag-prod-api-through-the-tags-endpoint",
        "I8",
        DEV_DEPLOY,
        "apigateway:POST",
        f"arn:aws:apigateway:{REGION}::/tags/arn%3Aaws%3Aapigateway%3A{REGION}%3A%3A%2Fapis%2Fprodapi1",
        ("DenyApiGatewayEnvironmentTagWrites",),
        {"aws:RequestTag/environment": "dev", "aws:TagKeys": ["environment"]},
    ),
    Attempt(
        "tag-a-new-resource-for-prod",
        "I8",
        DEV_DEPLOY,
        "kms:CreateKey",
        "*",
        ("DenyTaggingForAnotherEnvironment",),
        creating("prod"),
    ),
    Attempt(
        "strip-the-environment-tag-of-own-key",
        "I8",
        DEV_DEPLOY,
        "kms:UntagResource",
        cmk("dev"),
        ("DenyChangingTheEnvironmentTag",),
        {**tagged("dev"), "aws:TagKeys": ["environment"]},
    ),
    Attempt(
        "delete-prod-table",
        "I8",
        DEV_DEPLOY,
        "dynamodb:DeleteTable",
        table("prod"),
        ("DenyOtherEnvironmentsResources",),
        tagged("prod"),
    ),
    # ---- resource policies that open data to other accounts (I8)
    Attempt(
        "invoke-permission-for-another-account",
        "I8",
        DEV_DEPLOY,
        "lambda:AddPermission",
        function("dev"),
        ("DenyLambdaPermissionsForOtherPrincipals",),
        {**tagged("dev"), "lambda:Principal": "210987654321"},
    ),
    Attempt(
        "function-url-without-auth",
        "I8",
        DEV_DEPLOY,
        "lambda:CreateFunctionUrlConfig",
        function("dev"),
        ("DenyResourcePoliciesThatOpenData",),
        {**tagged("dev"), "lambda:FunctionUrlAuthType": "NONE"},
    ),
    Attempt(
        "table-resource-policy",
        "I8",
        DEV_DEPLOY,
        "dynamodb:PutResourcePolicy",
        table("dev"),
        ("DenyResourcePoliciesThatOpenData",),
        tagged("dev"),
    ),
    Attempt(
        "secret-resource-policy",
        "I8",
        DEV_DEPLOY,
        "secretsmanager:PutResourcePolicy",
        secret("dev"),
        ("DenyResourcePoliciesThatOpenData",),
        tagged("dev"),
    ),
    Attempt(
        "kms-grant-to-a-principal",
        "PF",
        DEV_DEPLOY,
        "kms:CreateGrant",
        cmk("dev"),
        ("DenyKmsGrantsToPrincipals",),
        tagged("dev"),
    ),
    # ---- the state and the bootstrap's own resources (I8)
    Attempt(
        "read-prod-state-from-dev",
        "I8",
        DEV_DEPLOY,
        "s3:GetObject",
        lambda w: w.state_object("prod"),
        (BUCKET_POLICY,),
    ),
    Attempt(
        "decrypt-with-prod-state-key-from-dev",
        "I8",
        DEV_DEPLOY,
        "kms:Decrypt",
        lambda w: w.state_key("prod"),
        (KEY_POLICY,),
    ),
    Attempt(
        "account-admin-reads-prod-state",
        "I8",
        ("prod", "admin"),
        "s3:GetObject",
        lambda w: w.state_object("prod"),
        (BUCKET_POLICY,),
    ),
    Attempt(
        "account-admin-decrypts-prod-state",
        "I8",
        ("prod", "admin"),
        "kms:Decrypt",
        lambda w: w.state_key("prod"),
        (KEY_POLICY,),
    ),
    Attempt(
        "claim-the-untagged-state-key",
        "I8",
        DEV_DEPLOY,
        "kms:TagResource",
        lambda w: w.state_key("dev"),
        ("DenyAdministeringTheStateKey",),
        {"aws:RequestTag/environment": "dev", "aws:TagKeys": ["environment"]},
    ),
    Attempt(
        "grant-on-the-state-key",
        "PF",
        DEV_DEPLOY,
        "kms:CreateGrant",
        lambda w: w.state_key("dev"),
        ("DenyAdministeringTheStateKey", "DenyKmsGrantsToPrincipals"),
    ),
    Attempt(
        "open-the-state-bucket",
        "I8",
        DEV_DEPLOY,
        "s3:PutBucketPolicy",
        lambda w: w.stacks["dev"].get_att("StateBucket", "Arn"),
        ("DenyConfiguringTheStateBuckets", "DenyResourcePoliciesThatOpenData"),
    ),
    Attempt(
        "suspend-state-versioning",
        "I8",
        DEV_DEPLOY,
        "s3:PutBucketVersioning",
        lambda w: w.stacks["dev"].get_att("StateBucket", "Arn"),
        ("DenyConfiguringTheStateBuckets",),
    ),
    # ---- the plan role (pull requests run its code) (I8)
    Attempt(
        "plan-reads-prod-origin-header",
        "I8",
        STAGING_PLAN,
        "cloudfront:GetDistributionConfig",
        distribution("prod"),
        ("DenyOtherEnvironmentsResources",),
        tagged("prod"),
    ),
    Attempt(
        "plan-reads-prod-distribution",
        "I8",
        STAGING_PLAN,
        "cloudfront:GetDistribution",
        distribution("prod"),
        ("DenyOtherEnvironmentsResources",),
        tagged("prod"),
    ),
    Attempt(
        "plan-reads-own-distribution-config",
        "I8",
        STAGING_PLAN,
        "cloudfront:GetDistributionConfig",
        distribution("staging"),
        (SCOPE,),
        tagged("staging"),
    ),
    Attempt(
        "plan-reads-prod-secret",
        "I8",
        STAGING_PLAN,
        "secretsmanager:GetSecretValue",
        secret("prod"),
        ("DenyOtherEnvironmentsResources",),
        tagged("prod"),
    ),
    Attempt(
        "plan-reads-prod-function-code",
        "I8",
        STAGING_PLAN,
        "lambda:GetFunction",
        function("prod"),
        ("DenyOtherEnvironmentsResources",),
        tagged("prod"),
    ),
    Attempt(
        "plan-reads-prod-role-policy",
        "I8",
        STAGING_PLAN,
        "iam:GetRolePolicy",
        role("prod"),
        ("DenyIamBeyondThisEnvironmentsRoles", "DenyOtherEnvironmentsResources"),
        tagged("prod"),
    ),
    Attempt(
        "plan-reads-prod-state",
        "I8",
        STAGING_PLAN,
        "s3:GetObject",
        lambda w: w.state_object("prod"),
        (BUCKET_POLICY,),
    ),
    Attempt(
        "plan-writes-state",
        "I8",
        DEV_PLAN,
        "s3:PutObject",
        lambda w: w.state_object("dev"),
        (SCOPE,),
    ),
    Attempt(
        "plan-changes-a-function",
        "I8",
        DEV_PLAN,
        "lambda:UpdateFunctionCode",
        function("dev"),
        (SCOPE,),
        tagged("dev"),
    ),
    # ---- what a role the deploy role created can do: the boundary's ceiling
    Attempt(
        "created-role-creates-roles",
        "PF",
        WORKLOAD,
        "iam:CreateRole",
        role("dev", "x"),
        (BOUNDARY,),
    ),
    Attempt("created-role-assumes-admin", "PF", WORKLOAD, "sts:AssumeRole", ADMIN, (BOUNDARY,)),
    Attempt(
        "created-role-reads-prod-table",
        "I8",
        WORKLOAD,
        "dynamodb:GetItem",
        table("prod"),
        (BOUNDARY,),
        tagged("prod"),
    ),
    Attempt(
        "created-role-reads-prod-secret",
        "I8",
        WORKLOAD,
        "secretsmanager:GetSecretValue",
        secret("prod"),
        (BOUNDARY,),
        tagged("prod"),
    ),
    Attempt(
        "created-role-decrypts-with-prod-key",
        "I8",
        WORKLOAD,
        "kms:Decrypt",
        cmk("prod"),
        (BOUNDARY,),
        tagged("prod"),
    ),
    Attempt(
        "created-role-reads-state",
        "I8",
        WORKLOAD,
        "s3:GetObject",
        lambda w: w.state_object("dev"),
        (BOUNDARY, BUCKET_POLICY),
    ),
    Attempt(
        "created-role-deletes-own-table",
        "I8",
        WORKLOAD,
        "dynamodb:DeleteTable",
        table("dev"),
        (BOUNDARY,),
        tagged("dev"),
    ),
]


def _ids() -> list[str]:
    return [a.id for a in ATTEMPTS]


def test_ids_are_unique() -> None:
    assert len(set(_ids())) == len(ATTEMPTS)


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=_ids())
def test_escalation_is_denied(attempt: Attempt) -> None:
    decision = attempt.decide(WORLD)
    assert not decision.allowed, f"{attempt.id} ({attempt.source}): {decision}"


def _stopped_by(attempt: Attempt, decision: Decision) -> bool:
    """Whether one of the row's named stoppers is what refused it."""
    for stopper in attempt.stoppers:
        if stopper in (BOUNDARY, KEY_POLICY) and not decision.allowed:
            return True
        if stopper == BUCKET_POLICY and any(
            d.startswith("resource") and d.endswith(stopper.split(":")[1])
            for d in decision.denied_by
        ):
            return True
        if any(d.startswith("identity") and d.endswith(f":{stopper}") for d in decision.denied_by):
            return True
    return False


GUARDED = [a for a in ATTEMPTS if a.stoppers != (SCOPE,)]


@pytest.mark.parametrize("attempt", GUARDED, ids=[a.id for a in GUARDED])
def test_stoppers_hold_against_an_allow_all(attempt: Attempt) -> None:
    from tests.iam.stacks import ALLOW_ALL

    decision = attempt.decide(WORLD, extra_identity=[ALLOW_ALL])
    assert not decision.allowed, f"{attempt.id}: {decision}"
    assert _stopped_by(attempt, decision), f"{attempt.id}: {decision}, want {attempt.stoppers}"


def _without_guardrail(sid: str) -> Callable[[dict[str, Any]], None]:
    def edit(template: dict[str, Any]) -> None:
        doc = template["Resources"]["Guardrails"]["Properties"]["PolicyDocument"]
        doc["Statement"] = [s for s in doc["Statement"] if s["Sid"] != sid]

    return edit


def _without_state_policy_statement(resource: str, sid: str) -> Callable[[dict[str, Any]], None]:
    def edit(template: dict[str, Any]) -> None:
        props = template["Resources"][resource]["Properties"]
        doc = props.get("PolicyDocument") or props["KeyPolicy"]
        for st in list(doc["Statement"]):
            if st["Sid"] == sid and st["Effect"] == "Deny":
                doc["Statement"].remove(st)
            elif st["Sid"] == sid:
                st.pop("Condition")  # the allow without its principal restriction

    return edit


def _without_boundary(world: World) -> World:
    original = world.caller

    class NoBoundary(World):
        def caller(self, env: str, who: str) -> Any:
            principal, identity, boundary = original(env, who)
            return principal, identity, None if who == "workload" else boundary

    return NoBoundary(world.stacks)


def _stopper_removed(stopper: str) -> World:
    if stopper == BOUNDARY:
        return _without_boundary(WORLD)
    if stopper == BUCKET_POLICY:
        return WORLD.mutated(
            _without_state_policy_statement("StateBucketPolicy", stopper.split(":")[1])
        )
    if stopper == KEY_POLICY:
        return WORLD.mutated(_without_state_policy_statement("StateKey", stopper.split(":")[1]))
    return WORLD.mutated(_without_guardrail(stopper))


STOPPERS = sorted({s for a in GUARDED for s in a.stoppers})


@pytest.mark.parametrize("stopper", STOPPERS)
def test_each_guardrail_is_load_bearing(stopper: str) -> None:
    """Remove one stopper: some row that names it goes through (next to an Allow *)."""
    from tests.iam.stacks import ALLOW_ALL

    world = _stopper_removed(stopper)
    rows = [a for a in GUARDED if stopper in a.stoppers]
    through = [a.id for a in rows if a.decide(world, extra_identity=[ALLOW_ALL]).allowed]
    assert through, (
        f"without {stopper}, every row naming it is still denied: {[a.id for a in rows]}"
    )


def test_every_guardrail_has_a_row() -> None:
    assert set(WORLD.guardrail_sids()) <= set(STOPPERS)


def test_rows_name_only_existing_stoppers() -> None:
    known = set(WORLD.guardrail_sids()) | {SCOPE, BOUNDARY, KEY_POLICY, BUCKET_POLICY}
    assert {s for a in ATTEMPTS for s in a.stoppers} <= known


def test_print_table(capsys: pytest.CaptureFixture[str]) -> None:
    """The escalation table with its decisions (for docs/security.md and the issue)."""
    from tests.iam.stacks import ALLOW_ALL

    lines = [
        "| path | source | caller | request | decision | stopped by |",
        "|---|---|---|---|---|---|",
    ]
    for a in ATTEMPTS:
        decision = a.decide(WORLD)
        guarded = a.decide(WORLD, extra_identity=[ALLOW_ALL]) if a in GUARDED else decision
        stopped = ", ".join(a.stoppers)
        alone = "" if a not in GUARDED else " (also with Allow *)"
        if a in GUARDED and guarded.allowed:
            alone = " (NOT with Allow *)"
        lines.append(
            f"| {a.id} | {a.source} | {a.actor[0]} {a.actor[1]} | `{a.action}` | "
            f"{'ALLOWED' if decision.allowed else 'denied'}"
            f"{alone} "
            f"| {stopped} |"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert all(not a.decide(WORLD).allowed for a in ATTEMPTS)
