"""`make load`'s script, bounded and small, against the session's local stack: every
accepted job terminal, none lost or duplicated, no connection errors (the acceptance run
of 32 clients for 60 s is `make load`, reported in docs/local-stack.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import Stack

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_bounded_load_run_loses_and_duplicates_nothing(stack: Stack, tmp_path: Path) -> None:
    report_file = tmp_path / "load.json"
    result = subprocess.run(
        [sys.executable, "-m", "scripts.load", "--state-dir", str(stack.state_dir),
         "--duration", "5", "--warmup", "1", "--clients", "8", "--drain-timeout", "180",
         "--json", str(report_file)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(report_file.read_text())
    assert report["accepted"] > 0 and report["replays"] > 0
    assert report["terminal"] == report["accepted"]
    assert report["lost"] == report["stuck"] == report["failed"] == report["duplicates"] == 0
    assert report["connection_errors"] == {}
    # 429: the stage's throttling (50 requests/s locally), which 8 clients on a fast stack
    # can exceed; the clients back off and submit again. Any other answer fails the run.
    assert set(report["statuses"]) <= {"200", "202", "429"}
