"""Drive terraform for the local stack: the repo's root module applied into the emulator.

Isolation (the local stack never touches a real backend or account, and the real
environments never see the emulator):

- Everything local-only is in the *environment* of the terraform subprocess
  (:func:`local_env`): fake credentials, ``AWS_ENDPOINT_URL`` (the provider and the S3
  backend honour it), no shared config/credentials files, no profile, few retries. The
  root module carries no emulator setting; ``environments/local.tfvars`` only turns off
  the one AWS feature the emulator cannot converge (the DLQ redrive allow policy).
- Terraform's data directory is ``.local/terraform`` (``TF_DATA_DIR``), apart from the
  real environments' ``.terraform/<env>`` (``scripts/tf.py``).
- State lives in the emulator's own S3: :meth:`LocalTerraform.init` creates the bucket
  ``jobs-platform-local-tfstate`` in the emulator and runs ``terraform init -reconfigure``
  with a backend file generated under the data directory (bucket, key, the emulator's S3
  endpoint, path-style addressing, the ``skip_*`` checks that need a real account,
  ``use_lockfile = true``: moto honours S3 conditional writes, so the lock works too).
  The state lives and dies with the emulator, like the resources it describes.
- When ``TF_PROVIDER_MIRROR`` is set, providers come from that filesystem mirror through a
  CLI config file written under ``.local/`` (``TF_CLI_CONFIG_FILE``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3

from scripts import fake_aws
from scripts.terraform_cli import output_values, terraform_binary, terraform_cli_env

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_BUCKET = "jobs-platform-local-tfstate"
STATE_KEY = "local/terraform.tfstate"
DEFAULT_DATA_DIR = Path(".local") / "terraform"
MAX_ATTEMPTS = "2"

# Variables that could point terraform at a real account; never passed to a local run.
_SCRUBBED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)


class TerraformError(RuntimeError):
    """A terraform command failed (the message carries its stderr)."""


def local_env(
    endpoint: str, data_dir: Path | None = None, repo_root: Path = REPO_ROOT
) -> dict[str, str]:
    """The environment of a terraform subprocess that targets the emulator at ``endpoint``."""
    scrubbed = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    data = data_dir if data_dir is not None else repo_root / DEFAULT_DATA_DIR
    env = terraform_cli_env(data, repo_root / ".local", base=scrubbed)
    env.update(
        {
            **fake_aws.endpoint_env(endpoint),
            # Every emulator error would otherwise be retried (and backed off) many times.
            "AWS_MAX_ATTEMPTS": MAX_ATTEMPTS,
            "AWS_RETRY_MODE": "standard",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


def _progress(message: str) -> None:
    print(f"[terraform] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _heartbeat(step: str, every: float = 15.0) -> Iterator[None]:
    """Print a line every ``every`` seconds while a long step runs."""
    start = time.monotonic()
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every):
            _progress(f"{step}: still running ({time.monotonic() - start:.0f} s)")

    thread = threading.Thread(target=beat, name=f"tf-{step}", daemon=True)
    _progress(f"{step}: started")
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


_COMPLETE = re.compile(
    r"^(?P<addr>\S+): (?:Creation|Modifications|Destruction) complete after "
    r"(?:(?P<m>\d+)m)?(?P<s>\d+)s"
)


def slowest_resources(apply_stdout: str, top: int = 5) -> list[tuple[str, int]]:
    """(address, seconds) of the slowest resource operations in an apply's output."""
    timings = []
    for line in apply_stdout.splitlines():
        match = _COMPLETE.match(line.strip())
        if match:
            seconds = int(match["m"] or 0) * 60 + int(match["s"])
            timings.append((match["addr"], seconds))
    return sorted(timings, key=lambda t: -t[1])[:top]


class LocalTerraform:
    """init/apply/plan/output of the root module against the emulator at ``endpoint``."""

    def __init__(
        self, endpoint: str, repo_root: Path = REPO_ROOT, data_dir: Path | None = None
    ) -> None:
        self.endpoint = endpoint
        self.repo_root = Path(repo_root).resolve()
        self.data_dir = (data_dir or self.repo_root / DEFAULT_DATA_DIR).resolve()
        self.env = local_env(endpoint, self.data_dir, self.repo_root)
        self.timings: dict[str, float] = {}
        self.last_apply_stdout = ""

    def _run(self, step: str, *args: str) -> tuple[int, str, str]:
        """`terraform <args>` in the repository with the local environment (this process's
        own environment is never changed)."""
        start = time.monotonic()
        with _heartbeat(step):
            done = subprocess.run(
                [terraform_binary(), *args],
                cwd=self.repo_root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=False,
            )
        elapsed = time.monotonic() - start
        self.timings[step] = elapsed
        _progress(f"{step}: exit {done.returncode} in {elapsed:.1f} s")
        return done.returncode, done.stdout, done.stderr

    def _var_files(self, var_files: list[str]) -> list[str]:
        return [f"-var-file={(self.repo_root / v).resolve()}" for v in var_files]

    def ensure_state_bucket(self) -> None:
        s3 = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=fake_aws.REGION,
            aws_access_key_id=fake_aws.ACCESS_KEY_ID,
            aws_secret_access_key=fake_aws.SECRET_ACCESS_KEY,
        )
        names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if STATE_BUCKET not in names:
            s3.create_bucket(Bucket=STATE_BUCKET)

    def backend_config_file(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "backend.local.hcl"
        path.write_text(
            "# Generated by scripts/local_stack/terraform.py: state in the emulator's S3.\n"
            f"bucket = {json.dumps(STATE_BUCKET)}\n"
            f"key = {json.dumps(STATE_KEY)}\n"
            f"region = {json.dumps(fake_aws.REGION)}\n"
            f"endpoints = {{ s3 = {json.dumps(self.endpoint)} }}\n"
            "use_path_style = true\n"
            "use_lockfile = true\n"
            "skip_credentials_validation = true\n"
            "skip_requesting_account_id = true\n"
            "skip_metadata_api_check = true\n"
            "skip_region_validation = true\n"
        )
        return path

    def init(self) -> None:
        self.ensure_state_bucket()
        backend_file = self.backend_config_file()
        code, out, err = self._run(
            "init",
            "init",
            "-input=false",
            "-no-color",
            "-reconfigure",
            f"-backend-config={backend_file}",
        )
        if code != 0:
            raise TerraformError(f"terraform init failed ({code}):\n{err or out}")

    def apply(self, var_files: list[str]) -> None:
        code, out, err = self._run(
            "apply",
            "apply",
            "-input=false",
            "-no-color",
            "-auto-approve",
            *self._var_files(var_files),
        )
        self.last_apply_stdout = out
        if code != 0:
            raise TerraformError(f"terraform apply failed ({code}):\n{err or out}")
        slow = ", ".join(f"{addr} {s}s" for addr, s in slowest_resources(out))
        if slow:
            _progress(f"apply: slowest: {slow}")

    def plan(self, var_files: list[str]) -> int:
        """0: no changes, 2: changes (raises on errors)."""
        code, out, err = self._run(
            "plan",
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            *self._var_files(var_files),
        )
        if code not in (0, 2):
            raise TerraformError(f"terraform plan failed ({code}):\n{err or out}")
        self.last_plan_stdout = out
        return code

    def output(self) -> dict[str, Any]:
        code, out, err = self._run("output", "output", "-no-color", "-json")
        if code != 0:
            raise TerraformError(f"terraform output failed ({code}):\n{err or out}")
        return output_values(out)
