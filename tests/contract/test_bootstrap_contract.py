"""The bootstrap stack's deploy roles and the Terraform agree on tags and state keys."""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest
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


def test_deploy_roles_condition_on_the_tag_key_terraform_sets() -> None:
    condition_keys = set(re.findall(r"aws:(?:Request|Resource)Tag/([\w-]+)", TEMPLATE))
    assert condition_keys, "the deploy roles no longer scope untagged-name resources by tag"
    assert condition_keys <= default_tag_keys()


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_backend_state_key_is_inside_the_prefix_its_role_may_write(environment: str) -> None:
    with (REPO_ROOT / "environments" / f"{environment}.backend.hcl").open() as handle:
        backend = hcl2.load(handle)
    project = "jobs-platform"  # the bootstrap's ProjectName default and var.project's
    assert f"${{StateBucket.Arn}}/${{ProjectName}}/{environment}/*" in TEMPLATE
    assert backend["key"] == f"{project}/{environment}/terraform.tfstate"
    assert backend["use_lockfile"] is True
