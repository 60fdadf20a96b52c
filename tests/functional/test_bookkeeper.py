"""The DLQ bookkeeping function (handlers/bookkeeper.py) against moto: every job whose
message reached the jobs DLQ ends `failed` (dead_lettered), counted once in its tenant's
usage; nothing redrive needs is deleted; pipe failure records are read back from the
stream and replaced by their jobs' messages; a second run changes nothing."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from scripts import redrive

from jobs_platform import config, schema
from jobs_platform.clock import epoch_ms, utc_now
from jobs_platform.handlers import bookkeeper as bookkeeper_module
from jobs_platform.jobs import Job, JobStatus, JobStore, messages
from jobs_platform.jobs.transitions import DEAD_LETTERED
from tests.conftest import Tables
from tests.helpers import api_event, body_of, job_record, sqs_event

TENANT = "tenant-a"


class FakeClock:
    def __init__(self) -> None:
        self.now = utc_now().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, milliseconds: int) -> None:
        self.now += timedelta(milliseconds=milliseconds)


class FakeContext:
    aws_request_id = "bookkeeping-run"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=os.environ["AWS_DEFAULT_REGION"])


@pytest.fixture
def dlq_url(sqs: Any) -> str:
    return str(sqs.create_queue(QueueName="test-jobs-dlq")["QueueUrl"])


@pytest.fixture
def job_store(dynamodb: Any, tables: Tables, clock: FakeClock) -> JobStore:
    return JobStore(dynamodb, tables.jobs, clock=clock)


@pytest.fixture
def bookkeeper(
    env: dict[str, str],
    dlq_url: str,
    sqs: Any,
    job_store: JobStore,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> ModuleType:
    """The handler with its dependencies on moto and the fake clock (as built in Lambda
    from the environment Terraform sets: config.BookkeeperSettings)."""
    monkeypatch.setenv(config.JOBS_DLQ_URL, dlq_url)
    settings = config.BookkeeperSettings.from_env(os.environ)
    streams = boto3.client("dynamodbstreams", region_name=os.environ["AWS_DEFAULT_REGION"])
    deps = bookkeeper_module.Dependencies(
        settings=settings, jobs=job_store, sqs=sqs, streams=streams, clock=clock
    )
    monkeypatch.setattr(bookkeeper_module, "dependencies", lambda: deps)
    return bookkeeper_module


def run(bookkeeper: ModuleType) -> dict[str, int]:
    result: dict[str, int] = bookkeeper.handler({}, FakeContext())
    return result


def submit(store: JobStore, n: int = 0) -> Job:
    return store.submit(tenant_id=TENANT, job_type="echo", payload={"n": n}, daily_quota=100).job


def dead_letter_message(sqs: Any, dlq_url: str, job: Job) -> None:
    """The job's message as SQS moves it to the DLQ: the stream record's SQS body."""
    sqs.send_message(QueueUrl=dlq_url, MessageBody=job_record(TENANT, job.job_id)["body"])


def dlq_bodies(sqs: Any, dlq_url: str) -> list[str]:
    """Every message in the DLQ, all visible (the run released what it held)."""
    found: dict[str, str] = {}
    for _ in range(10):
        response = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        for message in response.get("Messages", []):
            found[message["MessageId"]] = message["Body"]
    return sorted(found.values())


def failed_usage(api: ModuleType) -> int:
    response = api.handler(api_event("GET", "/v1/usage", tenant_id=TENANT), None)
    return int(body_of(response)["totals"]["failed"])


def test_a_queued_job_whose_message_is_in_the_dlq_ends_failed_and_its_message_stays(
    bookkeeper: ModuleType, job_store: JobStore, sqs: Any, dlq_url: str, api: ModuleType
) -> None:
    job = submit(job_store)
    dead_letter_message(sqs, dlq_url, job)

    assert run(bookkeeper) == {"marked": 1}

    stored = job_store.get(TENANT, job.job_id)
    assert stored.status is JobStatus.FAILED
    assert stored.error is not None and stored.error["code"] == DEAD_LETTERED
    assert "redrive" in stored.error["message"]
    # Never deleted (redrive moves it back), and visible again at once.
    assert dlq_bodies(sqs, dlq_url) == [job_record(TENANT, job.job_id)["body"]]
    # GET /v1/usage counts it failed.
    assert failed_usage(api) == 1


def test_a_second_run_changes_nothing_and_counts_nothing_again(
    bookkeeper: ModuleType, job_store: JobStore, sqs: Any, dlq_url: str, api: ModuleType
) -> None:
    job = submit(job_store)
    dead_letter_message(sqs, dlq_url, job)
    run(bookkeeper)
    first = job_store.get(TENANT, job.job_id)

    assert run(bookkeeper) == {"finished": 1}

    assert job_store.get(TENANT, job.job_id) == first
    assert failed_usage(api) == 1
    assert len(dlq_bodies(sqs, dlq_url)) == 1


def test_a_running_job_is_marked_only_once_its_lease_is_over(
    bookkeeper: ModuleType, job_store: JobStore, sqs: Any, dlq_url: str, clock: FakeClock
) -> None:
    # A worker claimed it on the last delivery and was killed: the lease runs out first.
    job = submit(job_store)
    claimed = job_store.start(job, lease_until=epoch_ms(clock()) + 10_000)
    assert claimed is not None
    dead_letter_message(sqs, dlq_url, job)

    assert run(bookkeeper) == {"in_flight": 1}
    assert job_store.get(TENANT, job.job_id).status is JobStatus.RUNNING

    clock.advance(11_000)
    assert run(bookkeeper) == {"marked": 1}
    stored = job_store.get(TENANT, job.job_id)
    assert stored.status is JobStatus.FAILED and stored.attempts == 1
    assert stored.claimed_until is None


def test_finished_missing_and_unreadable_messages_are_left_as_they_are(
    bookkeeper: ModuleType, job_store: JobStore, sqs: Any, dlq_url: str
) -> None:
    done = submit(job_store, 1)
    claimed = job_store.start(done, lease_until=epoch_ms(utc_now()) + 60_000)
    assert claimed is not None and job_store.succeed(claimed, {"ok": 1}) is not None
    dead_letter_message(sqs, dlq_url, done)
    sqs.send_message(QueueUrl=dlq_url, MessageBody=job_record(TENANT, "01" + "0" * 24)["body"])
    sqs.send_message(QueueUrl=dlq_url, MessageBody="not json")
    before = dlq_bodies(sqs, dlq_url)

    assert run(bookkeeper) == {"finished": 1, "missing": 1, "unreadable": 1}

    assert job_store.get(TENANT, done.job_id).status is JobStatus.SUCCEEDED
    assert dlq_bodies(sqs, dlq_url) == before


def stream_records(dynamodb: Any, tables: Tables) -> tuple[str, str, list[dict[str, Any]]]:
    """(stream ARN, shard id, every record) of the jobs table's stream."""
    streams = boto3.client("dynamodbstreams", region_name=os.environ["AWS_DEFAULT_REGION"])
    arn = dynamodb.describe_table(TableName=tables.jobs)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return arn, shard, streams.get_records(ShardIterator=iterator)["Records"]


def pipe_failure_record(arn: str, shard: str, first: str, last: str) -> str:
    """What EventBridge Pipes sends to a DynamoDB-stream source's DLQ (as Lambda does for
    a stream event source's on-failure destination)."""
    return json.dumps(
        {
            "requestContext": {
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 186,
            },
            "version": "1.0",
            "timestamp": "2026-01-01T00:00:00.000Z",
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": first,
                "endSequenceNumber": last,
                "batchSize": 3,
                "streamArn": arn,
            },
        }
    )


def test_a_pipe_failure_record_marks_its_jobs_and_is_replaced_by_their_messages(
    bookkeeper: ModuleType,
    job_store: JobStore,
    dynamodb: Any,
    tables: Tables,
    sqs: Any,
    dlq_url: str,
    worker: ModuleType,
    api: ModuleType,
) -> None:
    # Given three jobs whose batch the pipe could not deliver (their stream range also
    # holds the quota counter's writes, which the pipe's filter never passes)
    jobs = [submit(job_store, n) for n in range(3)]
    arn, shard, records = stream_records(dynamodb, tables)
    sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
    sqs.send_message(
        QueueUrl=dlq_url, MessageBody=pipe_failure_record(arn, shard, sequences[0], sequences[-1])
    )

    # When the bookkeeping runs
    outcome = run(bookkeeper)

    # Then each job is failed (dead_lettered), counted once, and the DLQ holds one job
    # message per job in place of the record, each as the pipe would have sent it
    # (the run may meet the job messages it put in the DLQ: their jobs are finished now)
    assert outcome.pop("replaced") == 1 and outcome in ({}, {"finished": 3})
    for job in jobs:
        stored = job_store.get(TENANT, job.job_id)
        assert stored.status is JobStatus.FAILED and stored.error is not None
        assert stored.error["code"] == DEAD_LETTERED and "outbox" in stored.error["message"]
    assert failed_usage(api) == 3
    bodies = dlq_bodies(sqs, dlq_url)
    keys = sorted(messages.job_key(body) for body in bodies)
    assert keys == sorted((schema.tenant_pk(TENANT), schema.job_sk(j.job_id)) for j in jobs)

    # And redrive queues them again and the worker runs them from those messages
    entries = [
        redrive.classify({"MessageId": str(i), "Body": body}, job_store)
        for i, body in enumerate(bodies)
    ]
    assert [entry.action for entry in entries] == ["requeue"] * 3
    for entry in entries:
        assert entry.job is not None and job_store.requeue(entry.job) is not None
    assert failed_usage(api) == 0
    event = sqs_event(*[{**job_record(TENANT, "x", message_id=str(i)), "body": body}
                        for i, body in enumerate(bodies)])  # fmt: skip
    assert worker.handler(event, FakeContext()) == {"batchItemFailures": []}
    assert {job_store.get(TENANT, j.job_id).status for j in jobs} == {JobStatus.SUCCEEDED}


def test_a_pipe_failure_record_whose_records_cannot_be_read_is_left(
    bookkeeper: ModuleType, job_store: JobStore, dynamodb: Any, tables: Tables, sqs: Any,
    dlq_url: str,
) -> None:  # fmt: skip
    submit(job_store)
    arn, shard, records = stream_records(dynamodb, tables)
    after = str(int(records[-1]["dynamodb"]["SequenceNumber"]) + 100)
    sqs.send_message(QueueUrl=dlq_url, MessageBody=pipe_failure_record(arn, shard, after, after))
    before = dlq_bodies(sqs, dlq_url)

    assert run(bookkeeper) == {"unresolved": 1}
    assert dlq_bodies(sqs, dlq_url) == before


def test_the_worker_dead_lettering_a_job_also_counts_it_failed(
    worker: ModuleType, job_store: JobStore, api: ModuleType
) -> None:
    # The worker's own bookkeeping (no time left on the last receive): same transition.
    job = submit(job_store)
    record = job_record(TENANT, job.job_id, receive_count=3)

    class Short:
        def get_remaining_time_in_millis(self) -> int:
            return 100

    assert worker.handler(sqs_event(record), Short())["batchItemFailures"]
    assert job_store.get(TENANT, job.job_id).status is JobStatus.FAILED
    assert failed_usage(api) == 1
