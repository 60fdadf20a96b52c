from __future__ import annotations

import json
from decimal import Decimal

import pytest

from jobs_platform.errors import (
    DuplicateJsonKey,
    FieldError,
    InvalidJson,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    internal_problem,
    problem_for,
)
from jobs_platform.http_api import (
    MAX_BODY_BYTES,
    Request,
    decode_event,
    dumps,
    json_pointer,
    problem_json,
    problem_response,
    response,
)
from jobs_platform.models import JobRequest
from tests.helpers import api_event


def json_request(body: bytes, content_type: str | None = "application/json") -> Request:
    headers = {"content-type": content_type} if content_type else {}
    return Request(
        route_key="POST /v1/jobs",
        method="POST",
        path="/v1/jobs",
        request_id="r",
        headers=headers,
        body=body,
    )


def test_headers_are_case_insensitive() -> None:
    request = decode_event(api_event("GET", "/health", headers={"Idempotency-Key": "abc"}))

    assert request.header("IDEMPOTENCY-KEY") == "abc"
    assert request.header("idempotency-key") == "abc"


def test_base64_body_is_decoded_to_bytes() -> None:
    request = decode_event(api_event("POST", "/v1/jobs", body=b'{"a": 1}'))

    assert request.body == b'{"a": 1}'


def test_invalid_base64_body_is_a_json_error() -> None:
    event = api_event("POST", "/v1/jobs", headers={"content-type": "application/json"})
    event.update(body="%%%not base64", isBase64Encoded=True)

    with pytest.raises(InvalidJson):
        decode_event(event).json()


def test_body_limit_is_64_kib_of_decoded_bytes() -> None:
    at_limit = b'"' + b"x" * (MAX_BODY_BYTES - 2) + b'"'

    assert json_request(at_limit).json() == "x" * (MAX_BODY_BYTES - 2)
    with pytest.raises(PayloadTooLarge):
        json_request(at_limit + b" ").json()


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=UTF-8",
        'application/json; charset="utf-8"',
        "application/merge-patch+json",
    ],
)
def test_json_media_types_are_accepted(content_type: str) -> None:
    assert json_request(b"{}", content_type).json() == {}


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16"],
)
def test_other_media_types_are_415(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType):
        json_request(b"{}", content_type).json()


@pytest.mark.parametrize(
    "body", [b"", b"{", b"NaN", b'{"x": Infinity}', b"\xff\xfe", b"[" * 100_000]
)
def test_invalid_json_is_400(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        body = b"[" * MAX_BODY_BYTES
    with pytest.raises(InvalidJson):
        json_request(body).json()


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "echo", "payload": {}, "type": "fail"}',
        b'{"type": "echo", "payload": {"a": {"b": [{"c": 1, "c": 1}]}}}',
        b'[{"k": 1, "\\u006b": 2}]',  # the same key, one of them escaped
    ],
)
def test_a_key_twice_in_one_object_at_any_depth_is_400(body: bytes) -> None:
    with pytest.raises(DuplicateJsonKey, match="repeats the key"):
        json_request(body).json()


def test_the_same_key_in_different_objects_is_fine() -> None:
    body = b'{"a": {"k": 1}, "b": {"k": 2}, "k": [{"k": 3}, {"k": 4}]}'
    assert json_request(body).json() == json.loads(body)


@pytest.mark.parametrize(
    ("body", "position"),
    [(b"", 0), (b"  ", 2), (b'  {"a": 1}  x', 12), (b'{"a" 1}', 5), (b"[1,]", 3)],
)
def test_json_syntax_errors_say_where_as_json_does(body: bytes, position: int) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(body)
    assert expected.value.pos == position
    with pytest.raises(InvalidJson, match=f"{expected.value.msg} at position {position}\\."):
        json_request(body).json()


def test_problem_json_is_the_problem_as_json() -> None:
    problems = [
        problem_for(InvalidJson("not JSON")),
        problem_for(ValidationFailed("bad", errors=[FieldError("no", pointer="/a~1\u00e9")])),
        problem_for(ValidationFailed("lone \ud800", errors=[FieldError("x", pointer="/\udc00")])),
        problem_for(
            ValidationFailed(
                "many",
                errors=[
                    FieldError('say "\u00e9"\n', pointer="/a"),
                    FieldError("q", field="limit"),
                    FieldError("both", pointer="/b", field="f"),
                ],
            )
        ),
        internal_problem(),
    ]
    for problem in problems:
        text = problem_json(problem)
        text.encode("utf-8")  # sendable, lone surrogates escaped
        assert json.loads(text) == problem.to_dict()
        assert text == dumps(problem.to_dict())


def test_fractions_parse_as_decimal() -> None:
    assert json_request(b'{"x": 0.1}').json() == {"x": Decimal("0.1")}


def test_validation_errors_carry_json_pointers() -> None:
    with pytest.raises(ValidationFailed) as caught:
        json_request(json.dumps({"type": "", "payload": {}, "x/y": 1}).encode()).model(JobRequest)

    pointers = {error.pointer for error in caught.value.errors}
    assert pointers == {"/type", "/x~1y"}


def test_json_pointer_escapes_rfc6901() -> None:
    assert json_pointer(("a/b", "c~d", 0)) == "/a~1b/c~0d/0"
    assert json_pointer(()) == ""


@pytest.mark.parametrize(
    ("incoming", "expected"),
    [("abc-123", "abc-123"), ("bad id", "Vx1aBcDeFgHiJkL="), ("", "Vx1aBcDeFgHiJkL=")],
)
def test_request_id_prefers_a_sane_incoming_header(incoming: str, expected: str) -> None:
    request = decode_event(api_event("GET", "/health", headers={"x-request-id": incoming}))

    assert request.request_id == expected


def test_authorizer_context_is_exposed() -> None:
    request = decode_event(api_event("GET", "/v1/jobs", tenant_id="t9", daily_job_quota=7))

    assert request.authorizer["tenant_id"] == "t9"
    assert request.authorizer["daily_job_quota"] == 7


def test_response_always_has_request_id_and_json_body() -> None:
    out = response(
        202, {"n": Decimal("2"), "f": Decimal("1.5")}, request_id="r1", headers={"Location": "/x"}
    )

    assert out["statusCode"] == 202
    assert out["headers"]["x-request-id"] == "r1"
    assert out["headers"]["location"] == "/x"
    assert out["headers"]["content-type"] == "application/json"
    assert json.loads(out["body"]) == {"n": 2, "f": 1.5}


def test_empty_response_has_no_content_type() -> None:
    out = response(204, request_id="r1")

    assert out["body"] == ""
    assert "content-type" not in out["headers"]
    assert out["headers"]["x-request-id"] == "r1"


def test_problem_response_uses_problem_json() -> None:
    out = problem_response(problem_for(PayloadTooLarge("too big")), request_id="r2")

    assert out["statusCode"] == 413
    assert out["headers"]["content-type"] == "application/problem+json"
    assert out["headers"]["x-request-id"] == "r2"
    assert json.loads(out["body"])["detail"] == "too big"


def test_plain_body_is_utf8_encoded() -> None:
    request = decode_event(api_event("POST", "/v1/jobs", body='{"a": "\u00e9"}'))

    assert request.body == '{"a": "\u00e9"}'.encode()
