"""Security properties of bootstrap/template.yaml (CloudFormation).

The checks are pure functions over the parsed template (``list[str]`` of violations), so
the tests also prove each one fails on a broken copy. CloudFormation short tags (!Ref,
!Sub, !GetAtt, ...) are parsed into their long form ({"Ref": ...}, {"Fn::Sub": ...}).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "bootstrap" / "template.yaml"
OIDC = "token.actions.githubusercontent.com"
DEPLOY_ENVIRONMENTS = {"dev", "staging", "production"}
# GitHub environment -> Terraform environment of each deploy role; the PR plan roles.
DEPLOY_ROLES = {
    "DeployRoleDev": "dev",
    "DeployRoleStaging": "staging",
    "DeployRoleProduction": "prod",
}
PLAN_ROLES = {"PlanRoleStaging": "staging"}


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form intrinsic functions."""


def _construct_intrinsic(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}")
    key = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    return {key: value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)  # type: ignore[no-untyped-call]


def load_template() -> dict[str, Any]:
    doc = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    assert isinstance(doc, dict)
    return doc


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


# ---------------------------------------------------------------- checks


def _trust_violations(name: str, role: dict[str, Any], want_sub: str) -> list[str]:
    out = []
    stmts = as_list(role["Properties"]["AssumeRolePolicyDocument"]["Statement"])
    if len(stmts) != 1:
        out.append(f"{name}: {len(stmts)} trust statements, want exactly 1")
    for st in stmts:
        if st.get("Effect") != "Allow" or st.get("Action") != "sts:AssumeRoleWithWebIdentity":
            out.append(f"{name}: trust statement is not an AssumeRoleWithWebIdentity allow")
        if set(st.get("Principal", {})) != {"Federated"}:
            out.append(f"{name}: principal is not only the OIDC provider")
        cond = st.get("Condition", {})
        if set(cond) != {"StringEquals"}:
            out.append(f"{name}: trust conditions {sorted(cond)}, want only StringEquals")
        eq = cond.get("StringEquals", {})
        if eq.get(f"{OIDC}:aud") != "sts.amazonaws.com":
            out.append(f"{name}: aud is not sts.amazonaws.com")
        sub = sub_text(eq.get(f"{OIDC}:sub"))
        if sub != want_sub:
            out.append(f"{name}: sub {sub!r}, want {want_sub!r}")
        if "*" in sub:
            out.append(f"{name}: wildcard in sub")
    return out


def check_deploy_role_trust(t: dict[str, Any]) -> list[str]:
    """One deploy role per GitHub environment, each assumable only by that environment."""
    out = []
    seen = set()
    for name, role in resources(t, "AWS::IAM::Role").items():
        if not name.startswith("DeployRole"):
            continue
        role_name = sub_text(role["Properties"].get("RoleName"))
        env = role_name.rsplit("-", 1)[-1]
        seen.add(env)
        out += _trust_violations(
            name, role, f"repo:${{GitHubOrg}}/${{GitHubRepo}}:environment:{env}"
        )
    if seen != DEPLOY_ENVIRONMENTS:
        out.append(f"deploy roles for {sorted(seen)}, want {sorted(DEPLOY_ENVIRONMENTS)}")
    return out


def check_plan_roles_read_only(t: dict[str, Any]) -> list[str]:
    """Plan roles trust pull requests only and write nothing but their state lock file."""
    out = []
    read_prefixes = ("Describe", "Get", "List", "View")
    plan_roles = {
        n: r for n, r in resources(t, "AWS::IAM::Role").items() if n.startswith("PlanRole")
    }
    if not plan_roles:
        out.append("no plan roles")
    for name, role in plan_roles.items():
        out += _trust_violations(name, role, "repo:${GitHubOrg}/${GitHubRepo}:pull_request")
        for policy in role["Properties"].get("Policies", []):
            for st in as_list(policy["PolicyDocument"]["Statement"]):
                for action in as_list(st["Action"]):
                    verb = action.split(":", 1)[1]
                    if verb.startswith(read_prefixes) or action == "apigateway:GET":
                        continue
                    if action in ("s3:PutObject", "s3:DeleteObject") and all(
                        sub_text(r).endswith(".tflock") for r in as_list(st["Resource"])
                    ):
                        continue
                    if action in ("kms:Decrypt", "kms:GenerateDataKey", "s3:ListBucket"):
                        continue
                    out.append(f"{name}: write action {action}")
    return out


def _state_bucket(t: dict[str, Any]) -> dict[str, Any]:
    return dict(t["Resources"]["StateBucket"]["Properties"])


def check_state_bucket_versioned_encrypted_private(t: dict[str, Any]) -> list[str]:
    out = []
    p = _state_bucket(t)
    if p.get("VersioningConfiguration", {}).get("Status") != "Enabled":
        out.append("state bucket is not versioned")
    rules = p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    algos = {r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules}
    if not algos or not algos <= {"aws:kms", "AES256", "aws:kms:dsse"}:
        out.append(f"state bucket encryption {algos}")
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
    policies = [
        r
        for r in resources(t, "AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": "StateBucket"}
    ]
    for policy in policies:
        for st in as_list(policy["Properties"]["PolicyDocument"]["Statement"]):
            cond = st.get("Condition", {}).get("Bool", {})
            targets = [sub_text(r) if "Fn::Sub" in r else r for r in as_list(st.get("Resource"))]
            if (
                st.get("Effect") == "Deny"
                and st.get("Principal") == "*"
                and "s3:*" in as_list(st.get("Action"))
                and str(cond.get("aws:SecureTransport")).lower() == "false"
                and {"Fn::GetAtt": ["StateBucket", "Arn"]} in targets
                and "${StateBucket.Arn}/*" in targets
            ):
                return []
    return ["state bucket policy does not deny non-TLS requests to the bucket and its objects"]


def check_checkov_skips_have_reasons(t: dict[str, Any]) -> list[str]:
    out = []
    for name, res in t["Resources"].items():
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", []):
            if len(str(skip.get("comment", "")).strip()) < 20:
                out.append(f"{name}: checkov skip {skip.get('id')} without a reason")
    return out


# ---------------------------------------------------------------- what the Terraform needs
#
# The roles' IAM statements are evaluated here the way IAM matches them: Action and
# Resource patterns with `*`/`?` wildcards (fnmatch, actions case-insensitive), !Sub
# resolved with the values below. Conditions are ignored (tag and FunctionArn conditions
# narrow a statement further; the names below are what the patterns must admit).

SUB_VALUES = {
    "ProjectName": "jobs-platform",
    "AWS::AccountId": "123456789012",
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
    "StateBucket.Arn": "arn:aws:s3:::jobs-platform-tfstate-123456789012-us-east-1",
    "StateKey.Arn": "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
}
ACCOUNT, REGION = SUB_VALUES["AWS::AccountId"], SUB_VALUES["AWS::Region"]
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
# update its entry here, then make the deploy roles in bootstrap/template.yaml admit it.
FN = "arn:aws:lambda:{r}:{a}:function:{p}"
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
            ("sns:Unsubscribe", TOPIC + ":0a1b2c3d-0000-1111-2222-333344445555"),
            ("sns:GetSubscriptionAttributes", TOPIC + ":0a1b2c3d-0000-1111-2222-333344445555"),
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

# Unnamed resources (generated ids: scoped by tag conditions, ignored here) the deploy
# roles must still be able to create.
DEPLOY_UNNAMED: list[tuple[str, str]] = [
    ("kms:CreateKey", "*"),
    ("kms:ListAliases", "*"),
    ("kms:Decrypt", "arn:aws:kms:{r}:{a}:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
    ("kms:CreateGrant", "arn:aws:kms:{r}:{a}:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
    ("cloudfront:CreateDistribution", "arn:aws:cloudfront::{a}:distribution/E2ABCDEF"),
    ("cloudfront:UpdateDistribution", "arn:aws:cloudfront::{a}:distribution/E2ABCDEF"),
]

# What `terraform plan` (refresh + data sources) of {env} needs from a PR plan role.
PLAN_NEEDS: list[tuple[str, str]] = [
    ("secretsmanager:GetRandomPassword", "*"),
    ("secretsmanager:GetSecretValue", SECRET),
    ("secretsmanager:DescribeSecret", SECRET),
    ("kms:Decrypt", "arn:aws:kms:{r}:{a}:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
    ("logs:DescribeResourcePolicies", "*"),
    ("logs:DescribeLogGroups", WAF_LOGS),
    ("cloudwatch:GetDashboard", "arn:aws:cloudwatch::{a}:dashboard/{p}"),
    ("wafv2:GetLoggingConfiguration", WEBACL),
    ("sns:GetTopicAttributes", TOPIC),
    ("budgets:ViewBudget", BUDGET),
    ("pipes:DescribePipe", "arn:aws:pipes:{r}:{a}:pipe/{p}-outbox"),
    ("lambda:GetEventSourceMapping", ESM),
]


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


def resolve(value: Any) -> str:
    """A Resource value with !Sub / !GetAtt / !Ref resolved with SUB_VALUES."""
    if isinstance(value, str):
        return value
    if "Fn::GetAtt" in value:
        return SUB_VALUES[".".join(value["Fn::GetAtt"])]
    if "Ref" in value:
        return SUB_VALUES[value["Ref"]]
    return re.sub(r"\$\{([^}]+)\}", lambda m: SUB_VALUES[m.group(1)], sub_text(value))


def role_statements(t: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """The role's inline statements and those of the managed policies attached to it."""
    docs = [p["PolicyDocument"] for p in t["Resources"][role]["Properties"].get("Policies", [])]
    docs += [
        r["Properties"]["PolicyDocument"]
        for r in resources(t, "AWS::IAM::ManagedPolicy").values()
        if {"Ref": role} in r["Properties"].get("Roles", [])
    ]
    return [st for doc in docs for st in as_list(doc["Statement"])]


def allows(statements: list[dict[str, Any]], action: str, arn: str) -> bool:
    return any(
        st.get("Effect") == "Allow"
        and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in as_list(st["Action"]))
        and any(fnmatch.fnmatchcase(arn, resolve(r)) for r in as_list(st["Resource"]))
        for st in statements
    )


def _concrete(template: str, env: str) -> str:
    return template.format(p=f"{SUB_VALUES['ProjectName']}-{env}", a=ACCOUNT, r=REGION)


def check_deploy_roles_manage_every_terraform_name(t: dict[str, Any]) -> list[str]:
    """Each deploy role may act on every name its Terraform environment creates."""
    out = []
    for role, env in DEPLOY_ROLES.items():
        if role not in t["Resources"]:
            continue  # check_deploy_role_trust reports a missing role
        stmts = role_statements(t, role)
        needs = [n for _, ns in TERRAFORM_NAMES.values() for n in ns] + DEPLOY_UNNAMED
        for action, template in needs:
            arn = _concrete(template, env)
            if not allows(stmts, action, arn):
                out.append(f"{role}: {action} not allowed on {arn}")
    return out


def check_plan_roles_can_plan(t: dict[str, Any]) -> list[str]:
    """Each PR plan role can refresh its environment and read the plan-time data sources."""
    out = []
    for role, env in PLAN_ROLES.items():
        stmts = role_statements(t, role)
        for action, template in PLAN_NEEDS:
            arn = _concrete(template, env)
            if not allows(stmts, action, arn):
                out.append(f"{role}: {action} not allowed on {arn}")
    return out


def check_no_pr_role_reads_prod(t: dict[str, Any]) -> list[str]:
    """Pull-request tokens run the PR branch's code: no PR role reads prod state or secrets."""
    out = []
    for name in resources(t, "AWS::IAM::Role"):
        if not name.startswith("PlanRole"):
            continue
        stmts = role_statements(t, name)
        prod_state = f"{SUB_VALUES['StateBucket.Arn']}/jobs-platform/prod/terraform.tfstate"
        prod_secret = _concrete(SECRET, "prod")
        if allows(stmts, "s3:GetObject", prod_state):
            out.append(f"{name}: reads the prod state")
        if allows(stmts, "secretsmanager:GetSecretValue", prod_secret):
            out.append(f"{name}: reads the prod origin-verify secret")
    return out


# IAM quotas (characters, whitespace not counted): a role's inline policies together
# 10,240; one managed policy 6,144.
INLINE_LIMIT, MANAGED_LIMIT = 10_240, 6_144


def _policy_size(doc: dict[str, Any]) -> int:
    def walk(v: Any) -> Any:
        if isinstance(v, dict) and ({"Fn::Sub", "Fn::GetAtt", "Ref"} & set(v)):
            return resolve(v) if "Fn::If" not in v else "x" * 90
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return len(re.sub(r"\s", "", json.dumps(walk(doc), separators=(",", ":"))))


def check_policy_sizes(t: dict[str, Any]) -> list[str]:
    out = []
    for name, role in resources(t, "AWS::IAM::Role").items():
        size = sum(
            _policy_size(p["PolicyDocument"]) for p in role["Properties"].get("Policies", [])
        )
        if size > INLINE_LIMIT:
            out.append(f"{name}: inline policies {size} > {INLINE_LIMIT} characters")
    for name, pol in resources(t, "AWS::IAM::ManagedPolicy").items():
        size = _policy_size(pol["Properties"]["PolicyDocument"])
        if size > MANAGED_LIMIT:
            out.append(f"{name}: {size} > {MANAGED_LIMIT} characters")
    return out


CHECKS: list[Callable[[dict[str, Any]], list[str]]] = [
    check_deploy_role_trust,
    check_plan_roles_read_only,
    check_state_bucket_versioned_encrypted_private,
    check_state_bucket_denies_insecure_transport,
    check_checkov_skips_have_reasons,
    check_deploy_roles_manage_every_terraform_name,
    check_plan_roles_can_plan,
    check_no_pr_role_reads_prod,
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


def test_outputs_name_the_bucket_and_every_role(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["StateBucketName"]["Value"] == {"Ref": "StateBucket"}
    roles = {n for n in template["Resources"] if n.startswith(("DeployRole", "PlanRole"))}
    assert {
        o["Value"]["Fn::GetAtt"][0] for o in outputs.values() if "Fn::GetAtt" in o["Value"]
    } >= roles


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
    cond = _trust(t, "DeployRoleProduction")["Condition"]
    cond["StringLike"] = {f"{OIDC}:sub": cond.pop("StringEquals").pop(f"{OIDC}:sub")}
    cond["StringLike"][f"{OIDC}:sub"] = {"Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:*"}


def _other_env(t: dict[str, Any]) -> None:
    _trust(t, "DeployRoleProduction")["Condition"]["StringEquals"][f"{OIDC}:sub"] = {
        "Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:environment:staging"
    }


def _drop_aud(t: dict[str, Any]) -> None:
    _trust(t, "DeployRoleStaging")["Condition"]["StringEquals"].pop(f"{OIDC}:aud")


def _plan_role_writes(t: dict[str, Any]) -> None:
    policy = t["Resources"]["PlanRoleStaging"]["Properties"]["Policies"][0]["PolicyDocument"]
    policy["Statement"].append(
        {"Effect": "Allow", "Action": "lambda:UpdateFunctionCode", "Resource": "*"}
    )


def _bucket(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda t: edit(t["Resources"]["StateBucket"]["Properties"])


def _drop_tls_deny(t: dict[str, Any]) -> None:
    doc = t["Resources"]["StateBucketPolicy"]["Properties"]["PolicyDocument"]
    doc["Statement"] = [s for s in doc["Statement"] if s["Sid"] != "DenyInsecureTransport"]


def _skip_without_reason(t: dict[str, Any]) -> None:
    t["Resources"]["AccessLogBucket"]["Metadata"]["checkov"]["skip"][0]["comment"] = ""


def _statement(t: dict[str, Any], resource: str, sid: str) -> dict[str, Any]:
    props = t["Resources"][resource]["Properties"]
    docs = [p["PolicyDocument"] for p in props.get("Policies", [])] or [props["PolicyDocument"]]
    return next(s for d in docs for s in d["Statement"] if s.get("Sid") == sid)


def _dashboard_pattern_needs_a_dash(t: dict[str, Any]) -> None:
    # The original bug: `<project>-<env>-*` does not admit the dashboard `<project>-<env>`.
    dashboards = "arn:${AWS::Partition}:cloudwatch::${AWS::AccountId}:dashboard"
    _statement(t, "DeployEdgePolicyStaging", "DashboardsOfThisEnvironment")["Resource"] = {
        "Fn::Sub": dashboards + "/${ProjectName}-staging-*"
    }


def _drop_random_password(t: dict[str, Any]) -> None:
    st = _statement(t, "PlanRoleStaging", "RandomPasswordForTheEdgeDataSource")
    st["Action"] = "secretsmanager:DescribeSecret"


def _plan_role_reads_prod(t: dict[str, Any]) -> None:
    _statement(t, "PlanRoleStaging", "ReadOwnState")["Resource"] = {
        "Fn::Sub": "${StateBucket.Arn}/${ProjectName}/*"
    }


def _oversized_managed_policy(t: dict[str, Any]) -> None:
    st = _statement(t, "DeployEdgePolicyDev", "HttpApis")
    st["Action"] = [f"apigateway:Verb{i:04d}" for i in range(400)]


MUTATIONS = [
    ("wildcard-sub", check_deploy_role_trust, _wildcard_sub),
    ("prod-role-trusts-staging", check_deploy_role_trust, _other_env),
    ("no-aud", check_deploy_role_trust, _drop_aud),
    ("missing-dev-role", check_deploy_role_trust, lambda t: t["Resources"].pop("DeployRoleDev")),
    ("plan-role-writes", check_plan_roles_read_only, _plan_role_writes),
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
        check_deploy_roles_manage_every_terraform_name,
        _dashboard_pattern_needs_a_dash,
    ),
    ("plan-role-no-random-password", check_plan_roles_can_plan, _drop_random_password),
    ("plan-role-reads-prod-state", check_no_pr_role_reads_prod, _plan_role_reads_prod),
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
