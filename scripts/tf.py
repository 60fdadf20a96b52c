"""Run terraform for a deployed environment with its backend and its own data dir.

    python3 -m scripts.tf <env> <terraform subcommand> [args...]   (env: environments/<env>.tfvars)
    python3 -m scripts.tf staging plan -var-file=environments/staging.tfvars -lock-timeout=20m

(The Makefile's plan/apply/drift/outputs/smoke/api-key targets run it.) Each environment
has its own TF_DATA_DIR (.terraform/<env>) and S3 state (environments/<env>.backend.hcl),
so environments never share a backend or provider cache. `terraform init` runs when the
backend file, the lock file or any .tf file changed since the last init of this
environment (a stamp in its data dir), so one `make plan` initialises once. The providers
are the ones .terraform.lock.hcl pins; in CI (CI=true) init runs with -lockfile=readonly,
so a run can never pick another provider build than the one reviewed. The terraform
environment (and TF_PROVIDER_MIRROR) is scripts/terraform_cli.py's, as for every other
script. The local stack (emulator) has its own driver: scripts/local_stack/terraform.py.

Standard library only: the deploy jobs run it before any install.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

from scripts import environments as envs
from scripts.terraform_cli import LOCK_FILE, TerraformNotFound, terraform_binary, terraform_cli_env

REPO_ROOT = Path(__file__).resolve().parents[1]
USAGE = (
    "usage: python3 -m scripts.tf <env> <terraform subcommand> [args...]"
    "  (env: a file environments/<env>.tfvars)"
)
STAMP = ".init-stamp"


class UsageError(Exception):
    """A wrong command line: the message, then the exit status 2."""


def configuration_digest(backend_file: Path, repo_root: Path = REPO_ROOT) -> str:
    """sha256 of what `terraform init` depends on: the backend file, the provider lock
    and every .tf file of the configuration (not under dot-directories)."""
    digest = hashlib.sha256()
    lock = repo_root / LOCK_FILE
    for path in [backend_file, *([lock] if lock.is_file() else [])]:
        digest.update(path.read_bytes())
    for path in sorted(repo_root.rglob("*.tf")):
        relative = path.relative_to(repo_root)
        if not any(part.startswith(".") for part in relative.parts):
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _check_environment(env: str, repo_root: Path) -> Path:
    if env == envs.EMULATOR:
        raise UsageError(
            f"'{env}' runs against the emulator: use 'make local' (scripts/local_stack)"
        )
    if not envs.tfvars_path(env, repo_root).is_file():
        known = " ".join(envs.environments(repo_root))
        raise UsageError(f"unknown environment '{env}' (environments/: {known})\n{USAGE}")
    backend_file = envs.backend_path(env, repo_root)
    if not backend_file.is_file():
        raise FileNotFoundError(
            f"{backend_file.relative_to(repo_root)} missing: run "
            f"'make backend-config ENV={env} STACK=<bootstrap stack>'"
        )
    return backend_file


def main(argv: list[str] | None = None, repo_root: Path = REPO_ROOT) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        if len(args) < 2:
            raise UsageError(USAGE)
        env, command = args[0], args[1:]
        backend_file = _check_environment(env, repo_root)
        terraform = terraform_binary()
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, TerraformNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    os.chdir(repo_root)
    data_dir = repo_root / ".terraform" / env
    environ = terraform_cli_env(data_dir, repo_root / ".local")
    init = [terraform, "init", "-input=false", "-reconfigure"]
    if os.environ.get("CI") == "true":
        init.append("-lockfile=readonly")
    init.append(f"-backend-config={backend_file.relative_to(repo_root)}")
    if command[0] == "init":
        os.execve(terraform, [*init, *command[1:]], environ)  # noqa: S606 - no shell
    stamp, want = data_dir / STAMP, configuration_digest(backend_file, repo_root)
    if not stamp.is_file() or stamp.read_text().strip() != want:
        start = time.monotonic()
        print(f"tf: {env}: terraform init (backend {backend_file.name}) ...", file=sys.stderr)
        done = subprocess.run(init, env=environ, stdout=sys.stderr, check=False)
        if done.returncode != 0:
            return done.returncode
        data_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(want + "\n")
        print(f"tf: {env}: initialised in {time.monotonic() - start:.0f} s", file=sys.stderr)
    os.execve(terraform, [terraform, *command], environ)  # noqa: S606 - no shell
    return 0  # not reached: execve replaces this process


if __name__ == "__main__":
    sys.exit(main())
