"""The fault table (issue 10): each row injects one fault into the real code against
DynamoDB Local (AWS's engine; the worker-kill row also runs the local stack's Lambda
runtime) and counts what it did to the work: lost (an accepted job left non-terminal or
gone, an update lost) and double-applied (a job run again although its run finished, two
jobs for one Idempotency-Key, a version counted twice). Every row must show 0 and 0.

Each row runs twice: as shipped (0 lost, 0 double-applied) and with its protection
removed (a monkeypatched mutation, named in the table), where it must see the damage: so
no row can pass without the protection it claims to test. `make faults` prints the table
(written to dist/fault-table.txt by this module).

SQS is modelled by `SimQueue` (batches, receive counts, visibility timeout on a fake
clock, maxReceiveCount -> DLQ); the worker's Lambda deadline by `Deadline` (a job's run
uses up its declared time; past the deadline the invocation dies, as Lambda kills it);
the DLQ as the bookkeeping function reads it by `DlqSqs`.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from scripts import fake_aws
from scripts.dynamodb_local import DynamoDBLocal
from scripts.local_stack.pollers import PipePoller, StoppableThread
from scripts.local_stack.runtime import FunctionRuntime, InvocationError

from jobs_platform import config, job_types, schema
from jobs_platform.clock import utc_now
from jobs_platform.config import BookkeeperSettings, WorkerSettings
from jobs_platform.errors import PreconditionFailed
from jobs_platform.handlers import bookkeeper as bookkeeper_module
from jobs_platform.handlers import worker as worker_module
from jobs_platform.jobs import Job, JobStatus, JobStore, messages, transitions
from jobs_platform.jobs.model import CLAIMED_UNTIL
from jobs_platform.jobs.transitions import DEAD_LETTERED
from jobs_platform.sessions import SessionStore
from tests.helpers import api_event, create_table, job_record, sqs_event, sqs_record

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLE_FILE = REPO_ROOT / "dist" / "fault-table.txt"
MAX_RECEIVE = 3
VISIBILITY_MS = 18_000  # the local environment's: 6 x the 3 s worker timeout
WORKER_TIMEOUT_MS = 3_000
TERMINAL = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}


@dataclass
class RowResult:
    row: str
    fault: str
    protection: str
    mutation: str
    lost: int = 0
    double: int = 0
    mutated_lost: int | None = None
    mutated_double: int | None = None
    detail: str = ""


ROWS: dict[str, RowResult] = {}


@pytest.fixture(scope="module", autouse=True)
def fault_table() -> Iterator[None]:
    yield
    lines = [
        "Fault table (tests/race/test_fault_table.py; DynamoDB Local, local stack runtime)",
        "",
        f"{'fault':<48} {'lost':>4} {'double':>6}  protection / mutation -> result",
    ]
    for result in ROWS.values():
        shipped = f"{result.lost:>4} {result.double:>6}"
        if result.mutated_lost is None:
            caught = "mutation not run"
        else:
            caught = f"lost {result.mutated_lost}, double-applied {result.mutated_double}"
        lines.append(f"{result.fault:<48} {shipped}  {result.protection}")
        lines.append(f"{'':<48} {'':>4} {'':>6}  without it ({result.mutation}): {caught}")
    TABLE_FILE.parent.mkdir(exist_ok=True)
    TABLE_FILE.write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))


def record(row: str, mutated: bool, lost: int, double: int, **info: str) -> None:
    result = ROWS.setdefault(row, RowResult(row=row, **info))
    if mutated:
        result.mutated_lost, result.mutated_double = lost, double
    else:
        result.lost, result.double = lost, double


def check(row: str, mutated: bool, lost: int, double: int, **info: str) -> None:
    record(row, mutated, lost, double, **info)
    if mutated:
        assert lost + double > 0, f"{row}: the row did not notice its protection was removed"
    else:
        assert (lost, double) == (0, 0), f"{row}: lost {lost}, double-applied {double}"


# -- the model of SQS, Lambda's deadline and the clock ----------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, milliseconds: int) -> None:
        self.now += timedelta(milliseconds=milliseconds)


class Killed(BaseException):
    """The invocation is over (deadline passed, or the process died)."""


class Deadline:
    """A Lambda context whose time is used up by job runs (their declared cost)."""

    def __init__(self, remaining_ms: int = WORKER_TIMEOUT_MS) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms

    def spend(self, milliseconds: int) -> None:
        self.remaining_ms -= milliseconds
        if self.remaining_ms < 0:
            raise Killed("Task timed out")


@dataclass
class Message:
    message_id: str
    record: dict[str, Any]  # the SQS event record (body = stream record)
    receives: int = 0


@dataclass
class SimQueue:
    """SQS with a redrive policy, as the event source mapping sees it."""

    messages: list[Message] = field(default_factory=list)
    dlq: list[Message] = field(default_factory=list)

    def send(self, record: dict[str, Any]) -> None:
        message_id = f"m-{uuid.uuid4().hex[:10]}"
        self.messages.append(Message(message_id, {**record, "messageId": message_id}))

    def receive(self, batch_size: int = 10) -> list[Message]:
        batch: list[Message] = []
        for message in list(self.messages):
            if len(batch) == batch_size:
                break
            if message.receives >= MAX_RECEIVE:  # SQS moves it on this receive
                self.messages.remove(message)
                self.dlq.append(message)
                continue
            message.receives += 1
            attributes = {**message.record.get("attributes", {})}
            attributes["ApproximateReceiveCount"] = str(message.receives)
            message.record["attributes"] = attributes
            batch.append(message)
        return batch

    def settle(self, batch: list[Message], failed_ids: set[str]) -> None:
        for message in batch:
            if message.message_id not in failed_ids and message in self.messages:
                self.messages.remove(message)


def run_worker(
    queue: SimQueue,
    clock: FakeClock,
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    rounds: int = MAX_RECEIVE + 1,
    context: Callable[[], Any] = Deadline,
) -> None:
    """Deliver batches until the queue is empty or `rounds` visibility timeouts passed."""
    for _ in range(rounds):
        batch = queue.receive()
        while batch:
            try:
                response = handler(sqs_event(*[m.record for m in batch]), context())
                failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
            except (Killed, Exception):  # noqa: BLE001 - a function error or a death:
                failed = {m.message_id for m in batch}  # Lambda fails the whole batch
            queue.settle(batch, failed)
            pending = [m for m in batch if m.message_id in failed]
            batch = [m for m in queue.receive() if m not in pending] if not pending else []
        clock.advance(VISIBILITY_MS)
        queue.receive(batch_size=0)
        if not queue.messages:
            break
        queue.dlq.extend(m for m in queue.messages if m.receives >= MAX_RECEIVE)
        queue.messages = [m for m in queue.messages if m.receives < MAX_RECEIVE]


# -- shared fixtures ---------------------------------------------------------------------------


@pytest.fixture
def table(race_client: Any) -> str:
    name = f"faults-{uuid.uuid4().hex[:8]}"
    create_table(race_client, name, schema.JOBS_TABLE)
    return name


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(race_client: Any, table: str, clock: FakeClock) -> JobStore:
    return JobStore(race_client, table, clock=clock)


@pytest.fixture
def executions(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Runs of each job (by its payload's `n`) that finished (returned or raised)."""
    ran: Counter[str] = Counter()
    real_run = job_types.run

    def counting_run(job_type: str, payload: dict[str, Any], **kwargs: Any) -> Any:
        result = real_run(job_type, payload, **kwargs)
        ran[str(payload.get("n"))] += 1
        return result

    monkeypatch.setattr(job_types, "run", counting_run)
    return ran


def worker_environment(table: str) -> dict[str, str]:
    """The worker's environment variables, as Terraform sets them (names from config)."""
    return {
        config.JOBS_TABLE_NAME: table,
        config.ENABLE_TEST_JOB_TYPES: "true",
        config.MAX_RECEIVE_COUNT: str(MAX_RECEIVE),
        config.LOG_LEVEL: "WARNING",
        config.SERVICE_NAME: "faults",
    }


def worker_deps(client: Any, table: str, clock: FakeClock) -> worker_module.Dependencies:
    settings = WorkerSettings.from_env(worker_environment(table))
    return worker_module.Dependencies(
        settings=settings, jobs=JobStore(client, table, clock=clock), clock=clock
    )


@pytest.fixture
def worker(
    race_client: Any, table: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> ModuleType:
    deps = worker_deps(race_client, table, clock)
    monkeypatch.setattr(worker_module, "dependencies", lambda: deps)
    return worker_module


def submit_jobs(store: JobStore, tenant: str, count: int, job_type: str = "echo",
                payload: Callable[[int], dict[str, Any]] | None = None) -> list[Job]:  # fmt: skip
    return [
        store.submit(
            tenant_id=tenant,
            job_type=job_type,
            payload=payload(n) if payload else {"n": n},
            daily_quota=1_000,
        ).job
        for n in range(count)
    ]


def queue_of(jobs: list[Job], tenant: str) -> SimQueue:
    queue = SimQueue()
    for job in jobs:
        queue.send(job_record(tenant, job.job_id))
    return queue


def not_terminal(store: JobStore, tenant: str, jobs: list[Job]) -> int:
    """Jobs left queued or running (or gone): lost work."""
    return sum(
        1
        for job in jobs
        if (current := store.load(tenant, job.job_id)) is None or current.status not in TERMINAL
    )


class DlqSqs:
    """The jobs DLQ (`SimQueue.dlq`) through the SQS calls the DLQ bookkeeping makes:
    receive (held until released), make visible again, send, delete."""

    def __init__(self, queue: SimQueue) -> None:
        self.queue = queue
        self.held: set[str] = set()

    def receive_message(self, QueueUrl: str, MaxNumberOfMessages: int, **_: Any) -> dict[str, Any]:
        batch = [m for m in self.queue.dlq if m.message_id not in self.held]
        batch = batch[:MaxNumberOfMessages]
        self.held.update(m.message_id for m in batch)
        return {
            "Messages": [
                {"MessageId": m.message_id, "ReceiptHandle": m.message_id, "Body": m.record["body"]}
                for m in batch
            ]
        }

    def change_message_visibility_batch(
        self, QueueUrl: str, Entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        for entry in Entries:
            self.held.discard(entry["ReceiptHandle"])
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        for entry in Entries:
            message_id = f"d-{uuid.uuid4().hex[:10]}"
            record = {**_stream_sqs_record(entry["MessageBody"]), "messageId": message_id}
            self.queue.dlq.append(Message(message_id, record))
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:  # the pipe's DLQ send
        self.send_message_batch(QueueUrl, [{"Id": "0", "MessageBody": MessageBody}])

    def get_queue_url(self, QueueName: str) -> dict[str, str]:
        return {"QueueUrl": QueueName}

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:
        self.queue.dlq = [m for m in self.queue.dlq if m.message_id != ReceiptHandle]
        self.held.discard(ReceiptHandle)


def run_bookkeeping(
    client: Any, table: str, clock: FakeClock, queue: SimQueue, streams: Any = None
) -> dict[str, int]:
    """One run of the DLQ bookkeeping function over `queue.dlq` (DynamoDB reachable)."""
    settings = BookkeeperSettings.from_env(
        {
            config.JOBS_TABLE_NAME: table,
            config.JOBS_DLQ_URL: "dlq",
            config.LOG_LEVEL: "WARNING",
            config.SERVICE_NAME: "faults",
        }
    )
    deps = bookkeeper_module.Dependencies(
        settings=settings,
        jobs=JobStore(client, table, clock=clock),
        sqs=DlqSqs(queue),
        streams=streams,
        clock=clock,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bookkeeper_module, "dependencies", lambda: deps)
        result: dict[str, int] = bookkeeper_module.handler({}, Deadline(60_000))
    return result


def redrive_and_run(store: JobStore, queue: SimQueue, clock: FakeClock, handler: Any) -> None:
    """What `make redrive REDRIVE_ARGS=--apply` does with the DLQ's job messages (queue a
    dead-lettered job again, move its message back), then the worker's deliveries."""
    redriven = SimQueue()
    for message in queue.dlq:
        parsed = messages.read(message.record["body"])
        assert isinstance(parsed, messages.JobMessage), message.record["body"]
        job = store.load_by_key(parsed.pk, parsed.sk)
        assert job is not None and job.error is not None
        assert job.error["code"] == DEAD_LETTERED
        assert store.requeue(job) is not None
        redriven.send({**message.record, "attributes": {}})
    queue.dlq.clear()
    run_worker(redriven, clock, handler)


def mutate_claim_to_queued_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The claim no longer takes over a running job whose lease is over."""

    def start(table: Any, job: Job, *, lease_until: int) -> Job | None:
        claim = transitions.Transition(
            to=JobStatus.RUNNING,
            condition="#status = :queued AND #attempts = :seen",
            condition_values={"queued": JobStatus.QUEUED.value, "seen": job.attempts},
            set_values={CLAIMED_UNTIL: lease_until},
            increment_attempts=True,
        )
        return transitions.apply(table, job, claim)

    monkeypatch.setattr(transitions, "start", start)


def mutate_claim_unconditional(monkeypatch: pytest.MonkeyPatch) -> None:
    """The claim no longer checks status, lease or attempts."""

    def start(table: Any, job: Job, *, lease_until: int) -> Job | None:
        claim = transitions.Transition(
            to=JobStatus.RUNNING,
            condition="attribute_exists(#status)",
            condition_values={},
            set_values={CLAIMED_UNTIL: lease_until},
            increment_attempts=True,
        )
        return transitions.apply(table, job, claim)

    monkeypatch.setattr(transitions, "start", start)


# -- row 1: worker killed mid-batch (the local stack's Lambda runtime) -------------------------


@pytest.mark.parametrize("mutated", [False, True], ids=["shipped", "mutated"])
def test_worker_killed_mid_batch(
    mutated: bool,
    dynamodb_local: DynamoDBLocal,
    race_client: Any,
    table: str,
    tenant: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The batch's third job sleeps; the worker's process is SIGKILLed during it.
    real_clock = utc_now
    store = JobStore(race_client, table, clock=real_clock)
    jobs = submit_jobs(store, tenant, 2) + submit_jobs(
        store, tenant, 1, "sleep", lambda n: {"seconds": 2}
    ) + submit_jobs(store, tenant, 2)  # fmt: skip
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_ENDPOINT_URL": dynamodb_local.endpoint,
        **fake_aws.credentials_env(),
        **worker_environment(table),
    }
    runtime = FunctionRuntime(
        function_name="worker",
        handler="jobs_platform.handlers.worker.handler",
        environment=environment,
        timeout_seconds=WORKER_TIMEOUT_MS // 1000 + 2,
        memory_mb=128,
        log_path=tmp_path / "worker.log",
    )
    records = [job_record(tenant, job.job_id, message_id=f"m-{i}") for i, job in enumerate(jobs)]

    def kill_during_the_sleep() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            current = store.load(tenant, jobs[2].job_id)
            if current is not None and current.status is JobStatus.RUNNING:
                process = runtime._process
                if process is not None:
                    os.kill(process.pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_during_the_sleep)
    killer.start()
    try:
        with pytest.raises(InvocationError):
            runtime.invoke(sqs_event(*records))
    finally:
        killer.join(timeout=60)
        runtime.stop()
    # SQS redelivers the whole batch after the visibility timeout (the lease is over by
    # then): modelled in process, on a clock one visibility timeout ahead.
    clock = FakeClock()
    clock.advance(VISIBILITY_MS)
    deps = worker_deps(race_client, table, clock)
    monkeypatch.setattr(worker_module, "dependencies", lambda: deps)
    if mutated:
        mutate_claim_to_queued_only(monkeypatch)
    redelivered = [{**r, "attributes": {**r["attributes"], "ApproximateReceiveCount": "2"}}
                   for r in records]  # fmt: skip
    worker_module.handler(sqs_event(*redelivered), Deadline(60_000))

    lost = not_terminal(store, tenant, jobs)
    attempts = [current.attempts for job in jobs if (current := store.load(tenant, job.job_id))]
    # Only the killed job may run again; every other job ran exactly once.
    double = sum(1 for i, n in enumerate(attempts) if n > (2 if i == 2 else 1))
    check(
        "worker-killed",
        mutated,
        lost,
        double,
        fault="worker killed mid-batch (SIGKILL)",
        protection="claim lease: a redelivery re-claims a job whose lease is over",
        mutation="claim takes queued jobs only",
    )


# -- row 2: duplicate delivery to two workers at once ------------------------------------------


@pytest.mark.parametrize("mutated", [False, True], ids=["shipped", "mutated"])
def test_duplicate_delivery_to_two_workers_at_once(
    mutated: bool,
    store: JobStore,
    worker: ModuleType,
    executions: Counter[str],
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.race.conftest import race

    if mutated:
        mutate_claim_unconditional(monkeypatch)
    jobs = submit_jobs(store, tenant, 16)

    def deliver(index: int) -> Any:
        job = jobs[index // 2]
        record = job_record(tenant, job.job_id, message_id=f"m-{index}")
        return worker.handler(sqs_event(record), Deadline(60_000))

    outcomes = race(32, deliver)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    lost = not_terminal(store, tenant, jobs)
    double = sum(1 for job in jobs if executions[str(job.payload["n"])] > 1)
    check(
        "duplicate-delivery",
        mutated,
        lost,
        double,
        fault="duplicate delivery to two workers at once",
        protection="conditional claim (status, lease, attempts as fencing token)",
        mutation="unconditional claim",
    )


# -- row 3: slow records at the head of a batch ------------------------------------------------


@pytest.mark.parametrize("mutated", [False, True], ids=["shipped", "mutated"])
def test_slow_records_at_the_head_of_a_batch(
    mutated: bool,
    store: JobStore,
    worker: ModuleType,
    clock: FakeClock,
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Six sleeps of the type's full declared duration (2 s) in one batch; the worker's
    # timeout is 3 s. A run uses its declared time on the invocation's clock, not the wall.
    contexts: list[Deadline] = []
    started: Counter[str] = Counter()
    real_run = job_types.run

    def run(job_type: str, payload: dict[str, Any], **kwargs: Any) -> Any:
        started[str(payload.get("n"))] += 1
        contexts[-1].spend(job_types.max_duration_ms(job_type))
        return real_run(job_type, {"seconds": 0}, **kwargs)

    monkeypatch.setattr(job_types, "run", run)

    def context() -> Deadline:
        contexts.append(Deadline())
        return contexts[-1]

    if mutated:  # the worker claims without looking at the time left
        real_process = worker.process_record
        monkeypatch.setattr(
            worker,
            "process_record",
            lambda record, deps, **kw: real_process(record, deps, lease_until=kw["lease_until"]),
        )
    jobs = submit_jobs(store, tenant, 6, "sleep", lambda n: {"seconds": 2, "n": n})
    queue = queue_of(jobs, tenant)
    run_worker(queue, clock, worker.handler, context=context)
    # What the worker could not run within the deliveries ended failed (dead_lettered),
    # never queued or running for ever; redrive queues them again and they finish.
    lost = not_terminal(store, tenant, jobs)
    double = sum(1 for job in jobs if started[str(job.payload["n"])] > 1)
    if not mutated:
        for message in queue.dlq:
            body = json.loads(message.record["body"])
            job = store.load_by_key(body["dynamodb"]["Keys"]["pk"]["S"],
                                    body["dynamodb"]["Keys"]["sk"]["S"])  # fmt: skip
            assert job is not None and store.requeue(job) is not None
        redriven = SimQueue()
        for message in queue.dlq:
            redriven.send({**message.record, "attributes": {}})
        for _ in range(4):
            run_worker(redriven, clock, worker.handler, context=context)
            for message in redriven.dlq:
                body = json.loads(message.record["body"])
                job = store.load_by_key(body["dynamodb"]["Keys"]["pk"]["S"],
                                        body["dynamodb"]["Keys"]["sk"]["S"])  # fmt: skip
                assert job is not None and store.requeue(job) is not None
                redriven.send({**message.record, "attributes": {}})
            redriven.dlq.clear()
        finished = [store.get(tenant, job.job_id).status for job in jobs]
        assert finished == [JobStatus.SUCCEEDED] * 6, finished
        double = sum(1 for job in jobs if started[str(job.payload["n"])] > 1)
    check(
        "slow-head",
        mutated,
        lost,
        double,
        fault="slow records at the head of a batch",
        protection="time budget: claim only with the type's max duration left",
        mutation="no time check before the claim",
    )


# -- row 4: poison message ---------------------------------------------------------------------


@pytest.mark.parametrize("mutated", [False, True], ids=["shipped", "mutated"])
def test_poison_message(
    mutated: bool,
    store: JobStore,
    worker: ModuleType,
    clock: FakeClock,
    executions: Counter[str],
    tenant: str,
) -> None:
    jobs = submit_jobs(store, tenant, 3)
    queue = SimQueue()
    queue.send(sqs_record("TENANT#x", "JOB#x", body="not a stream record"))
    for job in jobs:
        queue.send(job_record(tenant, job.job_id))

    def without_isolation(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # The mutation: one record's error fails the whole batch (no per-record handling).
        deps = worker.dependencies()
        lease = worker.lease_until(context, deps.clock)
        for item in event["Records"]:
            outcome = worker.process_record(item, deps, lease_until=lease)
            assert outcome is worker.Outcome.DONE
        return {"batchItemFailures": []}

    run_worker(queue, clock, without_isolation if mutated else worker.handler)
    lost = not_terminal(store, tenant, jobs)
    double = sum(1 for job in jobs if executions[str(job.payload["n"])] > 1)
    if not mutated:
        assert len(queue.dlq) == 1 and "not a stream record" in queue.dlq[0].record["body"]
    check(
        "poison",
        mutated,
        lost,
        double,
        fault="poison message in a batch",
        protection="per-record failure reporting (only the poison goes to the DLQ)",
        mutation="an error fails the whole batch",
    )


# -- row 5: DynamoDB throttling and 5xx injected at the SDK ------------------------------------


class Injector:
    """A botocore `before-send` hook. Every 5th request is throttled before it reaches
    DynamoDB. Of the writes, the first try of every 2nd claim, every 3rd other update and
    every 3rd transaction reaches DynamoDB and is applied, then its response is lost (a
    500). The SDK retries both (standard mode), as in production; a retried conditional
    write then finds its own result and fails its condition."""

    def __init__(self) -> None:
        self.calls = 0
        self.seen: Counter[str] = Counter()
        self.retried: set[bytes] = set()
        self.injected: Counter[str] = Counter()
        self.lock = threading.Lock()

    def _kind(self, operation: str, body: bytes) -> str | None:
        if operation == "TransactWriteItems":
            return "transaction"
        if operation == "UpdateItem":
            return "claim" if b"#attempts + :one" in body else "update"
        return None

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).split(".")[-1]
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        kind = self._kind(operation, body)
        with self.lock:
            self.calls += 1
            throttle = self.calls % 5 == 1
            lose = False
            if kind and not throttle and body not in self.retried:
                self.seen[kind] += 1
                every = {"claim": 2, "update": 3, "transaction": 3}[kind]
                lose = self.seen[kind] % every == 0
                if lose:
                    self.retried.add(body)
        if throttle:
            self.injected["throttled"] += 1
            error = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#"
                                "ProvisionedThroughputExceededException",
                                "message": "injected"}).encode()  # fmt: skip
            return AWSResponse(request.url, 400, {"content-type": "application/x-amz-json-1.0"},
                               _Raw(error))  # fmt: skip
        if lose:
            import urllib3

            headers = {
                k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
            }
            sent = urllib3.PoolManager().request(
                request.method, request.url, body=request.body, headers=headers
            )
            assert sent.status == 200, sent.data  # the write was applied
            self.injected[f"{kind} applied, response lost (500)"] += 1
            error = json.dumps({"__type": "InternalServerError", "message": "injected"}).encode()
            return AWSResponse(request.url, 500, {"content-type": "application/x-amz-json-1.0"},
                               _Raw(error))  # fmt: skip
        return None


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any, **__: Any) -> bytes:
        return self._body


@pytest.mark.parametrize("mutated", [False, True], ids=["shipped", "mutated"])
def test_dynamodb_throttling_and_5xx_at_the_sdk(
    mutated: bool,
    dynamodb_local: DynamoDBLocal,
    race_client: Any,
    table: str,
    clock: FakeClock,
    executions: Counter[str],
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    faulty = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_local.endpoint,
        region_name=fake_aws.REGION,
        aws_access_key_id=fake_aws.ACCESS_KEY_ID,
        aws_secret_access_key=fake_aws.SECRET_ACCESS_KEY,
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )
    injector = Injector()
    faulty.meta.events.register("before-send.dynamodb", injector)
    store = JobStore(faulty, table, clock=clock)
    deps = worker_deps(faulty, table, clock)
    monkeypatch.setattr(worker_module, "dependencies", lambda: deps)
    if mutated:  # a condition failure is taken at its word: no re-read of the job
        real_apply = transitions.apply
        monkeypatch.setattr(
            transitions,
            "apply",
            lambda table, job, transition, now=None, applied=None: real_apply(
                table, job, transition, now
            ),
        )
    keys = [f"key-{n}" for n in range(20)]
    accepted: dict[str, str] = {}
    for n, key in enumerate(keys):
        for _attempt in range(3):  # a client retries a failed submission with its key
            try:
                result = store.submit(tenant_id=tenant, job_type="echo", payload={"n": n},
                                      daily_quota=1_000, idempotency_key=key)  # fmt: skip
            except Exception:  # noqa: BLE001, S112 - the client saw an error; it retries
                continue
            accepted[key] = result.job.job_id
            break
    jobs = [
        j for j in (JobStore(race_client, table).load(tenant, i) for i in accepted.values()) if j
    ]
    queue = queue_of(jobs, tenant)
    run_worker(queue, clock, worker_module.handler)
    checker = JobStore(race_client, table, clock=clock)
    lost = len(keys) - len(accepted) + not_terminal(checker, tenant, jobs)
    stored = checker.list_jobs(tenant, limit=100).items
    double = (len(stored) - len(accepted)) + sum(
        1 for job in jobs if executions[str(job.payload["n"])] > 1
    )
    assert injector.injected["throttled"] > 0, injector.injected
    assert injector.injected["claim applied, response lost (500)"] > 0, injector.injected
    check(
        "sdk-faults",
        mutated,
        lost,
        double,
        fault="DynamoDB throttling and 5xx at the SDK",
        protection="SDK retries; transactions' ClientRequestToken; re-read after a lost condition",
        mutation="no re-read after a condition failure",
    )


# -- row 6: outbox delivery failing --------------------------------------------------------------


class FlakySqs:
    """The pipe's target: the first send of each batch fails outright; later ones lose
    their response after the messages were queued (so the pipe sends them again), or
    refuse one entry."""

    def __init__(self, queue: SimQueue, tenant: str) -> None:
        self.queue, self.tenant = queue, tenant
        self.calls = 0

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.calls += 1
        if self.calls % 3 == 1:
            raise ConnectionError("injected: target unreachable")
        mine = [e for e in Entries if f"TENANT#{self.tenant}" in e["MessageBody"]]
        if self.calls % 3 == 2:
            for entry in mine:
                self.queue.send({**_stream_sqs_record(entry["MessageBody"])})
            raise ConnectionError("injected: response lost after the send")
        refused = Entries[-1]["Id"] if len(Entries) > 1 else None
        for entry in Entries:
            if entry["Id"] != refused and entry in mine:
                self.queue.send({**_stream_sqs_record(entry["MessageBody"])})
        return {
            "Successful": [{"Id": e["Id"]} for e in Entries if e["Id"] != refused],
            "Failed": [{"Id": refused, "Message": "injected"}] if refused else [],
        }

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:
        raise AssertionError("nothing may be dead-lettered here")


def _stream_sqs_record(body: str) -> dict[str, Any]:
    record = sqs_record("TENANT#x", "JOB#x", body=body)
    record.pop("messageId", None)
    return record


@pytest.mark.parametrize("mutated", [False, True], ids=["shipped", "mutated"])
def test_outbox_delivery_failing(
    mutated: bool,
    dynamodb_local: DynamoDBLocal,
    race_client: Any,
    store: JobStore,
    worker: ModuleType,
    table: str,
    clock: FakeClock,
    executions: Counter[str],
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    streams = boto3.client("dynamodbstreams", endpoint_url=dynamodb_local.endpoint,
                           region_name=fake_aws.REGION, aws_access_key_id=fake_aws.ACCESS_KEY_ID,
                           aws_secret_access_key=fake_aws.SECRET_ACCESS_KEY)  # fmt: skip
    stream_arn = race_client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    queue = SimQueue()
    pipe = PipePoller.__new__(PipePoller)
    StoppableThread.__init__(pipe, "pipe:faults")
    pipe.streams, pipe.sqs, pipe.log = streams, FlakySqs(queue, tenant), lambda _m: None
    pipe.stream_arn, pipe.queue_url, pipe.queue_arn = stream_arn, "q", "arn:q"
    pipe.batch_size, pipe.max_retries, pipe.dlq_arn = 10, -1, None
    pipe.starting_position, pipe.iterators, pipe.passed, pipe.filtered = "TRIM_HORIZON", {}, 0, 0
    pipe.patterns = [
        {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "JOB#"}]}}}}
    ]
    pipe.stopping.wait = lambda _t=None: False  # type: ignore[method-assign]  # no real pauses
    if mutated:  # the pipe gives up on a failed send instead of retrying it

        def send_once(records: list[dict[str, Any]]) -> int:
            try:
                pipe.sqs.send_message_batch(
                    QueueUrl="q",
                    Entries=[
                        {"Id": str(i), "MessageBody": json.dumps(r)} for i, r in enumerate(records)
                    ],
                )
            except ConnectionError:
                return 0
            return len(records)

        monkeypatch.setattr(pipe, "deliver", send_once)
    pipe._refresh_shards()
    jobs = submit_jobs(store, tenant, 25)
    for _ in range(20):  # until the stream is read to its end
        if pipe.poll_once() == 0 and pipe.passed >= len(jobs):
            break
    run_worker(queue, clock, worker.handler)
    lost = not_terminal(store, tenant, jobs)
    double = sum(1 for job in jobs if executions[str(job.payload["n"])] > 1)
    if not mutated:
        assert pipe.sqs.calls > 3  # the faults happened
    check(
        "outbox",
        mutated,
        lost,
        double,
        fault="outbox delivery failing (pipe -> SQS)",
        protection="pipe retries each unsent entry; duplicate messages meet the claim",
        mutation="pipe drops a batch whose send failed",
    )


# -- row 7: api killed after the write, before the response -----------------------------------


@pytest.mark.parametrize("mutated", [False, True], ids=["shipped", "mutated"])
def test_api_killed_after_the_write_before_the_response(
    mutated: bool,
    race_client: Any,
    race_tables: Any,
    table: str,
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobs_platform.config import ApiSettings
    from jobs_platform.handlers import api as api_module

    settings = ApiSettings.from_env(
        {
            config.JOBS_TABLE_NAME: table,
            config.SESSIONS_TABLE_NAME: race_tables.sessions,
            config.ENABLE_TEST_JOB_TYPES: "true",
            config.JOB_RETENTION_DAYS: "30",
            config.SESSION_DEFAULT_TTL_SECONDS: "3600",
            config.SERVICE_VERSION: "faults",
            config.LOG_LEVEL: "WARNING",
            config.SERVICE_NAME: "faults",
        }
    )
    deps = api_module.Dependencies(
        settings=settings,
        jobs=JobStore(race_client, table),
        sessions=SessionStore(race_client, race_tables.sessions),
    )
    monkeypatch.setattr(api_module, "dependencies", lambda: deps)
    killed: set[str] = set()
    real_submit = JobStore.submit

    def submit_then_die(self: JobStore, **kwargs: Any) -> Any:
        if mutated:
            kwargs["idempotency_key"] = None  # the mutation: the key is ignored
        result = real_submit(self, **kwargs)
        marker = str(kwargs["payload"]["n"])
        if marker not in killed:  # the first time: the process dies right after the write
            killed.add(marker)
            raise Killed("the api process was killed")
        return result

    monkeypatch.setattr(JobStore, "submit", submit_then_die)
    answered: dict[str, str] = {}
    for n in range(10):
        event = api_event("POST", "/v1/jobs", json_body={"type": "echo", "payload": {"n": n}},
                          headers={"idempotency-key": f"k-{n}"}, tenant_id=tenant)  # fmt: skip
        for _attempt in range(2):  # the client's connection drops; it retries, same key
            try:
                response = api_module.handler(event, None)
            except Killed:
                continue
            assert response["statusCode"] in (200, 202), response["body"]
            answered[f"k-{n}"] = json.loads(response["body"])["job_id"]
            break
    stored = JobStore(race_client, table).list_jobs(tenant, limit=100).items
    lost = 10 - len(answered)
    double = len(stored) - len(set(answered.values()))
    check(
        "api-killed",
        mutated,
        lost,
        double,
        fault="api killed after the write, before the response",
        protection="Idempotency-Key: the keyed retry replays the job the write made",
        mutation="Idempotency-Key ignored",
    )


# -- row 8: 50 concurrent session writers with If-Match ---------------------------------------


@pytest.mark.parametrize("mutated", [False, True], ids=["shipped", "mutated"])
def test_fifty_concurrent_session_writers_with_if_match(
    mutated: bool, race_client: Any, race_tables: Any, tenant: str
) -> None:
    sessions = SessionStore(race_client, race_tables.sessions)
    sessions.put(tenant, "counter", state={"count": 0})
    writers, rounds = 50, 3
    successes: Counter[int] = Counter()
    barrier = threading.Barrier(writers)

    def write(index: int) -> None:
        barrier.wait(timeout=60)
        for _ in range(200):  # bounded: retries on a stale ETag
            if successes[index] == rounds:
                return
            current = sessions.get(tenant, "counter")
            state = {"count": int(current.state["count"]) + 1}
            if_match = "*" if mutated else current.etag  # the mutation: no version check
            try:
                sessions.put(tenant, "counter", state=state, if_match=if_match)
            except PreconditionFailed:
                continue
            successes[index] += 1

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    final = sessions.get(tenant, "counter")
    total = sum(successes.values())
    lost = total - int(final.state["count"])  # successful increments not in the count
    double = (final.version - 1) - int(final.state["count"]) if not mutated else 0
    assert total == writers * rounds
    check(
        "sessions",
        mutated,
        max(lost, 0),
        max(double, 0),
        fault="50 concurrent session writers with If-Match",
        protection="conditional write on the version (If-Match / ETag)",
        mutation="If-Match: * (no version check)",
    )


# -- rows 9-11: a job's message reaches the DLQ without the worker's bookkeeping ---------------


def _final_delivery_queue(jobs: list[Job], tenant: str) -> SimQueue:
    """The jobs' messages with every receive but the last used up (earlier deliveries)."""
    queue = queue_of(jobs, tenant)
    for message in queue.messages:
        message.receives = MAX_RECEIVE - 1
    return queue


@pytest.mark.parametrize("mutated", [False, True], ids=["shipped", "mutated"])
def test_worker_killed_during_the_final_delivery(
    mutated: bool,
    race_client: Any,
    store: JobStore,
    worker: ModuleType,
    table: str,
    clock: FakeClock,
    executions: Counter[str],
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs = submit_jobs(store, tenant, 3)
    queue = _final_delivery_queue(jobs, tenant)
    counting_run = job_types.run

    def killed_while_running(job_type: str, payload: dict[str, Any], **kwargs: Any) -> Any:
        raise Killed("the worker's process was killed while it ran the job")

    # The final delivery claims each job and dies running it (no code of the worker runs
    # after a SIGKILL or a timeout); SQS then moves the messages to the DLQ.
    monkeypatch.setattr(job_types, "run", killed_while_running)
    run_worker(queue, clock, worker.handler, rounds=2)
    monkeypatch.setattr(job_types, "run", counting_run)
    assert len(queue.dlq) == 3 and not queue.messages
    # The job being run when the process died is left running (leased), the rest of its
    # batch queued.
    statuses = [store.get(tenant, j.job_id).status for j in jobs]
    assert JobStatus.RUNNING in statuses and set(statuses) <= {JobStatus.RUNNING, JobStatus.QUEUED}

    if not mutated:  # the mutation: no DLQ bookkeeping
        assert run_bookkeeping(race_client, table, clock, queue) == {"marked": 3}
    lost = not_terminal(store, tenant, jobs)
    if not mutated:
        redrive_and_run(store, queue, clock, worker.handler)
        assert {store.get(tenant, j.job_id).status for j in jobs} == {JobStatus.SUCCEEDED}
    double = sum(1 for job in jobs if executions[str(job.payload["n"])] > 1)
    check(
        "killed-final-delivery",
        mutated,
        lost,
        double,
        fault="worker killed during a job's final delivery",
        protection="DLQ bookkeeping: running, lease over, message in the DLQ -> failed",
        mutation="no DLQ bookkeeping",
    )


class Unreachable:
    """A botocore `before-send` hook: every request fails as if DynamoDB could not be
    reached (a 503 for each try; the SDK's retries fail too)."""

    def __init__(self) -> None:
        self.refused = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.refused += 1
        error = json.dumps({"__type": "ServiceUnavailable", "message": "injected"}).encode()
        return AWSResponse(request.url, 503, {"content-type": "application/x-amz-json-1.0"},
                           _Raw(error))  # fmt: skip


@pytest.mark.parametrize("mutated", [False, True], ids=["shipped", "mutated"])
def test_dynamodb_unreachable_for_the_whole_final_delivery(
    mutated: bool,
    dynamodb_local: DynamoDBLocal,
    race_client: Any,
    store: JobStore,
    worker: ModuleType,
    table: str,
    clock: FakeClock,
    executions: Counter[str],
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs = submit_jobs(store, tenant, 3)
    queue = _final_delivery_queue(jobs, tenant)
    unreachable = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_local.endpoint,
        region_name=fake_aws.REGION,
        aws_access_key_id=fake_aws.ACCESS_KEY_ID,
        aws_secret_access_key=fake_aws.SECRET_ACCESS_KEY,
        config=Config(retries={"mode": "standard", "max_attempts": 2}),
    )
    refusing = Unreachable()
    unreachable.meta.events.register("before-send.dynamodb", refusing)
    # The final delivery: the worker cannot read, claim or mark a job (its own bookkeeping
    # on the last receive fails too); SQS then moves the messages to the DLQ.
    down = worker_deps(unreachable, table, clock)
    monkeypatch.setattr(worker_module, "dependencies", lambda: down)
    run_worker(queue, clock, worker_module.handler, rounds=2)
    assert refusing.refused > 0 and len(queue.dlq) == 3
    assert {store.get(tenant, j.job_id).status for j in jobs} == {JobStatus.QUEUED}

    # DynamoDB is back.
    up = worker_deps(race_client, table, clock)
    monkeypatch.setattr(worker_module, "dependencies", lambda: up)
    if not mutated:  # the mutation: no DLQ bookkeeping
        assert run_bookkeeping(race_client, table, clock, queue) == {"marked": 3}
    lost = not_terminal(store, tenant, jobs)
    if not mutated:
        redrive_and_run(store, queue, clock, worker_module.handler)
        assert {store.get(tenant, j.job_id).status for j in jobs} == {JobStatus.SUCCEEDED}
    double = sum(1 for job in jobs if executions[str(job.payload["n"])] > 1)
    check(
        "dynamodb-unreachable",
        mutated,
        lost,
        double,
        fault="DynamoDB unreachable for a whole final delivery",
        protection="DLQ bookkeeping: queued, message in the DLQ -> failed",
        mutation="no DLQ bookkeeping",
    )


class RefusingTarget(DlqSqs):
    """The pipe's target refuses every send; its DLQ is the queue's DLQ."""

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        if QueueUrl == "jobs":
            raise ConnectionError("injected: the jobs queue refuses the pipe's sends")
        return super().send_message_batch(QueueUrl, Entries)


@pytest.mark.parametrize("mutated", [False, True], ids=["shipped", "mutated"])
def test_pipe_delivery_failure(
    mutated: bool,
    dynamodb_local: DynamoDBLocal,
    race_client: Any,
    store: JobStore,
    worker: ModuleType,
    table: str,
    clock: FakeClock,
    executions: Counter[str],
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As the functions' clients (jobs_platform.aws): no client-side validation (DynamoDB
    # Local's sequence numbers are shorter than the 21 digits the SDK's model asks for).
    streams = boto3.client("dynamodbstreams", endpoint_url=dynamodb_local.endpoint,
                           region_name=fake_aws.REGION, aws_access_key_id=fake_aws.ACCESS_KEY_ID,
                           aws_secret_access_key=fake_aws.SECRET_ACCESS_KEY,
                           config=Config(parameter_validation=False))  # fmt: skip
    stream_arn = race_client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    queue = SimQueue()
    pipe = PipePoller.__new__(PipePoller)
    StoppableThread.__init__(pipe, "pipe:faults")
    pipe.streams, pipe.sqs, pipe.log = streams, RefusingTarget(queue), lambda _m: None
    pipe.stream_arn, pipe.queue_url, pipe.queue_arn = stream_arn, "jobs", "arn:jobs"
    pipe.batch_size, pipe.max_retries = 10, 3
    pipe.dlq_arn = f"arn:aws:sqs:{fake_aws.REGION}:1:jobs-dlq"
    pipe.starting_position, pipe.iterators, pipe.passed, pipe.filtered = "TRIM_HORIZON", {}, 0, 0
    pipe.patterns = [
        {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "JOB#"}]}}}}
    ]
    pipe.stopping.wait = lambda _t=None: False  # type: ignore[method-assign]  # no real pauses
    pipe._refresh_shards()
    jobs = submit_jobs(store, tenant, 4)
    for _ in range(10):  # until the stream is read to its end
        pipe.poll_once()
    # The pipe gave up: one failure record (stream sequence numbers, no job) in the DLQ.
    [record] = queue.dlq
    assert isinstance(messages.read(record.record["body"]), messages.PipeFailure)

    if mutated:  # the mutation: the bookkeeping does not understand the pipe's record

        def unreadable(deps: Any, message: Any, failure: Any) -> str:
            return "unreadable"

        monkeypatch.setattr(bookkeeper_module, "replace_pipe_failure", unreadable)
    run_bookkeeping(race_client, table, clock, queue, streams=streams)
    lost = not_terminal(store, tenant, jobs)
    if not mutated:
        assert len(queue.dlq) == len(jobs)  # the record, replaced by the jobs' messages
        redrive_and_run(store, queue, clock, worker.handler)
        assert {store.get(tenant, j.job_id).status for j in jobs} == {JobStatus.SUCCEEDED}
    double = sum(1 for job in jobs if executions[str(job.payload["n"])] > 1)
    check(
        "pipe-failure",
        mutated,
        lost,
        double,
        fault="outbox pipe gives up on a batch (its DLQ record)",
        protection="DLQ bookkeeping reads the batch back from the stream -> failed",
        mutation="pipe failure records not understood",
    )
