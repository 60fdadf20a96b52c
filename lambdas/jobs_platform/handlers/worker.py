"""The worker function: SQS batches of jobs-table stream records (ReportBatchItemFailures).

Per record (docs/architecture.md, "Outbox and worker"): job missing / expired / terminal
-> ack; claim it (conditional -> running, attempts + 1, leased until this invocation's
deadline), lost claim -> ack (a duplicate delivery while another holds the lease); run the
type; success -> succeeded; failure before the last receive -> back to queued with `error`
and report the item failed (SQS redelivers); failure on the last receive -> failed, ack.
Unparseable bodies are reported failed so they end in the DLQ.

Time budget: all records of a batch share the invocation's deadline. Before claiming a
job the worker checks that the time left covers the job type's declared maximum duration
plus FINISH_MARGIN_MS; if not, it claims nothing more and returns that record and all
later ones as batch item failures (SQS redelivers them), so a slow record never makes the
rest time out.

No job stuck for ever: whenever a record is on its last receive and the worker lets its
message go to the dead-letter queue (no time left, or processing crashed), it first marks
the job `failed` with `error.code` `dead_lettered` (`scripts/redrive` can queue it again).
On the last receive a job whose earlier attempt crashed or timed out (running, lease over)
is dead-lettered rather than run once more unguarded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, NamedTuple

from jobs_platform import aws, job_types, log, metrics
from jobs_platform.clock import Clock, epoch_ms, utc_now
from jobs_platform.config import WorkerSettings
from jobs_platform.jobs import TERMINAL_STATUSES, Job, JobStatus, JobStore, messages

# Created once per cold start (during init, outside the billed/latency-critical path).
_dynamodb = aws.client("dynamodb")

# Added to the invocation's deadline for the claim lease: covers clock skew between the
# hosts that compare it. Redelivery comes far later (visibility timeout >= 6 x timeout).
LEASE_CLOCK_SKEW_MS = 1_000
# Kept back after a job's declared maximum duration: recording its outcome (one write)
# and answering the batch. Terraform requires worker_timeout >= longest duration + 1 s.
FINISH_MARGIN_MS = 500
# Below this much time left, records returned unclaimed are not even marked.
MARK_FLOOR_MS = 200


class Outcome(Enum):
    DONE = "done"  # acknowledge: the message is deleted
    RETRY = "retry"  # report as a batch item failure: SQS redelivers (or DLQs) it
    DEFER = "defer"  # no time to run it: return it and every later record, unclaimed


# The message body is not a jobs-table stream record for a job (jobs/messages.py).
UnparseableRecord = messages.UnreadableMessage


class Dependencies(NamedTuple):
    settings: WorkerSettings
    jobs: JobStore
    clock: Clock = utc_now


@cache
def dependencies() -> Dependencies:
    """Settings and the job store, built on the first invocation of this execution
    environment (and kept for its life; `dependencies.cache_clear()` forgets them)."""
    settings = WorkerSettings.from_env(os.environ)
    log.setup("worker", settings.log_level)
    clock = utc_now  # one clock for the lease and the store's conditions
    return Dependencies(
        settings=settings,
        jobs=JobStore(_dynamodb, settings.jobs_table_name, clock=clock),
        clock=clock,
    )


def lease_until(context: Any, clock: Clock) -> int:
    """The claim lease (epoch ms) for jobs this invocation claims: its deadline, which the
    Lambda context gives as the time remaining, plus LEASE_CLOCK_SKEW_MS."""
    remaining_ms = int(context.get_remaining_time_in_millis())
    return epoch_ms(clock()) + remaining_ms + LEASE_CLOCK_SKEW_MS


def _elapsed_ms(since: str, now: datetime) -> float:
    """Milliseconds from an RFC 3339 timestamp of the job to `now`."""
    return max(0.0, (now - datetime.fromisoformat(since)).total_seconds() * 1000)


def _finished(
    deps: Dependencies,
    job: Job,
    message: str,
    *,
    outcome: str | None,
    counts: dict[str, float],
    run_ms: float,
    level: str = "INFO",
    **fields: Any,
) -> None:
    """After a transition this worker made: count the tenant's usage (one UpdateItem) and
    log the line that carries the job's metrics (metrics.py)."""
    deps.jobs.count_usage(job, outcome=outcome, compute_ms=round(run_ms))
    now = deps.clock()
    values = {**counts, metrics.JOB_DURATION: round(run_ms, 1)}
    if outcome is not None:
        values[metrics.SUBMIT_TO_TERMINAL] = round(_elapsed_ms(job.created_at, now), 1)
    emf = metrics.fields(deps.settings.service_name, job.type, epoch_ms(now), values)
    log.with_metrics(level, message, **fields, **emf)


def _finish_failure(
    deps: Dependencies, job: Job, receive_count: int, code: str, message: str, run_ms: float
) -> Outcome:
    if receive_count < deps.settings.max_receive_count:
        if deps.jobs.retry(job, code, message) is None:
            log.info("retry lost its claim; acknowledging", receive_count=receive_count)
            return Outcome.DONE
        _finished(
            deps, job, "job attempt failed; will retry", outcome=None,
            counts={metrics.JOB_ATTEMPTS_FAILED: 1}, run_ms=run_ms, level="WARNING",
            error_code=code, receive_count=receive_count,
        )  # fmt: skip
        return Outcome.RETRY
    if deps.jobs.fail(job, code, message) is None:
        log.info("fail lost its claim; acknowledging", receive_count=receive_count)
        return Outcome.DONE
    _finished(
        deps, job, "job failed", outcome="failed", counts={metrics.JOBS_FAILED: 1},
        run_ms=run_ms, level="WARNING", error_code=code, receive_count=receive_count,
        attempts=job.attempts,
    )  # fmt: skip
    return Outcome.DONE


def is_last_receive(record: Mapping[str, Any], deps: Dependencies) -> bool:
    """A failure reported now sends the message to the DLQ (SQS maxReceiveCount)."""
    return messages.receive_count(record) >= deps.settings.max_receive_count


def _dead_letter(deps: Dependencies, job: Job, why: str) -> None:
    message = (
        f"{why}; its message went to the dead-letter queue after "
        f"{deps.settings.max_receive_count} deliveries (scripts/redrive queues it again)"
    )
    failed = deps.jobs.dead_letter(job, message)
    if failed is not None:
        now = deps.clock()
        values = {
            metrics.JOBS_FAILED: 1,
            metrics.SUBMIT_TO_TERMINAL: round(_elapsed_ms(job.created_at, now), 1),
        }
        emf = metrics.fields(deps.settings.service_name, job.type, epoch_ms(now), values)
        log.with_metrics("WARNING", "job dead-lettered", reason=why, **emf)


def process_record(
    record: Mapping[str, Any],
    deps: Dependencies,
    *,
    lease_until: int,
    remaining_ms: Callable[[], int] | None = None,
) -> Outcome:
    pk, sk = messages.job_key(str(record.get("body", "")))
    job = deps.jobs.load_by_key(pk, sk)
    if job is None:
        log.info("job missing or expired; nothing to do")
        return Outcome.DONE
    # Every line about this job carries the API request that created it and its trace.
    log.bind(**job.log_fields())
    if job.status in TERMINAL_STATUSES:
        log.info("job already finished; nothing to do", status=job.status.value)
        return Outcome.DONE
    last = is_last_receive(record, deps)
    budget_ms = job_types.max_duration_ms(job.type) + FINISH_MARGIN_MS
    if remaining_ms is not None and remaining_ms() < budget_ms:
        log.info("not enough time left to run the job; returning it", budget_ms=budget_ms)
        if last:
            _dead_letter(deps, job, "no worker had the time to run it")
        return Outcome.DEFER
    lease_over = job.claimed_until is None or job.claimed_until < epoch_ms(deps.clock())
    if last and job.status is JobStatus.RUNNING and lease_over:
        # Its previous attempt crashed or timed out (the claim below would take over an
        # expired lease): do not run it once more on the message's last delivery.
        _dead_letter(deps, job, "its attempts crashed or timed out")
        return Outcome.RETRY
    claimed = deps.jobs.start(job, lease_until=lease_until)
    if claimed is None:
        # Another delivery holds the lease (it finishes the job, or its own message comes
        # back after the visibility timeout), or the job moved on since it was read.
        log.info(
            "job claimed by another delivery; acknowledging",
            status=job.status.value,
            attempts=job.attempts,
        )
        return Outcome.DONE
    return _run_claimed(deps, claimed, messages.receive_count(record), queued_since=job.updated_at)


def _run_claimed(
    deps: Dependencies, claimed: Job, receive_count: int, *, queued_since: str
) -> Outcome:
    """Run a job this delivery holds the lease of, and record how it ended.

    `queued_since`: the job's update time before the claim (its creation, or its last
    failed attempt putting it back), where its queue wait starts."""
    waited = _elapsed_ms(queued_since, deps.clock())
    log.with_metrics(
        "INFO",
        "job started",
        job_type=claimed.type,
        attempts=claimed.attempts,
        **metrics.fields(
            deps.settings.service_name,
            claimed.type,
            epoch_ms(deps.clock()),
            {metrics.QUEUE_WAIT: round(waited, 1)},
        ),
    )
    started = time.perf_counter()
    try:
        result = job_types.run(
            claimed.type, claimed.payload, enable_test_types=deps.settings.enable_test_job_types
        )
    except job_types.JobTypeError as exc:
        run_ms = (time.perf_counter() - started) * 1000
        if deps.jobs.fail(claimed, "invalid_job", str(exc)) is not None:
            _finished(
                deps, claimed, "job cannot run; failed without retry", outcome="failed",
                counts={metrics.JOBS_FAILED: 1}, run_ms=run_ms, level="WARNING", error=str(exc),
            )  # fmt: skip
        return Outcome.DONE
    except Exception as exc:  # noqa: BLE001 - job code may raise anything; it is recorded on the job
        run_ms = (time.perf_counter() - started) * 1000
        log.warning("job raised", error_type=type(exc).__name__)
        return _finish_failure(deps, claimed, receive_count, "execution_failed", str(exc), run_ms)
    run_ms = (time.perf_counter() - started) * 1000
    if deps.jobs.succeed(claimed, result) is None:
        log.info("succeed lost its claim; acknowledging")
        return Outcome.DONE
    _finished(
        deps, claimed, "job succeeded", outcome="succeeded", counts={metrics.JOBS_SUCCEEDED: 1},
        run_ms=run_ms, attempts=claimed.attempts,
    )  # fmt: skip
    return Outcome.DONE


def _mark_unclaimed(records: list[Mapping[str, Any]], deps: Dependencies, context: Any) -> None:
    """Records returned unclaimed on their last receive go to the DLQ: mark their jobs
    first, while a little time is left."""
    for record in records:
        if context.get_remaining_time_in_millis() < MARK_FLOOR_MS:
            return
        _dead_letter_on_last_receive(record, deps, "no worker had the time to run it")


def _dead_letter_on_last_receive(record: Mapping[str, Any], deps: Dependencies, why: str) -> None:
    """On a message's last receive, mark its unfinished job dead-lettered. Best effort:
    the message reaches the DLQ whatever happens here (the bookkeeper marks it then)."""
    if not is_last_receive(record, deps):
        return
    try:
        job = deps.jobs.load_by_key(*messages.job_key(str(record.get("body", ""))))
        if job is not None and job.status not in TERMINAL_STATUSES:
            _dead_letter(deps, job, why)
    except Exception:  # noqa: BLE001 - best effort: the message still reaches the DLQ
        log.exception("could not mark a dead-lettered job")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    log.start_invocation(context)
    deps = dependencies()
    lease = lease_until(context, deps.clock)
    failures: list[dict[str, str]] = []
    records = list(event.get("Records") or [])
    for index, record in enumerate(records):
        message_id = str(record.get("messageId", ""))
        log.clear()
        try:
            outcome = process_record(
                record, deps, lease_until=lease, remaining_ms=context.get_remaining_time_in_millis
            )
        except UnparseableRecord as exc:
            log.error(
                "unparseable message; leaving it for the DLQ", message_id=message_id, error=str(exc)
            )
            outcome = Outcome.RETRY
        except Exception:  # noqa: BLE001 - the boundary: log it, let SQS redeliver
            # DynamoDB throttling, timeouts, bugs: let SQS redeliver (and DLQ in the end).
            log.exception("record processing crashed", message_id=message_id)
            # Processing raised (DynamoDB errors, bugs).
            _dead_letter_on_last_receive(record, deps, "processing it failed on every delivery")
            outcome = Outcome.RETRY
        if outcome is Outcome.DEFER:
            unclaimed = records[index:]
            log.clear()
            log.warning("time budget: returning unclaimed records", count=len(unclaimed))
            _mark_unclaimed(unclaimed[1:], deps, context)
            failures.extend({"itemIdentifier": str(r.get("messageId", ""))} for r in unclaimed)
            break
        if outcome is Outcome.RETRY:
            failures.append({"itemIdentifier": message_id})
    log.clear()
    return {"batchItemFailures": failures}
