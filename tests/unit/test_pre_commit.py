""".pre-commit-config.yaml mirrors `make lint`: one hook per lint step, running the same
command in the same order, each on the whole repository; pre-commit itself accepts the
file; no hook code comes from a repository that is not pinned to a commit."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pre_commit.clientlib import load_config

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = REPO_ROOT / ".pre-commit-config.yaml"
COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


def lint_steps() -> list[str]:
    """`make lint`'s commands as make runs them (its prerequisites taken as built)."""
    out = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", "package", "-o", "tools", "lint"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    return [line.strip() for line in out.splitlines() if line.strip()]


def hooks(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [hook for repo in config["repos"] for hook in repo["hooks"]]


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded: dict[str, Any] = load_config(str(CONFIG))  # pre-commit's own schema check
    return loaded


def test_every_make_lint_step_is_a_hook_running_the_same_command_in_order(
    config: dict[str, Any],
) -> None:
    steps = lint_steps()
    assert len(steps) >= 7, steps  # ruff x2, mypy, fmt, docs, conventions, security
    entries = [" ".join([hook["entry"], *hook["args"]]) for hook in hooks(config)]
    assert entries == steps


def test_hooks_check_the_whole_repository_not_only_the_staged_files(
    config: dict[str, Any],
) -> None:
    # A lint step checks everything (a staged .tf can break an unstaged module's docs);
    # given file names, ruff and mypy would check only those.
    for hook in hooks(config):
        assert hook["pass_filenames"] is False, hook["id"]


def test_no_hook_code_is_fetched_unpinned(config: dict[str, Any]) -> None:
    for repo in config["repos"]:
        if repo["repo"] in ("local", "meta"):
            continue
        assert COMMIT_SHA.match(repo.get("rev", "")), f"{repo['repo']}: pin rev to a commit SHA"
