"""`terraform test` (mock providers, no AWS account) of every module and the root module.

Each module's `tests/*.tftest.hcl` checks the resources it must create and that each
variable validation refuses a bad value (`expect_failures`); the root module's tests
live in `tests/terraform/root_module/`. The Terraform is copied into a temporary
directory first, so `terraform init` writes no lock file or data dir into the repository
and parallel runs never share one. Never skips: no terraform is a failure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from scripts.terraform_cli import copy_root_module, terraform_binary, terraform_cli_env

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULES = REPO_ROOT / "terraform" / "modules"
ROOT_TESTS = Path("tests") / "terraform" / "root_module"

pytestmark = pytest.mark.terraform

# Modules with terraform test files; every module is expected to have some.
MODULE_NAMES = sorted(p.name for p in MODULES.iterdir() if (p / "main.tf").is_file())
REQUIRED_TESTED_MODULES = {"api", "function", "outbox", "queue", "table"}


def _copy_terraform(dest: Path) -> Path:
    copy_root_module(REPO_ROOT, dest)
    shutil.copytree(REPO_ROOT / ROOT_TESTS, dest / ROOT_TESTS)
    return dest


def _run_terraform_test(cwd: Path, tmp_path: Path, extra: list[str]) -> None:
    env = terraform_cli_env(tmp_path / "data", tmp_path / "cli")
    terraform = terraform_binary()
    init = subprocess.run(
        [terraform, "init", "-backend=false", "-input=false", "-no-color"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert init.returncode == 0, f"terraform init failed in {cwd}:\n{init.stdout}{init.stderr}"
    result = subprocess.run(
        [terraform, "test", "-no-color", *extra],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (
        f"terraform test failed in {cwd}:\n{result.stdout}{result.stderr}"
    )
    ran = re.search(r"Success! (\d+) passed", result.stdout)
    assert ran and int(ran.group(1)) > 0, f"no terraform test ran in {cwd}:\n{result.stdout}"


def test_every_core_module_has_terraform_tests() -> None:
    # Given the modules, then each core module has at least one .tftest.hcl file.
    missing = sorted(
        m for m in REQUIRED_TESTED_MODULES if not list((MODULES / m / "tests").glob("*.tftest.hcl"))
    )
    assert not missing, f"modules without terraform tests (tests/*.tftest.hcl): {missing}"


@pytest.mark.parametrize(
    "module",
    [m for m in MODULE_NAMES if list((MODULES / m / "tests").glob("*.tftest.hcl"))],
)
def test_module_terraform_tests_pass(module: str, tmp_path: Path) -> None:
    # Given a copy of the Terraform, when `terraform test` runs in the module, then it passes.
    (tmp_path / "tf").mkdir()
    copy = _copy_terraform(tmp_path / "tf")
    _run_terraform_test(copy / "terraform" / "modules" / module, tmp_path, [])


def test_root_module_terraform_tests_pass(tmp_path: Path) -> None:
    # Given a copy of the root module, when its terraform tests run (prod-like mocks),
    # then the guardrails are wired and every root validation refuses a bad value.
    (tmp_path / "tf").mkdir()
    copy = _copy_terraform(tmp_path / "tf")
    _run_terraform_test(copy, tmp_path, [f"-test-directory={ROOT_TESTS.as_posix()}"])
