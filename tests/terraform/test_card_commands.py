"""The commands a platform team types, on a fresh clone, offline (README "Deploying").

- Raw Terraform: `terraform init` (a local backend override file standing in for S3, as
  there is no AWS here) then `terraform plan -var-file=environments/staging.tfvars`.
  Before `make package` the first and only error says to run it; after it, the plan fails
  only on AWS credentials (fake ones, refused by an STS stand-in on loopback), never on a
  variable, and asks nothing.
- `make plan ENV=...` runs the pre-flight before `terraform init` and before any AWS
  credential is needed: a `terraform` stand-in on PATH records whether it was called.

"Fresh clone": the repository's files as git would clone them (tracked and new, not
ignored), copied into a scratch directory; `make package` there is the real packaging
(`scripts.package`, wheels from the shared cache).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from scripts.terraform_workspace import provider_mirror_config

from tests.repo_config import make_deployable

pytestmark = pytest.mark.terraform

REPO_ROOT = Path(__file__).resolve().parents[2]
BACKEND_OVERRIDE = 'terraform {\n  backend "local" {}\n}\n'
STS_REFUSAL = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
    "<Code>InvalidClientTokenId</Code><Message>The security token included in the request is "
    "invalid.</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId>"
    "</ErrorResponse>"
)
VARIABLE_ERRORS = re.compile(
    r"No value for required variable|Invalid value for variable|undeclared variable|"
    r"Value for undeclared|Enter a value",
)


def fresh_clone(dest: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, files):
        source = REPO_ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def terraform() -> str:
    path = shutil.which("terraform")
    if path is None:
        pytest.fail("terraform is not on PATH: install Terraform >= 1.10 (never skipped)")
    return path


class _Sts(BaseHTTPRequestHandler):
    """STS refusing every request as AWS does a bad access key."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = STS_REFUSAL.encode()
        self.send_response(403)
        self.send_header("content-type", "text/xml")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sts() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sts)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def user_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A user's shell: no AWS configuration at all, providers from the mirror if set.

    Not a CI job either: `CI=true` (set by CI runners) makes scripts/tf init with
    `-lockfile=readonly`, which the test below checks separately.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "TF_", "GITHUB_")) and k != "CI"
    }
    env.update({"HOME": str(tmp_path / "home"), "CHECKPOINT_DISABLE": "1", **extra})
    (tmp_path / "home").mkdir(exist_ok=True)
    mirror = os.environ.get("TF_PROVIDER_MIRROR")
    if mirror:
        env["TF_CLI_CONFIG_FILE"] = str(provider_mirror_config(mirror, tmp_path / "cli"))
    return env


def run(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


def error_titles(output: str) -> list[str]:
    return re.findall(r"^(?:│ )?Error: (.+)$", output, re.MULTILINE)


def test_the_cards_raw_terraform_commands_need_only_make_package_and_credentials(
    tmp_path: Path, sts: str
) -> None:
    clone = fresh_clone(tmp_path / "clone")
    (clone / "backend_override.tf").write_text(BACKEND_OVERRIDE)  # stands in for S3
    env = user_env(tmp_path)
    init = run([terraform(), "init", "-no-color"], clone, env)
    assert init.returncode == 0, init.stdout + init.stderr
    plan_env = {
        **env,
        "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKEFAKE",
        "AWS_SECRET_ACCESS_KEY": "fake/secret",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": sts,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
    }
    card_plan = [terraform(), "plan", "-no-color", "-var-file=environments/staging.tfvars"]

    # Before `make package`: the first (and only) error names the fix.
    before = run(card_plan, clone, plan_env)
    out = before.stdout + before.stderr
    assert before.returncode != 0
    assert error_titles(out)[:1] == ["Invalid value for variable"], out
    first_error = out[out.index("Error:") :]
    assert "run 'make package' first" in first_error.split("Error:")[1], out
    assert "credential" not in out.lower(), out

    # `make package` (the real packaging, in the clone).
    package = run(
        [sys.executable, "-m", "scripts.package", "--cache", str(REPO_ROOT / ".cache" / "wheels")],
        clone,
        env,
    )
    assert package.returncode == 0, package.stdout + package.stderr
    assert (clone / "dist" / "artifacts.tfvars.json").is_file()

    # After it: the same command fails on the (fake) credentials only.
    after = run(card_plan, clone, plan_env)
    out = after.stdout + after.stderr
    assert after.returncode != 0
    assert not VARIABLE_ERRORS.search(out), out
    assert "Warning:" not in out, out
    titles = error_titles(out)
    assert titles and all("credentials" in t for t in titles), titles
    assert "InvalidClientTokenId" in out, out


def _fake_terraform(bin_dir: Path, log: Path) -> None:
    """A `terraform` that records its arguments and the AWS variables it was given."""
    bin_dir.mkdir()
    script = bin_dir / "terraform"
    script.write_text(
        "#!/usr/bin/env bash\n"
        f'printf "%s | aws-vars:%s\\n" "$*" "$(env | grep -c "^AWS_" || true)" >> "{log}"\n'
        'echo "terraform stand-in: stopping here" >&2\n'
        "exit 1\n"
    )
    script.chmod(0o755)


def test_make_plan_runs_the_preflight_before_init_and_before_credentials(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "clone")
    shutil.copytree(
        REPO_ROOT / "dist", clone / "dist", ignore=shutil.ignore_patterns("plans", "*.tfplan")
    )
    make_deployable(clone)
    log = tmp_path / "terraform.log"
    _fake_terraform(tmp_path / "bin", log)
    env = user_env(tmp_path, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}")

    # A cheap mistake: the pre-flight refuses, terraform never runs.
    tfvars = clone / "environments" / "staging.tfvars"
    good = tfvars.read_text()
    tfvars.write_text(good + "log_retension_days = 60\n")
    refused = run(["make", "plan", "ENV=staging"], clone, env)
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "environments/staging.tfvars:" in out and "log_retension_days" in out, out
    assert "fix: rename it to log_retention_days" in out, out
    assert not log.exists(), log.read_text()

    # Fixed: the pre-flight passes, then terraform init is the first terraform command,
    # run without any AWS variable (a credential is needed only from here on).
    tfvars.write_text(good)
    ran = run(["make", "plan", "ENV=staging"], clone, env)
    out = ran.stdout + ran.stderr
    assert "preflight staging: ok" in out, out
    calls = log.read_text().splitlines()
    assert calls[0].startswith(
        "init -input=false -reconfigure -backend-config=environments/staging.backend.hcl"
    ), calls
    assert calls[0].endswith("aws-vars:0"), calls
    assert out.index("preflight staging: ok") < out.index("terraform stand-in")

    # In CI (CI=true, as GitHub Actions sets it) init refuses to change the lock file.
    ci = run(["make", "plan", "ENV=staging"], clone, {**env, "CI": "true"})
    assert "preflight staging: ok" in ci.stdout + ci.stderr
    calls = log.read_text().splitlines()
    assert calls[1].startswith(
        "init -input=false -reconfigure -lockfile=readonly -backend-config=environments/"
        "staging.backend.hcl"
    ), calls
