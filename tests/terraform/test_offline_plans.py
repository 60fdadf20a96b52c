"""Offline `terraform plan` of every environment (scripts/offline_plan.py): the config
pre-flight first, then fake credentials, STS answered by a local moto server, no refresh,
local backend in a copy.

A broken environment file, a failing validation or a module that no longer plans fails
here. The environments are the repository's plus a throwaway `qa` added the documented
way (its tfvars and backend file, nothing else): environments are data. The plans run
once (one worker: xdist group ``offline_plans``), in parallel. Needs `make package`
(dist/artifacts.tfvars.json); `make test` depends on it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from scripts import environments as envs
from scripts import plan_report
from scripts.offline_plan import DEFAULT_ARTIFACTS, OfflinePlanError, offline_plans
from scripts.smoke import API_KEYS_TABLE_ADDRESS
from scripts.terraform_cli import terraform_binary

from tests.repo_config import REPO_ROOT, add_environment, copy_config

pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("offline_plans")]

THROWAWAY = "qa"
ENVIRONMENTS = [*envs.environments(REPO_ROOT), THROWAWAY]
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
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's configuration plus the throwaway environment."""
    root = copy_config(tmp_path_factory.mktemp("repo"))
    add_environment(root, THROWAWAY)
    return root


@pytest.fixture(scope="module")
def plans(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    terraform_binary()  # fails (never skips) without terraform
    if not DEFAULT_ARTIFACTS.is_file():
        pytest.fail(f"{DEFAULT_ARTIFACTS} missing: run 'make package' (make test does)")
    out_dir = tmp_path_factory.mktemp("plans")
    start = time.monotonic()
    try:
        results = offline_plans(repo_root=repo, artifacts=DEFAULT_ARTIFACTS, out_dir=out_dir)
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


def test_every_environment_and_the_throwaway_one_were_planned(
    plans: dict[str, dict[str, Any]],
) -> None:
    assert sorted(plans) == sorted(ENVIRONMENTS)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_plans_offline_with_the_core_resources(
    plans: dict[str, dict[str, Any]], environment: str
) -> None:
    # Given the environment's tfvars and the built artifacts, when planned offline,
    # then the plan creates the platform's core resources.
    missing = REQUIRED_EVERYWHERE - _created_types(plans[environment])
    assert not missing, f"{environment} plan lacks {sorted(missing)}"


def test_the_throwaway_environment_is_named_by_its_file(plans: dict[str, dict[str, Any]]) -> None:
    names = {
        rc["change"]["after"].get("name")
        for rc in plans[THROWAWAY]["resource_changes"]
        if rc["type"] == "aws_dynamodb_table"
    }
    assert names == {f"jobs-platform-{THROWAWAY}-{t}" for t in ("jobs", "sessions", "api-keys")}


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


def test_the_reviewed_change_set_holds_no_secret(plans: dict[str, dict[str, Any]]) -> None:
    # The edge's origin-verify value is a real random secret in this plan (Secrets
    # Manager's GetRandomPassword, from the emulator): the change set reviewers see (and
    # the artifact deploy.yml keeps) must not carry it, nor any other sensitive value.
    plan = plans["staging"]
    secrets = plan_report.all_sensitive_values(plan)
    origin = [s for s in secrets if len(s) >= 32]
    assert origin, "the staging plan should hold the origin-verify secret (sensitive)"
    changes = plan_report.change_set(plan)
    text = json.dumps(changes)
    assert not [s for s in origin if s in text]
    assert plan_report.REDACTED in text


def test_a_first_deploy_creates_the_api_keys_table_smoke_looks_for(
    plans: dict[str, dict[str, Any]],
) -> None:
    # scripts/smoke.py treats "this apply created the api-keys table" as the first deploy
    # (no key can exist yet): the address it looks for is the one Terraform plans.
    changes = plan_report.change_set(plans["staging"])
    created = {r["address"] for r in changes["resource_changes"] if "create" in r["actions"]}
    assert API_KEYS_TABLE_ADDRESS in created


def test_offline_plans_stop_at_the_preflight(tmp_path: Path) -> None:
    # A misspelt key fails before any terraform or emulator runs.
    repo = copy_config(tmp_path)
    tfvars = repo / "environments" / "dev.tfvars"
    tfvars.write_text(tfvars.read_text() + "log_retension_days = 7\n")
    start = time.monotonic()

    with pytest.raises(OfflinePlanError, match="rename it to log_retention_days"):
        offline_plans(
            ["dev"], repo_root=repo, artifacts=DEFAULT_ARTIFACTS, out_dir=tmp_path / "out"
        )
    assert not (tmp_path / "out").exists()
    print(f"pre-flight refusal in {time.monotonic() - start:.2f} s")


def _created(plan: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        rc
        for rc in plan.get("resource_changes", [])
        if rc["type"] == resource_type and "create" in rc["change"]["actions"]
    ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_cost_model_prices_the_fixed_resources_the_plan_creates(
    repo: Path, plans: dict[str, dict[str, Any]], environment: str
) -> None:
    """`make cost`'s fixed monthly floor counts alarms, keys, secrets, web ACLs and
    dashboards: the same numbers the environment's Terraform plan creates."""
    from scripts import cost

    env = cost.load_environment(environment, repo)
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
