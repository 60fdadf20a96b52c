"""From the bootstrap stack to a deployable environment: `make backend-config ENV=... STACK=...`.

    python -m scripts.bootstrap_config <env> --stack <bootstrap stack> [--region <region>]

Reads the stack's outputs (CloudFormation DescribeStacks, with your own AWS credentials),
writes `environments/<env>.backend.hcl` (the state layout the bootstrap roles allow: bucket,
`<project>/<env>/terraform.tfstate`, the stack's region, SSE-KMS with the state key, the S3
lock file) and prints the GitHub settings the workflows read, as `gh` commands to paste.

The stack is the environment's own (bootstrap/template.yaml, one stack per environment);
the outputs it reads are `OUTPUT_NAMES`, and it refuses another environment's stack (its
`Environment` output).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from scripts import environments as envs

REPO_ROOT = Path(__file__).resolve().parents[1]
# Outputs of bootstrap/template.yaml (tests/functional/test_bootstrap_config.py reads them
# from the template).
OUTPUT_NAMES = ("Environment", "StateBucketName", "StateKeyArn", "DeployRoleArn", "PlanRoleArn")


class BootstrapError(RuntimeError):
    pass


@dataclass(frozen=True)
class BootstrapOutputs:
    bucket: str
    state_key_arn: str
    deploy_role_arn: str
    plan_role_arn: str
    region: str


def read_outputs(env: str, stack: str, region: str, client: Any = None) -> BootstrapOutputs:
    cfn = client or boto3.client("cloudformation", region_name=region)
    try:
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as exc:
        raise BootstrapError(f"cannot read stack {stack!r} in {region}: {exc}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    missing = [name for name in OUTPUT_NAMES if name not in outputs]
    if missing:
        raise BootstrapError(
            f"stack {stack!r} has no output {', '.join(missing)}: is it the bootstrap stack "
            f"(bootstrap/template.yaml) of {env}? It has: {sorted(outputs) or 'no outputs'}"
        )
    if outputs["Environment"] != env:
        raise BootstrapError(
            f"stack {stack!r} is the bootstrap stack of {outputs['Environment']!r}, not of "
            f"{env!r}: each environment has its own stack (docs/deploying.md step 1)"
        )
    return BootstrapOutputs(
        bucket=outputs["StateBucketName"],
        state_key_arn=outputs["StateKeyArn"],
        deploy_role_arn=outputs["DeployRoleArn"],
        plan_role_arn=outputs["PlanRoleArn"],
        region=region,
    )


def backend_file(env: str, project: str, stack: str, out: BootstrapOutputs) -> str:
    return (
        f"# S3 backend of the {env} environment, written by `make backend-config ENV={env} "
        f"STACK={stack}`\n"
        "# from the bootstrap stack's outputs (docs/deploying.md step 2).\n"
        f"# `python3 -m scripts.tf {env} ...` passes it to `terraform init -backend-config`.\n"
        "# No credentials here: they come from the environment (OIDC role in CI, your SSO\n"
        "# profile locally).\n"
        f'bucket       = "{out.bucket}"\n'
        f'key          = "{project}/{env}/terraform.tfstate"\n'
        f'region       = "{out.region}"\n'
        "encrypt      = true\n"
        f'kms_key_id   = "{out.state_key_arn}"\n'
        "use_lockfile = true\n"
    )


def github_settings(env: str, out: BootstrapOutputs) -> str:
    plan_var = envs.plan_role_variable(env)
    lines = [
        f"GitHub settings for {env} (docs/deploying.md step 2); run in a clone of the repository:",
        "",
        f"  # the GitHub environment {env} (deployments from protected branches only)",
        f"  gh api --method PUT 'repos/{{owner}}/{{repo}}/environments/{env}' \\",
        "    -F 'deployment_branch_policy[protected_branches]=true' \\",
        "    -F 'deployment_branch_policy[custom_branch_policies]=false'",
        f"  gh variable set AWS_DEPLOY_ROLE_ARN --env {env} --body '{out.deploy_role_arn}'",
        f"  gh variable set {plan_var} --body '{out.plan_role_arn}'",
    ]
    if env == envs.PRODUCTION:
        lines += [
            "",
            "  # prod only, in Settings -> Environments -> prod: Required reviewers (and",
            "  # 'Prevent self-review'); the approval gate of deploy.yml is this setting.",
        ]
    lines += [
        "",
        f"After the first deploy of {env} (its api-keys table exists then), the smoke key:",
        f"  make -s api-key ENV={env} KEY_ONLY=1 | gh secret set SMOKE_API_KEY --env {env}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env", help="the environment (environments/<env>.tfvars)")
    parser.add_argument("--stack", required=True, help="the bootstrap stack's name")
    parser.add_argument("--region", help="the stack's region (default: your AWS config's)")
    parser.add_argument("--repo-root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.env not in envs.environments(args.repo_root):
        print(
            f"error: no environments/{args.env}.tfvars (environments: "
            f"{envs.environments(args.repo_root)}): add it first",
            file=sys.stderr,
        )
        return 2
    region = args.region or boto3.session.Session().region_name
    if not region:
        print("error: no region: pass REGION=... (the bootstrap stack's region)", file=sys.stderr)
        return 2
    try:
        out = read_outputs(args.env, args.stack, region)
    except BootstrapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    project = str(envs.effective_value(args.env, "project", args.repo_root))
    path = envs.backend_path(args.env, args.repo_root)
    path.write_text(backend_file(args.env, project, args.stack, out), encoding="utf-8")
    print(f"wrote {path.relative_to(args.repo_root)} (state bucket {out.bucket}, {region})")
    print()
    print(github_settings(args.env, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
