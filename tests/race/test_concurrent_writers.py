"""Concurrent writers through the real domain code (SessionStore, JobStore, the worker's
process_record) against DynamoDB Local: the invariants the conditional writes promise.

Each test releases 16-32 threads together (a barrier) and bounds its loops; assertions are
on invariants that hold for every interleaving, never on which racer wins.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scripts.dynamodb_local import DynamoDBLocal

from jobs_platform import dynamo, job_types, schema
from jobs_platform.clock import epoch_ms
from jobs_platform.config import WorkerSettings
from jobs_platform.errors import (
    JobNotCancellable,
    PreconditionFailed,
    PreconditionRequired,
    QuotaExceeded,
    ServiceBusy,
)
from jobs_platform.handlers.worker import Dependencies, Outcome, process_record
from jobs_platform.jobs import Job, JobStatus, JobStore, SubmitResult
from jobs_platform.sessions import PutResult, Session, SessionStore
from tests.helpers import job_record
from tests.race.conftest import RACE_TIMEOUT_SECONDS, RaceTables, race

Clock = Callable[[], datetime]
LEASE_MS = 15 * 60 * 1000  # a worker invocation's deadline, as seen from the frozen clock


@pytest.fixture
def sessions(race_client: Any, race_tables: RaceTables, frozen_clock: Clock) -> SessionStore:
    return SessionStore(race_client, race_tables.sessions, clock=frozen_clock)


@pytest.fixture
def jobs(race_client: Any, race_tables: RaceTables, frozen_clock: Clock) -> JobStore:
    return JobStore(race_client, race_tables.jobs, clock=frozen_clock)


def stored_jobs(client: Any, table: str, tenant: str) -> list[Job]:
    """Every job item of the tenant, read from the base table (strongly consistent)."""
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": dynamo.values(
            pk=schema.tenant_pk(tenant), prefix=schema.JOB_PREFIX
        ),
        "ConsistentRead": True,
    }
    while True:
        response = client.query(**query)
        items.extend(response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return [Job.from_item(item) for item in items]
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def quota_count(client: Any, table: str, tenant: str, clock: Clock) -> int:
    key = {
        schema.PARTITION_KEY: schema.tenant_pk(tenant),
        schema.SORT_KEY: schema.quota_sk(clock().strftime("%Y-%m-%d")),
    }
    item = client.get_item(TableName=table, Key=dynamo.to_item(key), ConsistentRead=True)
    return int(dynamo.from_item(item.get("Item", {})).get("count", 0))


def unexpected(outcomes: list[Any], *expected: type) -> list[Any]:
    return [outcome for outcome in outcomes if not isinstance(outcome, expected)]


# -- sessions: optimistic locking (version / If-Match) ------------------------------------


def test_only_one_of_many_updates_with_the_same_if_match_wins(
    sessions: SessionStore, tenant: str
) -> None:
    sessions.put(tenant, "s1", state={"writer": None})
    writers = 32

    outcomes = race(
        writers, lambda i: sessions.put(tenant, "s1", state={"writer": i}, if_match='"1"')
    )

    assert unexpected(outcomes, PutResult, PreconditionFailed) == []
    winners = [outcome for outcome in outcomes if isinstance(outcome, PutResult)]
    assert len(winners) == 1
    assert winners[0].session.version == 2
    assert sum(isinstance(outcome, PreconditionFailed) for outcome in outcomes) == writers - 1
    final = sessions.get(tenant, "s1")
    assert final.version == 2
    assert final.state == winners[0].session.state


def test_only_one_of_many_concurrent_creates_wins(sessions: SessionStore, tenant: str) -> None:
    writers = 24

    outcomes = race(writers, lambda i: sessions.put(tenant, "new", state={"writer": i}))

    assert unexpected(outcomes, PutResult, PreconditionRequired) == []
    created = [outcome for outcome in outcomes if isinstance(outcome, PutResult)]
    assert len(created) == 1
    assert (created[0].created, created[0].session.version) == (True, 1)
    final = sessions.get(tenant, "new")
    assert (final.version, final.state) == (1, created[0].session.state)


def test_read_modify_write_rounds_lose_no_update(sessions: SessionStore, tenant: str) -> None:
    sessions.put(tenant, "counter", state={"count": 0, "by": {}})
    writers, attempts_each = 16, 12

    def writer(index: int) -> tuple[int, int]:
        succeeded = conflicts = 0
        for _ in range(attempts_each):
            current: Session = sessions.get(tenant, "counter")
            state = dict(current.state)
            by = dict(state["by"])
            by[str(index)] = int(by.get(str(index), 0)) + 1
            state.update(count=int(state["count"]) + 1, by=by)
            try:
                sessions.put(tenant, "counter", state=state, if_match=current.etag)
                succeeded += 1
            except PreconditionFailed:
                conflicts += 1
        return succeeded, conflicts

    outcomes = race(writers, writer)

    assert unexpected(outcomes, tuple) == []
    tallies = [outcome for outcome in outcomes if isinstance(outcome, tuple)]
    successes = sum(succeeded for succeeded, _ in tallies)
    final = sessions.get(tenant, "counter")
    assert successes >= 1
    assert final.state["count"] == successes  # no lost update
    assert final.version == 1 + successes  # one version per successful write
    # ...and each writer's own successes are all in the state (none overwritten).
    per_writer = {str(i): succeeded for i, (succeeded, _) in enumerate(tallies) if succeeded}
    assert {key: int(value) for key, value in final.state["by"].items()} == per_writer


# -- jobs: daily quota, idempotency ---------------------------------------------------------


def test_quota_is_never_over_admitted(
    jobs: JobStore, race_client: Any, race_tables: RaceTables, tenant: str, frozen_clock: Clock
) -> None:
    quota = 10
    submitters = 3 * quota

    outcomes = race(
        submitters,
        lambda i: jobs.submit(
            tenant_id=tenant, job_type="echo", payload={"n": i}, daily_quota=quota
        ),
    )

    assert unexpected(outcomes, SubmitResult, QuotaExceeded, ServiceBusy) == []
    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    created = [outcome.job.job_id for outcome in outcomes if isinstance(outcome, SubmitResult)]
    stored = stored_jobs(race_client, race_tables.jobs, tenant)
    assert len(created) <= quota, kinds
    assert sorted(job.job_id for job in stored) == sorted(created), kinds
    assert quota_count(race_client, race_tables.jobs, tenant, frozen_clock) == len(created)
    if kinds["QuotaExceeded"]:
        # Refused for quota only when the quota really was used up.
        assert len(created) == quota, kinds
    else:
        # Nobody refused for quota: everyone not admitted was told to retry.
        assert len(created) + kinds["ServiceBusy"] == submitters, kinds
    # The counter and the jobs agree afterwards too: a fresh caller sees the truth.
    if len(created) == quota:
        with pytest.raises(QuotaExceeded):
            jobs.submit(tenant_id=tenant, job_type="echo", payload={}, daily_quota=quota)


def test_same_idempotency_key_creates_exactly_one_job(
    jobs: JobStore, race_client: Any, race_tables: RaceTables, tenant: str, frozen_clock: Clock
) -> None:
    callers = 24

    outcomes = race(
        callers,
        lambda i: jobs.submit(
            tenant_id=tenant,
            job_type="echo",
            payload={"same": "body"},
            daily_quota=1000,
            idempotency_key="key-1",
        ),
    )

    assert unexpected(outcomes, SubmitResult) == []
    results = [outcome for outcome in outcomes if isinstance(outcome, SubmitResult)]
    stored = stored_jobs(race_client, race_tables.jobs, tenant)
    assert len(stored) == 1
    assert {result.job.job_id for result in results} == {stored[0].job_id}
    assert sum(not result.replayed for result in results) == 1  # the creator
    assert quota_count(race_client, race_tables.jobs, tenant, frozen_clock) == 1


# -- worker claims, cancel vs start ---------------------------------------------------------


def worker_dependencies(
    jobs: JobStore, race_tables: RaceTables, *, test_types: bool
) -> Dependencies:
    settings = WorkerSettings(
        jobs_table_name=race_tables.jobs,
        enable_test_job_types=test_types,
        max_receive_count=3,
        log_level="ERROR",
        service_name="jobs-platform-race",
    )
    return Dependencies(settings=settings, jobs=jobs)


def test_one_worker_wins_the_claim(jobs: JobStore, tenant: str, frozen_clock: Clock) -> None:
    job = jobs.submit(tenant_id=tenant, job_type="echo", payload={}, daily_quota=10).job
    workers = 24
    lease = epoch_ms(frozen_clock()) + LEASE_MS
    # Every worker has read the queued job (as a duplicate delivery would) before they race.
    seen = [jobs.get(tenant, job.job_id) for _ in range(workers)]

    outcomes = race(workers, lambda i: jobs.start(seen[i], lease_until=lease))

    assert unexpected(outcomes, Job, type(None)) == []
    claims = [outcome for outcome in outcomes if isinstance(outcome, Job)]
    assert len(claims) == 1
    assert outcomes.count(None) == workers - 1  # the others saw the lost condition
    assert claims[0].status is JobStatus.RUNNING
    assert claims[0].attempts == 1
    final = jobs.get(tenant, job.job_id)
    assert (final.status, final.attempts, final.claimed_until) == (JobStatus.RUNNING, 1, lease)


def test_duplicate_deliveries_run_the_job_exactly_once(
    jobs: JobStore,
    race_tables: RaceTables,
    tenant: str,
    frozen_clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Duplicates of one message through process_record: half race for the queued job, half
    read it only once a winner is running it (inside the lease). Exactly one execution."""
    job = jobs.submit(tenant_id=tenant, job_type="echo", payload={"k": 1}, daily_quota=10).job
    workers = 24
    late = set(range(1, workers, 2))  # read the job after another's claim, mid-execution
    deps = worker_dependencies(jobs, race_tables, test_types=True)
    lease = epoch_ms(frozen_clock()) + LEASE_MS
    executions: list[int] = []
    lock = threading.Lock()
    running = threading.Event()  # a winner is inside the job
    late_done = threading.Semaphore(0)
    real_run = job_types.run

    def run(job_type: str, payload: dict[str, Any], **kwargs: Any) -> Any:
        with lock:
            executions.append(1)
        running.set()
        # Hold the job open until every late reader has been through process_record.
        for _ in late:
            if not late_done.acquire(timeout=RACE_TIMEOUT_SECONDS / 2):
                break
        return real_run(job_type, payload, **kwargs)

    monkeypatch.setattr(job_types, "run", run)

    def deliver(index: int) -> Outcome:
        if index not in late:
            return process_record(job_record(tenant, job.job_id), deps, lease_until=lease)
        try:
            assert running.wait(timeout=RACE_TIMEOUT_SECONDS / 2), "nobody claimed the job"
            return process_record(job_record(tenant, job.job_id), deps, lease_until=lease)
        finally:
            late_done.release()

    outcomes = race(workers, deliver)

    assert outcomes == [Outcome.DONE] * workers  # every duplicate acked, none redelivered
    assert len(executions) == 1
    final = jobs.get(tenant, job.job_id)
    assert (final.status, final.attempts, final.result) == (JobStatus.SUCCEEDED, 1, {"k": 1})


def test_one_worker_reclaims_an_expired_lease(
    jobs: JobStore, race_client: Any, race_tables: RaceTables, tenant: str, frozen_clock: Clock
) -> None:
    job = jobs.submit(tenant_id=tenant, job_type="echo", payload={}, daily_quota=10).job
    now_ms = epoch_ms(frozen_clock())
    # A worker that claimed it 20 minutes ago and crashed: its lease ended 5 minutes ago.
    then = frozen_clock() - timedelta(minutes=20)
    crashed = JobStore(race_client, race_tables.jobs, clock=lambda: then)
    assert crashed.start(job, lease_until=epoch_ms(then) + LEASE_MS) is not None
    workers = 24
    seen = [jobs.get(tenant, job.job_id) for _ in range(workers)]  # running, lease expired

    outcomes = race(workers, lambda i: jobs.start(seen[i], lease_until=now_ms + LEASE_MS))

    assert unexpected(outcomes, Job, type(None)) == []
    claims = [outcome for outcome in outcomes if isinstance(outcome, Job)]
    assert len(claims) == 1
    assert (claims[0].status, claims[0].attempts) == (JobStatus.RUNNING, 2)
    final = jobs.get(tenant, job.job_id)
    assert (final.attempts, final.claimed_until) == (2, now_ms + LEASE_MS)


def test_cancel_and_worker_start_never_both_win(
    jobs: JobStore, race_tables: RaceTables, tenant: str, frozen_clock: Clock
) -> None:
    pairs = 16
    submitted = [
        jobs.submit(tenant_id=tenant, job_type="echo", payload={"n": n}, daily_quota=100).job
        for n in range(pairs)
    ]
    deps = worker_dependencies(jobs, race_tables, test_types=False)
    lease = epoch_ms(frozen_clock()) + LEASE_MS

    def act(index: int) -> Any:
        job = submitted[index // 2]
        if index % 2 == 0:
            return jobs.cancel(tenant, job.job_id)
        return process_record(job_record(tenant, job.job_id), deps, lease_until=lease)

    outcomes = race(2 * pairs, act)

    for n, job in enumerate(submitted):
        cancel, work = outcomes[2 * n], outcomes[2 * n + 1]
        assert work is Outcome.DONE, work
        assert isinstance(cancel, Job | JobNotCancellable), cancel
        final = jobs.get(tenant, job.job_id)
        if isinstance(cancel, Job):
            assert cancel.status is JobStatus.CANCELLED
            assert (final.status, final.attempts, final.result) == (JobStatus.CANCELLED, 0, None)
        else:
            assert (final.status, final.attempts) == (JobStatus.SUCCEEDED, 1)
            assert final.result == {"n": n}


# -- the server itself ------------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net")
def test_dynamodb_local_listens_on_loopback_only(dynamodb_local: DynamoDBLocal) -> None:
    if not dynamodb_local.loopback_only:
        pytest.skip("this Java has no jdk.compiler: DynamoDB Local listens on all interfaces")
    loopback = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}
    listening = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if int(port, 16) == dynamodb_local.port and fields[3] == "0A":  # LISTEN
                listening.append(address)
    assert listening, json.dumps({"port": dynamodb_local.port})
    assert set(listening) <= loopback, listening
