"""The bootstrap stack and the Terraform agree: tags, state keys, the boundary's ARN."""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest
from scripts import bootstrap_policies as bp
from scripts import environments as envs

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = (REPO_ROOT / "bootstrap" / "template.yaml").read_text()
ENVIRONMENTS = envs.environments(REPO_ROOT)


def default_tag_keys() -> set[str]:
    with (REPO_ROOT / "providers.tf").open() as handle:
        providers = hcl2.load(handle)["provider"]
    keys: set[str] = set()
    for block in providers:
        for tags in block["aws"].get("default_tags", []):
            keys |= set(tags["tags"])
    return keys


def root_locals() -> dict[str, str]:
    with (REPO_ROOT / "main.tf").open() as handle:
        doc = hcl2.load(handle)
    return {k: v for block in doc["locals"] for k, v in block.items()}


def test_the_stack_takes_every_environment_name_terraform_takes() -> None:
    """One name everywhere: the stack's Environment parameter allows exactly the names
    var.environment and scripts/environments.py allow (a longer one would pass the
    pre-flight and fail the bootstrap)."""
    assert bp.load_template()["Parameters"]["Environment"]["AllowedPattern"] == envs.NAME_PATTERN


def test_the_stack_takes_exactly_the_project_names_terraform_takes() -> None:
    """var.project's validation and the stack's ProjectName parameter allow the same names
    (a name Terraform accepts but the bootstrap refuses fails only at the first deploy)."""
    with (REPO_ROOT / "variables.tf").open() as handle:
        project = next(v["project"] for v in hcl2.load(handle)["variable"] if "project" in v)
    (condition,) = (rule["condition"] for rule in project["validation"])
    match = re.fullmatch(r'\$\{can\(regex\("(.+)", var\.project\)\)\}', condition)
    assert match, f"var.project's validation is no longer one regex: {condition}"
    terraform_pattern = match.group(1).replace("\\\\", "\\")
    assert terraform_pattern == bp.load_template()["Parameters"]["ProjectName"]["AllowedPattern"]


def test_roles_condition_on_the_tag_key_terraform_sets() -> None:
    condition_keys = set(re.findall(r"aws:(?:Request|Resource)Tag/([\w-]+)", TEMPLATE))
    assert condition_keys, "the roles no longer scope unnamed resources by tag"
    assert condition_keys <= default_tag_keys()


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_terraform_sets_the_boundary_the_stack_ships(environment: str) -> None:
    """main.tf's local.permissions_boundary_arn is the stack's PermissionsBoundary."""
    expression = root_locals()["permissions_boundary_arn"]
    terraform_arn = (
        expression.replace("${data.aws_partition.current.partition}", "aws")
        .replace("${data.aws_caller_identity.current.account_id}", bp.ACCOUNT)
        .replace("${var.project}", "jobs-platform")
        .replace("${var.environment}", environment)
    )
    assert terraform_arn == bp.stack(environment).ref("PermissionsBoundary")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_backend_state_key_is_inside_the_prefix_its_roles_may_write(environment: str) -> None:
    with (REPO_ROOT / "environments" / f"{environment}.backend.hcl").open() as handle:
        backend = hcl2.load(handle)
    s = bp.stack(environment)
    write = next(
        st
        for _, doc in s.identity_policies("DeployRole")
        for st in doc["Statement"]
        if st.get("Sid") == "ReadWriteOwnState"
    )
    assert write["Resource"] == f"arn:aws:s3:::{s.ref('StateBucket')}/jobs-platform/{environment}/*"
    assert backend["key"] == f"jobs-platform/{environment}/terraform.tfstate"
    assert backend["use_lockfile"] is True
    # The placeholder names the environment's own bucket (one per environment).
    assert backend["bucket"] == f"jobs-platform-{environment}-tfstate-<account-id>"


def test_edge_settings_come_from_each_environments_tfvars() -> None:
    """Rotation and the per-key limit are per environment: root variables set in the
    environment's tfvars and passed to the edge module (never a constant in main.tf)."""
    with (REPO_ROOT / "main.tf").open() as handle:
        edge = next(m["edge"] for m in hcl2.load(handle)["module"] if "edge" in m)
    assert edge["origin_verify_secret_version"] == "${var.origin_verify_secret_version}"
    assert (
        edge["rate_limit_per_api_key_per_5_minutes"]
        == "${var.waf_rate_limit_per_api_key_per_5_minutes}"
    )
    with_edge = [e for e in ENVIRONMENTS if envs.effective_value(e, "enable_edge", REPO_ROOT)]
    assert {"staging", "prod"} <= set(with_edge)
    for environment in with_edge:
        tfvars = envs.tfvars(environment, REPO_ROOT)
        assert tfvars["origin_verify_secret_version"].value >= 1
        assert tfvars["waf_rate_limit_per_api_key_per_5_minutes"].value >= 10
