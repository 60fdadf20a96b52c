"""The worker (SQS batch, ReportBatchItemFailures) per docs/architecture.md."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError

from jobs_platform import dynamo, job_types
from jobs_platform.clock import epoch_ms, utc_now
from jobs_platform.handlers.worker import FINISH_MARGIN_MS
from jobs_platform.jobs import Job, JobStatus, JobStore
from jobs_platform.jobs.model import CLAIMED_UNTIL
from jobs_platform.jobs.transitions import DEAD_LETTERED
from tests.conftest import Tables
from tests.helpers import job_record, sqs_event, sqs_record

TENANT = "tenant-a"
FUNCTION_TIMEOUT_MS = 60_000  # what FakeContext reports as remaining at the start


class FakeClock:
    """The worker's and the store's clock: time moves only when a test advances it."""

    def __init__(self) -> None:
        self.now = utc_now().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, milliseconds: int) -> None:
        self.now += timedelta(milliseconds=milliseconds)

    def ms(self) -> int:
        return epoch_ms(self.now)


class FakeContext:
    """The part of the Lambda context the worker uses."""

    def __init__(self, remaining_ms: int = FUNCTION_TIMEOUT_MS) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def worker_clock(worker: ModuleType, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's dependencies (built on first use) runs on the fake clock."""
    monkeypatch.setattr(worker, "utc_now", clock)


@pytest.fixture
def job_store(dynamodb: Any, tables: Tables, clock: FakeClock) -> JobStore:
    return JobStore(dynamodb, tables.jobs, clock=clock)


@pytest.fixture
def executions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The job types the worker ran, in order (each entry is one execution)."""
    ran: list[str] = []
    real_run = job_types.run

    def counting_run(job_type: str, payload: dict[str, Any], **kwargs: Any) -> Any:
        ran.append(job_type)
        return real_run(job_type, payload, **kwargs)

    monkeypatch.setattr(job_types, "run", counting_run)
    return ran


def submit(store: JobStore, job_type: str = "echo", payload: dict[str, Any] | None = None) -> Job:
    result = store.submit(
        tenant_id=TENANT,
        job_type=job_type,
        payload={"hello": "world"} if payload is None else payload,
        daily_quota=100,
    )
    return result.job


def deliver(
    worker: ModuleType, job: Job, receive_count: int = 1, message_id: str = "m-1"
) -> dict[str, Any]:
    record = job_record(TENANT, job.job_id, message_id=message_id, receive_count=receive_count)
    return worker.handler(sqs_event(record), FakeContext())


def stored_item(dynamodb: Any, tables: Tables, job: Job) -> dict[str, Any]:
    item = dynamodb.get_item(TableName=tables.jobs, Key=job.key, ConsistentRead=True)["Item"]
    return dynamo.from_item(item)


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
    assert retried.claimed_until is None  # the lease ends with the claim


def test_failing_job_ends_failed_and_acked_on_the_last_receive(
    worker: ModuleType, job_store: JobStore, executions: list[str]
) -> None:
    job = submit(job_store, "fail")

    # The clock does not move: a job back in `queued` is claimable at once, whatever the
    # lease the failed attempt had.
    outcomes = [deliver(worker, job, receive_count=n) for n in (1, 2, 3)]

    assert [len(o["batchItemFailures"]) for o in outcomes] == [1, 1, 0]
    assert executions == ["fail"] * 3
    failed = job_store.get(TENANT, job.job_id)
    assert failed.status is JobStatus.FAILED
    assert failed.attempts == 3
    assert failed.error is not None
    assert failed.claimed_until is None


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

    assert worker.handler(sqs_event(record), FakeContext()) == {"batchItemFailures": []}


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

    response = worker.handler(sqs_event(bad, ok), FakeContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert job_store.get(TENANT, good.job_id).status is JobStatus.SUCCEEDED
    assert "unparseable message" in capsys.readouterr().out


def test_concurrent_claim_that_loses_the_condition_is_acked(
    worker: ModuleType,
    job_store: JobStore,
    clock: FakeClock,
    executions: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = submit(job_store)
    stale = job_store.get(TENANT, job.job_id)
    job_store.start(stale, lease_until=clock.ms() + FUNCTION_TIMEOUT_MS)  # another delivery
    store = worker.dependencies().jobs
    monkeypatch.setattr(store, "load_by_key", lambda pk, sk: stale)

    response = deliver(worker, job)

    assert response == {"batchItemFailures": []}
    assert executions == []
    current = job_store.get(TENANT, job.job_id)
    assert current.status is JobStatus.RUNNING
    assert current.attempts == 1


def test_duplicate_delivery_while_the_lease_holds_is_acked_without_running(
    worker: ModuleType, job_store: JobStore, clock: FakeClock, executions: list[str]
) -> None:
    job = submit(job_store)
    # The first copy claimed it in an invocation that is still running (deadline 60 s away).
    first = job_store.start(job, lease_until=clock.ms() + FUNCTION_TIMEOUT_MS)
    assert first is not None
    clock.advance(FUNCTION_TIMEOUT_MS - 1)  # the last millisecond of the lease

    response = deliver(worker, job, message_id="duplicate")  # reads it `running`

    assert response == {"batchItemFailures": []}  # acked: SQS deletes the duplicate
    assert executions == []
    current = job_store.get(TENANT, job.job_id)
    assert (current.status, current.attempts) == (JobStatus.RUNNING, 1)
    assert current.claimed_until == first.claimed_until
    # ...and the first copy still holds the claim: its result counts.
    done = job_store.succeed(first, {"by": "first"})
    assert done is not None
    assert (done.status, done.attempts, done.result) == (JobStatus.SUCCEEDED, 1, {"by": "first"})


def test_duplicate_delivered_while_the_first_copy_runs_the_job_runs_it_once(
    worker: ModuleType,
    job_store: JobStore,
    clock: FakeClock,
    executions: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = submit(job_store, payload={"n": 1})
    counted_run = job_types.run  # the `executions` fixture's: it records every run
    duplicate: list[dict[str, Any]] = []
    mid_job: list[Job] = []

    def run_while_a_duplicate_arrives(job_type: str, payload: Any, **kwargs: Any) -> Any:
        mid_job.append(job_store.get(TENANT, job.job_id))
        if not duplicate:  # the duplicate is processed by another invocation meanwhile
            clock.advance(5_000)
            duplicate.append(deliver(worker, job, message_id="duplicate"))
        return counted_run(job_type, payload, **kwargs)

    monkeypatch.setattr(job_types, "run", run_while_a_duplicate_arrives)

    response = deliver(worker, job, message_id="first")

    assert response == {"batchItemFailures": []}
    assert duplicate == [{"batchItemFailures": []}]  # acked, not run
    assert executions == ["echo"]
    # The lease is the first invocation's deadline (+ the clock-skew allowance).
    assert mid_job[0].claimed_until == clock.ms() - 5_000 + FUNCTION_TIMEOUT_MS + 1_000
    done = job_store.get(TENANT, job.job_id)
    assert (done.status, done.attempts, done.result) == (JobStatus.SUCCEEDED, 1, {"n": 1})
    assert done.claimed_until is None


def test_job_left_running_by_a_crash_is_reclaimed_after_the_lease_expired(
    worker: ModuleType,
    job_store: JobStore,
    clock: FakeClock,
    executions: list[str],
    dynamodb: Any,
    tables: Tables,
) -> None:
    job = submit(job_store)
    crashed = job_store.start(job, lease_until=clock.ms() + FUNCTION_TIMEOUT_MS)
    assert crashed is not None
    # SQS redelivers after the visibility timeout (>= 6 x the function timeout).
    clock.advance(6 * FUNCTION_TIMEOUT_MS)

    response = deliver(worker, job, receive_count=2)

    assert response == {"batchItemFailures": []}
    assert executions == ["echo"]
    done = job_store.get(TENANT, job.job_id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.attempts == 2
    assert CLAIMED_UNTIL not in stored_item(dynamodb, tables, job)
    # The crashed attempt's claim is gone: were it still alive, its finish is refused.
    assert job_store.succeed(crashed, {"late": True}) is None
    assert job_store.get(TENANT, job.job_id) == done


def test_running_job_without_a_lease_from_before_leases_is_reclaimable(
    worker: ModuleType, job_store: JobStore, executions: list[str], dynamodb: Any, tables: Tables
) -> None:
    job = submit(job_store)
    dynamodb.update_item(  # as start() wrote it before leases existed
        TableName=tables.jobs,
        Key=job.key,
        UpdateExpression="SET #status = :running, attempts = :one",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=dynamo.values(running="running", one=1),
    )

    response = deliver(worker, job, receive_count=2)

    assert response == {"batchItemFailures": []}
    assert executions == ["echo"]
    done = job_store.get(TENANT, job.job_id)
    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 2)


def test_lease_ends_strictly_after_claimed_until(job_store: JobStore, clock: FakeClock) -> None:
    job = submit(job_store)
    first = job_store.start(job, lease_until=clock.ms() + 1_000)
    assert first is not None

    clock.advance(1_000)  # now == claimed_until: still held
    assert job_store.start(first, lease_until=clock.ms() + 1_000) is None
    clock.advance(1)  # now > claimed_until: expired
    second = job_store.start(first, lease_until=clock.ms() + 1_000)

    assert second is not None
    assert (second.status, second.attempts) == (JobStatus.RUNNING, 2)
    assert second.claimed_until == clock.ms() + 1_000
    assert job_store.retry(first, "x", "stale holder") is None
    assert job_store.fail(first, "x", "stale holder") is None
    assert job_store.succeed(first, None) is None
    assert job_store.get(TENANT, job.job_id) == second


def test_expired_lease_with_a_stale_read_is_not_reclaimed(
    job_store: JobStore, clock: FakeClock
) -> None:
    job = submit(job_store)
    first = job_store.start(job, lease_until=clock.ms() + 1_000)
    assert first is not None
    clock.advance(2_000)

    # `job` was read before the first claim (attempts 0): the job moved on since.
    assert job_store.start(job, lease_until=clock.ms() + 1_000) is None
    assert job_store.get(TENANT, job.job_id) == first


def test_a_lease_that_is_already_over_is_refused(job_store: JobStore, clock: FakeClock) -> None:
    job = submit(job_store)

    with pytest.raises(ValueError, match="lease_until"):
        job_store.start(job, lease_until=clock.ms())

    assert job_store.get(TENANT, job.job_id) == job


def test_lease_is_the_invocation_deadline(worker: ModuleType, clock: FakeClock) -> None:
    lease = worker.lease_until(FakeContext(remaining_ms=12_345), clock)

    assert lease == clock.ms() + 12_345 + worker.LEASE_CLOCK_SKEW_MS


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

    monkeypatch.setattr(worker.dependencies().jobs, "load_by_key", throttled)

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


# -- time budget and dead-letter bookkeeping (issue 10) ------------------------------------
# A slow record never makes the rest of its batch time out, and no job is left queued or
# running for ever once its message goes to the dead-letter queue.

MAX_RECEIVE = 3  # the conftest's MAX_RECEIVE_COUNT


class DrainingContext(FakeContext):
    """Remaining time that each job run uses up (`cost_ms` per job type)."""

    def __init__(self, remaining_ms: int, cost_ms: dict[str, int]) -> None:
        super().__init__(remaining_ms)
        self.cost_ms = cost_ms


@pytest.fixture
def draining(monkeypatch: pytest.MonkeyPatch) -> list[DrainingContext]:
    contexts: list[DrainingContext] = []
    real_run = job_types.run

    def run(job_type: str, payload: dict[str, Any], **kwargs: Any) -> Any:
        for context in contexts:
            context.remaining_ms -= context.cost_ms.get(job_type, 0)
        return real_run(job_type, payload, **kwargs)

    monkeypatch.setattr(job_types, "run", run)
    return contexts


def test_slow_record_at_the_head_returns_the_rest_unclaimed(
    worker: ModuleType, job_store: JobStore, draining: list[DrainingContext]
) -> None:
    slow = submit(job_store, "sleep", {"seconds": 0})
    rest = [submit(job_store) for _ in range(3)]
    # 3 s invocation; the sleep uses 2.4 s of it: 0.6 s left, an echo needs 0.75 s.
    context = DrainingContext(3_000, {"sleep": 2_400})
    draining.append(context)
    records = [job_record(TENANT, slow.job_id, message_id="m-0")] + [
        job_record(TENANT, job.job_id, message_id=f"m-{i + 1}") for i, job in enumerate(rest)
    ]

    response = worker.handler(sqs_event(*records), context)

    assert job_store.get(TENANT, slow.job_id).status is JobStatus.SUCCEEDED
    assert response == {"batchItemFailures": [{"itemIdentifier": f"m-{i}"} for i in (1, 2, 3)]}
    for job in rest:  # never claimed: no attempt used, nothing to take over later
        stored = job_store.get(TENANT, job.job_id)
        assert (stored.status, stored.attempts) == (JobStatus.QUEUED, 0)


def test_returned_records_run_on_their_next_delivery(
    worker: ModuleType, job_store: JobStore
) -> None:
    job = submit(job_store)
    budget = job_types.max_duration_ms("echo") + FINISH_MARGIN_MS
    first = worker.handler(sqs_event(job_record(TENANT, job.job_id)), FakeContext(budget - 1))
    assert first == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    second = worker.handler(
        sqs_event(job_record(TENANT, job.job_id, receive_count=2)), FakeContext(budget)
    )
    assert second == {"batchItemFailures": []}
    assert job_store.get(TENANT, job.job_id).status is JobStatus.SUCCEEDED


def test_job_returned_unclaimed_on_its_last_receive_ends_failed_dead_lettered(
    worker: ModuleType, job_store: JobStore
) -> None:
    jobs = [submit(job_store) for _ in range(2)]
    records = [
        job_record(TENANT, job.job_id, message_id=f"m-{i}", receive_count=MAX_RECEIVE)
        for i, job in enumerate(jobs)
    ]

    response = worker.handler(sqs_event(*records), FakeContext(FINISH_MARGIN_MS))

    assert len(response["batchItemFailures"]) == 2  # both messages go to the DLQ
    for job in jobs:
        stored = job_store.get(TENANT, job.job_id)
        assert stored.status is JobStatus.FAILED
        assert stored.error is not None and stored.error["code"] == DEAD_LETTERED


def test_crashed_attempt_is_not_run_again_on_the_last_receive(
    worker: ModuleType,
    job_store: JobStore,
    clock: FakeClock,
    executions: list[str],
) -> None:
    job = submit(job_store)
    # An earlier delivery claimed it and its worker died: running, lease over.
    assert job_store.start(job, lease_until=clock.ms() + 1_000) is not None
    clock.advance(5_000)

    response = worker.handler(
        sqs_event(job_record(TENANT, job.job_id, receive_count=MAX_RECEIVE)), FakeContext()
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert executions == []
    stored = job_store.get(TENANT, job.job_id)
    assert stored.status is JobStatus.FAILED and stored.error is not None
    assert stored.error["code"] == DEAD_LETTERED


def test_processing_that_crashes_on_the_last_receive_marks_the_job(
    worker: ModuleType, job_store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = submit(job_store)

    def throttled(*_args: Any, **_kwargs: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
            "UpdateItem",
        )

    monkeypatch.setattr(JobStore, "start", throttled)
    response = worker.handler(
        sqs_event(job_record(TENANT, job.job_id, receive_count=MAX_RECEIVE)), FakeContext()
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    stored = job_store.get(TENANT, job.job_id)
    assert stored.status is JobStatus.FAILED and stored.error is not None
    assert stored.error["code"] == DEAD_LETTERED


def test_requeued_dead_lettered_job_runs_and_succeeds(
    worker: ModuleType, job_store: JobStore, dynamodb: Any, tables: Tables
) -> None:
    job = submit(job_store)
    dead = job_store.dead_letter(job, "test")
    assert dead is not None and dead.status is JobStatus.FAILED

    requeued = job_store.requeue(dead)
    assert requeued is not None and requeued.status is JobStatus.QUEUED
    assert stored_item(dynamodb, tables, job)["tenant_status"] == f"{TENANT}#queued"
    assert job_store.requeue(requeued) is None  # only a dead-lettered job

    response = worker.handler(sqs_event(job_record(TENANT, job.job_id)), FakeContext())
    assert response == {"batchItemFailures": []}
    assert job_store.get(TENANT, job.job_id).status is JobStatus.SUCCEEDED


def test_dead_letter_never_touches_a_job_another_delivery_holds(
    job_store: JobStore,
    clock: FakeClock,
) -> None:
    job = submit(job_store)
    claimed = job_store.start(job, lease_until=clock.ms() + 60_000)
    assert claimed is not None
    assert job_store.dead_letter(claimed, "test") is None
    assert job_store.get(TENANT, job.job_id).status is JobStatus.RUNNING
    done = job_store.succeed(claimed, {"ok": True})
    assert done is not None and job_store.dead_letter(done, "test") is None
