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


OUTPUTS = {
    "StateBucketName": f"jobs-platform-tfstate-{ACCOUNT}-{REGION}",
    "StateKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555",
    "DeployRoleArn": f"arn:aws:iam::{ACCOUNT}:role/jobs-platform-github-deploy-staging",
    "PlanRoleArn": f"arn:aws:iam::{ACCOUNT}:role/jobs-platform-github-plan-staging",
}


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


def test_a_stack_holding_several_environments_is_read_by_role_name(
    cfn: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = {
        "StateBucketName": OUTPUTS["StateBucketName"],
        "StateKeyArn": OUTPUTS["StateKeyArn"],
        "DeployRoleStagingArn": "arn:aws:iam::1:role/s",
        "DeployRoleProductionArn": "arn:aws:iam::1:role/p",
    }
    cfn.create_stack(StackName="jobs-platform-bootstrap", TemplateBody=stack(outputs))
    repo = copy_config(tmp_path)

    assert (
        bc.main(
            [
                "prod",
                "--stack",
                "jobs-platform-bootstrap",
                "--region",
                REGION,
                "--repo-root",
                str(repo),
            ]
        )
        == 0
    )

    out = capsys.readouterr().out
    assert "--env prod --body 'arn:aws:iam::1:role/p'" in out
    assert "no plan role in this stack: AWS_PLAN_ROLE_ARN_PROD stays unset" in out
    assert "Required reviewers" in out


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
    assert "StateBucketName, StateKeyArn, DeployRoleArn" in err and "['Something']" in err
    assert (repo / "environments" / "staging.backend.hcl").read_text() == before


def test_an_unknown_environment_is_refused(tmp_path: Path) -> None:
    repo = copy_config(tmp_path)
    shutil.rmtree(repo / "dist")
    assert bc.main(["qa", "--stack", "x", "--region", REGION, "--repo-root", str(repo)]) == 2
