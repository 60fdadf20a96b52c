"""`make backend-config`: from a bootstrap stack's outputs (CloudFormation in moto) to the
environment's backend file, which then passes the pre-flight, and the GitHub settings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from scripts import bootstrap_config as bc
from scripts import bootstrap_policies as bp
from scripts import preflight as pf

from tests.repo_config import copy_config

REGION = "eu-west-1"
ACCOUNT = "123456789012"


def stack(outputs: dict[str, str]) -> str:
    return json.dumps(
        {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Resources": {
                "Marker": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "marker"}}
            },
            "Outputs": {k: {"Value": v} for k, v in outputs.items()},
        }
    )


def template_outputs(env: str) -> dict[str, str]:
    """The outputs `env`'s stack of bootstrap/template.yaml has (as CloudFormation resolves
    them), the ones the script reads."""
    s = bp.stack(env)
    return {
        name: str(s.resolve(spec["Value"]))
        for name, spec in s.template["Outputs"].items()
        if name in bc.OUTPUT_NAMES
    }


OUTPUTS = template_outputs("staging")


def test_the_script_reads_outputs_the_template_has() -> None:
    assert set(OUTPUTS) == set(bc.OUTPUT_NAMES)


@pytest.fixture
def cfn(aws: None) -> Any:
    return boto3.client("cloudformation", region_name=REGION)


def test_backend_file_and_github_settings_from_the_stack(
    cfn: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfn.create_stack(StackName="jobs-platform-staging", TemplateBody=stack(OUTPUTS))
    repo = copy_config(tmp_path)

    code = bc.main(
        [
            "staging",
            "--stack",
            "jobs-platform-staging",
            "--region",
            REGION,
            "--repo-root",
            str(repo),
        ]
    )

    out = capsys.readouterr().out
    assert code == 0
    backend = (repo / "environments" / "staging.backend.hcl").read_text()
    assert f'bucket       = "{OUTPUTS["StateBucketName"]}"' in backend
    assert 'key          = "jobs-platform/staging/terraform.tfstate"' in backend
    assert (
        f'region       = "{REGION}"' in backend
        and f'kms_key_id   = "{OUTPUTS["StateKeyArn"]}"' in backend
    )
    # The file it writes is what the pre-flight (and so the deploy roles) accept.
    assert pf.check_backend("staging", repo, offline=False) == []
    assert (
        f"gh variable set AWS_DEPLOY_ROLE_ARN --env staging --body '{OUTPUTS['DeployRoleArn']}'"
        in out
    )
    assert f"gh variable set AWS_PLAN_ROLE_ARN_STAGING --body '{OUTPUTS['PlanRoleArn']}'" in out
    assert (
        "make -s api-key ENV=staging KEY_ONLY=1 | gh secret set SMOKE_API_KEY --env staging" in out
    )


def test_prod_gets_its_plan_role_and_the_reviewers_reminder(
    cfn: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prod = template_outputs("prod")
    cfn.create_stack(StackName="jobs-platform-prod-bootstrap", TemplateBody=stack(prod))
    repo = copy_config(tmp_path)

    args = ["prod", "--stack", "jobs-platform-prod-bootstrap", "--region", REGION]
    assert bc.main([*args, "--repo-root", str(repo)]) == 0

    out = capsys.readouterr().out
    assert f"--env prod --body '{prod['DeployRoleArn']}'" in out
    assert f"gh variable set AWS_PLAN_ROLE_ARN_PROD --body '{prod['PlanRoleArn']}'" in out
    assert "Required reviewers" in out


def test_another_environments_stack_is_refused(
    cfn: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfn.create_stack(
        StackName="jobs-platform-prod-bootstrap", TemplateBody=stack(template_outputs("prod"))
    )
    repo = copy_config(tmp_path)
    before = (repo / "environments" / "staging.backend.hcl").read_text()

    args = ["staging", "--stack", "jobs-platform-prod-bootstrap", "--region", REGION]
    assert bc.main([*args, "--repo-root", str(repo)]) == 1

    err = capsys.readouterr().err
    assert "is the bootstrap stack of 'prod', not of 'staging'" in err
    assert (repo / "environments" / "staging.backend.hcl").read_text() == before


def test_a_stack_without_the_outputs_fails_naming_them(
    cfn: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfn.create_stack(StackName="other", TemplateBody=stack({"Something": "x"}))
    repo = copy_config(tmp_path)
    before = (repo / "environments" / "staging.backend.hcl").read_text()

    assert (
        bc.main(["staging", "--stack", "other", "--region", REGION, "--repo-root", str(repo)]) == 1
    )

    err = capsys.readouterr().err
    assert ", ".join(bc.OUTPUT_NAMES) in err and "['Something']" in err
    assert (repo / "environments" / "staging.backend.hcl").read_text() == before


def test_an_unknown_environment_is_refused(tmp_path: Path) -> None:
    repo = copy_config(tmp_path)
    shutil.rmtree(repo / "dist")
    assert bc.main(["qa", "--stack", "x", "--region", REGION, "--repo-root", str(repo)]) == 2
