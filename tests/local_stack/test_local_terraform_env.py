"""scripts/local_stack/terraform.py runs terraform with the local environment (fake
credentials, the emulator's endpoint) given to that subprocess alone: this process's own
environment is never changed, not even while terraform runs (other threads — the local
stack's pollers, a test's clients — read it meanwhile)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from scripts import fake_aws
from scripts.local_stack.terraform import LocalTerraform

ENDPOINT = "http://127.0.0.1:1"
DEADLINE_SECONDS = 120


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_terraform_gets_the_local_environment_and_this_process_keeps_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A `terraform` that records what it was given, says it started, and waits for a go.
    started, go, seen = tmp_path / "started", tmp_path / "go", tmp_path / "seen.json"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "terraform").write_text(
        "#!/usr/bin/env python3\n"
        "import json, os, sys, time\n"
        f"json.dump({{'args': sys.argv[1:], 'env': dict(os.environ)}}, open({str(seen)!r}, 'w'))\n"
        f"open({str(started)!r}, 'w').close()\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.05)\n"
        "print(json.dumps({'api_id': {'value': 'abc'}}))\n"
    )
    (bin_dir / "terraform").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("AWS_PROFILE", "someones-real-account")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    before = dict(os.environ)
    terraform = LocalTerraform(ENDPOINT, data_dir=tmp_path / "data")

    outputs: dict[str, object] = {}
    runner = threading.Thread(target=lambda: outputs.update(terraform.output()), daemon=True)
    runner.start()
    try:
        _wait_for(started)
        during = dict(os.environ)  # while terraform runs
    finally:
        go.touch()
        runner.join(DEADLINE_SECONDS)

    assert outputs == {"api_id": "abc"}
    assert during == before
    assert dict(os.environ) == before
    given = json.loads(seen.read_text())
    assert given["args"] == ["output", "-no-color", "-json"]
    env = given["env"]
    assert env["AWS_ENDPOINT_URL"] == ENDPOINT
    assert env["AWS_ACCESS_KEY_ID"] == fake_aws.ACCESS_KEY_ID
    assert env["AWS_REGION"] == fake_aws.REGION
    assert env["TF_DATA_DIR"] == str((tmp_path / "data").resolve())
    assert "AWS_PROFILE" not in env  # never a real account
