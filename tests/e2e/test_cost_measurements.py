"""The cost model's per-job numbers, measured: what one submit, one poll and one job make
AWS do on the local stack, compared with `cost/measured.json` (which `make cost` prices).

Every function process records each botocore call it makes (operation, item writes and
reads: scripts/local_stack/runtime.py); the pipe and the SQS event source mapping record
the calls AWS makes for them. This test drives N jobs of one fresh tenant through the
real path, counts the calls per event, and reads the items back for their billed sizes.
A change to the code that adds or removes a call, a write, a transaction or an index
write per job fails here until cost/measured.json is updated; regenerate it with

    UPDATE_COST_MEASUREMENTS=1 make test PYTEST_ARGS=tests/e2e/test_cost_measurements.py
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import requests
from scripts import cost

from tests.e2e.conftest import Stack

JOBS = 4
POLLS = 4
PAYLOAD = {"document": "x" * 400, "n": 12345}
LOG_BYTES_TOLERANCE = 0.15  # ids and timestamps are fixed-width; durations vary a little
DRAIN_TIMEOUT_SECONDS = 240  # earlier tests' retries (visibility 18 s x 3 receives)


class Cursor:
    """Lines appended to a file since the cursor was made."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def lines(self) -> list[str]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            return handle.read().decode("utf-8").splitlines()


def _records(cursor: Cursor) -> list[dict[str, Any]]:
    return [json.loads(line) for line in cursor.lines() if line.strip()]


def _log_bytes(cursor: Cursor, tenant_id: str) -> int:
    """Bytes of the function's log lines about this tenant (with their newlines)."""
    total = 0
    for line in cursor.lines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("tenant_id") == tenant_id:
            total += len(line.encode("utf-8")) + 1
    return total


def _queue_depth(stack: Stack) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["jobs_queue_url"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)


def _terminal(stack: Stack, tenant_id: str, job_ids: list[str]) -> bool:
    dynamodb = stack.client("dynamodb")
    for job_id in job_ids:
        item = dynamodb.get_item(
            TableName=stack.outputs["jobs_table_name"],
            Key={"pk": {"S": f"TENANT#{tenant_id}"}, "sk": {"S": f"JOB#{job_id}"}},
            ConsistentRead=True,
        ).get("Item")
        if item is None or item["status"]["S"] not in ("succeeded", "failed", "cancelled"):
            return False
    return True


def _count_actions(cursor: Cursor, action: str) -> int:
    return sum(1 for record in _records(cursor) if record.get("action") == action)


def measure(stack: Stack) -> dict[str, Any]:
    functions = stack.outputs["function_names"]
    calls_dir = stack.state_dir / "calls"
    logs_dir = stack.state_dir / "logs"
    tenant_id = f"cost-{int(time.time() * 1000)}"
    tenant_pk = f"TENANT#{tenant_id}"
    key = stack.mint_key(tenant_id, daily_job_quota=1000)
    # Nothing else in flight: earlier tests' retries would add queue calls to ours.
    _wait(lambda: _queue_depth(stack) == 0, DRAIN_TIMEOUT_SECONDS, "the jobs queue to drain")

    def ops(fn: str) -> Cursor:
        return Cursor(calls_dir / f"{functions[fn]}.ops.jsonl")

    def log(fn: str) -> Cursor:
        return Cursor(logs_dir / f"{functions[fn]}.log")

    pipe_calls = Cursor(calls_dir / f"pipe-{stack.outputs['pipe_name']}.jsonl")
    mapping_calls = Cursor(calls_dir / f"{functions['worker']}.jsonl")
    api_ops, api_log, auth_ops, auth_log = (
        ops("api"),
        log("api"),
        ops("authorizer"),
        log("authorizer"),
    )
    worker_ops, worker_log = ops("worker"), log("worker")

    job_ids: list[str] = []
    for _ in range(JOBS):
        response = stack.submit("echo", PAYLOAD, api_key=key)
        assert response.status_code == 202, response.text
        job_ids.append(response.json()["job_id"])
        # One at a time: each job its own worker invocation and message deletion (the
        # model's light-load case), so the counts do not depend on batching luck.
        _wait(lambda: _terminal(stack, tenant_id, job_ids[-1:]), 120, "the job to finish")
        _wait(lambda: _queue_depth(stack) == 0, 60, "its message to be deleted")
    submit = cost.phase_from_records(_records(api_ops), tenant_pk, JOBS, principal="api")
    submit["log_bytes"] = _log_bytes(api_log, tenant_id) / JOBS
    # Per authorizer invocation: API Gateway caches its answer per key (the TTL the
    # Terraform sets), so the submits of one key invoke it once, or again after the TTL.
    invocations = sum('"message":"allowed"' in line and tenant_id in line
                      for line in auth_log.lines())  # fmt: skip
    assert invocations >= 1, "the fresh key's first request invokes the authorizer"
    authorization = cost.phase_from_records(
        _records(auth_ops), tenant_pk, invocations, principal="authorizer"
    )
    authorization["log_bytes"] = len("".join(auth_log.lines()).encode()) / invocations

    job = cost.phase_from_records(_records(worker_ops), tenant_pk, JOBS, principal="worker")
    job["log_bytes"] = _log_bytes(worker_log, tenant_id) / JOBS
    job["calls"]["pipe"] = {"sqs:SendMessage": _count_actions(pipe_calls, "sqs:SendMessage") / JOBS}
    job["calls"]["event_source_mapping"] = {
        "sqs:DeleteMessage": _count_actions(mapping_calls, "sqs:DeleteMessage") / JOBS
    }

    api_ops, api_log = ops("api"), log("api")
    for index in range(POLLS):
        response = requests.get(
            stack.url(f"/v1/jobs/{job_ids[index % JOBS]}"), headers=stack.headers(key), timeout=10
        )
        assert response.status_code == 200, response.text
    poll = cost.phase_from_records(_records(api_ops), tenant_pk, POLLS, principal="api")
    poll["log_bytes"] = _log_bytes(api_log, tenant_id) / POLLS

    items = stack.client("dynamodb").query(
        TableName=stack.outputs["jobs_table_name"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": tenant_pk}},
        ConsistentRead=True,
    )["Items"]
    overhead: dict[str, list[int]] = {}
    for item in items:
        kind = item["sk"]["S"].split("#", 1)[0]
        size = cost.item_bytes(item)
        if kind == "JOB":
            size -= cost.attribute_size(item["payload"]) + cost.attribute_size(item["result"])
        overhead.setdefault(kind, []).append(size)
    return {
        "source": "tests/e2e/test_cost_measurements.py: the local stack, "
        f"{JOBS} echo jobs of one tenant and {POLLS} polls",
        "per_submit": submit,
        "per_poll": poll,
        "per_job": job,
        "per_authorization": authorization,
        "item_overhead_bytes": {kind: max(sizes) for kind, sizes in sorted(overhead.items())},
    }


def _close(measured: float, recorded: float, tolerance: float) -> bool:
    return abs(measured - recorded) <= tolerance * max(recorded, 1)


def test_calls_and_writes_per_job_match_the_cost_model(stack: Stack) -> None:
    measured = measure(stack)
    if os.environ.get("UPDATE_COST_MEASUREMENTS") == "1":
        cost.MEASURED_FILE.write_text(json.dumps(measured, indent=2, sort_keys=True) + "\n")
    recorded = json.loads(cost.MEASURED_FILE.read_text())
    hint = "; if intended, regenerate cost/measured.json (see this test's docstring)"
    for phase in ("per_submit", "per_poll", "per_job", "per_authorization"):
        got, want = measured[phase], recorded[phase]
        assert got["calls"] == want["calls"], f"{phase} calls drifted: {got['calls']}{hint}"
        assert sorted(map(json.dumps, got["writes"])) == sorted(map(json.dumps, want["writes"])), (
            f"{phase} item writes drifted: {got['writes']}{hint}"
        )
        assert got["consistent_reads"] == want["consistent_reads"], f"{phase} reads{hint}"
        assert _close(got["log_bytes"], want["log_bytes"], LOG_BYTES_TOLERANCE), (
            f"{phase} log bytes {got['log_bytes']:.0f} vs {want['log_bytes']:.0f}{hint}"
        )
    for kind, size in recorded["item_overhead_bytes"].items():
        assert _close(measured["item_overhead_bytes"][kind], size, 0.1), (
            f"{kind} item size {measured['item_overhead_bytes'][kind]} vs {size}{hint}"
        )
    # The model prices what was measured: one submit is one transaction (quota + job).
    assert measured["per_submit"]["calls"]["api"] == {"dynamodb:TransactWriteItems": 1.0}
