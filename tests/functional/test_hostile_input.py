"""Regression tests for the hostile-input defects of issue 10, each with the exact request
that answered 500 (or was wrongly accepted): every one now gets a documented 4xx problem,
or is stored and returned without losing a digit. Through the api handler, against moto."""

from __future__ import annotations

import base64
import json
from types import ModuleType
from typing import Any

import pytest

from jobs_platform.errors import PROBLEM_TYPE_BASE
from jobs_platform.jobs.store import MAX_PAGE_BYTES
from tests.helpers import api_event, body_of


def call(api: ModuleType, *args: Any, **kwargs: Any) -> dict[str, Any]:
    response: dict[str, Any] = api.handler(api_event(*args, **kwargs), None)
    # Whatever it says, a response body must be sendable: valid UTF-8.
    response["body"].encode("utf-8")
    return response


def raw_submit(api: ModuleType, text: str, **kwargs: Any) -> dict[str, Any]:
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    return call(api, "POST", "/v1/jobs", body=text, headers=headers, **kwargs)


def problem(response: dict[str, Any], status: int, slug: str) -> dict[str, Any]:
    assert response["statusCode"] == status, response["body"]
    body: dict[str, Any] = body_of(response)
    assert body["type"] == f"{PROBLEM_TYPE_BASE}{slug}"
    return body


@pytest.mark.parametrize("limit", ["%C2%B2", "²", "³", "①", "٣", "1\n", " 1", "+1", "0x1", "1e1"])
def test_limit_that_is_not_ascii_digits_is_400(api: ModuleType, limit: str) -> None:
    problem(call(api, "GET", "/v1/jobs", query={"limit": limit}), 400, "bad-request")


@pytest.mark.parametrize(
    "cursor",
    [
        base64.urlsafe_b64encode(b"[" * 1536).decode().rstrip("="),
        base64.urlsafe_b64encode(b'{"pk":' + b"[" * 1000).decode().rstrip("="),
        "not base64 !",
        "a" * 2049,
        "\u00e9t\u00e9",
    ],
)
def test_hostile_cursor_is_400_invalid_cursor(api: ModuleType, cursor: str) -> None:
    problem(call(api, "GET", "/v1/jobs", query={"cursor": cursor}), 400, "invalid-cursor")


@pytest.mark.parametrize(
    "number", ["1e-131", "1e126", "12345678901234567890123456789012345678901", "-1e-200"]
)
def test_numbers_dynamodb_cannot_store_are_refused_with_422(api: ModuleType, number: str) -> None:
    text = f'{{"type":"echo","payload":{{"a":{number}}}}}'
    body = problem(raw_submit(api, text), 422, "validation-error")
    assert body["errors"][0]["pointer"] == "/payload"
    assert "/a" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "number", ["1e-130", "9.9999999999999999999999999999999999999e125", "0", "-0.0", "1E+39"]
)
def test_numbers_at_the_limits_are_stored_and_returned_with_their_digits(
    api: ModuleType, number: str
) -> None:
    text = f'{{"type":"echo","payload":{{"a":{number}}}}}'
    created = raw_submit(api, text)
    assert created["statusCode"] == 202, created["body"]
    job_id = body_of(created)["job_id"]
    fetched = call(api, "GET", f"/v1/jobs/{job_id}")
    # The number's digits come back (as DynamoDB normalises them), never via a float.
    for response in (created, fetched):
        returned = json.loads(response["body"], parse_float=str, parse_int=str)["payload"]["a"]
        assert float(returned) == float(number) and _digits(returned) == _digits(number)


def _digits(number: str) -> str:
    mantissa = number.lower().split("e")[0].lstrip("-").replace(".", "")
    return mantissa.strip("0") or "0"


def test_number_keeps_all_38_digits_on_the_way_back(api: ModuleType) -> None:
    exact = "0.12345678901234567890123456789012345678"
    created = raw_submit(api, f'{{"type":"echo","payload":{{"a":{exact}}}}}')
    job_id = body_of(created)["job_id"]
    fetched = call(api, "GET", f"/v1/jobs/{job_id}")
    assert f'"a":{exact}' in created["body"] and f'"a":{exact}' in fetched["body"]


def test_same_number_written_differently_replays_under_one_idempotency_key(
    api: ModuleType,
) -> None:
    headers = {"idempotency-key": "k-numbers"}
    first = raw_submit(api, '{"type":"echo","payload":{"a":1}}', headers=headers)
    again = raw_submit(api, '{"type":"echo","payload":{"a":1.0}}', headers=headers)
    third = raw_submit(api, '{"type":"echo","payload":{"a":1E0}}', headers=headers)
    assert first["statusCode"] == 202
    assert again["statusCode"] == third["statusCode"] == 200, again["body"]
    assert body_of(again)["job_id"] == body_of(first)["job_id"]
    other = raw_submit(api, '{"type":"echo","payload":{"a":1.5}}', headers=headers)
    problem(other, 409, "idempotency-key-reused")


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"echo","payload":{"s":"\\ud800"}}',
        '{"type":"echo","payload":{"\\udfff":1}}',
        '{"type":"echo","payload":{"deep":["x","\\ud83d"]}}',
    ],
)
def test_lone_surrogates_are_refused_with_422(api: ModuleType, text: str) -> None:
    problem(raw_submit(api, text), 422, "validation-error")


def test_session_state_with_a_lone_surrogate_is_422(api: ModuleType) -> None:
    response = call(
        api,
        "PUT",
        "/v1/sessions/s1",
        body='{"state":{"s":"\\ud83d"}}',
        headers={"content-type": "application/json"},
    )
    problem(response, 422, "validation-error")


def test_validation_error_naming_a_surrogate_key_is_still_a_sendable_422(
    api: ModuleType,
) -> None:
    # An unknown top-level field whose name is a lone surrogate (the whole body is refused).
    response = raw_submit(api, '{"type":"echo","payload":{},"\\ud800":1}')
    problem(response, 422, "validation-error")
    # And a pointer that itself holds a surrogate is written as a JSON escape.
    from jobs_platform.http_api import dumps

    text = dumps({"errors": [{"pointer": "/\ud800"}]})
    assert text.encode("utf-8") and json.loads(text)["errors"][0]["pointer"] == "/\ud800"


@pytest.mark.parametrize(
    "payload", [{"": 1}, {"a": {"": 1}}, {"a": [{"b": {"": None}}]}], ids=["top", "nested", "list"]
)
def test_empty_object_keys_are_refused_with_422(api: ModuleType, payload: Any) -> None:
    response = raw_submit(api, json.dumps({"type": "echo", "payload": payload}))
    problem(response, 422, "validation-error")


@pytest.mark.parametrize("session_id", ["s1\n", "s1%0A", "s1\r", "s 1"])
def test_session_id_with_a_trailing_newline_is_refused(api: ModuleType, session_id: str) -> None:
    response = call(
        api,
        "PUT",
        f"/v1/sessions/{session_id}",
        body='{"state":{}}',
        headers={"content-type": "application/json"},
    )
    problem(response, 400, "bad-request")


def test_job_id_with_a_trailing_newline_is_not_found(api: ModuleType) -> None:
    job_id = body_of(raw_submit(api, '{"type":"echo","payload":{}}'))["job_id"]
    problem(call(api, "GET", f"/v1/jobs/{job_id}\n"), 404, "not-found")


def test_list_page_stays_under_lambdas_response_limit(api: ModuleType) -> None:
    # Near-64 KiB payloads: 100 of them would be 6.5 MB, over Lambda's 6 MB response limit.
    big = {"type": "echo", "payload": {"blob": "x" * 64_000}}
    for _ in range(75):
        assert raw_submit(api, json.dumps(big))["statusCode"] == 202
    seen: set[str] = set()
    cursor = None
    for _ in range(10):
        query = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        response = call(api, "GET", "/v1/jobs", query=query)
        assert response["statusCode"] == 200
        assert len(response["body"].encode()) <= MAX_PAGE_BYTES + 4096 < 6 * 1024 * 1024
        page = body_of(response)
        seen.update(job["job_id"] for job in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 75  # every job, on some page, once
