"""Job types: payload validation (at submit) and execution (in the worker).

`echo` always exists; `fail` and `sleep` only where ENABLE_TEST_JOB_TYPES is true.

Each type declares `max_duration_seconds`, the longest one run may take: the worker
claims a job only with that much time left in its invocation (plus a margin to record
the result), and the OpenAPI document states the same durations, from which Terraform
refuses a worker timeout too short for them (variables.tf, `worker_timeout_seconds`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from jobs_platform.errors import FieldError

SLEEP_MAX_SECONDS = 2


class JobTypeError(Exception):
    """The job can never succeed (unknown type, invalid payload): fail it without retry."""


class JobExecutionError(Exception):
    """This attempt failed; another attempt may succeed."""


class JobType(NamedTuple):
    name: str
    validate: Callable[[Mapping[str, Any]], list[FieldError]]
    run: Callable[[Mapping[str, Any]], Any]
    max_duration_seconds: float
    test_only: bool = False


def _no_checks(payload: Mapping[str, Any]) -> list[FieldError]:
    return []


def _echo(payload: Mapping[str, Any]) -> Any:
    return dict(payload)


def _fail(payload: Mapping[str, Any]) -> Any:
    raise JobExecutionError("job type 'fail' always fails")


def _sleep_errors(payload: Mapping[str, Any]) -> list[FieldError]:
    seconds = payload.get("seconds")
    unknown = sorted(set(payload) - {"seconds"})
    errors = [
        FieldError(pointer=f"/payload/{name}", message="Extra inputs are not permitted")
        for name in unknown
    ]
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float | Decimal)
        or not 0 <= seconds <= SLEEP_MAX_SECONDS
    ):
        errors.append(
            FieldError(
                pointer="/payload/seconds",
                message=f"seconds must be a number between 0 and {SLEEP_MAX_SECONDS}",
            )
        )
    return errors


def _sleep(payload: Mapping[str, Any]) -> Any:
    if _sleep_errors(payload):
        raise JobTypeError("invalid payload for job type 'sleep'")
    seconds = float(payload["seconds"])
    time.sleep(seconds)
    return {"slept_seconds": payload["seconds"]}


JOB_TYPES: Mapping[str, JobType] = {
    "echo": JobType("echo", _no_checks, _echo, max_duration_seconds=0.25),
    "fail": JobType("fail", _no_checks, _fail, max_duration_seconds=0.25, test_only=True),
    "sleep": JobType(
        "sleep", _sleep_errors, _sleep, max_duration_seconds=SLEEP_MAX_SECONDS, test_only=True
    ),
}


def available(enable_test_types: bool) -> tuple[str, ...]:
    return tuple(
        name for name, job_type in JOB_TYPES.items() if enable_test_types or not job_type.test_only
    )


def max_duration_ms(job_type: str) -> int:
    """How long one run of `job_type` may take (0 for an unknown type: it fails at once)."""
    known = JOB_TYPES.get(job_type)
    return int(known.max_duration_seconds * 1000) if known else 0


def validation_errors(
    job_type: str, payload: Mapping[str, Any], *, enable_test_types: bool
) -> list[FieldError]:
    """Empty when the job can be accepted; else where and why not (422)."""
    if job_type not in available(enable_test_types):
        known = ", ".join(available(enable_test_types))
        return [FieldError(pointer="/type", message=f"unknown job type; known types: {known}")]
    return JOB_TYPES[job_type].validate(payload)


def run(job_type: str, payload: Mapping[str, Any], *, enable_test_types: bool) -> Any:
    """Run one job; raises JobTypeError (permanent) or JobExecutionError (retryable)."""
    if job_type not in available(enable_test_types):
        raise JobTypeError(f"unknown job type {job_type!r}")
    return JOB_TYPES[job_type].run(payload)
