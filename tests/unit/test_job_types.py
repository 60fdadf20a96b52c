from __future__ import annotations

from decimal import Decimal

import pytest

from jobs_platform import job_types


def test_only_echo_exists_without_test_types() -> None:
    assert job_types.available(enable_test_types=False) == ("echo",)
    assert set(job_types.available(enable_test_types=True)) == {"echo", "fail", "sleep"}


def test_echo_returns_the_payload() -> None:
    assert job_types.run("echo", {"a": 1}, enable_test_types=False) == {"a": 1}


def test_fail_raises_a_retryable_error() -> None:
    with pytest.raises(job_types.JobExecutionError):
        job_types.run("fail", {}, enable_test_types=True)


def test_disabled_type_raises_a_permanent_error() -> None:
    with pytest.raises(job_types.JobTypeError):
        job_types.run("fail", {}, enable_test_types=False)


@pytest.mark.parametrize("seconds", [0, job_types.SLEEP_MAX_SECONDS, Decimal("0.5")])
def test_sleep_accepts_0_to_its_max_seconds(seconds: object) -> None:
    assert job_types.validation_errors("sleep", {"seconds": seconds}, enable_test_types=True) == []


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"seconds": -1},
        {"seconds": job_types.SLEEP_MAX_SECONDS + Decimal("0.001")},
        {"seconds": 11},
        {"seconds": "1"},
        {"seconds": True},
        {"seconds": 1, "x": 2},
    ],
)
def test_sleep_rejects_bad_payloads(payload: dict[str, object]) -> None:
    assert job_types.validation_errors("sleep", payload, enable_test_types=True)


def test_sleep_zero_returns_immediately() -> None:
    assert job_types.run("sleep", {"seconds": 0}, enable_test_types=True) == {"slept_seconds": 0}


def test_unknown_type_error_points_at_type() -> None:
    errors = job_types.validation_errors("nope", {}, enable_test_types=False)

    assert errors[0].pointer == "/type"


def test_sleep_never_runs_longer_than_its_declared_max_duration() -> None:
    sleep = job_types.JOB_TYPES["sleep"]
    assert sleep.max_duration_seconds >= job_types.SLEEP_MAX_SECONDS
    # Every type declares a duration the worker can budget for.
    assert all(t.max_duration_seconds > 0 for t in job_types.JOB_TYPES.values())
