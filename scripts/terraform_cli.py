"""How this repository runs the terraform CLI: the one place for its binary, its
environment and scratch copies of the root module (standard library only: `scripts.tf`
runs in the deploy jobs before anything is installed).

- `terraform_binary`: the terraform on PATH, or a clear error saying to install it.
- `terraform_cli_env`: the environment of a terraform subprocess with its own data dir,
  no prompts or upgrade checks, and providers from `TF_PROVIDER_MIRROR` when it is set
  (a filesystem mirror; unset, the normal registry is used).
- `output_values` / `read_output_values`: `terraform output -json` as {name: value}
  (from its text, or from a file or - for stdin, as `make smoke` / `make redrive` pipe it).
- `copy_root_module`: the root module (with its provider lock and the OpenAPI document it
  reads its routes from), its child modules and the environment files, copied into a
  scratch directory, so a command that writes there (an override file, a mutated
  guardrail, `.terraform/`) never touches the repository. `terraform init
  -lockfile=readonly` there installs exactly the locked provider.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Never copied: Terraform's working state, which belongs to one checkout.
_NOT_COPIED = (".terraform", ".terraform.lock.hcl", "*.tfstate*")
LOCK_FILE = ".terraform.lock.hcl"
# Read by the root module (`yamldecode`): the HTTP API's routes.
ROOT_MODULE_DOCUMENT = "openapi.yaml"
MIRROR_VARIABLE = "TF_PROVIDER_MIRROR"
REPO_ROOT = Path(__file__).resolve().parents[1]


class TerraformNotFound(RuntimeError):
    """No terraform on PATH."""


def output_values(output_json: str) -> dict[str, Any]:
    """`terraform output -json` (its text) as {output name: value}."""
    raw: dict[str, dict[str, Any]] = json.loads(output_json or "{}")
    return {name: item["value"] for name, item in raw.items()}


def read_output_values(source: Path) -> dict[str, Any]:
    """`terraform output -json` from a file, or from standard input when `source` is -."""
    return output_values(sys.stdin.read() if str(source) == "-" else source.read_text())


def terraform_binary() -> str:
    """The terraform on PATH (every caller fails, never skips, without it)."""
    path = shutil.which("terraform")
    if path is None:
        raise TerraformNotFound(f"terraform is not on PATH: install Terraform {required_version()}")
    return path


def required_version(repo_root: Path = REPO_ROOT) -> str:
    """The root module's `required_version` constraint (versions.tf), e.g. `>= 1.10`."""
    found = re.search(r'required_version\s*=\s*"([^"]+)"', (repo_root / "versions.tf").read_text())
    return found.group(1) if found else "(see versions.tf)"


def provider_mirror_config(mirror: str, config_dir: Path) -> Path:
    """Write a CLI config file that installs providers from a filesystem mirror only."""
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "terraform.tfrc"
    path.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path = {json.dumps(str(Path(mirror).resolve()))}\n"
        "  }\n"
        "}\n"
    )
    return path


def terraform_cli_env(
    data_dir: Path, config_dir: Path, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`base` (default: this process's environment) plus what a scripted terraform needs."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "TF_DATA_DIR": str(data_dir),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
    )
    mirror = os.environ.get(MIRROR_VARIABLE)
    if mirror:
        env["TF_CLI_CONFIG_FILE"] = str(provider_mirror_config(mirror, config_dir))
    return env


def copy_root_module(repo_root: Path, dest: Path, *, module_tests: bool = True) -> Path:
    """Copy `*.tf`, `openapi.yaml` (the routes the root module reads), the root lock file,
    `terraform/` and `environments/` into `dest` (module tests optional)."""
    dest.mkdir(parents=True, exist_ok=True)
    for tf in [*sorted(repo_root.glob("*.tf")), repo_root / ROOT_MODULE_DOCUMENT]:
        shutil.copy2(tf, dest / tf.name)
    if (repo_root / LOCK_FILE).is_file():
        shutil.copy2(repo_root / LOCK_FILE, dest / LOCK_FILE)
    not_copied = _NOT_COPIED if module_tests else (*_NOT_COPIED, "tests")
    ignore = shutil.ignore_patterns(*not_copied)
    shutil.copytree(repo_root / "terraform", dest / "terraform", ignore=ignore)
    shutil.copytree(repo_root / "environments", dest / "environments")
    return dest
