"""Offline `terraform plan` of dev, staging and prod (scripts/offline_plan.py): fake
credentials, STS answered by a local moto server, no refresh, local backend in a copy.

A broken environment file, a failing validation or a module that no longer plans fails
here. The three plans run once (one worker: xdist group ``offline_plans``), in parallel.
Needs `make package` (dist/artifacts.tfvars.json); `make test` depends on it.
"""

from __future__ import annotations

import json
import shutil
import time
from typing import Any

import pytest
from scripts.offline_plan import DEFAULT_ARTIFACTS, ENVIRONMENTS, OfflinePlanError, offline_plans

pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("offline_plans")]

# Staging and prod run behind the edge, with WAF, alarms and a budget.
REQUIRED_IN_STAGING_AND_PROD = {
    "aws_cloudfront_distribution",
    "aws_wafv2_web_acl",
    "aws_cloudwatch_metric_alarm",
    "aws_budgets_budget",
}
REQUIRED_EVERYWHERE = {
    "aws_dynamodb_table",
    "aws_sqs_queue",
    "aws_lambda_function",
    "aws_apigatewayv2_stage",
    "aws_pipes_pipe",
    "aws_kms_key",
}


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH: install Terraform >= 1.10 (never skipped)")
    if not DEFAULT_ARTIFACTS.is_file():
        pytest.fail(f"{DEFAULT_ARTIFACTS} missing: run 'make package' (make test does)")
    out_dir = tmp_path_factory.mktemp("plans")
    start = time.monotonic()
    try:
        results = offline_plans(ENVIRONMENTS, out_dir=out_dir)
    except OfflinePlanError as exc:
        pytest.fail(f"offline plan failed: {exc}")
    print(f"offline plans: {time.monotonic() - start:.1f} s")
    return {r.environment: json.loads(r.json_path.read_text()) for r in results}


def _created_types(plan: dict[str, Any]) -> set[str]:
    return {
        rc["type"]
        for rc in plan.get("resource_changes", [])
        if rc.get("mode") == "managed" and "create" in rc["change"]["actions"]
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_plans_offline_with_the_core_resources(
    plans: dict[str, dict[str, Any]], environment: str
) -> None:
    # Given the environment's tfvars and the built artifacts, when planned offline,
    # then the plan creates the platform's core resources.
    missing = REQUIRED_EVERYWHERE - _created_types(plans[environment])
    assert not missing, f"{environment} plan lacks {sorted(missing)}"


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_staging_and_prod_plans_include_edge_waf_alarms_and_budget(
    plans: dict[str, dict[str, Any]], environment: str
) -> None:
    missing = REQUIRED_IN_STAGING_AND_PROD - _created_types(plans[environment])
    assert not missing, f"{environment} plan lacks {sorted(missing)}"


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_staging_and_prod_cloudfront_uses_the_web_acl(
    plans: dict[str, dict[str, Any]], environment: str
) -> None:
    # The distribution's web_acl_id is the web ACL's ARN (unknown until apply): the plan's
    # configuration must reference the aws_wafv2_web_acl.
    def resources(module: dict[str, Any]) -> list[dict[str, Any]]:
        found = list(module.get("resources", []))
        for call in module.get("module_calls", {}).values():
            found += resources(call.get("module", {}))
        return found

    distributions = [
        r
        for r in resources(plans[environment]["configuration"]["root_module"])
        if r["type"] == "aws_cloudfront_distribution"
    ]
    assert distributions, f"{environment} has no CloudFront distribution"
    for d in distributions:
        refs = d["expressions"].get("web_acl_id", {}).get("references", [])
        assert any(ref.startswith("aws_wafv2_web_acl.") for ref in refs), (
            f"{d['address']} web_acl_id does not reference a WAFv2 web ACL: {refs}"
        )


def _created(plan: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        rc
        for rc in plan.get("resource_changes", [])
        if rc["type"] == resource_type and "create" in rc["change"]["actions"]
    ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_cost_model_prices_the_fixed_resources_the_plan_creates(
    plans: dict[str, dict[str, Any]], environment: str
) -> None:
    """`make cost`'s fixed monthly floor counts alarms, keys, secrets, web ACLs and
    dashboards: the same numbers the environment's Terraform plan creates."""
    from scripts import cost

    env = cost.load_environment(environment)
    plan = plans[environment]
    alarms = sorted(
        rc["change"]["after"]["alarm_name"] for rc in _created(plan, "aws_cloudwatch_metric_alarm")
    )
    prefix = f"jobs-platform-{environment}-"
    assert sorted(name.removeprefix(prefix) for name in alarms) == sorted(cost.alarm_names(env))
    assert len(_created(plan, "aws_kms_key")) == 1 + int(env.enable_edge)
    assert len(_created(plan, "aws_secretsmanager_secret")) == int(env.enable_edge)
    assert len(_created(plan, "aws_wafv2_web_acl")) == int(env.enable_edge)
    assert len(_created(plan, "aws_cloudwatch_dashboard")) == 1
    for acl in _created(plan, "aws_wafv2_web_acl"):
        assert len(acl["change"]["after"]["rule"]) == cost.WAF_RULES
