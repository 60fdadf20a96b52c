"""Security properties of bootstrap/template.yaml (CloudFormation), and that its roles
can do what the Terraform needs.

The template is resolved for the example stacks of dev, staging and prod
(scripts/bootstrap_policies.py, one per environments/*.tfvars) and its policies are
evaluated WITH their conditions by tests/iam/policy_eval.py; the escalation paths the
same policies must refuse are in tests/iam/test_escalation_paths.py. The structural
checks are pure functions over the parsed template (`list[str]` of violations), so each
one is also proven to fail on a broken copy.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hcl2
import pytest
from scripts import bootstrap_policies as bp

from tests.iam.policy_eval import ContextValue, Request, evaluate
from tests.iam.stacks import ENVIRONMENTS, World, creating, tagged

ROOT = Path(__file__).resolve().parents[2]
OIDC = "token.actions.githubusercontent.com"
OIDC_PROVIDER = f"arn:aws:iam::{bp.ACCOUNT}:oidc-provider/{OIDC}"
ROLES = ("DeployRole", "PlanRole")


def load_template() -> dict[str, Any]:
    return bp.load_template()


def resources(t: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in t["Resources"].items() if v["Type"] == rtype}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def sub_text(value: Any) -> str:
    """The template string of a !Sub (or a plain string)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        inner = value["Fn::Sub"]
        return str(inner[0] if isinstance(inner, list) else inner)
    return str(value)


# ---------------------------------------------------------------- trust


def assume(
    t: dict[str, Any], env: str, role: str, subject: str, audience: str = "sts.amazonaws.com"
) -> bool:
    """Whether a GitHub OIDC token with this `sub` may assume the role of env's stack."""
    s = bp.stack(env, t)
    request = Request(
        OIDC_PROVIDER,
        "sts:AssumeRoleWithWebIdentity",
        s.role_arn(role),
        {f"{OIDC}:aud": audience, f"{OIDC}:sub": subject},
    )
    return evaluate(request, [], resource_policy=s.trust_policy(role)).allowed


def repo(claim: str) -> str:
    return f"repo:example-org/jobs-platform:{claim}"


def check_role_trust(t: dict[str, Any]) -> list[str]:
    """Deploy role: only jobs in the GitHub environment named like the stack's environment
    (one name everywhere). Plan role: jobs on main outside any GitHub environment (drift,
    prod's plan before approval), and pull requests where the stack allows them (never
    prod). No other token: not another environment (nor prod's old name `production`),
    branch, tag, repository or audience. What the workflows need is tied to the workflows
    in tests/workflows/test_oidc_subjects.py."""
    out = []
    for env in ENVIRONMENTS:
        pull_requests = bp.EXAMPLE_STACKS[env]["PullRequestPlans"] == "true"
        expected = {
            ("DeployRole", repo(f"environment:{env}")): True,
            ("DeployRole", repo("pull_request")): False,
            ("DeployRole", repo("ref:refs/heads/main")): False,
            ("PlanRole", repo("ref:refs/heads/main")): True,
            ("PlanRole", repo("pull_request")): pull_requests,
            ("PlanRole", repo(f"environment:{env}")): False,
            ("PlanRole", repo("ref:refs/heads/feature")): False,
            ("PlanRole", repo("ref:refs/tags/v1.0.0")): False,
            ("DeployRole", f"repo:example-org/fork:environment:{env}"): False,
            ("PlanRole", "repo:example-org/fork:ref:refs/heads/main"): False,
        }
        for other in (*ENVIRONMENTS, "production"):
            if other != env:
                expected[("DeployRole", repo(f"environment:{other}"))] = False
        for (role, subject), want in expected.items():
            if assume(t, env, role, subject) != want:
                out.append(f"{env} {role}: token {subject!r} {'refused' if want else 'accepted'}")
        for role, subject in (
            ("DeployRole", repo(f"environment:{env}")),
            ("PlanRole", repo("ref:refs/heads/main")),
        ):
            if assume(t, env, role, subject, audience="sigstore"):
                out.append(f"{env} {role}: accepts another audience")
    return out


def check_prod_plan_role_never_trusts_pull_requests(t: dict[str, Any]) -> list[str]:
    """The template's rule refuses a prod stack whose plan role would trust pull requests."""
    s = bp.stack("prod", t, PullRequestPlans="true")
    return [] if s.rules_hold() else ["a prod stack may trust pull requests (no rule refuses it)"]


def check_plan_role_read_only(t: dict[str, Any]) -> list[str]:
    """The plan role writes nothing but its own state lock file."""
    out = []
    read_prefixes = ("Describe", "Get", "List", "View")
    s = bp.stack("staging", t)
    for _, doc in s.identity_policies("PlanRole"):
        for st in as_list(doc["Statement"]):
            if st["Effect"] == "Deny":
                continue
            for action in as_list(st["Action"]):
                verb = action.split(":", 1)[1]
                if verb.startswith(read_prefixes) or action == "apigateway:GET":
                    continue
                if action in ("s3:PutObject", "s3:DeleteObject") and all(
                    str(r).endswith(".tflock") for r in as_list(st["Resource"])
                ):
                    continue
                if action in ("kms:Decrypt", "kms:GenerateDataKey", "s3:ListBucket"):
                    continue
                out.append(f"PlanRole: write action {action}")
    return out


def check_plan_role_reads_no_other_secret(t: dict[str, Any]) -> list[str]:
    """The plan role never calls the reads that return a secret beyond its environment's
    names: no GetDistributionConfig at all; GetFunction, GetSecretValue, GetDistribution
    only on names or tags of its environment."""
    out = []
    s = bp.stack("staging", t)
    for _, doc in s.identity_policies("PlanRole"):
        for st in as_list(doc["Statement"]):
            if st["Effect"] != "Allow":
                continue
            actions = [a.lower() for a in as_list(st["Action"])]
            if any(a.endswith("*") for a in actions):
                out.append(f"PlanRole {st.get('Sid')}: wildcard action")
            if "cloudfront:getdistributionconfig" in actions:
                out.append("PlanRole: GetDistributionConfig")
            sensitive = {
                "lambda:getfunction",
                "secretsmanager:getsecretvalue",
                "cloudfront:getdistribution",
                "kms:decrypt",
            } & set(actions)
            scoped = (
                all(
                    "jobs-platform-staging" in r or r.endswith("/tfstate-staging")
                    for r in as_list(st["Resource"])
                )
                or (
                    st.get("Condition", {})
                    .get("StringEquals", {})
                    .get("aws:ResourceTag/environment")
                    == "staging"
                )
                or all(str(r) == s.get_att("StateKey", "Arn") for r in as_list(st["Resource"]))
            )
            if sensitive and not scoped:
                out.append(f"PlanRole {st.get('Sid')}: {sorted(sensitive)} beyond staging")
    return out


# ---------------------------------------------------------------- state bucket


def _state_bucket(t: dict[str, Any]) -> dict[str, Any]:
    return dict(t["Resources"]["StateBucket"]["Properties"])


def check_state_bucket_versioned_encrypted_private(t: dict[str, Any]) -> list[str]:
    out = []
    p = _state_bucket(t)
    if p.get("VersioningConfiguration", {}).get("Status") != "Enabled":
        out.append("state bucket is not versioned")
    rules = p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    algos = {r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules}
    if algos != {"aws:kms"}:
        out.append(f"state bucket encryption {algos}, want SSE-KMS with the state key")
    pab = p.get("PublicAccessBlockConfiguration", {})
    for key in (
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ):
        if pab.get(key) is not True:
            out.append(f"state bucket public access block: {key} is not true")
    lifecycle = p.get("LifecycleConfiguration", {}).get("Rules", [])
    if not any(
        "NoncurrentVersionExpiration" in r and r.get("Status") == "Enabled" for r in lifecycle
    ):
        out.append("state bucket has no lifecycle rule for noncurrent versions")
    if "DestinationBucketName" not in p.get("LoggingConfiguration", {}):
        out.append("state bucket has no access logging")
    return out


def check_state_bucket_denies_insecure_transport(t: dict[str, Any]) -> list[str]:
    """Evaluated: a plain-HTTP request of the deploy role itself is refused."""
    w = World.deploy(t)
    ok = w.decide("dev", "deploy", "s3:GetObject", w.state_object("dev"))
    plain = w.decide(
        "dev", "deploy", "s3:GetObject", w.state_object("dev"), {"aws:SecureTransport": "false"}
    )
    if not ok.allowed or plain.allowed:
        return ["state bucket policy does not deny non-TLS requests to the state"]
    return []


def check_checkov_skips_have_reasons(t: dict[str, Any]) -> list[str]:
    out = []
    for name, res in t["Resources"].items():
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", []):
            if len(str(skip.get("comment", "")).strip()) < 20:
                out.append(f"{name}: checkov skip {skip.get('id')} without a reason")
    return out


# ---------------------------------------------------------------- what the Terraform needs
#
# Each needed call is evaluated with the context the Terraform's request carries
# (`request_context`): the environment tag on what exists, the tags on what it creates
# (provider default_tags), the boundary on the roles it writes, the service it passes a
# role to, API Gateway as the only invoke principal.

SUB_VALUES = {"AWS::AccountId": bp.ACCOUNT, "AWS::Region": bp.REGION}
ACCOUNT, REGION = bp.ACCOUNT, bp.REGION
TF_FILES = [*sorted(ROOT.glob("*.tf")), *sorted(ROOT.glob("terraform/modules/*/*.tf"))]
NAME_ATTRIBUTES = {
    "name",
    "name_prefix",
    "function_name",
    "alarm_name",
    "dashboard_name",
    "policy_name",
}

# THE list of every named resource the Terraform creates: (file, resource address,
# attribute) -> (the name expression as python-hcl2 reads it, [(an action the deploy role
# needs, the concrete ARN for Terraform environment {env}), ...]); `{p}` is
# `jobs-platform-{env}`, `{a}`/`{r}` the account and region. test_every_terraform_name_is_listed
# fails when the Terraform gains a named resource or changes a name expression: add or
# update its entry here, then make the deploy role in bootstrap/template.yaml admit it.
FN = "arn:aws:lambda:{r}:{a}:function:{p}"
SCHEDULE = "arn:aws:scheduler:{r}:{a}:schedule/default/{p}"
ESM = "arn:aws:lambda:{r}:{a}:event-source-mapping:0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
SECRET = "arn:aws:secretsmanager:{r}:{a}:secret:{p}/edge/origin-verify-AbCdEf"
WEBACL = "arn:aws:wafv2:us-east-1:{a}:global/webacl/{p}-edge/0123-abcd"
ALARM = "arn:aws:cloudwatch:{r}:{a}:alarm:{p}"
API_LOGS = "arn:aws:logs:{r}:{a}:log-group:/aws/apigateway/{p}/access"
WAF_LOGS = "arn:aws:logs:us-east-1:{a}:log-group:aws-waf-logs-{p}"
TOPIC = "arn:aws:sns:{r}:{a}:{p}-alarms"
BUDGET = "arn:aws:budgets::{a}:budget/{p}-monthly-cost"
TERRAFORM_NAMES: dict[tuple[str, str, str], tuple[str, list[tuple[str, str]]]] = {
    ("main.tf", "aws_kms_alias.this", "name"): (
        "${local.kms_alias_name}",
        [("kms:CreateAlias", "arn:aws:kms:{r}:{a}:alias/{p}")],
    ),
    ("terraform/modules/api/main.tf", "aws_apigatewayv2_api.this", "name"): (
        "${var.name}",
        [
            ("apigateway:POST", "arn:aws:apigateway:{r}::/apis"),
            (
                "apigateway:POST",
                "arn:aws:apigateway:{r}::/tags/arn%3Aaws%3Aapigateway%3A{r}%3A%3A%2Fapis%2Fa1",
            ),
        ],
    ),
    ("terraform/modules/api/main.tf", "aws_apigatewayv2_authorizer.this", "name"): (
        "${var.name}-authorizer",
        [("apigateway:POST", "arn:aws:apigateway:{r}::/apis/a1b2c3/authorizers")],
    ),
    ("terraform/modules/api/main.tf", "aws_apigatewayv2_authorizer.origin", "name"): (
        "${var.name}-origin-authorizer",
        [("apigateway:PATCH", "arn:aws:apigateway:{r}::/apis/a1b2c3/authorizers/x1y2z3")],
    ),
    ("terraform/modules/api/main.tf", "aws_cloudwatch_log_group.access", "name"): (
        "/aws/apigateway/${var.name}/access",
        [
            ("logs:CreateLogGroup", API_LOGS),
            ("logs:PutRetentionPolicy", API_LOGS + ":*"),
            ("logs:TagResource", API_LOGS),
            # The stage's access log settings set up a log delivery (no resource-level IAM).
            ("logs:CreateLogDelivery", "*"),
        ],
    ),
    ("terraform/modules/api/main.tf", "aws_apigatewayv2_stage.this", "name"): (
        "$default",
        [("apigateway:POST", "arn:aws:apigateway:{r}::/apis/a1b2c3/stages")],
    ),
    ("terraform/modules/api/main.tf", "aws_lambda_permission.integration", "function_name"): (
        "${each.value.function_name}",
        [("lambda:AddPermission", FN + "-api")],
    ),
    ("terraform/modules/api/main.tf", "aws_lambda_permission.authorizer", "function_name"): (
        "${var.authorizer.function_name}",
        [("lambda:AddPermission", FN + "-authorizer")],
    ),
    ("terraform/modules/api/main.tf", "aws_lambda_permission.origin_authorizer", "function_name"): (
        "${var.authorizer.function_name}",
        [("lambda:RemovePermission", FN + "-authorizer")],
    ),
    ("terraform/modules/budget/main.tf", "aws_budgets_budget.this", "name"): (
        "${var.name}",
        [
            ("budgets:ModifyBudget", BUDGET),
            ("budgets:TagResource", BUDGET),
        ],
    ),
    ("terraform/modules/edge/main.tf", "aws_secretsmanager_secret.origin_verify", "name"): (
        "${var.name}/edge/origin-verify",
        [
            ("secretsmanager:CreateSecret", SECRET),
            ("secretsmanager:PutSecretValue", SECRET),
            ("secretsmanager:UpdateSecretVersionStage", SECRET),
            ("secretsmanager:GetRandomPassword", "*"),
        ],
    ),
    ("terraform/modules/edge/waf.tf", "aws_kms_alias.waf_logs", "name"): (
        "alias/${var.name}-waf-logs",
        [("kms:CreateAlias", "arn:aws:kms:us-east-1:{a}:alias/{p}-waf-logs")],
    ),
    ("terraform/modules/edge/waf.tf", "aws_cloudwatch_log_group.waf", "name"): (
        "${local.waf_log_group_name}",
        [
            ("logs:CreateLogGroup", WAF_LOGS),
            ("logs:PutRetentionPolicy", WAF_LOGS + ":*"),
            ("logs:CreateLogDelivery", "*"),
            ("logs:GetLogDelivery", "*"),
            ("logs:ListLogDeliveries", "*"),
            ("logs:DeleteLogDelivery", "*"),
        ],
    ),
    ("terraform/modules/edge/waf.tf", "aws_cloudwatch_log_resource_policy.waf", "policy_name"): (
        "${var.name}-waf-logs",
        [
            ("logs:PutResourcePolicy", "*"),
            ("logs:DescribeResourcePolicies", "*"),
            ("logs:DeleteResourcePolicy", "*"),
        ],
    ),
    ("terraform/modules/edge/waf.tf", "aws_wafv2_web_acl.this", "name"): (
        "${var.name}-edge",
        [
            ("wafv2:CreateWebACL", WEBACL),
            (
                "wafv2:CreateWebACL",
                "arn:aws:wafv2:us-east-1:{a}:global/managedruleset/AWS/AWSManagedRulesCommonRuleSet",
            ),
            ("wafv2:PutLoggingConfiguration", WEBACL),
            ("wafv2:GetLoggingConfiguration", WEBACL),
            ("wafv2:DeleteLoggingConfiguration", WEBACL),
        ],
    ),
    ("terraform/modules/function/alarms.tf", "aws_cloudwatch_metric_alarm.errors", "alarm_name"): (
        "${var.name}-errors",
        [("cloudwatch:PutMetricAlarm", ALARM + "-worker-errors")],
    ),
    (
        "terraform/modules/function/alarms.tf",
        "aws_cloudwatch_metric_alarm.throttles",
        "alarm_name",
    ): (
        "${var.name}-throttles",
        [("cloudwatch:PutMetricAlarm", ALARM + "-api-throttles")],
    ),
    (
        "terraform/modules/function/alarms.tf",
        "aws_cloudwatch_metric_alarm.duration",
        "alarm_name",
    ): (
        "${var.name}-duration-p99",
        [("cloudwatch:TagResource", ALARM + "-authorizer-duration-p99")],
    ),
    ("terraform/modules/function/main.tf", "aws_cloudwatch_log_group.this", "name"): (
        "${local.log_group_name}",
        [("logs:CreateLogGroup", "arn:aws:logs:{r}:{a}:log-group:/aws/lambda/{p}-worker")],
    ),
    ("terraform/modules/function/main.tf", "aws_iam_role.this", "name"): (
        "${var.name}",
        [
            ("iam:CreateRole", "arn:aws:iam::{a}:role/{p}-api"),
            ("iam:PassRole", "arn:aws:iam::{a}:role/{p}-api"),
        ],
    ),
    ("terraform/modules/function/main.tf", "aws_iam_role_policy.this", "name"): (
        "${var.name}-permissions",
        [("iam:PutRolePolicy", "arn:aws:iam::{a}:role/{p}-api")],
    ),
    ("terraform/modules/function/main.tf", "aws_lambda_function.this", "function_name"): (
        "${var.name}",
        [
            ("lambda:CreateFunction", FN + "-api"),
            ("lambda:GetFunctionCodeSigningConfig", FN + "-api"),
            ("lambda:PutFunctionConcurrency", FN + "-worker"),
        ],
    ),
    ("terraform/modules/function/schedule.tf", "aws_iam_role.schedule", "name"): (
        "${var.name}-schedule",
        [
            ("iam:CreateRole", "arn:aws:iam::{a}:role/{p}-bookkeeper-schedule"),
            ("iam:PassRole", "arn:aws:iam::{a}:role/{p}-bookkeeper-schedule"),
        ],
    ),
    ("terraform/modules/function/schedule.tf", "aws_iam_role_policy.schedule", "name"): (
        "${var.name}-schedule",
        [("iam:PutRolePolicy", "arn:aws:iam::{a}:role/{p}-bookkeeper-schedule")],
    ),
    ("terraform/modules/function/schedule.tf", "aws_scheduler_schedule.this", "name"): (
        "${var.name}",
        [
            ("scheduler:CreateSchedule", SCHEDULE + "-bookkeeper"),
            ("scheduler:GetSchedule", SCHEDULE + "-bookkeeper"),
            ("scheduler:UpdateSchedule", SCHEDULE + "-bookkeeper"),
            ("scheduler:DeleteSchedule", SCHEDULE + "-bookkeeper"),
        ],
    ),
    (
        "terraform/modules/function/main.tf",
        "aws_lambda_event_source_mapping.sqs",
        "function_name",
    ): (
        "${aws_lambda_function.this.arn}",
        [
            # No name: creation is scoped by lambda:FunctionArn (a condition), the rest by ARN.
            ("lambda:CreateEventSourceMapping", "*"),
            ("lambda:GetEventSourceMapping", ESM),
            ("lambda:UpdateEventSourceMapping", ESM),
            ("lambda:DeleteEventSourceMapping", ESM),
            ("lambda:TagResource", ESM),
            ("lambda:ListTags", ESM),
        ],
    ),
    (
        "terraform/modules/monitoring/alarms.tf",
        "aws_cloudwatch_metric_alarm.api_5xx_rate",
        "alarm_name",
    ): (
        "${var.name}-api-5xx-rate",
        [("cloudwatch:PutMetricAlarm", ALARM + "-api-5xx-rate")],
    ),
    (
        "terraform/modules/monitoring/alarms.tf",
        "aws_cloudwatch_metric_alarm.api_latency_p99",
        "alarm_name",
    ): (
        "${var.name}-api-latency-p99",
        [("cloudwatch:DeleteAlarms", ALARM + "-api-latency-p99")],
    ),
    (
        "terraform/modules/monitoring/alarms.tf",
        "aws_cloudwatch_metric_alarm.pipe_failures",
        "alarm_name",
    ): (
        "${var.pipe_name}-failures",
        [("cloudwatch:PutMetricAlarm", ALARM + "-outbox-failures")],
    ),
    (
        "terraform/modules/monitoring/alarms.tf",
        "aws_cloudwatch_metric_alarm.jobs_failure_rate",
        "alarm_name",
    ): (
        "${var.name}-jobs-failure-rate",
        [("cloudwatch:PutMetricAlarm", ALARM + "-jobs-failure-rate")],
    ),
    (
        "terraform/modules/monitoring/alarms.tf",
        "aws_cloudwatch_metric_alarm.jobs_submit_to_terminal_p99",
        "alarm_name",
    ): (
        "${var.name}-jobs-submit-to-terminal-p99",
        [("cloudwatch:DeleteAlarms", ALARM + "-jobs-submit-to-terminal-p99")],
    ),
    (
        "terraform/modules/monitoring/dashboard.tf",
        "aws_cloudwatch_dashboard.this",
        "dashboard_name",
    ): (
        "${var.name}",
        [
            ("cloudwatch:PutDashboard", "arn:aws:cloudwatch::{a}:dashboard/{p}"),
            ("cloudwatch:GetDashboard", "arn:aws:cloudwatch::{a}:dashboard/{p}"),
            ("cloudwatch:DeleteDashboards", "arn:aws:cloudwatch::{a}:dashboard/{p}"),
            ("cloudwatch:ListDashboards", "*"),
        ],
    ),
    ("terraform/modules/monitoring/main.tf", "aws_sns_topic.alarms", "name"): (
        "${var.sns_topic_name}",
        [
            ("sns:CreateTopic", TOPIC),
            ("sns:SetTopicAttributes", TOPIC),
            ("sns:GetTopicAttributes", TOPIC),
            ("sns:TagResource", TOPIC),
            ("sns:ListTagsForResource", TOPIC),
            ("sns:Subscribe", TOPIC),
            ("sns:ListSubscriptionsByTopic", TOPIC),
            ("sns:Unsubscribe", "*"),
            ("sns:GetSubscriptionAttributes", "*"),
        ],
    ),
    ("terraform/modules/outbox/main.tf", "aws_iam_role.this", "name"): (
        "${var.name}-pipe",
        [
            ("iam:CreateRole", "arn:aws:iam::{a}:role/{p}-outbox-pipe"),
            ("iam:PassRole", "arn:aws:iam::{a}:role/{p}-outbox-pipe"),
        ],
    ),
    ("terraform/modules/outbox/main.tf", "aws_iam_role_policy.this", "name"): (
        "${var.name}-pipe",
        [("iam:PutRolePolicy", "arn:aws:iam::{a}:role/{p}-outbox-pipe")],
    ),
    ("terraform/modules/outbox/main.tf", "aws_pipes_pipe.this", "name"): (
        "${var.name}",
        [
            ("pipes:CreatePipe", "arn:aws:pipes:{r}:{a}:pipe/{p}-outbox"),
            ("pipes:TagResource", "arn:aws:pipes:{r}:{a}:pipe/{p}-outbox"),
            ("pipes:ListTagsForResource", "arn:aws:pipes:{r}:{a}:pipe/{p}-outbox"),
        ],
    ),
    (
        "terraform/modules/queue/alarms.tf",
        "aws_cloudwatch_metric_alarm.age_of_oldest_message",
        "alarm_name",
    ): (
        "${var.name}-age-of-oldest-message",
        [("cloudwatch:PutMetricAlarm", ALARM + "-jobs-age-of-oldest-message")],
    ),
    (
        "terraform/modules/queue/alarms.tf",
        "aws_cloudwatch_metric_alarm.dlq_visible_messages",
        "alarm_name",
    ): (
        "${local.dlq_name}-visible-messages",
        [("cloudwatch:PutMetricAlarm", ALARM + "-jobs-dlq-visible-messages")],
    ),
    ("terraform/modules/queue/main.tf", "aws_sqs_queue.dlq", "name"): (
        "${local.dlq_name}",
        [("sqs:CreateQueue", "arn:aws:sqs:{r}:{a}:{p}-jobs-dlq")],
    ),
    ("terraform/modules/queue/main.tf", "aws_sqs_queue.this", "name"): (
        "${var.name}",
        [("sqs:CreateQueue", "arn:aws:sqs:{r}:{a}:{p}-jobs")],
    ),
    ("terraform/modules/table/alarms.tf", "aws_cloudwatch_metric_alarm.this", "alarm_name"): (
        "${var.name}-${each.key}",
        [("cloudwatch:PutMetricAlarm", ALARM + "-jobs-throttled-requests")],
    ),
    ("terraform/modules/table/main.tf", "aws_dynamodb_table.this", "name"): (
        "${var.name}",
        [
            ("dynamodb:CreateTable", "arn:aws:dynamodb:{r}:{a}:table/{p}-api-keys"),
            ("dynamodb:DescribeTable", "arn:aws:dynamodb:{r}:{a}:table/{p}-jobs"),
        ],
    ),
}

# Unnamed resources (generated ids): this environment's only by their tag.
KEY = "arn:aws:kms:{r}:{a}:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
DISTRIBUTION = "arn:aws:cloudfront::{a}:distribution/E2ABCDEF"
DEPLOY_UNNAMED: list[tuple[str, str]] = [
    ("kms:CreateKey", "*"),
    ("kms:TagResource", KEY),
    ("kms:ListAliases", "*"),
    ("kms:Decrypt", KEY),
    ("kms:PutKeyPolicy", KEY),
    ("kms:CreateGrant", KEY),
    ("cloudfront:CreateDistribution", DISTRIBUTION),
    ("cloudfront:TagResource", DISTRIBUTION),
    ("cloudfront:GetDistribution", DISTRIBUTION),
    ("cloudfront:UpdateDistribution", DISTRIBUTION),
    ("cloudfront:ListTagsForResource", DISTRIBUTION),
]

# What `terraform plan` (refresh + data sources) of {env} needs from its plan role.
PLAN_NEEDS: list[tuple[str, str]] = [
    ("secretsmanager:GetRandomPassword", "*"),
    ("secretsmanager:GetSecretValue", SECRET),
    ("secretsmanager:DescribeSecret", SECRET),
    ("kms:Decrypt", KEY),
    ("kms:DescribeKey", KEY),
    ("logs:DescribeResourcePolicies", "*"),
    ("logs:DescribeLogGroups", "*"),
    ("cloudwatch:GetDashboard", "arn:aws:cloudwatch::{a}:dashboard/{p}"),
    ("cloudwatch:DescribeAlarms", ALARM + "-api-5xx-rate"),
    ("wafv2:GetLoggingConfiguration", WEBACL),
    ("sns:GetTopicAttributes", TOPIC),
    ("sns:GetSubscriptionAttributes", "*"),
    ("budgets:ViewBudget", BUDGET),
    ("pipes:DescribePipe", "arn:aws:pipes:{r}:{a}:pipe/{p}-outbox"),
    ("scheduler:GetSchedule", SCHEDULE + "-bookkeeper"),
    ("lambda:GetEventSourceMapping", ESM),
    ("lambda:GetFunction", FN + "-api"),
    ("iam:GetRole", "arn:aws:iam::{a}:role/{p}-api"),
    ("iam:GetRolePolicy", "arn:aws:iam::{a}:role/{p}-api"),
    ("dynamodb:DescribeTable", "arn:aws:dynamodb:{r}:{a}:table/{p}-jobs"),
    ("dynamodb:DescribeContinuousBackups", "arn:aws:dynamodb:{r}:{a}:table/{p}-jobs"),
    ("apigateway:GET", "arn:aws:apigateway:{r}::/apis/a1b2c3"),
    ("apigateway:GET", "arn:aws:apigateway:{r}::/apis/a1b2c3/routes/r1"),
    ("cloudfront:GetDistribution", DISTRIBUTION),
]

# Creates: the new resource's tags are in the request (nothing to carry a tag yet).
CREATES = {
    ("kms:CreateKey", "*"),
    ("kms:TagResource", KEY),
    ("cloudfront:CreateDistribution", DISTRIBUTION),
    ("cloudfront:TagResource", DISTRIBUTION),
    ("apigateway:POST", "arn:aws:apigateway:{r}::/apis"),
}
ROLE_WRITES = {
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:PutRolePermissionsBoundary",
}
TAG_WRITES = re.compile(r":(Tag|Untag)(Resource|Role|Queue|LogGroup)$")


def request_context(world: World, env: str, action: str, template: str) -> dict[str, ContextValue]:
    """What the Terraform's request for `action` on `template` carries (see above)."""
    if (action, template) in CREATES:
        return creating(env)
    ctx: dict[str, ContextValue] = dict(tagged(env))
    if action in ROLE_WRITES:
        ctx["iam:PermissionsBoundary"] = world.boundary_arn(env)
    if action == "iam:PassRole":
        service = (
            "pipes"
            if template.endswith("-outbox-pipe")
            else "scheduler"
            if template.endswith("-schedule")
            else "lambda"
        )
        ctx["iam:PassedToService"] = f"{service}.amazonaws.com"
    if action == "lambda:AddPermission":
        ctx["lambda:Principal"] = "apigateway.amazonaws.com"
    if action.startswith("lambda:") and "EventSourceMapping" in action:
        ctx["lambda:FunctionArn"] = _concrete(FN + "-worker", env)
    if action == "kms:CreateGrant":
        ctx["kms:GrantIsForAWSResource"] = "true"
    if TAG_WRITES.search(action) or (action == "apigateway:POST" and "/tags/" in template):
        # A later tag change (an owner renamed): never the environment tag.
        ctx.update({"aws:RequestTag/owner": "platform", "aws:TagKeys": ["owner"]})
    return ctx


def terraform_names() -> dict[tuple[str, str, str], str]:
    """Every name-like attribute of every resource block in the root module and modules."""
    found = {}
    for path in TF_FILES:
        with path.open(encoding="utf-8") as handle:
            doc = hcl2.load(handle)
        for block in doc.get("resource", []):
            for rtype, instances in block.items():
                for rname, body in instances.items():
                    for attr, value in body.items():
                        if attr in NAME_ATTRIBUTES:
                            found[(str(path.relative_to(ROOT)), f"{rtype}.{rname}", attr)] = value
    return found


def _concrete(template: str, env: str) -> str:
    return template.format(p=f"jobs-platform-{env}", a=ACCOUNT, r=REGION)


def _state_needs(
    world: World, env: str, who: str
) -> list[tuple[str, str, dict[str, ContextValue]]]:
    bucket = world.stacks[env].get_att("StateBucket", "Arn")
    prefix = {"s3:prefix": f"jobs-platform/{env}/"}
    needs = [
        ("s3:ListBucket", bucket, prefix),
        ("s3:GetObject", world.state_object(env), {}),
        ("s3:PutObject", world.state_object(env, "terraform.tfstate.tflock"), {}),
        ("s3:DeleteObject", world.state_object(env, "terraform.tfstate.tflock"), {}),
        ("kms:Decrypt", world.state_key(env), {}),
        ("kms:GenerateDataKey", world.state_key(env), {}),
    ]
    if who == "deploy":
        needs += [
            ("s3:PutObject", world.state_object(env), {}),
            ("kms:Encrypt", world.state_key(env), {}),
        ]
    return needs


def check_deploy_role_manages_every_terraform_name(t: dict[str, Any]) -> list[str]:
    """Each environment's deploy role may make every call its Terraform makes."""
    out = []
    world = World.deploy(t)
    needs = [n for _, ns in TERRAFORM_NAMES.values() for n in ns] + DEPLOY_UNNAMED
    for env in ENVIRONMENTS:
        for action, template in needs:
            arn = _concrete(template, env)
            decision = world.decide(
                env, "deploy", action, arn, request_context(world, env, action, template)
            )
            if not decision.allowed:
                out.append(f"{env} deploy: {action} on {arn}: {decision}")
        for action, arn, ctx in _state_needs(world, env, "deploy"):
            decision = world.decide(env, "deploy", action, arn, ctx)
            if not decision.allowed:
                out.append(f"{env} deploy: {action} on {arn}: {decision}")
    return out


def check_plan_role_can_plan(t: dict[str, Any]) -> list[str]:
    """Each plan role can refresh its environment and read the plan-time data sources."""
    out = []
    world = World.deploy(t)
    for env in ENVIRONMENTS:
        for action, template in PLAN_NEEDS:
            arn = _concrete(template, env)
            decision = world.decide(
                env, "plan", action, arn, request_context(world, env, action, template)
            )
            if not decision.allowed:
                out.append(f"{env} plan: {action} on {arn}: {decision}")
        for action, arn, ctx in _state_needs(world, env, "plan"):
            decision = world.decide(env, "plan", action, arn, ctx)
            if not decision.allowed:
                out.append(f"{env} plan: {action} on {arn}: {decision}")
    return out


def check_break_glass_role_reaches_the_state(t: dict[str, Any]) -> list[str]:
    world = World.deploy(t)
    out = []
    for action, resource in (
        ("s3:GetObject", world.state_object("prod")),
        ("kms:Decrypt", world.state_key("prod")),
    ):
        if not world.decide("prod", "breakglass", action, resource).allowed:
            out.append(f"break-glass role: {action} on the prod state refused")
    return out


# IAM quotas (characters, whitespace not counted): a role's inline policies together
# 10,240; one managed policy 6,144; 10 managed policies per role.
INLINE_LIMIT, MANAGED_LIMIT, MANAGED_PER_ROLE = 10_240, 6_144, 10


def _policy_size(doc: dict[str, Any]) -> int:
    return len(re.sub(r"\s", "", json.dumps(doc, separators=(",", ":"))))


def check_policy_sizes(t: dict[str, Any]) -> list[str]:
    out = []
    s = bp.stack("staging", t)  # the longest environment name of the examples
    for name in resources(t, "AWS::IAM::Role"):
        props = s.resource(name)
        size = sum(_policy_size(p["PolicyDocument"]) for p in props.get("Policies", []))
        if size > INLINE_LIMIT:
            out.append(f"{name}: inline policies {size} > {INLINE_LIMIT} characters")
        if len(props.get("ManagedPolicyArns", [])) > MANAGED_PER_ROLE:
            out.append(f"{name}: more than {MANAGED_PER_ROLE} managed policies")
    for name in resources(t, "AWS::IAM::ManagedPolicy"):
        size = _policy_size(s.managed_policy(name))
        if size > MANAGED_LIMIT:
            out.append(f"{name}: {size} > {MANAGED_LIMIT} characters")
    return out


CHECKS: list[Callable[[dict[str, Any]], list[str]]] = [
    check_role_trust,
    check_prod_plan_role_never_trusts_pull_requests,
    check_plan_role_read_only,
    check_plan_role_reads_no_other_secret,
    check_state_bucket_versioned_encrypted_private,
    check_state_bucket_denies_insecure_transport,
    check_checkov_skips_have_reasons,
    check_deploy_role_manages_every_terraform_name,
    check_plan_role_can_plan,
    check_break_glass_role_reaches_the_state,
    check_policy_sizes,
]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.mark.parametrize("check", CHECKS, ids=lambda f: f.__name__)
def test_template_holds(
    template: dict[str, Any], check: Callable[[dict[str, Any]], list[str]]
) -> None:
    assert check(template) == []


def test_one_deploy_role_and_one_plan_role(template: dict[str, Any]) -> None:
    assert set(resources(template, "AWS::IAM::Role")) == set(ROLES)


def test_outputs_name_the_bucket_roles_and_boundary(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["StateBucketName"]["Value"] == {"Ref": "StateBucket"}
    assert outputs["DeployRoleArn"]["Value"] == {"Fn::GetAtt": ["DeployRole", "Arn"]}
    assert outputs["PlanRoleArn"]["Value"] == {"Fn::GetAtt": ["PlanRole", "Arn"]}
    assert outputs["PermissionsBoundaryArn"]["Value"] == {"Ref": "PermissionsBoundary"}


def test_state_policies_name_the_roles_this_stack_creates(template: dict[str, Any]) -> None:
    """The bucket and key policies spell the roles' ARNs out (a GetAtt would be a cycle
    for the key): they must be exactly the ARNs CloudFormation gives the roles."""
    for env in ENVIRONMENTS:
        s = bp.stack(env, template)
        want = sorted(
            [s.role_arn("DeployRole"), s.role_arn("PlanRole"), bp.COMMON["BreakGlassRoleArn"]]
        )
        bucket = s.bucket_policy("StateBucket")["Statement"]
        deny = next(
            st for st in bucket if st["Sid"] == "DenyStateAccessToAllButThisEnvironmentsRoles"
        )
        assert sorted(deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]) == want
        key = next(
            st for st in s.key_policy("StateKey")["Statement"] if st["Sid"] == "StateRolesUseTheKey"
        )
        assert sorted(key["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == want


def test_without_a_break_glass_role_only_the_stack_roles_reach_the_state(
    template: dict[str, Any],
) -> None:
    world = World.deploy(template, BreakGlassRoleArn="")
    assert world.decide("prod", "deploy", "s3:GetObject", world.state_object("prod")).allowed
    assert not world.decide(
        "prod", "breakglass", "s3:GetObject", world.state_object("prod")
    ).allowed


def test_names_fit_the_limits() -> None:
    """The longest project and environment names the parameters allow still give valid
    bucket names (63 characters)."""
    t = load_template()
    project_max = (
        int(re.search(r"\{1,(\d+)\}", t["Parameters"]["ProjectName"]["AllowedPattern"]).group(1))
        + 2
    )
    env_max = (
        int(re.search(r"\{1,(\d+)\}", t["Parameters"]["Environment"]["AllowedPattern"]).group(1))
        + 1
    )
    s = bp.stack("dev", t, ProjectName="p" * project_max, Environment="e" * env_max)
    for bucket in ("StateBucket", "AccessLogBucket"):
        assert len(s.ref(bucket)) <= 63, s.ref(bucket)


def test_every_terraform_name_is_listed() -> None:
    """TERRAFORM_NAMES is the Terraform's named resources, expression for expression."""
    assert terraform_names() == {k: expr for k, (expr, _) in TERRAFORM_NAMES.items()}


def test_oidc_provider_is_github_with_sts_audience(template: dict[str, Any]) -> None:
    props = template["Resources"]["GitHubOIDCProvider"]["Properties"]
    assert props["Url"] == f"https://{OIDC}"
    assert props["ClientIdList"] == ["sts.amazonaws.com"]
    assert props["ThumbprintList"] == {"Ref": "OIDCThumbprints"}


# ---------------------------------------------------------------- mutation tests


def _trust(t: dict[str, Any], role: str) -> dict[str, Any]:
    st: dict[str, Any] = t["Resources"][role]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ][0]
    return st


def _wildcard_sub(t: dict[str, Any]) -> None:
    cond = _trust(t, "DeployRole")["Condition"]
    cond["StringLike"] = {f"{OIDC}:sub": {"Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:*"}}
    cond["StringEquals"].pop(f"{OIDC}:sub")


def _plan_trusts_pull_requests_everywhere(t: dict[str, Any]) -> None:
    _trust(t, "PlanRole")["Condition"]["StringEquals"][f"{OIDC}:sub"] = [
        {"Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:ref:refs/heads/main"},
        {"Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:pull_request"},
    ]


def _plan_trusts_only_pull_requests(t: dict[str, Any]) -> None:
    # The template before the reviewed prod plan: prod's plan and drift could not run.
    _trust(t, "PlanRole")["Condition"]["StringEquals"][f"{OIDC}:sub"] = {
        "Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:pull_request"
    }


def _plan_trusts_any_branch(t: dict[str, Any]) -> None:
    cond = _trust(t, "PlanRole")["Condition"]
    cond["StringLike"] = {f"{OIDC}:sub": {"Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:ref:*"}}
    cond["StringEquals"].pop(f"{OIDC}:sub")


def _deploy_trusts_main(t: dict[str, Any]) -> None:
    cond = _trust(t, "DeployRole")["Condition"]["StringEquals"]
    cond[f"{OIDC}:sub"] = [
        cond[f"{OIDC}:sub"],
        {"Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:ref:refs/heads/main"},
    ]


def _deploy_trusts_old_prod_name(t: dict[str, Any]) -> None:
    cond = _trust(t, "DeployRole")["Condition"]["StringEquals"]
    cond[f"{OIDC}:sub"] = {"Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:environment:production"}


def _drop_aud(t: dict[str, Any]) -> None:
    _trust(t, "DeployRole")["Condition"]["StringEquals"].pop(f"{OIDC}:aud")


def _drop_prod_rule(t: dict[str, Any]) -> None:
    t.pop("Rules")


def _statement(t: dict[str, Any], resource: str, sid: str) -> dict[str, Any]:
    props = t["Resources"][resource]["Properties"]
    docs = [p["PolicyDocument"] for p in props.get("Policies", [])] or [props["PolicyDocument"]]
    return next(s for d in docs for s in d["Statement"] if s.get("Sid") == sid)


def _plan_role_writes(t: dict[str, Any]) -> None:
    _statement(t, "PlanDescribePolicy", "DescribeByName")["Action"].append(
        "lambda:UpdateFunctionCode"
    )


def _plan_reads_distribution_config(t: dict[str, Any]) -> None:
    _statement(t, "PlanDescribePolicy", "DescribeByTag")["Action"].append(
        "cloudfront:GetDistributionConfig"
    )


def _plan_reads_any_secret(t: dict[str, Any]) -> None:
    t["Resources"]["PlanDescribePolicy"]["Properties"]["PolicyDocument"]["Statement"].append(
        {
            "Sid": "AnySecret",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
        }
    )


def _bucket(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda t: edit(t["Resources"]["StateBucket"]["Properties"])


def _drop_tls_deny(t: dict[str, Any]) -> None:
    doc = t["Resources"]["StateBucketPolicy"]["Properties"]["PolicyDocument"]
    doc["Statement"] = [s for s in doc["Statement"] if s["Sid"] != "DenyInsecureTransport"]


def _skip_without_reason(t: dict[str, Any]) -> None:
    t["Resources"]["AccessLogBucket"]["Metadata"]["checkov"]["skip"][0]["comment"] = ""


def _dashboard_pattern_needs_a_dash(t: dict[str, Any]) -> None:
    # The original bug: `<project>-<env>-*` does not admit the dashboard `<project>-<env>`.
    dashboards = "arn:${AWS::Partition}:cloudwatch::${AWS::AccountId}:dashboard"
    _statement(t, "DeployEdgePolicy", "DashboardsOfThisEnvironment")["Resource"] = {
        "Fn::Sub": dashboards + "/${ProjectName}-${Environment}-*"
    }


def _api_create_needs_an_existing_tag(t: dict[str, Any]) -> None:
    st = _statement(t, "DeployEdgePolicy", "HttpApisCreateTaggedForThisEnvironment")
    st["Condition"] = {"StringEquals": {"aws:ResourceTag/environment": {"Ref": "Environment"}}}


def _drop_random_password(t: dict[str, Any]) -> None:
    st = _statement(t, "PlanDescribePolicy", "NoResourceLevelPermissions")
    st["Action"].remove("secretsmanager:GetRandomPassword")


def _break_glass_dropped_from_bucket_policy(t: dict[str, Any]) -> None:
    st = _statement(t, "StateBucketPolicy", "DenyStateAccessToAllButThisEnvironmentsRoles")
    st["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] = st["Condition"]["ArnNotEquals"][
        "aws:PrincipalArn"
    ]["Fn::If"][2]


def _oversized_managed_policy(t: dict[str, Any]) -> None:
    st = _statement(t, "DeployEdgePolicy", "HttpApisTaggedForThisEnvironment")
    st["Action"] = [f"apigateway:Verb{i:04d}" for i in range(400)]


MUTATIONS = [
    ("wildcard-sub", check_role_trust, _wildcard_sub),
    (
        "prod-plan-role-trusts-pull-requests",
        check_role_trust,
        _plan_trusts_pull_requests_everywhere,
    ),
    ("plan-role-not-from-main", check_role_trust, _plan_trusts_only_pull_requests),
    ("plan-role-from-any-branch", check_role_trust, _plan_trusts_any_branch),
    ("deploy-role-from-main", check_role_trust, _deploy_trusts_main),
    ("deploy-role-old-prod-name", check_role_trust, _deploy_trusts_old_prod_name),
    ("no-aud", check_role_trust, _drop_aud),
    ("no-prod-rule", check_prod_plan_role_never_trusts_pull_requests, _drop_prod_rule),
    ("plan-role-writes", check_plan_role_read_only, _plan_role_writes),
    (
        "plan-reads-distribution-config",
        check_plan_role_reads_no_other_secret,
        _plan_reads_distribution_config,
    ),
    ("plan-reads-any-secret", check_plan_role_reads_no_other_secret, _plan_reads_any_secret),
    (
        "unversioned",
        check_state_bucket_versioned_encrypted_private,
        _bucket(lambda p: p["VersioningConfiguration"].update(Status="Suspended")),
    ),
    (
        "unencrypted",
        check_state_bucket_versioned_encrypted_private,
        _bucket(lambda p: p.pop("BucketEncryption")),
    ),
    (
        "public-policy-allowed",
        check_state_bucket_versioned_encrypted_private,
        _bucket(lambda p: p["PublicAccessBlockConfiguration"].update(BlockPublicPolicy=False)),
    ),
    (
        "no-lifecycle",
        check_state_bucket_versioned_encrypted_private,
        _bucket(lambda p: p.pop("LifecycleConfiguration")),
    ),
    ("no-tls-deny", check_state_bucket_denies_insecure_transport, _drop_tls_deny),
    ("skip-without-reason", check_checkov_skips_have_reasons, _skip_without_reason),
    (
        "dashboard-pattern-needs-dash",
        check_deploy_role_manages_every_terraform_name,
        _dashboard_pattern_needs_a_dash,
    ),
    (
        "api-create-needs-existing-tag",
        check_deploy_role_manages_every_terraform_name,
        _api_create_needs_an_existing_tag,
    ),
    ("plan-role-no-random-password", check_plan_role_can_plan, _drop_random_password),
    (
        "break-glass-not-in-bucket-policy",
        check_break_glass_role_reaches_the_state,
        _break_glass_dropped_from_bucket_policy,
    ),
    ("managed-policy-too-big", check_policy_sizes, _oversized_managed_policy),
]


@pytest.mark.parametrize(("check", "mutate"), [pytest.param(c, m, id=i) for i, c, m in MUTATIONS])
def test_check_catches_broken_template(
    template: dict[str, Any],
    check: Callable[[dict[str, Any]], list[str]],
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    broken = copy.deepcopy(template)
    mutate(broken)
    assert check(broken) != []


def test_every_check_has_a_mutation_test() -> None:
    assert set(CHECKS) <= {c for _, c, _ in MUTATIONS}
