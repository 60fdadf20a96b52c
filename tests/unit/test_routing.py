"""Route selection as API Gateway does it (jobs_platform.routing): the one matcher the api
handler and the test helpers share (the local gateway is tied to it by test_gateway_routing)."""

from __future__ import annotations

import pytest

from jobs_platform.handlers.api import ROUTES
from jobs_platform.routing import DEFAULT_ROUTE, RouteKey, RouteTable

TABLE = RouteTable(
    [
        "GET /v1/jobs",
        "GET /v1/jobs/{job_id}",
        "DELETE /v1/jobs/{job_id}",
        "GET /v1/jobs/latest",
        "ANY /v1/jobs/latest",
        "GET /files/{path+}",
        "ANY /other/{anything}",
        DEFAULT_ROUTE,
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "key", "params"),
    [
        ("GET", "/v1/jobs", "GET /v1/jobs", {}),
        ("GET", "/v1/jobs/01ABC", "GET /v1/jobs/{job_id}", {"job_id": "01ABC"}),
        ("DELETE", "/v1/jobs/01ABC", "DELETE /v1/jobs/{job_id}", {"job_id": "01ABC"}),
        # More literal segments win over a parameter; an exact method over ANY.
        ("GET", "/v1/jobs/latest", "GET /v1/jobs/latest", {}),
        ("POST", "/v1/jobs/latest", "ANY /v1/jobs/latest", {}),
        # A greedy parameter takes the rest of the path, slashes included.
        ("GET", "/files/a/b/c.txt", "GET /files/{path+}", {"path": "a/b/c.txt"}),
        ("PATCH", "/other/whatever", "ANY /other/{anything}", {"anything": "whatever"}),
        # A parameter is one segment: neither empty nor spanning a slash.
        ("GET", "/v1/jobs/", DEFAULT_ROUTE, {}),
        ("GET", "/v1/jobs/a/b", DEFAULT_ROUTE, {}),
        ("POST", "/v1/jobs", DEFAULT_ROUTE, {}),
        ("GET", "/v1/jobsX", DEFAULT_ROUTE, {}),
    ],
)
def test_select_picks_the_most_specific_route(
    method: str, path: str, key: str, params: dict[str, str]
) -> None:
    assert TABLE.select(method, path) == (key, params)


def test_without_a_default_route_nothing_matches_to_none() -> None:
    assert RouteTable(["GET /health"]).select("GET", "/nope") == (None, {})


def test_methods_for_a_path_are_those_of_every_matching_template() -> None:
    assert TABLE.methods_for("/v1/jobs/01ABC") == ["DELETE", "GET"]
    assert TABLE.methods_for("/v1/jobs/latest") == ["ANY", "DELETE", "GET"]
    assert TABLE.methods_for("/nowhere") == []


@pytest.mark.parametrize("key", ["GET", "get /v1/jobs", "GET v1/jobs", "/v1/jobs"])
def test_malformed_route_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="not a route key"):
        RouteKey.parse(key)


def test_the_api_handlers_route_keys_all_parse() -> None:
    table = RouteTable(ROUTES)
    assert table.has_default
    assert {route.key for route in table.routes} == set(ROUTES) - {DEFAULT_ROUTE}
