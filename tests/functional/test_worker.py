"""The worker (SQS batch, ReportBatchItemFailures) per docs/architecture.md."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.helpers import job_record, sqs_event, sqs_record

from jobs_platform.jobs import Job, JobStatus, JobStore

TENANT = "tenant-a"


def submit(store: JobStore, job_type: str = "echo", payload: dict[str, Any] | None = None) -> Job:
    result = store.submit(
        tenant_id=TENANT,
        job_type=job_type,
        payload={"hello": "world"} if payload is None else payload,
        daily_quota=100,
    )
    return result.job


def deliver(worker: ModuleType, job: Job, receive_count: int = 1) -> dict[str, Any]:
    record = job_record(TENANT, job.job_id, message_id="m-1", receive_count=receive_count)
    return worker.handler(sqs_event(record), None)


def test_echo_job_succeeds_with_payload_as_result(worker: ModuleType, job_store: JobStore) -> None:
    job = submit(job_store, payload={"hello": "world", "n": 2.5})

    response = deliver(worker, job)

    assert response == {"batchItemFailures": []}
    done = job_store.get(TENANT, job.job_id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.to_public()["result"] == {"hello": "world", "n": 2.5}
    assert done.attempts == 1
    assert done.error is None


def test_redelivery_of_a_done_job_is_a_no_op(worker: ModuleType, job_store: JobStore) -> None:
    job = submit(job_store)
    deliver(worker, job)
    done = job_store.get(TENANT, job.job_id)

    response = deliver(worker, job, receive_count=2)

    assert response == {"batchItemFailures": []}
    assert job_store.get(TENANT, job.job_id) == done


def test_failing_job_goes_back_to_queued_and_is_retried(
    worker: ModuleType, job_store: JobStore
) -> None:
    job = submit(job_store, "fail")

    response = deliver(worker, job, receive_count=1)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    retried = job_store.get(TENANT, job.job_id)
    assert retried.status is JobStatus.QUEUED
    assert retried.attempts == 1
    assert retried.error is not None
    assert retried.error["code"] == "execution_failed"


def test_failing_job_ends_failed_and_acked_on_the_last_receive(
    worker: ModuleType, job_store: JobStore
) -> None:
    job = submit(job_store, "fail")

    outcomes = [deliver(worker, job, receive_count=n) for n in (1, 2, 3)]

    assert [len(o["batchItemFailures"]) for o in outcomes] == [1, 1, 0]
    failed = job_store.get(TENANT, job.job_id)
    assert failed.status is JobStatus.FAILED
    assert failed.attempts == 3
    assert failed.error is not None


def test_cancelled_job_is_skipped(worker: ModuleType, job_store: JobStore) -> None:
    job = submit(job_store)
    job_store.cancel(TENANT, job.job_id)

    response = deliver(worker, job)

    assert response == {"batchItemFailures": []}
    skipped = job_store.get(TENANT, job.job_id)
    assert skipped.status is JobStatus.CANCELLED
    assert skipped.attempts == 0


def test_missing_job_is_acked(worker: ModuleType, job_store: JobStore) -> None:
    record = job_record(TENANT, "01JP1ZQ4K8M6V0N2R5T7W9Y3B1")

    assert worker.handler(sqs_event(record), None) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    "body",
    ["not json", "[]", json.dumps({"dynamodb": {}}), json.dumps({"dynamodb": {"Keys": {"pk": 1}}})],
)
def test_unparseable_body_is_reported_as_a_batch_item_failure(
    worker: ModuleType, job_store: JobStore, body: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good = submit(job_store)
    bad = sqs_record("x", "y", message_id="poison", body=body)
    ok = job_record(TENANT, good.job_id, message_id="fine")

    response = worker.handler(sqs_event(bad, ok), None)

    assert response == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert job_store.get(TENANT, good.job_id).status is JobStatus.SUCCEEDED
    assert "unparseable message" in capsys.readouterr().out


def test_concurrent_claim_that_loses_the_condition_is_acked(
    worker: ModuleType, job_store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = submit(job_store)
    stale = job_store.get(TENANT, job.job_id)
    job_store.start(stale)  # another delivery claimed it first
    store = worker.runtime().jobs
    monkeypatch.setattr(store, "load_by_key", lambda pk, sk: stale)

    response = deliver(worker, job)

    assert response == {"batchItemFailures": []}
    current = job_store.get(TENANT, job.job_id)
    assert current.status is JobStatus.RUNNING
    assert current.attempts == 1


def test_job_left_running_by_a_crash_is_reclaimed_on_redelivery(
    worker: ModuleType, job_store: JobStore
) -> None:
    job = submit(job_store)
    job_store.start(job_store.get(TENANT, job.job_id))  # the crashed attempt

    response = deliver(worker, job, receive_count=2)

    assert response == {"batchItemFailures": []}
    done = job_store.get(TENANT, job.job_id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.attempts == 2


def test_sleep_job_with_zero_seconds_succeeds(worker: ModuleType, job_store: JobStore) -> None:
    job = submit(job_store, "sleep", {"seconds": 0})

    deliver(worker, job)

    assert job_store.get(TENANT, job.job_id).status is JobStatus.SUCCEEDED


def test_dynamodb_error_is_reported_so_sqs_redelivers(
    worker: ModuleType, job_store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = submit(job_store)

    def throttled(pk: str, sk: str) -> None:
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}
        raise ClientError(error, "GetItem")  # type: ignore[arg-type]

    monkeypatch.setattr(worker.runtime().jobs, "load_by_key", throttled)

    response = deliver(worker, job)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


class TestWithTestJobTypesDisabled:
    @pytest.fixture
    def enable_test_job_types(self) -> bool:
        return False

    def test_job_of_a_disabled_type_fails_without_retry(
        self, worker: ModuleType, job_store: JobStore
    ) -> None:
        job = submit(job_store, "fail")

        response = deliver(worker, job, receive_count=1)

        assert response == {"batchItemFailures": []}
        failed = job_store.get(TENANT, job.job_id)
        assert failed.status is JobStatus.FAILED
        assert failed.error is not None
        assert failed.error["code"] == "invalid_job"
