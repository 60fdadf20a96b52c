"""JobStore paths the HTTP tests cannot reach deterministically: lost transaction races."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from jobs_platform import jobs
from jobs_platform.errors import QuotaExceeded, ServiceBusy
from jobs_platform.jobs import JobStore, create
from tests.conftest import Tables


class ConflictingClient:
    """Delegates to moto, but the first `conflicts` transactions are cancelled as if a
    concurrent request had written the tenant's quota counter."""

    def __init__(self, client: Any, conflicts: int) -> None:
        self._client = client
        self.conflicts = conflicts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        if self.conflicts > 0:
            self.conflicts -= 1
            reasons = [{"Code": "TransactionConflict"}, {"Code": "None"}]
            error: Any = {
                "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                "CancellationReasons": reasons,
            }
            raise ClientError(error, "TransactWriteItems")
        return self._client.transact_write_items(**kwargs)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(create.time, "sleep", lambda seconds: None)


def submit(store: JobStore, key: str | None = None) -> jobs.SubmitResult:
    return store.submit(
        tenant_id="t1", job_type="echo", payload={"a": 1}, daily_quota=10, idempotency_key=key
    )


def test_submit_retries_a_transaction_conflict(dynamodb: Any, tables: Tables) -> None:
    client = ConflictingClient(dynamodb, conflicts=2)
    store = JobStore(client, tables.jobs)  # type: ignore[arg-type]

    result = submit(store)

    assert client.conflicts == 0
    assert store.get("t1", result.job.job_id).status is jobs.JobStatus.QUEUED


def test_submit_persistent_conflict_is_service_busy(dynamodb: Any, tables: Tables) -> None:
    store = JobStore(ConflictingClient(dynamodb, conflicts=99), tables.jobs)  # type: ignore[arg-type]

    with pytest.raises(ServiceBusy):
        submit(store)


def test_submit_losing_the_idempotency_race_answers_as_a_replay(
    dynamodb: Any, tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = JobStore(dynamodb, tables.jobs)
    winner = submit(store, key="same")
    real_replay = create._replay_earlier_submission
    calls: list[int] = []

    def replay_missing_first_time(*args: Any) -> jobs.SubmitResult | None:
        calls.append(1)
        return None if len(calls) == 1 else real_replay(*args)

    monkeypatch.setattr(create, "_replay_earlier_submission", replay_missing_first_time)

    loser = submit(store, key="same")

    assert loser.replayed is True
    assert loser.job.job_id == winner.job.job_id
    assert len(calls) == 2
    assert len(store.list_jobs("t1").items) == 1


def test_quota_counter_counts_each_created_job(dynamodb: Any, tables: Tables) -> None:
    store = JobStore(dynamodb, tables.jobs)
    for _ in range(3):
        submit(store)

    with pytest.raises(QuotaExceeded):
        store.submit(tenant_id="t1", job_type="echo", payload={}, daily_quota=3)


class CountingClient:
    """Delegates to moto, recording the name of every DynamoDB call."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if callable(attribute) and not name.startswith("_") and name != "meta":

            def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls.append(name)
                return attribute(*args, **kwargs)

            return counted
        return attribute


def test_a_keyed_submit_is_one_round_trip_and_only_a_replay_reads(
    dynamodb: Any, tables: Tables
) -> None:
    client = CountingClient(dynamodb)
    store = JobStore(client, tables.jobs)  # type: ignore[arg-type]

    first = submit(store, key="k1")
    assert client.calls == ["transact_write_items"]

    client.calls.clear()
    again = submit(store, key="k1")
    assert again.replayed and again.job.job_id == first.job.job_id
    assert client.calls[0] == "transact_write_items"  # refused, then the key read back
    assert "transact_write_items" not in client.calls[1:]


def test_a_keyed_replay_is_answered_when_the_quota_is_zero(dynamodb: Any, tables: Tables) -> None:
    store = JobStore(dynamodb, tables.jobs)
    first = submit(store, key="k1")
    replay = store.submit(tenant_id="t1", job_type="echo", payload={"a": 1}, daily_quota=0,
                          idempotency_key="k1")  # fmt: skip
    assert replay.replayed and replay.job.job_id == first.job.job_id
    with pytest.raises(QuotaExceeded):
        store.submit(tenant_id="t1", job_type="echo", payload={"a": 1}, daily_quota=0,
                     idempotency_key="k2")  # fmt: skip
