"""The Makefile, the one entry point: `make help` lists every target with the ENV it acts
on by default, .PHONY names exactly the targets, ENV is honoured, and the deploy-side
targets install nothing (`make -n` prints the commands without running them)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (REPO_ROOT / "Makefile").read_text()
# Rules, not the lines that set a target's default ENV (`plan apply: ENV ?= dev`).
RULE = re.compile(r"^([a-z][a-z -]*):(?!=)(?!\s*ENV \?=)", re.MULTILINE)
DEPLOY_SIDE = ("preflight", "plan", "apply", "drift", "smoke", "outputs")


def make(*args: str) -> str:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip


def help_rows() -> dict[str, str | None]:
    """target -> its default ENV (None: it takes none), from `make help`."""
    rows: dict[str, str | None] = {}
    for line in make("help").splitlines():
        m = re.match(r"^  (\S+)\s+(?:ENV=(\S+)\s+)?\S", line)
        assert m, f"unexpected help line {line!r}"
        rows[m.group(1)] = m.group(2)
    return rows


def rules() -> set[str]:
    return {t for line in RULE.findall(MAKEFILE) for t in line.split()}


def phony() -> set[str]:
    m = re.search(r"^\.PHONY:(.*?)(?<!\\)\n", MAKEFILE, re.MULTILINE | re.DOTALL)
    assert m
    return set(m.group(1).replace("\\\n", " ").split())


def test_help_lists_every_target_and_phony_names_exactly_them() -> None:
    targets = rules()
    assert set(help_rows()) == targets
    assert phony() == targets, "stale or missing .PHONY names"


@pytest.mark.parametrize(
    "target",
    [
        "preflight",
        "plan",
        "apply",
        "drift",
        "outputs",
        "api-key",
        "backend-config",
        "cost",
        "smoke",
    ],
)
def test_help_shows_the_env_each_target_really_defaults_to(target: str) -> None:
    default = help_rows()[target]
    assert default, f"make help does not say which ENV {target} acts on"
    dry = make("-n", "-B", target, "STACK=x", "VENV=/nonexistent/venv")
    assert re.search(
        rf'(scripts/tf|scripts\.preflight|bootstrap_config|--env|\[ ") {default}\b', dry
    ), dry


def test_targets_without_an_environment_show_none() -> None:
    rows = help_rows()
    assert rows["test"] is None and rows["package"] is None and rows["providers-lock"] is None


def test_smoke_honours_env() -> None:
    assert "scripts/tf staging output -json" in make("-n", "smoke", "ENV=staging")
    assert '[ "local" = local ]' in make("-n", "smoke")


@pytest.mark.parametrize("target", DEPLOY_SIDE)
def test_deploy_side_targets_install_nothing(target: str) -> None:
    # They run in deploy jobs after the role is assumed: standard library + terraform only.
    dry = make("-n", "-B", target, "ENV=staging", "VENV=/nonexistent/venv")
    assert "pip" not in dry and "-m venv" not in dry and "/nonexistent/venv" not in dry, dry


def test_dev_targets_do_build_the_virtualenv() -> None:
    # The converse, so the check above can fail: the dev toolchain is installed by these.
    assert "-m venv /nonexistent/venv" in make("-n", "-B", "package", "VENV=/nonexistent/venv")


def test_api_key_mints_into_the_environments_table_and_can_print_the_key_alone() -> None:
    dry = make("-n", "api-key", "ENV=prod", "KEY_ONLY=1", "VENV=/nonexistent/venv")
    assert "scripts/tf prod output -raw api_keys_table_name" in dry
    assert "scripts.environments get prod region" in dry
    assert "scripts.api_keys create" in dry and "--output key" in dry


def test_building_the_virtualenv_prints_progress_on_stderr_only(tmp_path: Path) -> None:
    # Given a stand-in Python whose `-m venv DIR` makes DIR/bin/python (itself) and whose
    # pip does nothing, when make builds the virtualenv, then stdout stays empty: targets
    # that print a value for a pipe (`make -s api-key KEY_ONLY=1 | gh secret set`) must
    # not carry the venv's progress lines into it.
    fake = tmp_path / "python"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi\n'
    )
    fake.chmod(0o755)
    venv = tmp_path / "venv"
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", f"PYTHON={fake}", f"VENV={venv}",
         f"{venv}/.installed"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert result.stdout == ""
    assert "venv: installing" in result.stderr and "ready in" in result.stderr
