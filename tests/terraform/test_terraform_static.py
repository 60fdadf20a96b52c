"""Static Terraform checks: formatting and validation of the root module and its modules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from scripts.terraform_cli import terraform_binary, terraform_cli_env

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.terraform


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [terraform_binary(), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def tf_env(tmp_path: Path) -> dict[str, str]:
    return terraform_cli_env(tmp_path / "data", tmp_path)


def test_terraform_files_are_formatted(tf_env: dict[str, str]) -> None:
    # Given the repository, when terraform fmt checks it recursively, then nothing differs.
    result = _run(["fmt", "-check", "-recursive", "-diff"], tf_env)

    assert result.returncode == 0, (
        f"run 'terraform fmt -recursive':\n{result.stdout}{result.stderr}"
    )


def test_root_module_validates(tf_env: dict[str, str]) -> None:
    # Given the root module initialised without a backend, with the locked provider
    init = _run(
        ["init", "-backend=false", "-input=false", "-no-color", "-lockfile=readonly"], tf_env
    )
    assert init.returncode == 0, f"terraform init failed:\n{init.stdout}{init.stderr}"

    # When terraform validates it (and every child module it calls)
    result = _run(["validate", "-no-color"], tf_env)

    # Then it is valid
    assert result.returncode == 0, f"terraform validate failed:\n{result.stdout}{result.stderr}"
