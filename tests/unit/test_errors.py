from __future__ import annotations

import pytest

from jobs_platform import errors
from jobs_platform.errors import (
    PROBLEM_TYPE_BASE,
    DomainError,
    FieldError,
    MethodNotAllowed,
    QuotaExceeded,
    internal_problem,
    problem_for,
)


def all_subclasses(klass: type) -> set[type]:
    found = set()
    for sub in klass.__subclasses__():
        found |= {sub} | all_subclasses(sub)
    return found


@pytest.mark.parametrize(
    ("exception", "status", "slug"),
    [
        (errors.BadRequest("x"), 400, "bad-request"),
        (errors.InvalidJson("x"), 400, "invalid-json"),
        (errors.DuplicateJsonKey("x"), 400, "duplicate-json-key"),
        (errors.InvalidCursor("x"), 400, "invalid-cursor"),
        (errors.Unauthenticated("x"), 401, "unauthenticated"),
        (errors.JobNotFound("x"), 404, "not-found"),
        (errors.SessionNotFound("x"), 404, "not-found"),
        (errors.RouteNotFound("x"), 404, "not-found"),
        (errors.IdempotencyKeyReused("x"), 409, "idempotency-key-reused"),
        (errors.JobNotCancellable("x"), 409, "job-not-cancellable"),
        (errors.PreconditionFailed("x"), 412, "precondition-failed"),
        (errors.PayloadTooLarge("x"), 413, "payload-too-large"),
        (errors.UnsupportedMediaType("x"), 415, "unsupported-media-type"),
        (errors.ValidationFailed("x"), 422, "validation-error"),
        (errors.PreconditionRequired("x"), 428, "precondition-required"),
        (errors.ServiceBusy("x"), 503, "service-busy"),
    ],
)
def test_each_domain_error_maps_to_its_problem(
    exception: DomainError, status: int, slug: str
) -> None:
    problem = problem_for(exception)

    assert problem.status == status
    assert problem.type == PROBLEM_TYPE_BASE + slug
    assert problem.to_dict() == {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": problem.title,
        "status": status,
        "detail": "x",
    }


def test_every_domain_error_has_a_mapped_problem_type() -> None:
    for klass in all_subclasses(DomainError):
        assert errors.problem_type_for(klass) is not errors.INTERNAL_ERROR, klass


def test_method_not_allowed_carries_allow_header() -> None:
    problem = problem_for(MethodNotAllowed("no", allow=["GET", "PUT"]))

    assert problem.status == 405
    assert problem.headers == {"allow": "GET, PUT"}


def test_quota_exceeded_carries_retry_after() -> None:
    problem = problem_for(QuotaExceeded("used up", retry_after_seconds=120))

    assert problem.status == 429
    assert problem.headers == {"retry-after": "120"}


def test_validation_errors_list_pointer_and_message() -> None:
    problem = problem_for(
        errors.ValidationFailed(
            "bad",
            errors=[FieldError("missing", pointer="/type"), FieldError("bad", field="limit")],
        )
    )

    assert problem.to_dict()["errors"] == [
        {"pointer": "/type", "message": "missing"},
        {"field": "limit", "message": "bad"},
    ]


def test_internal_problem_is_generic() -> None:
    problem = internal_problem()

    assert problem.status == 500
    assert "x-request-id" in problem.detail
