"""Step 2 of rotating an environment's origin-verify secret: revoke the previous value.

Step 1 is Terraform's: bump `origin_verify_secret_version` in environments/<env>.tfvars and
deploy. The new value becomes AWSCURRENT, the old one AWSPREVIOUS, and CloudFront sends
the new header once the apply (which waits for the distribution) is done; authorizers
accept both meanwhile. Step 2 drops AWSPREVIOUS so that the old value is refused:

    python -m scripts.origin_secret status --environment prod
    python -m scripts.origin_secret revoke-previous --environment prod [--distribution-id E...]

With `--distribution-id` it first checks that the distribution is Deployed and sends the
current value (so no edge still sends the value being revoked). Warm authorizers refuse
the revoked value at most `MAX_CACHE_AGE_SECONDS` later (plus API Gateway's authorizer
cache TTL): docs/deploying.md "Rotating the origin-verify secret". Never prints a value.
Credentials: the environment's deploy role, or the break-glass role.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3

PREVIOUS, CURRENT = "AWSPREVIOUS", "AWSCURRENT"
ORIGIN_VERIFY_HEADER = "x-origin-verify"  # main.tf local.origin_verify_header


def secret_id(project: str, environment: str) -> str:
    """The edge module's secret name: `<project>-<environment>/edge/origin-verify`."""
    return f"{project}-{environment}/edge/origin-verify"


def stages(client: Any, secret: str) -> dict[str, list[str]]:
    """version id -> its staging labels."""
    versions = client.list_secret_version_ids(SecretId=secret, IncludeDeprecated=False)
    return {v["VersionId"]: list(v.get("VersionStages", [])) for v in versions["Versions"]}


def revoke_previous(client: Any, secret: str) -> str | None:
    """Remove AWSPREVIOUS from the version holding it; the version id, or None if no
    version is AWSPREVIOUS (already revoked, or never rotated)."""
    for version, labels in stages(client, secret).items():
        if PREVIOUS in labels and CURRENT not in labels:
            client.update_secret_version_stage(
                SecretId=secret, VersionStage=PREVIOUS, RemoveFromVersionId=version
            )
            return version
    return None


def distribution_sends_current(cloudfront: Any, secrets: Any, secret: str, dist: str) -> str:
    """ "" when distribution `dist` is Deployed and sends the current value, else why not."""
    distribution = cloudfront.get_distribution(Id=dist)["Distribution"]
    if distribution["Status"] != "Deployed":
        return f"distribution {dist} is {distribution['Status']}, not Deployed"
    current = secrets.get_secret_value(SecretId=secret, VersionStage=CURRENT)["SecretString"]
    for origin in distribution["DistributionConfig"]["Origins"]["Items"]:
        headers = origin.get("CustomHeaders", {}).get("Items", [])
        sent = [
            h["HeaderValue"] for h in headers if h["HeaderName"].lower() == ORIGIN_VERIFY_HEADER
        ]
        if sent and sent[0] != current:
            return f"distribution {dist} still sends another value than AWSCURRENT"
        if sent:
            return ""
    return f"distribution {dist} sends no {ORIGIN_VERIFY_HEADER} header"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["status", "revoke-previous"])
    parser.add_argument("--environment", required=True)
    parser.add_argument("--project", default="jobs-platform")
    parser.add_argument("--region", default=None)
    parser.add_argument("--distribution-id", default=None)
    args = parser.parse_args(argv)
    secrets = boto3.client("secretsmanager", region_name=args.region)
    secret = secret_id(args.project, args.environment)
    if args.command == "status":
        for version_id, labels in sorted(stages(secrets, secret).items()):
            print(f"{version_id}  {' '.join(labels) or '(no stage)'}")
        return 0
    if args.distribution_id:
        problem = distribution_sends_current(
            boto3.client("cloudfront"), secrets, secret, args.distribution_id
        )
        if problem:
            print(f"origin-secret: not revoking: {problem}", file=sys.stderr)
            return 1
    version = revoke_previous(secrets, secret)
    if version is None:
        print(f"origin-secret: {secret}: no AWSPREVIOUS version (nothing to revoke)")
    else:
        print(f"origin-secret: {secret}: AWSPREVIOUS removed from version {version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
