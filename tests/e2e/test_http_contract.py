"""Every row of the HTTP contract (openapi.yaml, docs/http-api.md) over real HTTP on the local
stack."""

from __future__ import annotations

import json
import time
import uuid

import requests

from tests.e2e.conftest import Stack

PROBLEM = "application/problem+json"


def assert_problem(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.headers.get("x-request-id")
    problem = response.json()
    assert problem["status"] == status
    assert {"type", "title", "status", "detail"} <= problem.keys()
    return problem


def test_health_is_public_and_reports_version(stack: Stack) -> None:
    response = requests.get(stack.url("/health"), timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["version"]
    assert response.headers.get("x-request-id")


def test_request_without_api_key_is_401(stack: Stack) -> None:
    response = requests.get(stack.url("/v1/jobs"), timeout=10)
    assert response.status_code == 401


def test_request_with_unknown_api_key_is_refused(stack: Stack) -> None:
    response = requests.get(stack.url("/v1/jobs"), headers={"x-api-key": "jp_nope"}, timeout=10)
    assert response.status_code == 403  # API Gateway's answer to isAuthorized=false


def test_submit_echo_job_succeeds_through_stream_pipe_queue_worker(stack: Stack) -> None:
    payload = {"hello": "world", "n": 1}
    response = stack.submit("echo", payload)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['job_id']}"
    assert response.headers.get("x-request-id")
    assert job["status"] == "queued" and job["payload"] == payload and job["attempts"] == 0

    done = stack.wait_for_job(job["job_id"], {"succeeded", "failed"})

    assert done["status"] == "succeeded"
    assert done["result"] == payload
    assert done["attempts"] == 1
    # The only way there: the worker ran it from the queue, fed by the pipe.
    worker_log = stack.state_dir / "logs" / f"{stack.outputs['function_names']['worker']}.log"
    assert job["job_id"] in worker_log.read_text()


def test_client_request_id_is_echoed(stack: Stack) -> None:
    response = requests.get(
        stack.url("/v1/jobs"), headers=stack.headers(**{"x-request-id": "trace-abc123"}), timeout=10
    )
    assert response.headers["x-request-id"] == "trace-abc123"


def test_submit_bad_json_is_400(stack: Stack) -> None:
    response = requests.post(
        stack.url("/v1/jobs"), data=b'{"type": "echo",', headers=stack.headers(), timeout=10
    )
    assert_problem(response, 400)


def test_submit_with_a_key_twice_is_400_duplicate_json_key(stack: Stack) -> None:
    # Last-wins would submit a "fail" job here, first-wins an "echo": neither is run.
    for body in (
        b'{"type": "echo", "payload": {}, "type": "fail"}',
        b'{"type": "echo", "payload": {"a": 1, "b": {"c": 1, "c": 2}}}',
    ):
        response = requests.post(
            stack.url("/v1/jobs"), data=body, headers=stack.headers(), timeout=10
        )
        problem = assert_problem(response, 400)
        assert problem["type"] == "tag:jobs-platform,2025:problems/duplicate-json-key", problem


def test_submit_not_json_is_415(stack: Stack) -> None:
    response = requests.post(
        stack.url("/v1/jobs"),
        data=b"type=echo",
        headers=stack.headers(**{"content-type": "application/x-www-form-urlencoded"}),
        timeout=10,
    )
    assert_problem(response, 415)


def test_submit_body_over_64_kib_is_413(stack: Stack) -> None:
    body = json.dumps({"type": "echo", "payload": {"blob": "x" * (64 * 1024)}})
    response = requests.post(stack.url("/v1/jobs"), data=body, headers=stack.headers(), timeout=10)
    assert_problem(response, 413)


def test_submit_unknown_type_is_422(stack: Stack) -> None:
    assert_problem(stack.submit("no-such-type", {}), 422)


def test_submit_unknown_field_is_422_with_errors(stack: Stack) -> None:
    response = requests.post(
        stack.url("/v1/jobs"),
        json={"type": "echo", "payload": {}, "priority": 1},
        headers=stack.headers(),
        timeout=10,
    )
    problem = assert_problem(response, 422)
    assert problem["errors"]


def test_submit_replayed_idempotency_key_returns_same_job(stack: Stack) -> None:
    key = str(uuid.uuid4())
    first = stack.submit("echo", {"a": 1}, **{"Idempotency-Key": key})
    replay = stack.submit("echo", {"a": 1}, **{"Idempotency-Key": key})
    assert first.status_code == 202
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["job_id"] == first.json()["job_id"]


def test_idempotency_key_with_different_body_is_409(stack: Stack) -> None:
    key = str(uuid.uuid4())
    assert stack.submit("echo", {"a": 1}, **{"Idempotency-Key": key}).status_code == 202
    assert_problem(stack.submit("echo", {"a": 2}, **{"Idempotency-Key": key}), 409)


def test_submit_over_daily_quota_is_429(stack: Stack) -> None:
    key = stack.mint_key(f"quota-{uuid.uuid4().hex[:8]}", daily_job_quota=2)
    assert stack.submit("echo", {}, api_key=key).status_code == 202
    assert stack.submit("echo", {}, api_key=key).status_code == 202
    assert_problem(stack.submit("echo", {}, api_key=key), 429)


def test_get_unknown_job_is_404(stack: Stack) -> None:
    response = requests.get(
        stack.url("/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV"), headers=stack.headers(), timeout=10
    )
    assert_problem(response, 404)


def test_get_another_tenants_job_is_404(stack: Stack) -> None:
    job = stack.submit("echo", {"secret": True}).json()
    other = stack.mint_key(f"other-{uuid.uuid4().hex[:8]}")
    response = requests.get(
        stack.url(f"/v1/jobs/{job['job_id']}"), headers=stack.headers(other), timeout=10
    )
    assert_problem(response, 404)


def test_list_jobs_newest_first_with_cursor_paging(stack: Stack) -> None:
    key = stack.mint_key(f"list-{uuid.uuid4().hex[:8]}")
    ids = [stack.submit("echo", {"i": i}, api_key=key).json()["job_id"] for i in range(5)]

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = requests.get(
            stack.url("/v1/jobs"), params=params, headers=stack.headers(key), timeout=10
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [item["job_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))


def test_list_jobs_filters_by_status(stack: Stack) -> None:
    key = stack.mint_key(f"status-{uuid.uuid4().hex[:8]}")
    job = stack.submit("echo", {}, api_key=key).json()
    stack.wait_for_job(job["job_id"], {"succeeded"}, api_key=key)
    response = requests.get(
        stack.url("/v1/jobs"),
        params={"status": "succeeded"},
        headers=stack.headers(key),
        timeout=10,
    )
    assert [i["job_id"] for i in response.json()["items"]] == [job["job_id"]]
    response = requests.get(
        stack.url("/v1/jobs"), params={"status": "queued"}, headers=stack.headers(key), timeout=10
    )
    assert response.json()["items"] == []


def test_list_jobs_bad_cursor_limit_or_status_is_400(stack: Stack) -> None:
    for params in ({"cursor": "not-a-cursor"}, {"limit": "0"}, {"limit": "1000"}, {"status": "x"}):
        response = requests.get(
            stack.url("/v1/jobs"), params=params, headers=stack.headers(), timeout=10
        )
        assert_problem(response, 400)


def test_cancel_queued_job_then_worker_leaves_it_cancelled(stack: Stack) -> None:
    # Given the worker's event source mapping disabled (the job waits in the queue: the
    # worker scales out, so a busy environment would not hold it back)
    with stack.mapping_disabled("worker"):
        job = stack.submit("echo", {"cancel": "me"}).json()

        # When the client cancels it while it waits
        response = requests.delete(
            stack.url(f"/v1/jobs/{job['job_id']}"), headers=stack.headers(), timeout=10
        )

    # Then it is cancelled, stays cancelled once the worker has its message, and cannot
    # be cancelled again
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    probe = stack.submit("echo", {"after": "cancel"}).json()  # the worker runs again
    stack.wait_for_job(probe["job_id"], {"succeeded"})
    assert stack.wait_for_job(job["job_id"], {"cancelled"})["attempts"] == 0
    again = requests.delete(
        stack.url(f"/v1/jobs/{job['job_id']}"), headers=stack.headers(), timeout=10
    )
    assert_problem(again, 409)


def test_cancel_unknown_job_is_404(stack: Stack) -> None:
    response = requests.delete(
        stack.url("/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV"), headers=stack.headers(), timeout=10
    )
    assert_problem(response, 404)


def test_session_lifecycle_with_etags(stack: Stack) -> None:
    url = stack.url(f"/v1/sessions/{uuid.uuid4().hex}")
    created = requests.put(url, json={"state": {"step": 1}}, headers=stack.headers(), timeout=10)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    assert created.json()["version"] == 1

    no_precondition = requests.put(url, json={"state": {}}, headers=stack.headers(), timeout=10)
    assert_problem(no_precondition, 428)

    updated = requests.put(
        url, json={"state": {"step": 2}}, headers=stack.headers(**{"If-Match": '"1"'}), timeout=10
    )
    assert updated.status_code == 200
    assert updated.headers["etag"] == '"2"'

    stale = requests.put(
        url, json={"state": {"step": 3}}, headers=stack.headers(**{"If-Match": '"1"'}), timeout=10
    )
    assert_problem(stale, 412)

    read = requests.get(url, headers=stack.headers(), timeout=10)
    assert read.status_code == 200
    assert read.headers["etag"] == '"2"'
    body = read.json()
    assert body["state"] == {"step": 2} and body["version"] == 2
    assert {"session_id", "state", "version", "expires_at"} <= body.keys()

    assert requests.delete(url, headers=stack.headers(), timeout=10).status_code == 204
    assert_problem(requests.get(url, headers=stack.headers(), timeout=10), 404)
    assert_problem(requests.delete(url, headers=stack.headers(), timeout=10), 404)


def test_expired_but_undeleted_session_reads_as_404(stack: Stack) -> None:
    session_id = uuid.uuid4().hex
    url = stack.url(f"/v1/sessions/{session_id}")
    assert requests.put(url, json={"state": {}}, headers=stack.headers(), timeout=10).ok
    # TTL deletes lazily: make the item expired, but leave it in the table.
    from jobs_platform import schema

    table = stack.client("dynamodb")
    table.update_item(
        TableName=stack.outputs["sessions_table_name"],
        Key={
            schema.PARTITION_KEY: {"S": schema.tenant_pk("local")},
            schema.SORT_KEY: {"S": schema.session_sk(session_id)},
        },
        UpdateExpression="SET #e = :past",
        ExpressionAttributeNames={"#e": schema.TTL_ATTRIBUTE},
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 5)}},
    )
    assert_problem(requests.get(url, headers=stack.headers(), timeout=10), 404)


def test_unknown_route_is_404_problem(stack: Stack) -> None:
    response = requests.get(stack.url("/v1/nope"), headers=stack.headers(), timeout=10)
    assert_problem(response, 404)


def test_wrong_method_is_405_with_allow(stack: Stack) -> None:
    response = requests.patch(stack.url("/v1/jobs"), headers=stack.headers(), timeout=10)
    assert_problem(response, 405)
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
