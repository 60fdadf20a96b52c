"""`make local` on a port something else listens on fails at once (before the emulator
and the Terraform apply), naming the port and how to choose another."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_a_busy_port_fails_fast_naming_it_and_port_to_choose_another(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts.tfvars.json"
    artifacts.write_text("{}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "scripts.local_stack", "--port", str(port),
             "--state-dir", str(tmp_path / "state"), "--artifacts", str(artifacts)],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert "PORT=" in result.stderr
    assert "terraform" not in result.stdout.lower()  # nothing started
    assert not (tmp_path / "state" / "stack.pid").exists()  # the next run is not refused
