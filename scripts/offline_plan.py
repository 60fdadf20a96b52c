"""Offline `terraform plan` of the real environments: `python -m scripts.offline_plan [env...]`.

For each environment (default: every `environments/<env>.tfvars` but the emulator's,
scripts/environments.py) this runs the config pre-flight (scripts/preflight.py, offline
mode: placeholders are warnings) and writes `dist/plans/<env>.json` (`terraform show
-json` of a saved plan), so a broken environment file, a failing variable validation or a
module that no longer plans fails CI, and checkov can scan what Terraform would actually
create (`--framework terraform_plan`). It prints what it does and how long each step took.

Offline, with no real AWS call and no real backend:

- The Terraform (root `*.tf`, `terraform/`, `environments/`) is copied into a temporary
  directory; an override file there (`zz_offline_override.tf`, never in the repo) swaps
  the S3 backend for a local one. The plans start from an empty state with
  `-refresh=false`, so Terraform reads nothing back from AWS.
- The provider still validates its credentials and the root module reads
  `data.aws_caller_identity` (STS GetCallerIdentity) at plan time. Both go to a moto
  server on loopback (`scripts.local_stack.emulator.EmulatorProcess`), which answers STS
  with the fixed account 123456789012. `AWS_ENDPOINT_URL` (every service, both provider
  configurations, including the `us_east_1` alias) points at that server, the
  credentials are fake and no shared config/credentials file or profile is read, so a
  request that somehow reached past STS would land in moto too, never in AWS. We chose
  this over provider `skip_*` flags driven by variables: those would add plan-only
  switches to the root module and still leave the data source needing STS.
- Lambda code comes from the artifacts `make package` writes
  (`dist/artifacts.tfvars.json`); plans never build anything.
- Providers come from `TF_PROVIDER_MIRROR` when set (a filesystem mirror CLI config), and
  `terraform init -lockfile=readonly` takes exactly the build `.terraform.lock.hcl` pins.

`terraform init` runs once; the plans run in parallel (`-lock=false`: each plan only
reads the empty local state).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from scripts import environments as envs
from scripts import fake_aws
from scripts.local_stack.emulator import EmulatorProcess
from scripts.preflight import preflight
from scripts.terraform_cli import (
    TerraformNotFound,
    copy_root_module,
    terraform_binary,
    terraform_cli_env,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ARTIFACTS = REPO_ROOT / "dist" / "artifacts.tfvars.json"
DEFAULT_OUT_DIR = REPO_ROOT / "dist" / "plans"
OVERRIDE_FILE = "zz_offline_override.tf"
OVERRIDE = """\
# Written by scripts/offline_plan.py into a temporary copy of the root module only.
terraform {
  backend "local" {}
}
"""
# Variables that could point terraform at a real account; never passed to an offline plan.
_SCRUBBED_PREFIXES = ("AWS_",)


class OfflinePlanError(RuntimeError):
    """A terraform step failed (the message carries its output)."""


@dataclass(frozen=True)
class PlanResult:
    environment: str
    json_path: Path
    seconds: float
    resource_count: int


def copy_terraform(repo_root: Path, dest: Path) -> Path:
    """Copy the root module, its child modules and the environment files into ``dest``,
    with the local-backend override."""
    copy_root_module(repo_root, dest)
    (dest / OVERRIDE_FILE).write_text(OVERRIDE)
    return dest


def terraform_env(endpoint: str, data_dir: Path, config_dir: Path) -> dict[str, str]:
    scrubbed = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env = terraform_cli_env(data_dir, config_dir, base=scrubbed)
    env.update(
        {
            **fake_aws.endpoint_env(endpoint),
            "AWS_ENDPOINT_URL_STS": endpoint,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "2",
        }
    )
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str], step: str) -> str:
    result = subprocess.run(
        [terraform_binary(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise OfflinePlanError(
            f"{step} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def plan_environment(
    environment: str, workdir: Path, env: dict[str, str], artifacts: Path, out_dir: Path
) -> PlanResult:
    start = time.monotonic()
    plan_file = workdir / f"{environment}.tfplan"
    _run(
        [
            "plan",
            "-input=false",
            "-no-color",
            "-refresh=false",
            "-lock=false",
            f"-state={workdir / f'{environment}.tfstate'}",
            f"-var-file=environments/{environment}.tfvars",
            f"-var-file={artifacts}",
            f"-out={plan_file}",
        ],
        workdir,
        env,
        f"terraform plan ({environment})",
    )
    shown = _run(
        ["show", "-json", "-no-color", str(plan_file)],
        workdir,
        env,
        f"terraform show ({environment})",
    )
    data = json.loads(shown)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{environment}.json"
    json_path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return PlanResult(
        environment, json_path, time.monotonic() - start, len(data.get("resource_changes", []))
    )


def _say(message: str) -> None:
    print(f"offline-plan: {message}", flush=True)


def run_preflight(environments: Sequence[str], repo_root: Path, artifacts: Path) -> None:
    """The config pre-flight of each environment (offline: placeholders only warn)."""
    errors = []
    for environment in environments:
        findings = preflight(environment, repo_root, offline=True, artifacts=artifacts)
        errors += [f for f in findings if f.error]
        warnings = [f for f in findings if not f.error]
        if warnings:
            keys = sorted({f"{f.path}: {f.key}" for f in warnings})
            _say(
                f"{environment}: not deployable yet ({len(warnings)} placeholder/example "
                f"value(s): {'; '.join(keys)}): `make preflight ENV={environment}` says how"
            )
    if errors:
        raise OfflinePlanError("pre-flight failed:\n" + "\n".join(str(f) for f in errors))


def offline_plans(
    environments: Sequence[str] | None = None,
    repo_root: Path = REPO_ROOT,
    artifacts: Path = DEFAULT_ARTIFACTS,
    out_dir: Path = DEFAULT_OUT_DIR,
) -> list[PlanResult]:
    """Plan each environment offline; raise OfflinePlanError on the first failure."""
    known = envs.environments(repo_root)
    environments = list(known if environments is None else environments)
    unknown = sorted(set(environments) - set(known))
    if unknown:
        raise OfflinePlanError(
            f"unknown environment(s) {unknown}: expected some of {known} (environments/*.tfvars)"
        )
    artifacts = artifacts.resolve()
    run_preflight(environments, repo_root, artifacts)
    with tempfile.TemporaryDirectory(prefix="offline-plan-") as tmp, EmulatorProcess() as emulator:
        tmp_path = Path(tmp)
        workdir = copy_terraform(repo_root, tmp_path / "root")
        env = terraform_env(emulator.endpoint, tmp_path / "data", tmp_path)
        start = time.monotonic()
        _say("terraform init (the locked provider) ...")
        _run(
            ["init", "-input=false", "-no-color", "-lockfile=readonly"],
            workdir,
            env,
            "terraform init",
        )
        _say(
            f"initialised in {time.monotonic() - start:.1f} s; planning {', '.join(environments)} "
            "in parallel (about 30-60 s each on 2 cores) ..."
        )
        with ThreadPoolExecutor(max_workers=len(environments)) as pool:
            futures = [
                pool.submit(plan_environment, e, workdir, env, artifacts, out_dir)
                for e in environments
            ]
            results = []
            for future in futures:
                result = future.result()
                _say(
                    f"{result.environment}: {result.resource_count} resource changes "
                    f"({result.seconds:.1f} s)"
                )
                results.append(result)
            return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("environments", nargs="*", help="default: every environment")
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        results = offline_plans(
            args.environments or None, artifacts=args.artifacts, out_dir=args.out_dir
        )
    except (OfflinePlanError, TerraformNotFound) as exc:
        print(f"offline-plan: error: {exc}", file=sys.stderr)
        return 1
    out = results[0].json_path.parent if results else args.out_dir
    print(f"offline-plan: {len(results)} plan(s) -> {out}/ in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
