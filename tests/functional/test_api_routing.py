"""Routing, request ids and error handling of the api handler."""

from __future__ import annotations

from types import ModuleType

import pytest

from jobs_platform import config
from jobs_platform.errors import PROBLEM_TYPE_BASE
from tests.helpers import api_event, body_of, load_event


def test_routes_are_exactly_the_documented_route_keys(api: ModuleType) -> None:
    assert set(api.ROUTES) == {
        "GET /health",
        "POST /v1/jobs",
        "GET /v1/jobs",
        "GET /v1/jobs/{job_id}",
        "DELETE /v1/jobs/{job_id}",
        "GET /v1/usage",
        "PUT /v1/sessions/{session_id}",
        "GET /v1/sessions/{session_id}",
        "DELETE /v1/sessions/{session_id}",
        "$default",
    }


@pytest.mark.parametrize("path", ["/", "/v2/jobs", "/v1/jobs/abc/extra", "/v1/sessions"])
def test_unknown_path_returns_404_problem(api: ModuleType, path: str) -> None:
    response = api.handler(api_event("GET", path), None)

    assert response["statusCode"] == 404
    assert body_of(response)["type"] == f"{PROBLEM_TYPE_BASE}not-found"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/v1/jobs/01JP1ZQ4K8M6V0N2R5T7W9Y3B1", "DELETE, GET"),
        ("PUT", "/v1/jobs", "GET, POST"),
        ("POST", "/health", "GET"),
        ("POST", "/v1/sessions/s1", "DELETE, GET, PUT"),
    ],
)
def test_known_path_with_wrong_method_returns_405_with_allow(
    api: ModuleType, method: str, path: str, allow: str
) -> None:
    response = api.handler(api_event(method, path), None)

    assert response["statusCode"] == 405
    assert response["headers"]["allow"] == allow
    assert body_of(response)["type"] == f"{PROBLEM_TYPE_BASE}method-not-allowed"


def test_named_stage_prefix_is_ignored_for_routing(api: ModuleType) -> None:
    event = api_event("PATCH", "/prod/v1/jobs")
    event["requestContext"]["stage"] = "prod"

    response = api.handler(event, None)

    assert response["statusCode"] == 405


def test_response_echoes_a_sane_incoming_request_id(api: ModuleType) -> None:
    response = api.handler(
        api_event("GET", "/health", headers={"X-Request-Id": "client-123.abc"}), None
    )

    assert response["headers"]["x-request-id"] == "client-123.abc"


@pytest.mark.parametrize("incoming", ["has spaces", "x" * 200, "<script>", ""])
def test_response_uses_gateway_request_id_for_an_insane_incoming_one(
    api: ModuleType, incoming: str
) -> None:
    event = api_event("GET", "/nowhere", headers={"x-request-id": incoming})

    response = api.handler(event, None)

    assert response["headers"]["x-request-id"] == event["requestContext"]["requestId"]


def test_unexpected_error_returns_500_problem_without_internals(
    api: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api.dependencies().jobs, "get", boom)

    response = api.handler(api_event("GET", "/v1/jobs/01JP1ZQ4K8M6V0N2R5T7W9Y3B1"), None)

    assert response["statusCode"] == 500
    assert response["headers"]["x-request-id"]
    assert "secret" not in response["body"]
    assert body_of(response)["type"] == f"{PROBLEM_TYPE_BASE}internal-error"


def test_missing_setting_answers_500_problem_and_logs_the_variables_name(
    api: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a function deployed without one of its variables
    monkeypatch.delenv(config.SERVICE_VERSION)

    # When any request arrives
    response = api.handler(load_event("apigw_http_request"), None)

    # Then the client gets an RFC 9457 500 with the request id, and the log names the variable
    assert response["statusCode"] == 500
    assert response["headers"]["content-type"].startswith("application/problem+json")
    assert response["headers"]["x-request-id"]
    assert config.SERVICE_VERSION in capsys.readouterr().out


def test_logs_are_json_with_request_and_tenant_ids(
    api: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    api.handler(api_event("GET", "/v1/jobs", headers={"x-request-id": "req-1"}), None)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    handled = [line for line in lines if line["message"] == "request handled"]
    assert handled[-1]["request_id"] == "req-1"
    assert handled[-1]["tenant_id"] == "tenant-a"
    assert handled[-1]["status"] == 200
    assert {"timestamp", "level", "function"} <= set(handled[-1])
