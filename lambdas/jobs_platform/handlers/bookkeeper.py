"""The DLQ bookkeeping function: no job stays queued or running once its message is dead.

It runs on a schedule (EventBridge Scheduler, `dlq_bookkeeping_interval_minutes`), one run
at a time (reserved concurrency 1). The worker marks a job `failed` (`dead_lettered`)
before it lets the job's message go to the jobs DLQ whenever it can; some messages get
there without it: a worker killed or timed out during the message's last delivery,
DynamoDB unreachable for all of it, and the outbox pipe's delivery failures (whose DLQ
record names stream sequence numbers, not jobs). Each run peeks at the DLQ's messages
(receive, held for the run, then visible again) and, through the job state machine:

- a job's message (a stream record): marks the job failed, `dead_lettered`, if it is
  queued or running with its lease over (one conditional transaction that also counts it
  `failed` in its tenant's usage); a finished or missing job, or a live lease, is left;
- a pipe failure record: reads the batch back from the table's stream, marks each job in
  it the same way, then replaces the record in the DLQ by one job message per job (the
  stream record the pipe would have delivered), so that redrive can move each job back
  (the stream keeps records for 24 hours, the DLQ for days);
- anything else: left, and logged.

It never deletes a job's message (`scripts/redrive` lists and moves them, and the DLQ
alarm stays on until someone does), and it is idempotent: a marked job is terminal, so
the next run only reads it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from jobs_platform import aws, log, metrics
from jobs_platform.clock import Clock, epoch_ms, utc_now
from jobs_platform.config import BookkeeperSettings
from jobs_platform.jobs import TERMINAL_STATUSES, JobStore, messages

# Created once per cold start (during init, outside the billed path).
_dynamodb = aws.client("dynamodb")

# Messages one run looks at, at most (the rest wait for the next run).
MAX_MESSAGES_PER_RUN = 1_000
# The run stops taking messages with this much time left: making them visible again
# (and the last message's work) must fit before the timeout.
STOP_MARGIN_MS = 10_000
# A received message stays hidden this long past the run's deadline: never seen twice in
# one run; visible again within seconds if the run dies.
HOLD_MARGIN_SECONDS = 5
SQS_BATCH = 10

DELIVERY_FAILED = (
    "its message reached the dead-letter queue without a worker finishing it (a worker "
    "killed or timed out during its last delivery, or DynamoDB unreachable); "
    "scripts/redrive queues it again"
)
PIPE_FAILED = (
    "the outbox pipe could not deliver it to the jobs queue; scripts/redrive queues it again"
)


class Dependencies(NamedTuple):
    settings: BookkeeperSettings
    jobs: JobStore
    sqs: Any
    streams: Any
    clock: Clock = utc_now


@cache
def dependencies() -> Dependencies:
    """Settings, the job store and the SQS and DynamoDB Streams clients, built on the first
    invocation of this execution environment (`dependencies.cache_clear()` forgets them)."""
    settings = BookkeeperSettings.from_env(os.environ)
    log.setup("bookkeeper", settings.log_level)
    return Dependencies(
        settings=settings,
        jobs=JobStore(_dynamodb, settings.jobs_table_name),
        sqs=aws.client("sqs"),
        streams=aws.client("dynamodbstreams"),
    )


def _elapsed_ms(since: str, now: datetime) -> float:
    return max(0.0, (now - datetime.fromisoformat(since)).total_seconds() * 1000)


def mark(deps: Dependencies, pk: str, sk: str, why: str) -> str:
    """Dead-letter the job at (pk, sk) unless it is finished, missing or claimed: the
    outcome ("marked", "finished", "missing" or "in_flight")."""
    job = deps.jobs.load_by_key(pk, sk)
    if job is None:
        return "missing"
    log.bind(**job.log_fields())
    if job.status in TERMINAL_STATUSES:
        return "finished"
    if deps.jobs.dead_letter(job, why) is None:
        # Running under a live lease (a duplicate delivery is at work), or it moved on
        # since it was read: the next run looks again.
        log.info("job is being worked on; left for the next run", status=job.status.value)
        return "in_flight"
    now = deps.clock()
    values = {
        metrics.JOBS_FAILED: 1,
        metrics.SUBMIT_TO_TERMINAL: round(_elapsed_ms(job.created_at, now), 1),
    }
    emf = metrics.fields(deps.settings.service_name, job.type, epoch_ms(now), values)
    log.with_metrics("WARNING", "job dead-lettered", reason=why, **emf)
    return "marked"


def replace_pipe_failure(
    deps: Dependencies, message: Mapping[str, Any], failure: messages.PipeFailure
) -> str:
    """Mark the jobs of a failed pipe batch and put one job message per job in the DLQ in
    place of the batch's record: "replaced", or "unresolved" (left as it is)."""
    try:
        records = messages.batch_job_records(deps.streams, failure)
    except ClientError as exc:
        log.error(
            "pipe failure record: its stream records cannot be read; left in the DLQ",
            batch=failure.describe(),
            error=str(exc),
        )
        return "unresolved"
    if not records:
        log.error("pipe failure record names no job; left in the DLQ", batch=failure.describe())
        return "unresolved"
    for record in records:
        keys = record["dynamodb"]["Keys"]
        mark(deps, keys["pk"]["S"], keys["sk"]["S"], PIPE_FAILED)
        log.clear()
    bodies = [messages.stream_record_body(record, failure.stream_arn) for record in records]
    # Send first, delete after: a run that dies in between leaves both, and the next run
    # sends the job messages again (a duplicate message is harmless: the claim is
    # conditional, and redrive's requeue too).
    for start in range(0, len(bodies), SQS_BATCH):
        chunk = bodies[start : start + SQS_BATCH]
        response = deps.sqs.send_message_batch(
            QueueUrl=deps.settings.jobs_dlq_url,
            Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
        )
        if response.get("Failed"):
            raise RuntimeError(f"could not put job messages in the DLQ: {response['Failed']}")
    deps.sqs.delete_message(
        QueueUrl=deps.settings.jobs_dlq_url, ReceiptHandle=message["ReceiptHandle"]
    )
    log.warning(
        "pipe failure record replaced by its jobs' messages",
        batch=failure.describe(),
        jobs=len(records),
    )
    return "replaced"


def account(deps: Dependencies, message: Mapping[str, Any]) -> str:
    """What this run did about one DLQ message (its outcome, for the run's summary)."""
    try:
        parsed = messages.read(str(message.get("Body", "")))
    except messages.UnreadableMessage as exc:
        log.warning(
            "DLQ message is neither a job's message nor a pipe failure record; left",
            message_id=message.get("MessageId"),
            error=str(exc),
        )
        return "unreadable"
    if isinstance(parsed, messages.PipeFailure):
        return replace_pipe_failure(deps, message, parsed)
    return mark(deps, parsed.pk, parsed.sk, DELIVERY_FAILED)


def release(deps: Dependencies, held: Mapping[str, str]) -> None:
    """Make the held messages visible again (what redrive and the next run read)."""
    entries = [{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(held.values())]
    for start in range(0, len(entries), SQS_BATCH):
        response = deps.sqs.change_message_visibility_batch(
            QueueUrl=deps.settings.jobs_dlq_url,
            Entries=[{**entry, "VisibilityTimeout": 0} for entry in entries[start : start + 10]],
        )
        if response.get("Failed"):  # they come back by themselves after the hold
            log.warning("could not make DLQ messages visible again", failed=response["Failed"])


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    log.start_invocation(context)
    deps = dependencies()
    hold_seconds = context.get_remaining_time_in_millis() // 1000 + HOLD_MARGIN_SECONDS
    held: dict[str, str] = {}  # message id -> receipt handle
    outcomes: Counter[str] = Counter()
    try:
        while (
            sum(outcomes.values()) < MAX_MESSAGES_PER_RUN
            and context.get_remaining_time_in_millis() > STOP_MARGIN_MS
        ):
            response = deps.sqs.receive_message(
                QueueUrl=deps.settings.jobs_dlq_url,
                MaxNumberOfMessages=SQS_BATCH,
                VisibilityTimeout=hold_seconds,
                WaitTimeSeconds=1,  # asks every SQS host: an empty answer means empty
            )
            batch = response.get("Messages") or []
            if not batch:
                break
            for message in batch:
                if message["MessageId"] in held:
                    continue
                log.clear()
                try:
                    outcome = account(deps, message)
                except Exception:  # noqa: BLE001 - one message must not stop the run
                    log.exception("could not account for a DLQ message; left for the next run")
                    outcome = "error"
                outcomes[outcome] += 1
                if outcome != "replaced":
                    held[message["MessageId"]] = message["ReceiptHandle"]
    finally:
        log.clear()
        release(deps, held)
    summary = dict(sorted(outcomes.items()))
    log.info("DLQ bookkeeping done", messages=sum(outcomes.values()), **summary)
    return summary
