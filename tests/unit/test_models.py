from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from jobs_platform.models import MAX_NESTING, JobRequest, SessionPut


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_job_request_accepts_type_and_object_payload() -> None:
    request = JobRequest.model_validate({"type": "echo", "payload": {"x": [1, Decimal("2.5")]}})

    assert request.type == "echo"
    assert request.payload == {"x": [1, Decimal("2.5")]}


@pytest.mark.parametrize(
    "body",
    [
        {"type": "echo", "payload": {}, "extra": 1},
        {"type": "", "payload": {}},
        {"type": "x" * 65, "payload": {}},
        {"type": 1, "payload": {}},
        {"type": "echo", "payload": None},
        {"type": "echo", "payload": {"n": 10**39 + 1}},  # 40 significant digits
        {"type": "echo", "payload": {"n": Decimal("1e200")}},
        {"type": "echo", "payload": {"n": Decimal("0.1234567890123456789012345678901234567891")}},
        {"type": "echo", "payload": nested(MAX_NESTING + 1)},
    ],
)
def test_job_request_rejects(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        JobRequest.model_validate(body)


def test_trailing_zeros_are_not_significant_digits_as_in_dynamodb() -> None:
    # DynamoDB trims leading and trailing zeros: 10**39 is one significant digit.
    assert JobRequest.model_validate({"type": "echo", "payload": {"n": 10**39}})


def test_job_request_accepts_nesting_up_to_the_limit() -> None:
    assert JobRequest.model_validate({"type": "echo", "payload": nested(MAX_NESTING)})


def test_session_put_ttl_is_optional() -> None:
    assert SessionPut.model_validate({"state": {"a": 1}}).ttl_seconds is None


@pytest.mark.parametrize("ttl", [60, 604800])
def test_session_put_accepts_ttl_bounds(ttl: int) -> None:
    assert SessionPut.model_validate({"state": {}, "ttl_seconds": ttl}).ttl_seconds == ttl


@pytest.mark.parametrize(
    "body",
    [
        {"state": {}, "ttl_seconds": 59},
        {"state": {}, "ttl_seconds": 604801},
        {"state": {}, "ttl_seconds": True},
        {"state": {}, "ttl_seconds": 120.0},
        {"state": []},
        {"state": {}, "version": 2},
    ],
)
def test_session_put_rejects(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SessionPut.model_validate(body)
