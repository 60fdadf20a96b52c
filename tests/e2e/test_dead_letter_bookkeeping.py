"""No job stuck, on the local stack: a worker killed during a job's final delivery, and an
outbox pipe that cannot deliver, both leave the job's message in the DLQ without the
worker's bookkeeping; the DLQ bookkeeping (a scheduled function, every few seconds
locally) marks the job `failed` (dead_lettered), counted in GET /v1/usage; redrive then
queues it again and it succeeds."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import requests

from jobs_platform.jobs import Job, JobStatus, JobStore
from jobs_platform.jobs.transitions import DEAD_LETTERED
from tests.e2e.conftest import Stack

REPO_ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 180  # visibility timeout + the schedule's period, on a loaded machine


def jobs_of(stack: Stack) -> JobStore:
    return JobStore(stack.client("dynamodb"), stack.outputs["jobs_table_name"])


def wait_until(what: str, condition: Any, timeout: float = DEADLINE_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.05)


def usage_totals(stack: Stack, key: str) -> dict[str, int]:
    response = requests.get(stack.url("/v1/usage"), headers=stack.headers(key), timeout=10)
    assert response.status_code == 200, response.text
    totals: dict[str, int] = response.json()["totals"]
    return totals


def runtime_pids(stack: Stack, function_name: str) -> list[int]:
    """The execution environments (processes) of one function of this stack."""
    stack_pid = (stack.state_dir / "stack.pid").read_text().strip()
    wanted = {
        f"LOCAL_STACK_PARENT_PID={stack_pid}".encode(),
        f"AWS_LAMBDA_FUNCTION_NAME={function_name}".encode(),
    }
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = set((proc / "environ").read_bytes().split(b"\0"))
        except OSError:
            continue
        if wanted <= environ:
            pids.append(int(proc.name))
    return pids


def use_receives(stack: Stack, job: Job, receives: int) -> None:
    """Receive the job's message from the jobs queue `receives` times and put it back at
    once: its next delivery is then its (maxReceiveCount - receives)th from the end."""
    sqs = stack.client("sqs")
    queue_url = stack.outputs["jobs_queue_url"]
    used = 0
    deadline = time.monotonic() + 60
    while used < receives:
        assert time.monotonic() < deadline, "the job's message never reached the jobs queue"
        for message in sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
        ).get("Messages", []):
            if job.job_id in message["Body"]:
                used += 1


def assert_dead_lettered(stack: Stack, key: str, job: Job, attempts: int, reason: str) -> None:
    failed = stack.wait_for_job(
        job.job_id, {"failed", "succeeded"}, timeout=DEADLINE_SECONDS, api_key=key
    )
    assert failed["status"] == "failed", failed
    assert failed["error"]["code"] == DEAD_LETTERED
    assert reason in failed["error"]["message"]
    assert failed["attempts"] == attempts  # never run again behind the kill
    assert usage_totals(stack, key)["failed"] == 1


def redrive_and_see_it_succeed(stack: Stack, key: str, job: Job) -> None:
    def listed() -> str | None:
        out = stack.redrive()
        return out if job.job_id in out else None

    listing = wait_until("redrive lists the job's message", listed)
    line = next(line for line in listing.splitlines() if job.job_id in line)
    assert "dead-lettered -> would queue the job again" in line
    done = stack.redrive("--apply")
    assert job.job_id in done
    finished = stack.wait_for_job(job.job_id, {"succeeded", "failed"}, api_key=key)
    assert finished["status"] == "succeeded", finished
    totals = usage_totals(stack, key)
    assert (totals["succeeded"], totals["failed"]) == (1, 0)  # the failure was taken back


def test_worker_killed_during_the_final_delivery_ends_failed_not_running(stack: Stack) -> None:
    key = stack.mint_key("killed-on-final-delivery")
    jobs = jobs_of(stack)
    worker = stack.outputs["function_names"]["worker"]
    max_receive_count = int(
        json.loads(
            stack.client("sqs").get_queue_attributes(
                QueueUrl=stack.outputs["jobs_queue_url"], AttributeNames=["RedrivePolicy"]
            )["Attributes"]["RedrivePolicy"]
        )["maxReceiveCount"]
    )
    # Given a job whose next delivery is its last (the earlier ones used up meanwhile)
    with stack.mapping_disabled("worker"):
        response = stack.submit("sleep", {"seconds": 2}, api_key=key)
        assert response.status_code == 202, response.text
        job = jobs.get("killed-on-final-delivery", response.json()["job_id"])
        use_receives(stack, job, max_receive_count - 1)

    # When every worker environment is SIGKILLed while it runs the job on that delivery
    wait_until(
        "the worker claims the job on its last delivery",
        lambda: (j := jobs.load(job.tenant_id, job.job_id)) and j.status is JobStatus.RUNNING,
        timeout=60,
    )
    killed = runtime_pids(stack, worker)
    assert killed, "no worker environment found to kill"
    for pid in killed:
        os.kill(pid, signal.SIGKILL)

    # Then its message reaches the DLQ unmarked, and the bookkeeping marks the job failed
    # (not left running for ever), counted failed; redrive queues it and it succeeds
    assert_dead_lettered(stack, key, job, attempts=1, reason="dead-letter queue")
    redrive_and_see_it_succeed(stack, key, job)


def test_pipe_delivery_failure_ends_failed_not_queued(stack: Stack) -> None:
    key = stack.mint_key("pipe-failure")
    fault = stack.state_dir / "faults" / "pipe-target"
    fault.parent.mkdir(exist_ok=True)
    # Given an outbox pipe whose sends to the jobs queue fail (its retries run out, its
    # failure record, naming stream sequence numbers, goes to the DLQ)
    fault.write_text("e2e: the jobs queue refuses the pipe's sends\n")
    try:
        response = stack.submit("echo", {"via": "a failing pipe"}, api_key=key)
        assert response.status_code == 202, response.text
        job = jobs_of(stack).get("pipe-failure", response.json()["job_id"])
        # Then the bookkeeping reads the batch back from the stream and marks the job
        assert_dead_lettered(stack, key, job, attempts=0, reason="outbox pipe")
    finally:
        fault.unlink(missing_ok=True)
    # And the pipe's record was replaced by the job's own message, which redrive moves
    redrive_and_see_it_succeed(stack, key, job)
    assert "outbox pipe could not deliver stream records" not in stack.redrive()
