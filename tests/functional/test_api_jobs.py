"""POST/GET/DELETE /v1/jobs through the api handler against moto (openapi.yaml)."""

from __future__ import annotations

import json
from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest

from jobs_platform import schema
from jobs_platform.clock import utc_now
from jobs_platform.errors import PROBLEM_TYPE_BASE
from jobs_platform.jobs import JobStore
from tests.conftest import Tables
from tests.helpers import api_event, body_of

ECHO = {"type": "echo", "payload": {"message": "hello", "n": 3, "ratio": 1.5}}


def call(api: ModuleType, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return api.handler(api_event(*args, **kwargs), None)


def submit(api: ModuleType, body: Any = ECHO, **kwargs: Any) -> dict[str, Any]:
    return call(api, "POST", "/v1/jobs", json_body=body, **kwargs)


def assert_problem(response: dict[str, Any], status: int, slug: str) -> dict[str, Any]:
    assert response["statusCode"] == status, response["body"]
    assert response["headers"]["content-type"] == "application/problem+json"
    assert response["headers"]["x-request-id"]
    problem = body_of(response)
    assert problem["type"] == f"{PROBLEM_TYPE_BASE}{slug}"
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    return problem


# -- health -------------------------------------------------------------------------------


def test_health_returns_ok_and_service_version_without_tenant(api: ModuleType) -> None:
    response = call(api, "GET", "/health", tenant_id=None)

    assert response["statusCode"] == 200
    assert body_of(response) == {"status": "ok", "version": "1.2.3-test"}


# -- submit -------------------------------------------------------------------------------


def test_submit_job_returns_202_with_location_and_queued_job(api: ModuleType) -> None:
    response = submit(api)

    assert response["statusCode"] == 202
    job = body_of(response)
    assert response["headers"]["location"] == f"/v1/jobs/{job['job_id']}"
    assert job["status"] == "queued"
    assert job["type"] == "echo"
    assert job["payload"] == ECHO["payload"]
    assert job["attempts"] == 0
    assert job["created_at"] == job["updated_at"]
    assert job["created_at"].endswith("Z")
    assert set(job) == {
        "job_id",
        "type",
        "status",
        "payload",
        "created_at",
        "updated_at",
        "attempts",
    }


def test_submit_job_stores_the_documented_item_layout(
    api: ModuleType, dynamodb: Any, tables: Tables
) -> None:
    job = body_of(submit(api))

    item = dynamodb.get_item(
        TableName=tables.jobs,
        Key={
            schema.PARTITION_KEY: {"S": schema.tenant_pk("tenant-a")},
            schema.SORT_KEY: {"S": schema.job_sk(job["job_id"])},
        },
    )["Item"]
    assert item[schema.STATUS_INDEX_PARTITION_KEY] == {"S": "tenant-a#queued"}
    assert item["tenant_id"] == {"S": "tenant-a"}
    assert item["attempts"] == {"N": "0"}
    assert int(item[schema.TTL_ATTRIBUTE]["N"]) > int(utc_now().timestamp()) + 29 * 86400


def test_submit_job_replayed_idempotency_key_returns_same_job(api: ModuleType) -> None:
    first = submit(api, headers={"Idempotency-Key": "order-42"})

    replay = submit(api, headers={"Idempotency-Key": "order-42"})

    assert replay["statusCode"] == 200
    assert replay["headers"]["idempotent-replayed"] == "true"
    assert body_of(replay)["job_id"] == body_of(first)["job_id"]
    assert replay["headers"]["location"] == first["headers"]["location"]
    assert len(body_of(call(api, "GET", "/v1/jobs"))["items"]) == 1


def test_submit_job_replay_ignores_key_order_and_whitespace(api: ModuleType) -> None:
    first = submit(
        api, {"type": "echo", "payload": {"a": 1, "b": 2}}, headers={"Idempotency-Key": "k"}
    )
    reordered = '{ "payload": {"b": 2, "a": 1},   "type": "echo" }'

    replay = call(
        api,
        "POST",
        "/v1/jobs",
        body=reordered,
        headers={"content-type": "application/json", "idempotency-key": "k"},
    )

    assert replay["statusCode"] == 200
    assert body_of(replay)["job_id"] == body_of(first)["job_id"]


def test_submit_job_same_idempotency_key_different_body_returns_409(api: ModuleType) -> None:
    submit(api, headers={"Idempotency-Key": "order-42"})

    response = submit(
        api, {"type": "echo", "payload": {"other": True}}, headers={"Idempotency-Key": "order-42"}
    )

    assert_problem(response, 409, "idempotency-key-reused")


def test_submit_job_idempotency_key_is_scoped_to_the_tenant(api: ModuleType) -> None:
    first = submit(api, headers={"Idempotency-Key": "shared"}, tenant_id="tenant-a")

    other = submit(api, headers={"Idempotency-Key": "shared"}, tenant_id="tenant-b")

    assert other["statusCode"] == 202
    assert body_of(other)["job_id"] != body_of(first)["job_id"]


def test_submit_job_after_idempotency_window_creates_a_new_job(
    api: ModuleType, dynamodb: Any, tables: Tables
) -> None:
    yesterday = JobStore(dynamodb, tables.jobs, clock=lambda: utc_now() - timedelta(hours=25))
    old = yesterday.submit(
        tenant_id="tenant-a",
        job_type="echo",
        payload=ECHO["payload"],
        daily_quota=10,
        idempotency_key="order-42",
    )

    response = submit(api, headers={"Idempotency-Key": "order-42"})

    assert response["statusCode"] == 202
    assert body_of(response)["job_id"] != old.job.job_id


def test_submit_job_invalid_idempotency_key_returns_400(api: ModuleType) -> None:
    response = submit(api, headers={"Idempotency-Key": "x" * 256})

    assert_problem(response, 400, "bad-request")


def test_submit_job_over_daily_quota_returns_429_with_retry_after(api: ModuleType) -> None:
    for _ in range(2):
        assert submit(api, daily_job_quota=2)["statusCode"] == 202

    response = submit(api, daily_job_quota=2)

    assert_problem(response, 429, "quota-exceeded")
    assert 0 < int(response["headers"]["retry-after"]) <= 86400


def test_submit_job_quota_is_per_tenant(api: ModuleType) -> None:
    submit(api, daily_job_quota=1, tenant_id="tenant-a")

    response = submit(api, daily_job_quota=1, tenant_id="tenant-b")

    assert response["statusCode"] == 202


def test_submit_job_replay_does_not_consume_quota(api: ModuleType) -> None:
    submit(api, headers={"Idempotency-Key": "k"}, daily_job_quota=1)

    replay = submit(api, headers={"Idempotency-Key": "k"}, daily_job_quota=1)

    assert replay["statusCode"] == 200


def test_submit_job_with_zero_quota_returns_429(api: ModuleType) -> None:
    assert_problem(submit(api, daily_job_quota=0), 429, "quota-exceeded")


def test_submit_job_bad_json_returns_400(api: ModuleType) -> None:
    response = call(
        api,
        "POST",
        "/v1/jobs",
        body='{"type": "echo",',
        headers={"content-type": "application/json"},
    )

    assert_problem(response, 400, "invalid-json")


def test_submit_job_with_a_key_twice_returns_400_and_writes_nothing(api: ModuleType) -> None:
    response = call(
        api,
        "POST",
        "/v1/jobs",
        body='{"type": "echo", "payload": {}, "type": "fail"}',
        headers={"content-type": "application/json"},
    )

    problem = assert_problem(response, 400, "duplicate-json-key")
    assert '"type"' in problem["detail"]
    assert body_of(call(api, "GET", "/v1/jobs"))["items"] == []


def test_submit_job_nan_is_not_json_returns_400(api: ModuleType) -> None:
    response = call(
        api,
        "POST",
        "/v1/jobs",
        body='{"type": "echo", "payload": {"x": NaN}}',
        headers={"content-type": "application/json"},
    )

    assert_problem(response, 400, "invalid-json")


def test_submit_job_body_over_64_kib_returns_413(api: ModuleType) -> None:
    body = json.dumps({"type": "echo", "payload": {"blob": "x" * (64 * 1024)}})

    response = call(
        api, "POST", "/v1/jobs", body=body, headers={"content-type": "application/json"}
    )

    assert_problem(response, 413, "payload-too-large")


def test_submit_job_body_of_exactly_64_kib_is_accepted(api: ModuleType) -> None:
    skeleton = json.dumps({"type": "echo", "payload": {"blob": ""}})
    body = json.dumps({"type": "echo", "payload": {"blob": "x" * (65536 - len(skeleton))}})
    assert len(body.encode()) == 65536

    response = call(
        api, "POST", "/v1/jobs", body=body, headers={"content-type": "application/json"}
    )

    assert response["statusCode"] == 202


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/json; charset=latin-1"])
def test_submit_job_not_json_media_type_returns_415(
    api: ModuleType, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}

    response = call(api, "POST", "/v1/jobs", body=json.dumps(ECHO), headers=headers)

    assert_problem(response, 415, "unsupported-media-type")


def test_submit_job_base64_encoded_body_is_decoded(api: ModuleType) -> None:
    response = call(
        api,
        "POST",
        "/v1/jobs",
        body=json.dumps(ECHO),
        base64_body=True,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )

    assert response["statusCode"] == 202


def test_submit_job_unknown_field_returns_422_with_pointer(api: ModuleType) -> None:
    response = submit(api, {**ECHO, "priority": 1})

    problem = assert_problem(response, 422, "validation-error")
    assert {"pointer": "/priority", "message": "Extra inputs are not permitted"} in problem[
        "errors"
    ]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"payload": {}}, "/type"),
        ({"type": "echo"}, "/payload"),
        ({"type": 7, "payload": {}}, "/type"),
        ({"type": "echo", "payload": [1]}, "/payload"),
        ([], ""),
    ],
)
def test_submit_job_schema_violation_returns_422(api: ModuleType, body: Any, pointer: str) -> None:
    problem = assert_problem(submit(api, body), 422, "validation-error")

    assert pointer in [error["pointer"] for error in problem["errors"]]


def test_submit_job_unknown_type_returns_422(api: ModuleType) -> None:
    problem = assert_problem(
        submit(api, {"type": "mine-bitcoin", "payload": {}}), 422, "validation-error"
    )

    assert problem["errors"][0]["pointer"] == "/type"


def test_submit_job_sleep_out_of_range_returns_422(api: ModuleType) -> None:
    problem = assert_problem(
        submit(api, {"type": "sleep", "payload": {"seconds": 11}}), 422, "validation-error"
    )

    assert problem["errors"][0]["pointer"] == "/payload/seconds"


def test_submit_job_number_dynamodb_cannot_store_returns_422(api: ModuleType) -> None:
    response = submit(api, {"type": "echo", "payload": {"n": 10**40 + 1}})

    assert_problem(response, 422, "validation-error")


def test_submit_job_without_tenant_context_returns_401(api: ModuleType) -> None:
    assert_problem(submit(api, tenant_id=None), 401, "unauthenticated")


class TestWithTestJobTypesDisabled:
    @pytest.fixture
    def enable_test_job_types(self) -> bool:
        return False

    def test_submit_job_test_type_returns_422(self, api: ModuleType) -> None:
        response = submit(api, {"type": "fail", "payload": {}})

        assert_problem(response, 422, "validation-error")

    def test_submit_job_echo_still_accepted(self, api: ModuleType) -> None:
        assert submit(api)["statusCode"] == 202


# -- get ----------------------------------------------------------------------------------


def test_get_job_returns_200_with_the_job(api: ModuleType) -> None:
    created = body_of(submit(api))

    response = call(api, "GET", f"/v1/jobs/{created['job_id']}")

    assert response["statusCode"] == 200
    assert body_of(response) == created


def test_get_job_of_another_tenant_returns_404(api: ModuleType) -> None:
    created = body_of(submit(api, tenant_id="tenant-a"))

    response = call(api, "GET", f"/v1/jobs/{created['job_id']}", tenant_id="tenant-b")

    assert_problem(response, 404, "not-found")


@pytest.mark.parametrize("job_id", ["01JP1ZQ4K8M6V0N2R5T7W9Y3B1", "not-a-ulid"])
def test_get_job_unknown_returns_404(api: ModuleType, job_id: str) -> None:
    assert_problem(call(api, "GET", f"/v1/jobs/{job_id}"), 404, "not-found")


def test_get_job_expired_but_not_yet_deleted_returns_404(
    api: ModuleType, dynamodb: Any, tables: Tables
) -> None:
    long_ago = JobStore(
        dynamodb, tables.jobs, retention_days=1, clock=lambda: utc_now() - timedelta(days=2)
    )
    old = long_ago.submit(tenant_id="tenant-a", job_type="echo", payload={}, daily_quota=10)

    response = call(api, "GET", f"/v1/jobs/{old.job.job_id}")

    assert_problem(response, 404, "not-found")


# -- list ---------------------------------------------------------------------------------


def test_list_jobs_returns_newest_first(api: ModuleType) -> None:
    ids = [body_of(submit(api))["job_id"] for _ in range(3)]

    response = call(api, "GET", "/v1/jobs")

    assert response["statusCode"] == 200
    body = body_of(response)
    assert [job["job_id"] for job in body["items"]] == list(reversed(ids))
    assert body["next_cursor"] is None


def test_list_jobs_default_limit_is_20(api: ModuleType) -> None:
    for _ in range(21):
        submit(api)

    body = body_of(call(api, "GET", "/v1/jobs"))

    assert len(body["items"]) == 20
    assert body["next_cursor"]


def test_list_jobs_pages_with_cursor_until_exhausted(api: ModuleType) -> None:
    ids = [body_of(submit(api))["job_id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None

    for _ in range(10):
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        body = body_of(call(api, "GET", "/v1/jobs", query=query))
        seen += [job["job_id"] for job in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break

    assert seen == list(reversed(ids))


def test_list_jobs_filters_by_status_via_index(api: ModuleType) -> None:
    kept = body_of(submit(api))["job_id"]
    cancelled = body_of(submit(api))["job_id"]
    call(api, "DELETE", f"/v1/jobs/{cancelled}")

    queued = body_of(call(api, "GET", "/v1/jobs", query={"status": "queued"}))
    gone = body_of(call(api, "GET", "/v1/jobs", query={"status": "cancelled"}))

    assert [job["job_id"] for job in queued["items"]] == [kept]
    assert [job["job_id"] for job in gone["items"]] == [cancelled]


def test_list_jobs_status_filter_pages_with_cursor(api: ModuleType) -> None:
    ids = [body_of(submit(api))["job_id"] for _ in range(3)]

    first = body_of(call(api, "GET", "/v1/jobs", query={"status": "queued", "limit": "2"}))
    second = body_of(
        call(
            api,
            "GET",
            "/v1/jobs",
            query={"status": "queued", "limit": "2", "cursor": first["next_cursor"]},
        )
    )

    listed = [job["job_id"] for job in first["items"] + second["items"]]
    assert listed == list(reversed(ids))


def test_list_jobs_only_shows_the_callers_jobs(api: ModuleType) -> None:
    submit(api, tenant_id="tenant-b")

    body = body_of(call(api, "GET", "/v1/jobs", tenant_id="tenant-a"))

    assert body["items"] == []


@pytest.mark.parametrize(
    "query", [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"status": "done"}]
)
def test_list_jobs_bad_parameter_returns_400(api: ModuleType, query: dict[str, str]) -> None:
    assert_problem(call(api, "GET", "/v1/jobs", query=query), 400, "bad-request")


def test_list_jobs_tampered_cursor_returns_400(api: ModuleType) -> None:
    for _ in range(2):
        submit(api)
    cursor = body_of(call(api, "GET", "/v1/jobs", query={"limit": "1"}))["next_cursor"]

    response = call(api, "GET", "/v1/jobs", query={"cursor": cursor[:-3] + "AAA"})

    assert_problem(response, 400, "invalid-cursor")


def test_list_jobs_another_tenants_cursor_returns_400(api: ModuleType) -> None:
    for _ in range(2):
        submit(api, tenant_id="tenant-b")
    foreign = body_of(call(api, "GET", "/v1/jobs", query={"limit": "1"}, tenant_id="tenant-b"))[
        "next_cursor"
    ]

    response = call(api, "GET", "/v1/jobs", query={"cursor": foreign}, tenant_id="tenant-a")

    assert_problem(response, 400, "invalid-cursor")


def test_list_jobs_cursor_from_another_status_filter_returns_400(api: ModuleType) -> None:
    for _ in range(2):
        submit(api)
    cursor = body_of(call(api, "GET", "/v1/jobs", query={"status": "queued", "limit": "1"}))[
        "next_cursor"
    ]

    response = call(api, "GET", "/v1/jobs", query={"status": "running", "cursor": cursor})

    assert_problem(response, 400, "invalid-cursor")


# -- cancel -------------------------------------------------------------------------------


def test_cancel_queued_job_returns_200_cancelled(api: ModuleType) -> None:
    job_id = body_of(submit(api))["job_id"]

    response = call(api, "DELETE", f"/v1/jobs/{job_id}")

    assert response["statusCode"] == 200
    assert body_of(response)["status"] == "cancelled"
    assert body_of(call(api, "GET", f"/v1/jobs/{job_id}"))["status"] == "cancelled"


def test_cancel_job_that_is_not_queued_returns_409(api: ModuleType, job_store: JobStore) -> None:
    job_id = body_of(submit(api))["job_id"]
    job_store.start(job_store.get("tenant-a", job_id), lease_until=2**53)  # a worker has it

    response = call(api, "DELETE", f"/v1/jobs/{job_id}")

    assert_problem(response, 409, "job-not-cancellable")


def test_cancel_job_twice_returns_409(api: ModuleType) -> None:
    job_id = body_of(submit(api))["job_id"]
    call(api, "DELETE", f"/v1/jobs/{job_id}")

    assert_problem(call(api, "DELETE", f"/v1/jobs/{job_id}"), 409, "job-not-cancellable")


def test_cancel_unknown_job_returns_404(api: ModuleType) -> None:
    assert_problem(call(api, "DELETE", "/v1/jobs/01JP1ZQ4K8M6V0N2R5T7W9Y3B1"), 404, "not-found")


def test_cancel_another_tenants_job_returns_404(api: ModuleType) -> None:
    job_id = body_of(submit(api, tenant_id="tenant-a"))["job_id"]

    response = call(api, "DELETE", f"/v1/jobs/{job_id}", tenant_id="tenant-b")

    assert_problem(response, 404, "not-found")
    assert body_of(call(api, "GET", f"/v1/jobs/{job_id}"))["status"] == "queued"
