"""Over the local stack: the functions' EMF metric lines in their logs, one job's API and
worker log lines joined by the request id the API stored on it, and GET /v1/usage."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from jobs_platform import metrics
from tests.e2e.conftest import Stack


def _entries(path: Path) -> list[dict[str, Any]]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # the runtime's own messages
        if isinstance(entry, dict):
            found.append(entry)
    return found


def _wait_for_lines(path: Path, match: Any, what: str, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in _entries(path) if match(e)] if path.exists() else []
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} in {path} after {timeout}s")
        time.sleep(0.5)


def _published(entry: dict[str, Any]) -> dict[str, Any]:
    directive = entry["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == metrics.NAMESPACE
    assert ["Service", "JobType"] in directive["Dimensions"]
    return {m["Name"]: entry[m["Name"]] for m in directive["Metrics"]}


def test_api_and_worker_lines_of_one_job_join_on_its_request_id_with_metrics(
    stack: Stack,
) -> None:
    tenant = f"obs-{int(time.time() * 1000)}"
    key = stack.mint_key(tenant)
    request_id = f"e2e-join-{tenant}"
    response = stack.submit("echo", {"hello": "join"}, api_key=key, **{"x-request-id": request_id})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    stack.wait_for_job(job_id, {"succeeded"}, api_key=key)

    logs = stack.state_dir / "logs"
    functions = stack.outputs["function_names"]
    api_lines = _wait_for_lines(
        logs / f"{functions['api']}.log",
        lambda e: e.get("request_id") == request_id,
        "api line of the request",
    )
    worker_lines = _wait_for_lines(
        logs / f"{functions['worker']}.log",
        lambda e: e.get("job_id") == job_id and e.get("message") == "job succeeded",
        "worker's success line",
    )
    worker_lines = [
        e for e in _entries(logs / f"{functions['worker']}.log") if e.get("job_id") == job_id
    ]

    # The join: every worker line about the job names the request that created it, and
    # the X-Ray trace of that request (the header API Gateway passed to the api).
    assert worker_lines and all(e["request_id"] == request_id for e in worker_lines)
    trace_ids = {e["trace_id"] for e in worker_lines}
    assert len(trace_ids) == 1 and next(iter(trace_ids)).startswith("1-")
    assert {e["tenant_id"] for e in api_lines + worker_lines} == {tenant}
    # Lambda's request id and the cold-start flag on every line of both functions.
    for entry in api_lines + worker_lines:
        assert entry["lambda_request_id"] and isinstance(entry["cold_start"], bool)
    # The metric lines, read back from the logs CloudWatch would receive.
    (submitted,) = [e for e in api_lines if "_aws" in e]
    assert _published(submitted) == {metrics.JOBS_SUBMITTED: 1}
    assert submitted["JobType"] == "echo" and submitted["tenant_id"] == tenant
    succeeded = next(e for e in worker_lines if e["message"] == "job succeeded")
    published = _published(succeeded)
    assert published[metrics.JOBS_SUCCEEDED] == 1
    assert published[metrics.SUBMIT_TO_TERMINAL] > 0
    started = next(e for e in worker_lines if e["message"] == "job started")
    assert metrics.QUEUE_WAIT in _published(started)


def test_usage_reports_the_callers_tenant_only(stack: Stack) -> None:
    tenant = f"usage-{int(time.time() * 1000)}"
    key = stack.mint_key(tenant)
    jobs = [stack.submit("echo", {"n": n}, api_key=key).json()["job_id"] for n in range(2)]
    for job_id in jobs:
        stack.wait_for_job(job_id, {"succeeded"}, api_key=key)

    # From yesterday to today (UTC): jobs submitted just before midnight and finished after
    # it count on two days, and the default range (today) would see only half of them.
    today = datetime.now(UTC).date()
    days = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
    response = requests.get(
        stack.url("/v1/usage"), params=days, headers=stack.headers(key), timeout=10
    )

    assert response.status_code == 200, response.text
    totals = response.json()["totals"]
    assert (totals["submitted"], totals["succeeded"], totals["failed"]) == (2, 2, 0)
    # Another tenant (the stack's own key) sees its own numbers, not these.
    other = requests.get(stack.url("/v1/usage"), headers=stack.headers(), timeout=10)
    assert other.status_code == 200
    bad = requests.get(
        stack.url("/v1/usage"), params={"from": "not-a-day"}, headers=stack.headers(key), timeout=10
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
