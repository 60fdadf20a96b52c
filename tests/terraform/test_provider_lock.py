"""The AWS provider is locked: `.terraform.lock.hcl` is committed, records the constraint
every `versions.tf` states (`~> 5.100`), and `terraform init -lockfile=readonly` (what
CI and the offline plans run) installs exactly that build, or fails when the lock and the
constraint disagree.

The lock holds an `h1:` hash (Terraform's hash of the unpacked package) for linux_amd64,
the build the mirror and CI use, and the registry's `zh:` hashes (of the release zips,
from HashiCorp's signed SHA256SUMS) for every platform, so a laptop on macOS verifies its
download too; `make providers-lock TF_PLATFORMS=...` refreshes it (docs/deploying.md).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest
from scripts.terraform_cli import copy_root_module, terraform_binary, terraform_cli_env

pytestmark = pytest.mark.terraform

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK = REPO_ROOT / ".terraform.lock.hcl"
PROVIDER = "registry.terraform.io/hashicorp/aws"
CONSTRAINT = "~> 5.100"


def lock_problems(lock_text: str, versions: dict[str, str]) -> list[str]:
    """Where the lock and the `versions.tf` constraints disagree (path -> constraint)."""
    providers = {
        p: body for block in hcl2.loads(lock_text).get("provider", []) for p, body in block.items()
    }
    aws = providers.get(PROVIDER)
    if aws is None:
        return [f"the lock has no {PROVIDER}"]
    problems = []
    for path, constraint in sorted(versions.items()):
        if constraint != aws["constraints"]:
            problems.append(f"{path} says {constraint!r}, the lock {aws['constraints']!r}")
    major, minor, _ = (int(x) for x in aws["version"].split("."))
    want_major, want_minor = (int(x) for x in re.fullmatch(r"~> (\d+)\.(\d+)", CONSTRAINT).groups())  # type: ignore[union-attr]
    if major != want_major or minor < want_minor:
        problems.append(f"locked version {aws['version']} does not satisfy {CONSTRAINT}")
    if not any(h.startswith("h1:") for h in aws["hashes"]):
        problems.append("no h1: hash (the unpacked package) in the lock")
    return problems


def versions_constraints() -> dict[str, str]:
    found = {}
    for path in [
        REPO_ROOT / "versions.tf",
        *sorted((REPO_ROOT / "terraform").rglob("versions.tf")),
    ]:
        for block in hcl2.load(path.open())["terraform"]:
            for providers in block.get("required_providers", []):
                found[path.relative_to(REPO_ROOT).as_posix()] = providers["aws"]["version"]
    return found


def test_the_lock_is_committed_and_agrees_with_every_constraint() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", ".terraform.lock.hcl"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert tracked.returncode == 0, "commit .terraform.lock.hcl (it must not be git-ignored)"
    constraints = versions_constraints()
    assert constraints["versions.tf"] == CONSTRAINT
    assert len(constraints) > 1
    assert lock_problems(LOCK.read_text(), constraints) == []


def test_a_constraint_the_lock_does_not_record_is_caught() -> None:
    constraints = {**versions_constraints(), "versions.tf": "~> 6.0"}
    assert lock_problems(LOCK.read_text(), constraints) == [
        "versions.tf says '~> 6.0', the lock '~> 5.100'"
    ]


def _init_readonly(root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [terraform_binary(), "init", "-backend=false", "-input=false", "-no-color",
         "-lockfile=readonly"],
        cwd=root, env=terraform_cli_env(tmp_path / "data", tmp_path / "cli"),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_init_installs_exactly_the_locked_build_and_refuses_a_disagreeing_constraint(
    tmp_path: Path,
) -> None:
    root = copy_root_module(REPO_ROOT, tmp_path / "root", module_tests=False)

    ok = _init_readonly(root, tmp_path / "a")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "5.100.0" in ok.stdout
    assert (root / ".terraform.lock.hcl").read_text() == LOCK.read_text()

    versions = root / "versions.tf"
    versions.write_text(versions.read_text().replace(f'"{CONSTRAINT}"', '"~> 6.0"'))
    refused = _init_readonly(root, tmp_path / "b")
    assert refused.returncode != 0
    said = " ".join((refused.stdout + refused.stderr).split())
    assert "does not match configured version constraint" in said, said


def test_make_providers_lock_refreshes_it_without_losing_a_platform(tmp_path: Path) -> None:
    # With the mirror (this machine) only its linux_amd64 build can be hashed; with the
    # registry (GitHub's runners) the same command re-downloads it and checks every zh:.
    root = copy_root_module(REPO_ROOT, tmp_path / "root", module_tests=False)
    shutil.copy2(REPO_ROOT / "Makefile", root / "Makefile")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_DATA")}
    result = subprocess.run(
        ["make", "providers-lock", "TF_PLATFORMS=linux_amd64"],
        cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "recording the hashes of: linux_amd64" in result.stdout
    assert (root / ".terraform.lock.hcl").read_text() == LOCK.read_text()
