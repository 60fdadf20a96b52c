"""A crashed local stack leaves nothing running, and the next `make local` starts cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from scripts.local_stack.__main__ import claim_state_dir

REPO_ROOT = Path(__file__).resolve().parents[2]


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stale_pid_file_from_a_crash_is_cleared(tmp_path: Path) -> None:
    (tmp_path / "stack.pid").write_text(f"{dead_pid()}\n")
    (tmp_path / "stack.json").write_text("{}")

    claim_state_dir(tmp_path)

    assert (tmp_path / "stack.pid").read_text().strip() == str(os.getpid())
    assert not (tmp_path / "stack.json").exists()


def test_second_stack_on_a_live_state_dir_is_refused(tmp_path: Path) -> None:
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "stack.pid").write_text(f"{live.pid}\n")
        with pytest.raises(SystemExit, match="already running"):
            claim_state_dir(tmp_path)
    finally:
        live.kill()
        live.wait()


def test_function_environment_exits_when_the_stack_is_killed(tmp_path: Path) -> None:
    # Given a stack-like parent with a warm function environment
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from pathlib import Path
                from scripts.local_stack.runtime import FunctionRuntime
                log = Path({str(tmp_path)!r}) / "fn.log"
                fn = FunctionRuntime("fn", "tests.local_stack.fake_handlers.env",
                                     {{"PATH": "/usr/bin:/bin"}}, 5, 128, log)
                print(fn.invoke({{"name": "PATH"}})["pid"], flush=True)
                time.sleep(60)
                """
            ),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())

    # When the parent dies without cleaning up (SIGKILL: no handlers run)
    parent.send_signal(signal.SIGKILL)
    parent.wait()

    # Then the function environment notices and exits by itself
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child_pid}").exists():
        status = (
            Path(f"/proc/{child_pid}/status").read_text()
            if Path(f"/proc/{child_pid}/status").exists()
            else ""
        )
        if "State:\tZ" in status:
            break  # exited; only waiting to be reaped by init
        assert time.monotonic() < deadline, "function environment outlived its stack"
        time.sleep(0.1)
