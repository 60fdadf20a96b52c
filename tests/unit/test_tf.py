"""`python3 -m scripts.tf <env> ...` (what make plan/apply/drift/outputs run): the right
environment, backend and data dir, `terraform init` exactly when what it depends on
changed, and a clear refusal of the emulator's environment, unknown names and a missing
backend file. A `terraform` stand-in on PATH records each call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from scripts.terraform_cli import copy_root_module

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_root_module(REPO_ROOT, tmp_path / "repo", module_tests=False)


def run_tf(repo: Path, tmp_path: Path, *args: str, **env: str) -> tuple[int, str, list[str]]:
    """Run scripts.tf against the scratch `repo`; (exit status, stderr, terraform calls)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "terraform.log"
    if not bin_dir.exists():
        bin_dir.mkdir()
        (bin_dir / "terraform").write_text(
            "#!/usr/bin/env bash\n"
            'printf "%s | TF_DATA_DIR=%s TF_INPUT=%s\\n" "$*" "$TF_DATA_DIR" "$TF_INPUT"'
            f' >> "{log}"\n'
        )
        (bin_dir / "terraform").chmod(0o755)
    environ = {k: v for k, v in os.environ.items() if k != "CI"}
    environ.update(PATH=f"{bin_dir}:{environ['PATH']}", **env)
    code = "import sys; from pathlib import Path; from scripts.tf import main; "
    code += f"sys.exit(main(sys.argv[1:], repo_root=Path({str(repo)!r})))"
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    calls = log.read_text().splitlines() if log.exists() else []
    return done.returncode, done.stderr, calls


def test_init_runs_once_then_only_when_the_configuration_changes(
    repo: Path, tmp_path: Path
) -> None:
    data_dir = repo / ".terraform" / "staging"
    code, _, calls = run_tf(repo, tmp_path, "staging", "output", "-json")
    assert code == 0
    assert calls == [
        "init -input=false -reconfigure -backend-config=environments/staging.backend.hcl"
        f" | TF_DATA_DIR={data_dir} TF_INPUT=0",
        f"output -json | TF_DATA_DIR={data_dir} TF_INPUT=0",
    ]

    run_tf(repo, tmp_path, "staging", "output")
    assert (
        run_tf(repo, tmp_path, "staging", "output")[2][-2:]
        == [f"output | TF_DATA_DIR={data_dir} TF_INPUT=0"] * 2
    ), "no init while nothing changed"

    with (repo / "terraform" / "modules" / "api" / "main.tf").open("a") as tf:
        tf.write("\n# changed\n")
    calls = run_tf(repo, tmp_path, "staging", "output")[2]
    assert calls[-2].startswith("init "), calls


def test_ci_installs_exactly_the_locked_providers(repo: Path, tmp_path: Path) -> None:
    _, _, calls = run_tf(repo, tmp_path, "prod", "init", "-upgrade=false", CI="true")
    assert calls == [
        "init -input=false -reconfigure -lockfile=readonly "
        "-backend-config=environments/prod.backend.hcl -upgrade=false"
        f" | TF_DATA_DIR={repo / '.terraform' / 'prod'} TF_INPUT=0"
    ]


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["local", "plan"], 2, "'local' runs against the emulator: use 'make local'"),
        (["qa", "plan"], 2, "unknown environment 'qa' (environments/: dev prod staging)"),
        (["staging"], 2, "usage: python3 -m scripts.tf <env>"),
    ],
)
def test_refuses_what_it_cannot_run(
    repo: Path, tmp_path: Path, args: list[str], status: int, message: str
) -> None:
    code, stderr, calls = run_tf(repo, tmp_path, *args)
    assert (code, calls) == (status, [])
    assert message in stderr


def test_a_missing_backend_file_says_how_to_write_it(repo: Path, tmp_path: Path) -> None:
    (repo / "environments" / "dev.backend.hcl").unlink()
    code, stderr, calls = run_tf(repo, tmp_path, "dev", "plan")
    assert (code, calls) == (1, [])
    assert "make backend-config ENV=dev STACK=<bootstrap stack>" in stderr
