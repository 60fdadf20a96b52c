"""Business metrics (EMF), correlation from the API request to the worker's lines, and the
tenant's usage counters with GET /v1/usage: through the api and worker handlers on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from jobs_platform import log, metrics, tracing
from tests.helpers import api_event, body_of, job_record, sqs_event

TENANT = "tenant-a"
TRACE = "Root=1-65a1b2c3-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"


class Context:
    aws_request_id = "lambda-request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def calls(api: ModuleType, worker: ModuleType) -> Iterator[list[str]]:
    """Every DynamoDB operation the api and worker functions make from here on."""
    made: list[str] = []

    def record(model: Any, **_: Any) -> None:
        made.append(model.name)

    clients = {id(m._dynamodb): m._dynamodb for m in (api, worker)}
    for client in clients.values():
        client.meta.events.register("before-parameter-build.dynamodb", record)
    yield made
    for client in clients.values():
        client.meta.events.unregister("before-parameter-build.dynamodb", record)


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def emf(entry: dict[str, Any]) -> dict[str, Any]:
    """The metrics an EMF line publishes, checked against the format's rules."""
    directive = entry["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == metrics.NAMESPACE
    for dimensions in directive["Dimensions"]:
        assert "tenant_id" not in dimensions
        assert all(isinstance(entry[d], str) for d in dimensions)
    return {m["Name"]: entry[m["Name"]] for m in directive["Metrics"]}


def submit(api: ModuleType, payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    event = api_event("POST", "/v1/jobs", json_body={"type": "echo", "payload": payload}, **kwargs)
    event["headers"]["x-request-id"] = "client-req-42"
    event["headers"]["x-amzn-trace-id"] = TRACE
    return api.handler(event, Context())


def test_submit_is_one_transaction_and_its_line_carries_metrics_and_ids(
    api: ModuleType, calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    log.reset_process()  # this is the execution environment's first invocation
    response = submit(api, {"n": 1})

    assert response["statusCode"] == 202
    assert calls == ["TransactWriteItems"]  # metering and tracing add no round trip
    (line,) = lines(capsys)  # one line per request
    assert line["message"] == "request handled" and line["status"] == 202
    assert line["lambda_request_id"] == "lambda-request-1" and line["cold_start"] is True
    assert line["request_id"] == "client-req-42" and line["tenant_id"] == TENANT
    assert emf(line) == {metrics.JOBS_SUBMITTED: 1}
    assert (line["JobType"], line["Service"]) == ("echo", "jobs-platform-test")


def test_quota_rejection_is_counted(api: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    response = submit(api, {"n": 1}, daily_job_quota=0)

    assert response["statusCode"] == 429
    assert emf(lines(capsys)[-1]) == {metrics.JOBS_REJECTED: 1}


def test_worker_lines_carry_the_creating_request_and_trace_and_report_latencies(
    api: ModuleType,
    worker: ModuleType,
    calls: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(tracing.TRACE_HEADER_ENV, TRACE)  # the api's Lambda trace
    job_id = body_of(submit(api, {"n": 1}))["job_id"]
    capsys.readouterr()
    calls.clear()

    result = worker.handler(sqs_event(job_record(TENANT, job_id)), Context())

    assert result == {"batchItemFailures": []}
    # read, claim, succeed: plus ONE write for the tenant's usage counters.
    assert calls == ["GetItem", "UpdateItem", "UpdateItem", "UpdateItem"]
    entries = lines(capsys)
    assert entries and all(e["request_id"] == "client-req-42" for e in entries)
    assert all(e["trace_id"] == "1-65a1b2c3-0123456789abcdef01234567" for e in entries)
    assert all(e["job_id"] == job_id and "lambda_request_id" in e for e in entries)
    started = next(e for e in entries if e["message"] == "job started")
    finished = next(e for e in entries if e["message"] == "job succeeded")
    assert set(emf(started)) == {metrics.QUEUE_WAIT}
    published = emf(finished)
    assert published[metrics.JOBS_SUCCEEDED] == 1
    assert published[metrics.SUBMIT_TO_TERMINAL] >= published[metrics.JOB_DURATION] >= 0


def test_usage_counts_jobs_by_outcome_and_compute_per_day(
    api: ModuleType, worker: ModuleType
) -> None:
    done = body_of(submit(api, {"n": 1}))["job_id"]
    cancelled = body_of(submit(api, {"n": 2}))["job_id"]
    submit(api, {"n": 3})  # stays queued
    worker.handler(sqs_event(job_record(TENANT, done)), Context())
    api.handler(api_event("DELETE", f"/v1/jobs/{cancelled}"), Context())
    other = api_event("POST", "/v1/jobs", json_body={"type": "echo", "payload": {}})
    other["requestContext"]["authorizer"]["lambda"]["tenant_id"] = "tenant-b"
    api.handler(other, Context())

    response = api.handler(api_event("GET", "/v1/usage"), Context())

    assert response["statusCode"] == 200
    usage = body_of(response)
    assert usage["from"] == usage["to"] and len(usage["days"]) == 1
    totals = usage["totals"]
    assert (totals["submitted"], totals["succeeded"], totals["cancelled"], totals["failed"]) == (
        3,
        1,
        1,
        0,
    )
    assert totals["compute_ms"] >= 0
    assert usage["days"][0]["date"] == usage["to"]


def test_usage_range_is_every_day_with_zeros(api: ModuleType) -> None:
    response = api.handler(
        api_event("GET", "/v1/usage", query={"from": "2025-01-30", "to": "2025-02-02"}), Context()
    )

    days = body_of(response)["days"]
    assert [d["date"] for d in days] == ["2025-01-30", "2025-01-31", "2025-02-01", "2025-02-02"]
    assert all(d["submitted"] == 0 and d["compute_ms"] == 0 for d in days)


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2025-13-01"},
        {"to": "yesterday"},
        {"from": "2025-02-02", "to": "2025-02-01"},
        {"from": "2024-01-01", "to": "2025-01-01"},
    ],
)
def test_usage_rejects_bad_ranges_as_problems(api: ModuleType, query: dict[str, str]) -> None:
    response = api.handler(api_event("GET", "/v1/usage", query=query), Context())

    assert response["statusCode"] == 400
    assert response["headers"]["content-type"] == "application/problem+json"
