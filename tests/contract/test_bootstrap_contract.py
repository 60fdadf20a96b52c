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
