"""The local stack's emulation of API Gateway, Pipes and the SQS event source mapping."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from scripts.local_stack.gateway import (
    ApiConfig,
    Authorizer,
    Gateway,
    build_event,
    make_route,
    map_response,
)
from scripts.local_stack.pollers import (
    PipePoller,
    QueuePoller,
    ScheduleRunner,
    StoppableThread,
    matches,
    rate_seconds,
)
from scripts.local_stack.runtime import InvocationError

from jobs_platform.jobs import messages

JOB_FILTER = {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "JOB#"}]}}}}
AUTH = Authorizer("a1", "authorizer", ("$request.header.x-api-key",), True, 0)


def config() -> ApiConfig:
    return ApiConfig(
        api_id="api1",
        routes=[
            make_route("GET /health", "api", None),
            make_route("GET /v1/jobs", "api", AUTH),
            make_route("GET /v1/jobs/{job_id}", "api", AUTH),
            make_route("GET /v1/jobs/latest", "api", AUTH),
            make_route("ANY /files/{proxy+}", "files", None),
            make_route("$default", "api", AUTH),
        ],
    )


@pytest.mark.parametrize(
    ("method", "path", "route_key", "params"),
    [
        ("GET", "/health", "GET /health", {}),
        ("GET", "/v1/jobs/abc", "GET /v1/jobs/{job_id}", {"job_id": "abc"}),
        ("GET", "/v1/jobs/latest", "GET /v1/jobs/latest", {}),
        ("PUT", "/files/a/b/c", "ANY /files/{proxy+}", {"proxy": "a/b/c"}),
        ("DELETE", "/v1/jobs", "$default", {}),
        ("GET", "/nowhere", "$default", {}),
    ],
)
def test_route_selection_prefers_most_specific_then_default(
    method: str, path: str, route_key: str, params: dict[str, str]
) -> None:
    route, found = config().select(method, path)
    assert route is not None and route.route_key == route_key
    assert found == params


def test_event_is_payload_format_2() -> None:
    event = build_event(
        "rid", "api1", "GET /v1/jobs/{job_id}", "GET", "/v1/jobs/x", "a=1&a=2&b=",
        [("X-Api-Key", "k"), ("Cookie", "c1=1; c2=2"), ("Accept", "a"), ("accept", "b")],
        b"", "127.0.0.1", "127.0.0.1:8080", {"job_id": "x"},
    )  # fmt: skip
    assert event["version"] == "2.0"
    trace = event["headers"].pop("x-amzn-trace-id")  # API Gateway starts a trace
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Sampled=0", trace)
    assert event["headers"] == {"x-api-key": "k", "accept": "a,b"}
    assert event["cookies"] == ["c1=1", "c2=2"]
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["pathParameters"] == {"job_id": "x"}
    assert event["requestContext"]["http"]["method"] == "GET"
    assert "body" not in event


def test_binary_body_is_base64_encoded_text_is_not() -> None:
    args: list[Any] = ["r", "a", "POST /x", "POST", "/x", "", []]
    text = build_event(*args[:6], [("content-type", "application/json")], b'{"a":1}',
                       "ip", "h", {})  # fmt: skip
    binary = build_event(*args[:6], [("content-type", "image/png")], b"\x89PNG", "ip", "h", {})
    assert text["body"] == '{"a":1}' and text["isBase64Encoded"] is False
    assert base64.b64decode(binary["body"]) == b"\x89PNG" and binary["isBase64Encoded"] is True


def test_response_mapping_handles_proxy_and_inferred_formats() -> None:
    proxy = map_response({"statusCode": 201, "headers": {"ETag": '"1"'}, "body": "{}"})
    inferred = map_response({"status": "ok"})
    assert (proxy.status, proxy.headers["etag"], proxy.body) == (201, '"1"', b"{}")
    assert (inferred.status, inferred.body) == (200, b'{"status": "ok"}')


def gateway_with(results: dict[str, Any]) -> tuple[Gateway, list[str]]:
    calls: list[str] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        calls.append(function)
        result = results[function]
        if isinstance(result, Exception):
            raise result
        return result(event) if callable(result) else result

    return Gateway(config(), invoke, log=lambda _m: None), calls


def test_missing_identity_source_is_401_without_calling_the_authorizer() -> None:
    gateway, calls = gateway_with({})
    response = gateway.handle("GET", "/v1/jobs", [], b"", "ip", "h")
    assert response.status == 401 and calls == []
    assert response.headers["apigw-requestid"]


def test_denied_is_403_allowed_passes_context_to_integration() -> None:
    denied, _ = gateway_with({"authorizer": {"isAuthorized": False}})
    assert denied.handle("GET", "/v1/jobs", [("x-api-key", "k")], b"", "ip", "h").status == 403

    seen: dict[str, Any] = {}

    def api(event: dict[str, Any]) -> dict[str, Any]:
        seen.update(event["requestContext"]["authorizer"])
        return {"statusCode": 200, "body": "[]"}

    allowed, calls = gateway_with(
        {"authorizer": {"isAuthorized": True, "context": {"tenant_id": "t1"}}, "api": api}
    )
    response = allowed.handle("GET", "/v1/jobs", [("x-api-key", "k")], b"", "ip", "h")
    assert response.status == 200 and calls == ["authorizer", "api"]
    assert seen == {"lambda": {"tenant_id": "t1"}}


def test_integration_failure_is_500() -> None:
    gateway, _ = gateway_with({"api": InvocationError("Sandbox.Timedout", "Task timed out")})
    assert gateway.handle("GET", "/health", [], b"", "ip", "h").status == 500


def test_stage_throttling_answers_429_past_the_burst() -> None:
    cfg = config()
    cfg.throttle_burst, cfg.throttle_rate = 2, 0.001
    gateway = Gateway(cfg, lambda _f, _e: {"statusCode": 200, "body": ""}, log=lambda _m: None)
    statuses = [gateway.handle("GET", "/health", [], b"", "ip", "h").status for _ in range(3)]
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"eventName": "INSERT", "dynamodb": {"Keys": {"sk": {"S": "JOB#01"}}}}, True),
        ({"eventName": "MODIFY", "dynamodb": {"Keys": {"sk": {"S": "JOB#01"}}}}, False),
        ({"eventName": "INSERT", "dynamodb": {"Keys": {"sk": {"S": "QUOTA#2026"}}}}, False),
        ({"eventName": "INSERT", "dynamodb": {"Keys": {}}}, False),
    ],
)
def test_pipe_filter_passes_only_job_inserts(record: dict[str, Any], expected: bool) -> None:
    assert matches(JOB_FILTER, record) is expected


def poller(report_failures: bool = True) -> QueuePoller:
    p = QueuePoller.__new__(QueuePoller)
    p.report_failures = report_failures
    return p


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"batchItemFailures": []}, set()),
        (None, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ({"batchItemFailures": [{"itemIdentifier": "unknown"}]}, {"m1", "m2"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"m1", "m2"}),
        ("garbage", {"m1", "m2"}),
    ],
)
def test_partial_batch_response_rules(result: Any, expected: set[str]) -> None:
    assert poller().failed_ids(result, {"m1", "m2"}) == expected


def test_without_report_batch_item_failures_a_returned_value_never_fails_items() -> None:
    assert (
        poller(report_failures=False).failed_ids(
            {"batchItemFailures": [{"itemIdentifier": "m1"}]}, {"m1"}
        )
        == set()
    )


class FailingTargetSqs:
    """SQS that refuses every send to the target and records what reaches the DLQ."""

    def __init__(self) -> None:
        self.dead_lettered: list[dict[str, Any]] = []
        self.attempts = 0

    def get_queue_url(self, QueueName: str) -> dict[str, str]:
        return {"QueueUrl": f"https://sqs/{QueueName}"}

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:
        assert QueueUrl.endswith("-dlq")
        self.dead_lettered.append(json.loads(MessageBody))

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.attempts += 1
        if self.attempts == 1:
            raise RuntimeError("target refused")
        # Later tries: the target takes entry 0 and keeps refusing entry 1.
        return {
            "Successful": [{"Id": e["Id"]} for e in Entries if e["Id"] == "0"],
            "Failed": [{"Id": e["Id"], "Message": "refused"} for e in Entries if e["Id"] != "0"],
        }


def test_pipe_dead_letters_a_record_after_its_retry_cap() -> None:
    poller = PipePoller.__new__(PipePoller)
    StoppableThread.__init__(poller, "pipe:test")
    poller.sqs = FailingTargetSqs()
    poller.log = lambda _m: None
    poller.queue_url, poller.queue_arn = "https://sqs/jobs", "arn:aws:sqs:us-east-1:1:jobs"
    poller.stream_arn = "arn:aws:dynamodb:us-east-1:1:table/jobs/stream/x"
    poller.max_retries, poller.dlq_arn = 2, "arn:aws:sqs:us-east-1:1:jobs-dlq"
    poller.shard_id = "shardId-1"

    delivered = poller.deliver(
        [
            {"eventID": "e0", "dynamodb": {"SequenceNumber": "6"}},
            {"eventID": "e1", "dynamodb": {"SequenceNumber": "7"}},
        ]
    )

    assert delivered == 1  # e0, on the first retry
    assert poller.sqs.attempts == 3  # the first try and two retries
    [failure] = poller.sqs.dead_lettered  # only e1, never e0 twice
    assert failure["DDBStreamBatchInfo"]["startSequenceNumber"] == "7"
    # The record is what the DLQ bookkeeping reads (jobs/messages.py): where the batch is.
    assert failure["DDBStreamBatchInfo"]["endSequenceNumber"] == "7"
    assert messages.read(json.dumps(failure)) == messages.PipeFailure(
        stream_arn=poller.stream_arn, shard_id="shardId-1", first_sequence="7", last_sequence="7"
    )


def hand_built_pipe(sqs: Any, max_retries: int) -> PipePoller:
    poller = PipePoller.__new__(PipePoller)
    StoppableThread.__init__(poller, "pipe:test")
    poller.sqs, poller.log = sqs, lambda _m: None
    poller.queue_url, poller.queue_arn = "https://sqs/jobs", "arn:aws:sqs:us-east-1:1:jobs"
    poller.stream_arn = "arn:aws:dynamodb:us-east-1:1:table/jobs/stream/x"
    poller.max_retries, poller.dlq_arn = max_retries, "arn:aws:sqs:us-east-1:1:jobs-dlq"
    poller.stopping.wait = lambda _t=None: False  # type: ignore[method-assign]  # no pauses
    return poller


class TargetSqs(FailingTargetSqs):
    """A target that takes every entry (unless the pipe's injected fault stops it first)."""

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.attempts += 1
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def test_pipe_fault_file_fails_every_send_and_one_record_names_the_whole_batch(
    tmp_path: Path,
) -> None:
    sqs = TargetSqs()
    poller = hand_built_pipe(sqs, max_retries=3)
    poller.fault_file = tmp_path / "pipe-target"
    poller.shard_id = "shardId-1"
    batch = [
        {
            "eventID": f"e{n}",
            "dynamodb": {"SequenceNumber": str(n), "ApproximateCreationDateTime": n},
        }
        for n in (11, 12, 13)
    ]
    assert poller.deliver(batch) == 3 and sqs.attempts == 1  # no fault file: delivered

    poller.fault_file.write_text("")
    assert poller.deliver(batch) == 0
    assert sqs.attempts == 1  # the injected fault fails the send before the target
    [failure] = sqs.dead_lettered
    info = failure["DDBStreamBatchInfo"]
    assert (info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"]) == (
        "shardId-1", "11", "13",
    )  # fmt: skip
    assert info["batchSize"] == 3
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("cron(0/5 * * * ? *)", None),
        ("rate(five minutes)", None),
    ],
)
def test_schedule_rates(expression: str, seconds: int | None) -> None:
    assert rate_seconds(expression) == seconds


def test_schedule_runner_invokes_its_function_with_the_input_and_records_the_role_call() -> None:
    calls: list[tuple[str, Any]] = []
    recorded: list[tuple[str, str]] = []
    schedule = {
        "Name": "p-bookkeeper",
        "ScheduleExpression": "rate(5 minutes)",
        "State": "ENABLED",
        "Target": {"Arn": "arn:aws:lambda:us-east-1:1:function:p-bookkeeper", "Input": "{}"},
    }
    runner = ScheduleRunner(
        schedule,
        lambda name, event: calls.append((name, event)),
        log=lambda _m: None,
        record=lambda action, resource: recorded.append((action, resource)),
        period=0.5,
    )
    assert runner.period == 0.5
    assert ScheduleRunner(schedule, None, None).period == 300  # the declared rate
    runner.run_once()
    assert calls == [("p-bookkeeper", {})]
    assert recorded == [("lambda:InvokeFunction", schedule["Target"]["Arn"])]
    with pytest.raises(NotImplementedError, match="--schedule-period"):
        ScheduleRunner({**schedule, "ScheduleExpression": "cron(0 * * * ? *)"}, None, None)
