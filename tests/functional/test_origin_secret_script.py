"""scripts/origin_secret.py against Secrets Manager (moto): the revocation step of a
rotation drops AWSPREVIOUS, is idempotent, and refuses while CloudFront is not done."""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest
from scripts import fake_aws, origin_secret

OLD, NEW = "old-" + "A" * 40, "new-" + "B" * 40


@pytest.fixture
def secrets(aws: None) -> Any:
    return boto3.client("secretsmanager", region_name=os.environ["AWS_DEFAULT_REGION"])


@pytest.fixture
def rotated(secrets: Any) -> str:
    """The prod secret after step 1 (Terraform wrote a new version)."""
    name = origin_secret.secret_id("jobs-platform", "prod")
    secrets.create_secret(Name=name, SecretString=OLD)
    secrets.put_secret_value(SecretId=name, SecretString=NEW)
    return name


def previous_exists(secrets: Any, name: str) -> bool:
    try:
        secrets.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    except secrets.exceptions.ResourceNotFoundException:
        return False
    return True


def test_revoke_drops_previous_and_keeps_current(secrets: Any, rotated: str) -> None:
    assert previous_exists(secrets, rotated)

    assert origin_secret.main(["revoke-previous", "--environment", "prod"]) == 0

    assert not previous_exists(secrets, rotated)
    assert secrets.get_secret_value(SecretId=rotated)["SecretString"] == NEW
    # Idempotent: a second run finds nothing to revoke.
    assert origin_secret.revoke_previous(secrets, rotated) is None


def test_status_prints_stages_never_values(
    secrets: Any, rotated: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert origin_secret.main(["status", "--environment", "prod"]) == 0
    out = capsys.readouterr().out
    assert "AWSCURRENT" in out and "AWSPREVIOUS" in out
    assert OLD not in out and NEW not in out


def distribution(cloudfront: Any, header_value: str) -> str:
    created = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "test",
            "Comment": "edge",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "api",
                        "DomainName": "abc.execute-api.us-east-1.amazonaws.com",
                        "CustomHeaders": {
                            "Quantity": 1,
                            "Items": [
                                {"HeaderName": "x-origin-verify", "HeaderValue": header_value}
                            ],
                        },
                        "CustomOriginConfig": {
                            "HTTPPort": 80,
                            "HTTPSPort": 443,
                            "OriginProtocolPolicy": "https-only",
                        },
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "api",
                "ViewerProtocolPolicy": "redirect-to-https",
                "MinTTL": 0,
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            },
        }
    )
    return str(created["Distribution"]["Id"])


def test_revoke_refuses_while_cloudfront_sends_the_old_value(
    secrets: Any, rotated: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cloudfront = boto3.client("cloudfront", region_name=fake_aws.REGION)
    stale = distribution(cloudfront, OLD)
    problem = origin_secret.distribution_sends_current(cloudfront, secrets, rotated, stale)
    assert "another value" in problem or "not Deployed" in problem

    assert (
        origin_secret.main(["revoke-previous", "--environment", "prod", "--distribution-id", stale])
        == 1
    )
    assert previous_exists(secrets, rotated)
    assert OLD not in capsys.readouterr().err
