"""PUT/GET/DELETE /v1/sessions/{id}: ETag / If-Match semantics (openapi.yaml)."""

from __future__ import annotations

from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest

from jobs_platform.clock import utc_now
from jobs_platform.errors import PROBLEM_TYPE_BASE
from jobs_platform.sessions import SessionStore
from tests.conftest import Tables
from tests.helpers import api_event, body_of

PATH = "/v1/sessions/cart-1"


def put(
    api: ModuleType,
    state: dict[str, Any] | None = None,
    *,
    if_match: str | None = None,
    path: str = PATH,
    body: Any = None,
    **kwargs: Any,
) -> dict[str, Any]:
    headers = {"If-Match": if_match} if if_match is not None else {}
    json_body = body if body is not None else {"state": state or {"items": [1]}}
    return api.handler(api_event("PUT", path, json_body=json_body, headers=headers, **kwargs), None)


def get(api: ModuleType, path: str = PATH, **kwargs: Any) -> dict[str, Any]:
    return api.handler(api_event("GET", path, **kwargs), None)


def delete(api: ModuleType, path: str = PATH, **kwargs: Any) -> dict[str, Any]:
    return api.handler(api_event("DELETE", path, **kwargs), None)


def problem_type(response: dict[str, Any]) -> str:
    assert response["headers"]["content-type"] == "application/problem+json"
    return str(body_of(response)["type"]).removeprefix(PROBLEM_TYPE_BASE)


def test_put_new_session_without_if_match_returns_201_version_1(api: ModuleType) -> None:
    response = put(api, {"step": "cart"})

    assert response["statusCode"] == 201
    assert response["headers"]["etag"] == '"1"'
    assert response["headers"]["location"] == PATH
    body = body_of(response)
    assert body["session_id"] == "cart-1"
    assert body["state"] == {"step": "cart"}
    assert body["version"] == 1
    assert body["expires_at"].endswith("Z")


def test_put_existing_session_without_if_match_returns_428(api: ModuleType) -> None:
    put(api)

    response = put(api)

    assert response["statusCode"] == 428
    assert problem_type(response) == "precondition-required"


def test_put_with_current_etag_returns_200_and_bumps_version(api: ModuleType) -> None:
    etag = put(api, {"step": 1})["headers"]["etag"]

    response = put(api, {"step": 2}, if_match=etag)

    assert response["statusCode"] == 200
    assert response["headers"]["etag"] == '"2"'
    assert body_of(response)["state"] == {"step": 2}
    assert body_of(get(api))["version"] == 2


def test_put_with_stale_etag_returns_412(api: ModuleType) -> None:
    put(api)
    put(api, if_match='"1"')

    response = put(api, if_match='"1"')

    assert response["statusCode"] == 412
    assert problem_type(response) == "precondition-failed"


@pytest.mark.parametrize("if_match", ['"1"', "*"])
def test_put_with_if_match_on_missing_session_returns_412(api: ModuleType, if_match: str) -> None:
    response = put(api, if_match=if_match)

    assert response["statusCode"] == 412


def test_put_with_star_if_match_updates_any_live_session(api: ModuleType) -> None:
    put(api)
    put(api, if_match='"1"')

    response = put(api, {"any": True}, if_match="*")

    assert response["statusCode"] == 200
    assert response["headers"]["etag"] == '"3"'


@pytest.mark.parametrize("if_match", ['W/"1"', "1", "garbage"])
def test_put_with_weak_or_malformed_etag_returns_412(api: ModuleType, if_match: str) -> None:
    put(api)

    assert put(api, if_match=if_match)["statusCode"] == 412


def test_put_with_etag_list_matches_any_listed_version(api: ModuleType) -> None:
    put(api)

    response = put(api, if_match='"7", "1"')

    assert response["statusCode"] == 200


def test_put_recreates_an_expired_session_without_if_match(
    api: ModuleType, dynamodb: Any, tables: Tables
) -> None:
    old = SessionStore(dynamodb, tables.sessions, clock=lambda: utc_now() - timedelta(days=1))
    old.put("tenant-a", "cart-1", state={"old": True}, ttl_seconds=60)

    response = put(api, {"new": True})

    assert response["statusCode"] == 201
    assert body_of(response)["version"] == 1


def test_put_ttl_seconds_sets_expiry(api: ModuleType) -> None:
    before = utc_now()

    body = body_of(put(api, body={"state": {}, "ttl_seconds": 120}))

    expires = body["expires_at"]
    assert expires >= (before + timedelta(seconds=119)).isoformat()[:19]
    assert expires <= (before + timedelta(seconds=122)).isoformat()[:19] + "Z"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"state": {}, "extra": 1}, "/extra"),
        ({"state": {}, "ttl_seconds": 59}, "/ttl_seconds"),
        ({"state": {}, "ttl_seconds": 604801}, "/ttl_seconds"),
        ({"state": {}, "ttl_seconds": "120"}, "/ttl_seconds"),
        ({"state": "not an object"}, "/state"),
        ({}, "/state"),
    ],
)
def test_put_invalid_body_returns_422_with_pointer(
    api: ModuleType, body: dict[str, Any], pointer: str
) -> None:
    response = put(api, body=body)

    assert response["statusCode"] == 422
    assert pointer in [error["pointer"] for error in body_of(response)["errors"]]


def test_put_invalid_session_id_returns_400(api: ModuleType) -> None:
    response = put(api, path="/v1/sessions/bad%20id")

    assert response["statusCode"] == 400


def test_get_session_returns_200_with_etag(api: ModuleType) -> None:
    put(api, {"step": "pay"})

    response = get(api)

    assert response["statusCode"] == 200
    assert response["headers"]["etag"] == '"1"'
    assert set(body_of(response)) == {"session_id", "state", "version", "expires_at"}
    assert body_of(response)["state"] == {"step": "pay"}


def test_get_unknown_session_returns_404(api: ModuleType) -> None:
    response = get(api)

    assert response["statusCode"] == 404
    assert problem_type(response) == "not-found"


def test_get_expired_but_not_deleted_session_returns_404(
    api: ModuleType, dynamodb: Any, tables: Tables
) -> None:
    old = SessionStore(dynamodb, tables.sessions, clock=lambda: utc_now() - timedelta(hours=2))
    old.put("tenant-a", "cart-1", state={}, ttl_seconds=60)

    assert get(api)["statusCode"] == 404


def test_get_another_tenants_session_returns_404(api: ModuleType) -> None:
    put(api, tenant_id="tenant-a")

    assert get(api, tenant_id="tenant-b")["statusCode"] == 404


def test_delete_session_returns_204_then_404(api: ModuleType) -> None:
    put(api)

    response = delete(api)

    assert response["statusCode"] == 204
    assert response["body"] == ""
    assert response["headers"]["x-request-id"]
    assert get(api)["statusCode"] == 404


def test_delete_unknown_session_returns_404(api: ModuleType) -> None:
    assert delete(api)["statusCode"] == 404


def test_delete_expired_session_returns_404(api: ModuleType, dynamodb: Any, tables: Tables) -> None:
    old = SessionStore(dynamodb, tables.sessions, clock=lambda: utc_now() - timedelta(hours=2))
    old.put("tenant-a", "cart-1", state={}, ttl_seconds=60)

    assert delete(api)["statusCode"] == 404
