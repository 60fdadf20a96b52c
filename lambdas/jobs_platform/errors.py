"""Domain exceptions and their one mapping to RFC 9457 problem details.

Domain modules raise these; the api handler turns any of them into a problem with
`problem_for`. `PROBLEM_TYPES` is the one place that maps an exception class to its
problem type (URI, title, status).

`FieldError` and `Problem` are named tuples: immutable values, and about half the cost
of frozen dataclasses to build, which the 422 path does for every error (`make bench`);
`ProblemType` too (config.py says why not dataclasses).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

PROBLEM_TYPE_BASE = "tag:jobs-platform,2025:problems/"


class FieldError(NamedTuple):
    """One entry of a problem's `errors` list: where (`pointer` into the JSON body, or a
    query/header `field` name) and what is wrong."""

    message: str
    pointer: str | None = None
    field: str | None = None

    def to_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.pointer is not None:
            out["pointer"] = self.pointer
        if self.field is not None:
            out["field"] = self.field
        out["message"] = self.message
        return out


class DomainError(Exception):
    """Base class: `detail` is safe to show to the client."""

    def __init__(self, detail: str, *, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = tuple(errors)


class BadRequest(DomainError):
    """400: the request is malformed (query parameter, header)."""


class InvalidJson(BadRequest):
    """400: the body is not valid JSON."""


class DuplicateJsonKey(InvalidJson):
    """400: an object of the body has a key twice. RFC 8259 leaves what that means to the
    parser (most keep the last, some the first), so a proxy, a log or a client library
    could read another request than the one we would act on: refused, at any depth."""


class InvalidCursor(BadRequest):
    """400: the list cursor is malformed, tampered with or belongs to another query."""


class Unauthenticated(DomainError):
    """401: no tenant in the authorizer context."""


class NotFound(DomainError):
    """404: the resource does not exist (or belongs to another tenant, or expired)."""


class JobNotFound(NotFound):
    pass


class SessionNotFound(NotFound):
    pass


class ApiKeyNotFound(NotFound):
    pass


class RouteNotFound(NotFound):
    pass


class MethodNotAllowed(DomainError):
    """405: the path exists, the method does not; `allow` lists the methods it has."""

    def __init__(self, detail: str, *, allow: Sequence[str]) -> None:
        super().__init__(detail)
        self.allow = tuple(allow)


class IdempotencyKeyReused(DomainError):
    """409: the Idempotency-Key was used with a different request body."""


class JobNotCancellable(DomainError):
    """409: the job is no longer queued."""


class PreconditionFailed(DomainError):
    """412: If-Match does not match the current version (or the item does not exist)."""


class PayloadTooLarge(DomainError):
    """413: the body is larger than the limit."""


class UnsupportedMediaType(DomainError):
    """415: the body is not JSON."""


class ValidationFailed(DomainError):
    """422: the JSON is well formed but does not fit the schema; `errors` says where."""


class PreconditionRequired(DomainError):
    """428: an update without If-Match."""


class QuotaExceeded(DomainError):
    """429: the tenant's daily job quota is used up."""

    def __init__(self, detail: str, *, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class ServiceBusy(DomainError):
    """503: a transient conflict persisted after retries; the client may retry."""

    def __init__(self, detail: str, *, retry_after_seconds: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class ProblemType(NamedTuple):
    slug: str
    title: str
    status: int

    @property
    def uri(self) -> str:
        return f"{PROBLEM_TYPE_BASE}{self.slug}"


# The one mapping from exception class to problem type. Subclasses not listed here use
# their nearest listed ancestor.
PROBLEM_TYPES: Mapping[type[DomainError], ProblemType] = {
    BadRequest: ProblemType("bad-request", "Bad Request", 400),
    InvalidJson: ProblemType("invalid-json", "Invalid JSON", 400),
    DuplicateJsonKey: ProblemType("duplicate-json-key", "Duplicate JSON Key", 400),
    InvalidCursor: ProblemType("invalid-cursor", "Invalid Cursor", 400),
    Unauthenticated: ProblemType("unauthenticated", "Unauthorized", 401),
    NotFound: ProblemType("not-found", "Not Found", 404),
    MethodNotAllowed: ProblemType("method-not-allowed", "Method Not Allowed", 405),
    IdempotencyKeyReused: ProblemType("idempotency-key-reused", "Idempotency Key Reused", 409),
    JobNotCancellable: ProblemType("job-not-cancellable", "Job Not Cancellable", 409),
    PreconditionFailed: ProblemType("precondition-failed", "Precondition Failed", 412),
    PayloadTooLarge: ProblemType("payload-too-large", "Payload Too Large", 413),
    UnsupportedMediaType: ProblemType("unsupported-media-type", "Unsupported Media Type", 415),
    ValidationFailed: ProblemType("validation-error", "Validation Error", 422),
    PreconditionRequired: ProblemType("precondition-required", "Precondition Required", 428),
    QuotaExceeded: ProblemType("quota-exceeded", "Daily Job Quota Exceeded", 429),
    ServiceBusy: ProblemType("service-busy", "Service Busy", 503),
}
INTERNAL_ERROR = ProblemType("internal-error", "Internal Server Error", 500)


_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class Problem(NamedTuple):
    type: str
    title: str
    status: int
    detail: str
    errors: tuple[FieldError, ...] = ()
    headers: Mapping[str, str] = _NO_HEADERS

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [error.to_dict() for error in self.errors]
        return body


_PROBLEM_TYPE_OF: dict[type[DomainError], ProblemType] = {}  # per class, once looked up


def problem_type_for(exc_type: type[DomainError]) -> ProblemType:
    kind = _PROBLEM_TYPE_OF.get(exc_type)
    if kind is None:
        listed = (PROBLEM_TYPES[k] for k in exc_type.__mro__ if k in PROBLEM_TYPES)
        kind = _PROBLEM_TYPE_OF[exc_type] = next(listed, INTERNAL_ERROR)
    return kind


def problem_for(exc: DomainError) -> Problem:
    """The RFC 9457 problem for a domain exception (with its extra response headers)."""
    kind = problem_type_for(type(exc))
    headers: Mapping[str, str] = _NO_HEADERS
    if isinstance(exc, MethodNotAllowed):
        headers = {"allow": ", ".join(exc.allow)}
    elif isinstance(exc, (QuotaExceeded, ServiceBusy)):
        headers = {"retry-after": str(exc.retry_after_seconds)}
    return Problem(kind.uri, kind.title, kind.status, exc.detail, exc.errors, headers)


def internal_problem() -> Problem:
    """The problem for an unexpected error: no internals leak to the client."""
    return Problem(
        type=INTERNAL_ERROR.uri,
        title=INTERNAL_ERROR.title,
        status=INTERNAL_ERROR.status,
        detail="An unexpected error occurred; quote the x-request-id when reporting it.",
    )
