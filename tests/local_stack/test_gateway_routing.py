"""The local gateway selects routes as jobs_platform.routing does (the api handler's and
the test helpers' matcher): its own copy of the matcher (scripts/local_stack/gateway.py
predates the shared one) must pick the same route and path parameters for every request."""

from __future__ import annotations

import pytest
from scripts.local_stack.gateway import ApiConfig, make_route

from jobs_platform.handlers.api import ROUTES
from jobs_platform.routing import DEFAULT_ROUTE, RouteTable

KEYS = sorted(
    {
        *ROUTES,
        "GET /v1/jobs/latest",
        "ANY /v1/jobs/latest",
        "GET /files/{path+}",
        "ANY /other/{anything}",
        DEFAULT_ROUTE,
    }
)
REQUESTS = [
    (method, path)
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH")
    for path in (
        "/health",
        "/v1/jobs",
        "/v1/jobs/",
        "/v1/jobs/01ABC",
        "/v1/jobs/01ABC/extra",
        "/v1/jobs/latest",
        "/v1/jobsX",
        "/v1/sessions/cart-1",
        "/v1/usage",
        "/files/a/b/c.txt",
        "/files/",
        "/other/whatever",
        "/",
        "/nowhere",
    )
]


@pytest.mark.parametrize(("method", "path"), REQUESTS)
def test_gateway_and_shared_matcher_select_the_same_route(method: str, path: str) -> None:
    gateway = ApiConfig("api", [make_route(key, "function", None) for key in KEYS])
    route, params = gateway.select(method, path)

    assert (route.route_key if route else None, params) == RouteTable(KEYS).select(method, path)
