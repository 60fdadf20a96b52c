"""The api function: HTTP API (payload 2.0) routes -> domain -> JSON responses.

`ROUTES` uses the route keys Terraform declares (`local.routes`, docs/architecture.md);
the handler dispatches on `event["routeKey"]`. Errors are RFC 9457 problems.

Cold start: the module imports what a submit (the first request of a new job) needs;
the sessions module, the route matcher (`$default` only), the job store's other parts
(transitions, usage, list cursor) and pydantic (request bodies) are imported by the
first request that uses them (`make bench`, docs/capacity.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from jobs_platform import aws, job_types, log, metrics, tracing
from jobs_platform.config import ApiSettings
from jobs_platform.errors import (
    DomainError,
    MethodNotAllowed,
    QuotaExceeded,
    RouteNotFound,
    Unauthenticated,
    ValidationFailed,
    internal_problem,
    problem_for,
)
from jobs_platform.http_api import Request, decode_event, problem_response, response
from jobs_platform.jobs import JobStore, parse_limit, parse_status

if TYPE_CHECKING:
    from jobs_platform.models import JobRequest
    from jobs_platform.routing import RouteTable
    from jobs_platform.sessions import SessionStore

# Created once per cold start (during init, outside the billed/latency-critical path).
_dynamodb = aws.client("dynamodb")


class Dependencies:
    """Settings and stores of this execution environment. The session store (and its
    module) is built by the first session request, unless given."""

    __slots__ = ("_sessions", "jobs", "settings")

    def __init__(
        self, settings: ApiSettings, jobs: JobStore, sessions: SessionStore | None = None
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self._sessions = sessions

    @property
    def sessions(self) -> SessionStore:
        if self._sessions is None:
            from jobs_platform.sessions import SessionStore  # noqa: PLC0415 - off cold start

            self._sessions = SessionStore(
                _dynamodb,
                self.settings.sessions_table_name,
                default_ttl_seconds=self.settings.session_default_ttl_seconds,
            )
        return self._sessions


class Tenant(NamedTuple):
    tenant_id: str
    daily_job_quota: int


@cache
def dependencies() -> Dependencies:
    """Settings and stores, built on the first invocation of this execution environment
    (and kept for its life; `dependencies.cache_clear()` forgets them)."""
    settings = ApiSettings.from_env(os.environ)
    log.setup("api", settings.log_level)
    return Dependencies(
        settings=settings,
        jobs=JobStore(
            _dynamodb, settings.jobs_table_name, retention_days=settings.job_retention_days
        ),
    )


@cache
def _job_request() -> type[JobRequest]:
    """The submit body's model: pydantic is imported by the first request with a body."""
    from jobs_platform.models import JobRequest  # noqa: PLC0415 - pydantic off cold start

    return JobRequest


def _tenant(request: Request) -> Tenant:
    tenant_id = request.authorizer.get("tenant_id")
    if not isinstance(tenant_id, str) or not tenant_id:
        raise Unauthenticated("No tenant in the request's authorizer context.")
    try:
        quota = int(request.authorizer.get("daily_job_quota", 0))
    except (TypeError, ValueError):
        quota = 0
    return Tenant(tenant_id=tenant_id, daily_job_quota=quota)


def _job_location(job_id: str) -> str:
    return f"/v1/jobs/{job_id}"


# -- routes ------------------------------------------------------------------------------


def health(request: Request, deps: Dependencies) -> dict[str, Any]:
    body = {"status": "ok", "version": deps.settings.service_version}
    return response(200, body, request_id=request.request_id)


def _count(request: Request, deps: Dependencies, job_type: str, metric: str) -> None:
    """One EMF datapoint of `metric` on the request's log line (metrics.py)."""
    request.log_fields.update(
        metrics.fields(deps.settings.service_name, job_type, int(time.time() * 1000), {metric: 1})
    )


def submit_job(request: Request, deps: Dependencies) -> dict[str, Any]:
    tenant = _tenant(request)
    body = request.model(_job_request())
    errors = job_types.validation_errors(
        body.type, body.payload, enable_test_types=deps.settings.enable_test_job_types
    )
    if errors:
        raise ValidationFailed("The job request is not valid.", errors=errors)
    try:
        result = deps.jobs.submit(
            tenant_id=tenant.tenant_id,
            job_type=body.type,
            payload=body.payload,
            daily_quota=tenant.daily_job_quota,
            idempotency_key=request.header("idempotency-key"),
            request_id=request.request_id,
            trace_header=tracing.current_trace_header() or request.header("x-amzn-trace-id"),
        )
    except QuotaExceeded:
        _count(request, deps, body.type, metrics.JOBS_REJECTED)
        raise
    job = result.job
    log.bind(job_id=job.job_id)
    request.log_fields["job_type"] = job.type
    headers = {"location": _job_location(job.job_id)}
    if result.replayed:
        headers["idempotent-replayed"] = "true"
        _count(request, deps, job.type, metrics.JOBS_REPLAYED)
        return response(200, job.to_public(), request_id=request.request_id, headers=headers)
    _count(request, deps, job.type, metrics.JOBS_SUBMITTED)
    return response(202, job.to_public(), request_id=request.request_id, headers=headers)


def list_jobs(request: Request, deps: Dependencies) -> dict[str, Any]:
    tenant = _tenant(request)
    page = deps.jobs.list_jobs(
        tenant.tenant_id,
        status=parse_status(request.query.get("status")),
        limit=parse_limit(request.query.get("limit")),
        cursor=request.query.get("cursor") or None,
    )
    body = {"items": [job.to_public() for job in page.items], "next_cursor": page.next_cursor}
    return response(200, body, request_id=request.request_id)


def get_job(request: Request, deps: Dependencies) -> dict[str, Any]:
    tenant = _tenant(request)
    job_id = request.path_params.get("job_id", "")
    log.bind(job_id=job_id)
    job = deps.jobs.get(tenant.tenant_id, job_id)
    return response(200, job.to_public(), request_id=request.request_id)


def cancel_job(request: Request, deps: Dependencies) -> dict[str, Any]:
    tenant = _tenant(request)
    job_id = request.path_params.get("job_id", "")
    log.bind(job_id=job_id)
    job = deps.jobs.cancel(tenant.tenant_id, job_id)
    request.log_fields["job_type"] = job.type
    _count(request, deps, job.type, metrics.JOBS_CANCELLED)
    return response(200, job.to_public(), request_id=request.request_id)


def get_usage(request: Request, deps: Dependencies) -> dict[str, Any]:
    """The caller's tenant's usage per UTC day, `from`..`to` (YYYY-MM-DD, inclusive)."""
    from jobs_platform.jobs import usage  # noqa: PLC0415 - off cold start

    tenant = _tenant(request)
    start, end = usage.day_range(
        request.query.get("from"), request.query.get("to"), deps.jobs.today()
    )
    days = deps.jobs.usage_by_day(tenant.tenant_id, start, end)
    totals = {
        name: sum(getattr(day, name) for day in days)
        for name in ("submitted", "succeeded", "failed", "cancelled", "compute_ms")
    }
    body = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "days": [day.to_public() for day in days],
        "totals": totals,
    }
    return response(200, body, request_id=request.request_id)


def put_session(request: Request, deps: Dependencies) -> dict[str, Any]:
    from jobs_platform.models import SessionPut  # noqa: PLC0415 - pydantic off cold start

    tenant = _tenant(request)
    session_id = request.path_params.get("session_id", "")
    body = request.model(SessionPut)
    result = deps.sessions.put(
        tenant.tenant_id,
        session_id,
        state=body.state,
        ttl_seconds=body.ttl_seconds,
        if_match=request.header("if-match"),
    )
    headers = {"etag": result.session.etag}
    if result.created:
        headers["location"] = f"/v1/sessions/{session_id}"
    status = 201 if result.created else 200
    return response(
        status, result.session.to_public(), request_id=request.request_id, headers=headers
    )


def get_session(request: Request, deps: Dependencies) -> dict[str, Any]:
    tenant = _tenant(request)
    session = deps.sessions.get(tenant.tenant_id, request.path_params.get("session_id", ""))
    return response(
        200, session.to_public(), request_id=request.request_id, headers={"etag": session.etag}
    )


def delete_session(request: Request, deps: Dependencies) -> dict[str, Any]:
    tenant = _tenant(request)
    deps.sessions.delete(tenant.tenant_id, request.path_params.get("session_id", ""))
    return response(204, request_id=request.request_id)


def default_route(request: Request, deps: Dependencies) -> dict[str, Any]:
    """`$default`: 405 + Allow when the path has routes for other methods, else 404."""
    allow = _route_table().methods_for(request.path)
    if allow:
        raise MethodNotAllowed(
            f"{request.method} is not allowed on {request.path}; allowed: {', '.join(allow)}.",
            allow=allow,
        )
    raise RouteNotFound(f"No route for {request.path}.")


RouteHandler = Callable[[Request, Dependencies], dict[str, Any]]

ROUTES: dict[str, RouteHandler] = {
    "GET /health": health,
    "POST /v1/jobs": submit_job,
    "GET /v1/jobs": list_jobs,
    "GET /v1/jobs/{job_id}": get_job,
    "DELETE /v1/jobs/{job_id}": cancel_job,
    "GET /v1/usage": get_usage,
    "PUT /v1/sessions/{session_id}": put_session,
    "GET /v1/sessions/{session_id}": get_session,
    "DELETE /v1/sessions/{session_id}": delete_session,
    "$default": default_route,
}


@cache
def _route_table() -> RouteTable:
    """The route matcher (compiles a pattern per route): only `$default` needs it."""
    from jobs_platform.routing import RouteTable  # noqa: PLC0415 - off cold start

    return RouteTable(ROUTES)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter_ns()
    log.start_invocation(context)
    request = decode_event(event)
    tenant_id = request.authorizer.get("tenant_id")
    log.start_request(request.request_id, tenant_id if isinstance(tenant_id, str) else None)
    route = ROUTES.get(request.route_key, default_route)
    try:
        # Settings load inside the boundary: a misconfigured function answers a 500
        # problem with the request id (and logs which variable is wrong), not a bare 500.
        result = route(request, dependencies())
    except DomainError as exc:
        result = problem_response(problem_for(exc), request_id=request.request_id)
    except Exception:  # noqa: BLE001 - the boundary: log it, answer 500 as a problem
        log.exception("unhandled error", route=request.route_key)
        result = problem_response(internal_problem(), request_id=request.request_id)
    log.with_metrics(
        "INFO",
        "request handled",
        route=request.route_key,
        method=request.method,
        path=request.path,
        status=result["statusCode"],
        duration_ms=(time.perf_counter_ns() - started) // 100_000 / 10,  # 0.1 ms steps
        **request.log_fields,
    )
    return result
