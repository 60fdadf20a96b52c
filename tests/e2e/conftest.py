"""The local stack, started once per test session, driven over real HTTP on loopback.

`python -m scripts.local_stack --port 0` runs in its own state dir (never the user's
`.local/`): moto server, terraform apply of environments/local.tfvars, the gateway, the
pipe and queue pollers. Teardown sends SIGTERM and requires a clean exit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from scripts import fake_aws

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 420


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every e2e test shares one stack, so all of them run in one xdist worker."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.xdist_group("e2e"))
    # Audits of what the suite did (IAM least privilege) run after everything else.
    items.sort(key=lambda item: item.get_closest_marker("after_all_e2e") is not None)


@dataclass
class Stack:
    base_url: str
    api_key: str
    emulator_endpoint: str
    outputs: dict[str, Any]
    state_dir: Path
    process: subprocess.Popen[str]
    source_dir: Path | None = None
    console: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=fake_aws.REGION,
            endpoint_url=self.emulator_endpoint,
            aws_access_key_id=fake_aws.ACCESS_KEY_ID,
            aws_secret_access_key=fake_aws.SECRET_ACCESS_KEY,
        )

    def headers(self, api_key: str | None = None, **extra: str) -> dict[str, str]:
        return {"x-api-key": api_key or self.api_key, "content-type": "application/json", **extra}

    def redrive(self, *args: str) -> str:
        """`python -m scripts.redrive` against this stack (its output; it must succeed)."""
        result = subprocess.run(
            [sys.executable, "-m", "scripts.redrive", "--state-dir", str(self.state_dir), *args],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def mint_key(self, tenant_id: str, daily_job_quota: int = 1000) -> str:
        from scripts.api_keys import create_api_key

        key, _ = create_api_key(
            self.outputs["api_keys_table_name"],
            tenant_id,
            f"e2e {tenant_id}",
            daily_job_quota,
            client=self.client("dynamodb"),
        )
        return key

    def submit(self, job_type: str, payload: dict[str, Any], api_key: str | None = None,
               **headers: str) -> requests.Response:  # fmt: skip
        return requests.post(
            self.url("/v1/jobs"),
            json={"type": job_type, "payload": payload},
            headers=self.headers(api_key, **headers),
            timeout=10,
        )

    @contextmanager
    def mapping_disabled(self, function: str, timeout: float = 120) -> Iterator[None]:
        """The function's queue event source mapping disabled for the block (its messages
        wait in the queue), once every poller of it has said so in the gateway log (each
        says it after its last batch), then enabled again."""
        lambda_client = self.client("lambda")
        name = self.outputs["function_names"][function]
        [mapping] = [
            m
            for m in lambda_client.list_event_source_mappings()["EventSourceMappings"]
            if m["FunctionArn"].endswith(f":{name}")
        ]
        uuid = mapping["UUID"]
        gateway_log = self.state_dir / "logs" / "gateway.log"

        def said(what: str) -> int:
            return gateway_log.read_text().count(f"esm {uuid} {what}")

        pollers, before = said("polling"), said("disabled")
        assert pollers > 0, f"no poller of mapping {uuid} in {gateway_log}"
        lambda_client.update_event_source_mapping(UUID=uuid, Enabled=False)
        try:
            deadline = time.monotonic() + timeout
            while said("disabled") - before < pollers:
                assert time.monotonic() < deadline, f"mapping {uuid} still polled after {timeout} s"
                time.sleep(0.1)
            yield
        finally:
            lambda_client.update_event_source_mapping(UUID=uuid, Enabled=True)

    def wait_for_job(self, job_id: str, statuses: set[str], timeout: float = 60,
                     api_key: str | None = None) -> dict[str, Any]:  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            response = requests.get(
                self.url(f"/v1/jobs/{job_id}"), headers=self.headers(api_key), timeout=10
            )
            assert response.status_code == 200, response.text
            job: dict[str, Any] = response.json()
            if job["status"] in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} is {job['status']} after {timeout}s: {job}")
            time.sleep(0.25)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    existing = os.environ.get("E2E_STACK_STATE_DIR")
    if existing:
        # Developer loop: drive an already running `make local` (its state dir).
        state_dir = Path(existing)
        details = json.loads((state_dir / "emulator.json").read_text())
        stack_file = json.loads((state_dir / "stack.json").read_text())
        yield Stack(stack_file["base_url"], stack_file["api_key"],
                    details["emulator_endpoint"], details["outputs"], state_dir,
                    subprocess.Popen(["true"]))  # fmt: skip
        return
    state_dir = tmp_path_factory.mktemp("local-stack")
    artifacts = REPO_ROOT / "dist" / "artifacts.tfvars.json"
    if not artifacts.exists():
        subprocess.run([sys.executable, "-m", "scripts.package"], cwd=REPO_ROOT, check=True)
    # The functions run a copy of the source, so a test can edit a handler live (the fast
    # edit loop) without touching the repository other tests read.
    source_dir = state_dir / "lambdas"
    shutil.copytree(
        REPO_ROOT / "lambdas",
        source_dir,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scripts.local_stack",
            "--port",
            "0",
            "--state-dir",
            str(state_dir),
            "--source-dir",
            str(source_dir),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    console: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            console.append(line.rstrip())
            if line.startswith("READY "):
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(START_TIMEOUT_SECONDS) or process.poll() is not None:
        process.kill()
        pytest.fail("local stack did not start:\n" + "\n".join(console[-60:]))
    stack_file = json.loads((state_dir / "stack.json").read_text())
    details = json.loads((state_dir / "emulator.json").read_text())
    yield Stack(
        base_url=stack_file["base_url"],
        api_key=stack_file["api_key"],
        emulator_endpoint=details["emulator_endpoint"],
        outputs=details["outputs"],
        state_dir=state_dir,
        process=process,
        console=console,
        source_dir=source_dir,
    )
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("local stack did not stop within 30 s of SIGTERM")
    assert code == 0, "\n".join(console[-40:])
    # No orphans: no process started by the stack outlives it.
    deadline = time.monotonic() + 10
    while (survivors := stack_processes(process.pid, details["emulator_endpoint"])) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.5)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"processes of the local stack outlived it: {survivors}"


def stack_processes(stack_pid: int, emulator_endpoint: str) -> list[int]:
    """Function runtimes (tagged with the stack's pid) and the emulator (by its port)."""
    port = emulator_endpoint.rsplit(":", 1)[1]
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        is_runtime = f"LOCAL_STACK_PARENT_PID={stack_pid}".encode() in environ.split(b"\0")
        is_emulator = b"scripts.local_stack.emulator" in cmdline and port.encode() in cmdline
        if is_runtime or is_emulator:
            found.append(int(proc.name))
    return found
