"""The bootstrap stack and the Terraform agree: tags, state keys, the boundary's ARN."""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest
from scripts import bootstrap_policies as bp

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = (REPO_ROOT / "bootstrap" / "template.yaml").read_text()
ENVIRONMENTS = ("dev", "staging", "prod")


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
    for environment in ("staging", "prod"):
        with (REPO_ROOT / "environments" / f"{environment}.tfvars").open() as handle:
            tfvars = hcl2.load(handle)
        assert tfvars["origin_verify_secret_version"] >= 1
        assert tfvars["waf_rate_limit_per_api_key_per_5_minutes"] >= 10
