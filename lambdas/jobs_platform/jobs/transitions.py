"""The job state machine: every status change is one conditional update.

- cancel:  queued -> cancelled
- start:   queued (or running with an expired lease) -> running, a new claim
- succeed: running (this claim) -> succeeded
- retry:   running (this claim) -> queued (SQS redelivers the message)
- fail:    running (this claim) -> failed
- dead_letter: queued, or running with an expired lease (nobody runs it) -> failed with
  `error.code` = `dead_lettered`: the worker records this before it lets a message go to
  the dead-letter queue, and the DLQ bookkeeping (handlers/bookkeeper.py) for every job
  whose message got there anyway, so no job is left queued or running for ever. The job
  is counted `failed` in its tenant's usage in the same transaction
- requeue: failed with `dead_lettered` -> queued (`scripts/redrive`, before it moves the
  message back), taking that `failed` count back in the same transaction

`start` claims the job for one delivery (lease + fencing token `attempts`); only the
holder of the current claim can succeed, retry or fail it. A transition whose condition
does not hold (another writer won) returns None.

An update can be applied although its caller sees an error (the response was lost; the
SDK retries it, and the retry's condition fails on the update's own result). So when a
condition fails, `apply` re-reads the job, and when it already is exactly what this
transition makes of it (same claim, same status), returns it: a claim whose response was
lost is still the caller's, and its job is not left running with nobody to finish it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from jobs_platform import dynamo, schema
from jobs_platform.clock import epoch_ms, epoch_seconds, rfc3339
from jobs_platform.errors import JobNotCancellable
from jobs_platform.jobs import usage
from jobs_platform.jobs.model import CLAIM_ID, CLAIMED_UNTIL, DEAD_LETTERED_ON, Job, JobStatus
from jobs_platform.jobs.table import JobTable

MAX_ERROR_MESSAGE_LENGTH = 1000
DEAD_LETTERED = "dead_lettered"  # error.code of a job whose message went to the DLQ


class Transition(NamedTuple):
    """A status change, applied only while `condition` holds (besides: the item exists
    and has not expired). `condition` may use `#status`, `#attempts` and `:now`."""

    to: JobStatus
    condition: str
    condition_values: Mapping[str, Any]
    condition_names: Mapping[str, str] = MappingProxyType({})
    set_values: Mapping[str, Any] = MappingProxyType({})
    remove: tuple[str, ...] = ()
    increment_attempts: bool = False


def update_request(job: Job, transition: Transition, now: datetime) -> dict[str, Any]:
    """The UpdateItem arguments (all but TableName) for `transition` of `job` at `now`."""
    names = {
        "#pk": schema.PARTITION_KEY,
        "#status": "status",
        "#ts": schema.STATUS_INDEX_PARTITION_KEY,
        "#updated": "updated_at",
        "#expires": schema.TTL_ATTRIBUTE,
        **transition.condition_names,
    }
    assignments = ["#status = :to", "#ts = :ts", "#updated = :updated"]
    expression_values: dict[str, Any] = {
        "to": transition.to.value,
        "ts": schema.tenant_status(job.tenant_id, transition.to),
        "updated": rfc3339(now),
        "now": epoch_seconds(now),
        **transition.condition_values,
    }
    for index, (name, value) in enumerate(transition.set_values.items()):
        names[f"#s{index}"] = name
        expression_values[f"s{index}"] = value
        assignments.append(f"#s{index} = :s{index}")
    if transition.increment_attempts or "#attempts" in transition.condition:
        names["#attempts"] = "attempts"
    if transition.increment_attempts:
        expression_values["one"] = 1
        assignments.append("#attempts = #attempts + :one")
    update = "SET " + ", ".join(assignments)
    if transition.remove:
        for index, name in enumerate(transition.remove):
            names[f"#r{index}"] = name
        update += " REMOVE " + ", ".join(f"#r{index}" for index in range(len(transition.remove)))
    return {
        "Key": job.key,
        "UpdateExpression": update,
        "ConditionExpression": (
            f"attribute_exists(#pk) AND #expires > :now AND ({transition.condition})"
        ),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": dynamo.values(**expression_values),
        "ReturnValues": "ALL_NEW",
    }


def apply(
    table: JobTable,
    job: Job,
    transition: Transition,
    now: datetime | None = None,
    applied: Callable[[Job], bool] | None = None,
) -> Job | None:
    """The conditional update; None when the condition does not hold (lost the race),
    unless the job already is what `applied` recognises as this update's own result."""
    request = update_request(job, transition, table.clock() if now is None else now)
    try:
        response = table.client.update_item(TableName=table.name, **request)
    except ClientError as exc:
        if not dynamo.is_condition_failure(exc):
            raise
        if applied is not None:
            current = table.load(job.tenant_id, job.job_id)
            if current is not None and applied(current):
                return current
        return None
    return Job.from_item(response["Attributes"])


def cancel(table: JobTable, tenant_id: str, job_id: str) -> Job:
    """queued -> cancelled; JobNotFound / JobNotCancellable otherwise."""
    job = table.get(tenant_id, job_id)
    cancelled = apply(
        table,
        job,
        Transition(
            to=JobStatus.CANCELLED,
            condition="#status = :queued",
            condition_values={"queued": JobStatus.QUEUED.value},
        ),
    )
    if cancelled is not None:
        return cancelled
    current = table.get(tenant_id, job_id)
    raise JobNotCancellable(
        f"Job {job_id} is {current.status.value}; only queued jobs can be cancelled."
    )


def start(table: JobTable, job: Job, *, lease_until: int) -> Job | None:
    """Claim the job until `lease_until` (epoch ms; the caller's deadline): -> running,
    attempts + 1, claimed_until = lease_until. Claimable: queued, or running with an
    expired lease (its worker crashed or timed out) or none (items from before leases);
    in both cases only with attempts as seen. None when the claim is lost: another
    delivery holds the lease, or the job moved on since it was read."""
    now = table.clock()
    now_ms = epoch_ms(now)
    claim_id = secrets.token_hex(8)
    if lease_until <= now_ms:
        raise ValueError(f"lease_until {lease_until} is not after now ({now_ms})")
    claim = Transition(
        to=JobStatus.RUNNING,
        condition=(
            "(#status = :queued OR (#status = :running AND "
            "(attribute_not_exists(#lease) OR #lease < :now_ms))) AND #attempts = :seen"
        ),
        condition_values={
            "queued": JobStatus.QUEUED.value,
            "running": JobStatus.RUNNING.value,
            "now_ms": now_ms,
            "seen": job.attempts,
        },
        condition_names={"#lease": CLAIMED_UNTIL},
        set_values={CLAIMED_UNTIL: lease_until, CLAIM_ID: claim_id},
        increment_attempts=True,
    )
    return apply(
        table,
        job,
        claim,
        now,
        applied=lambda current: (
            current.status is JobStatus.RUNNING
            and current.attempts == job.attempts + 1
            and current.claim_id == claim_id
        ),
    )


def _finish_claimed(
    table: JobTable,
    job: Job,
    to: JobStatus,
    set_values: Mapping[str, Any],
    remove: tuple[str, ...] = (),
) -> Job | None:
    """Only the holder of the current claim finishes the job. `attempts` is the claim's
    fencing token: every claim increments it in the same conditional write and nothing
    else changes it, so `attempts = :claimed` holds exactly until another claim. No
    lease check here: a holder whose lease ran out but was not re-claimed still owns
    the only execution, and its result must count."""
    finish = Transition(
        to=to,
        condition="#status = :running AND #attempts = :claimed",
        condition_values={"running": JobStatus.RUNNING.value, "claimed": job.attempts},
        set_values=set_values,
        remove=(*remove, CLAIMED_UNTIL, CLAIM_ID),
    )
    return apply(
        table,
        job,
        finish,
        applied=lambda current: current.status is to and current.attempts == job.attempts,
    )


def _error_record(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message[:MAX_ERROR_MESSAGE_LENGTH]}


def succeed(table: JobTable, job: Job, result: Any) -> Job | None:
    """running (this claim) -> succeeded with `result`."""
    return _finish_claimed(table, job, JobStatus.SUCCEEDED, {"result": result}, remove=("error",))


def retry(table: JobTable, job: Job, code: str, message: str) -> Job | None:
    """running (this claim) -> queued with `error` (SQS redelivers the message)."""
    return _finish_claimed(table, job, JobStatus.QUEUED, {"error": _error_record(code, message)})


def fail(table: JobTable, job: Job, code: str, message: str) -> Job | None:
    """running (this claim) -> failed with `error`."""
    return _finish_claimed(table, job, JobStatus.FAILED, {"error": _error_record(code, message)})


def apply_counted(
    table: JobTable, job: Job, transition: Transition, now: datetime, count: dict[str, Any]
) -> Job | None:
    """The transition and a usage counter update (`usage.counter_update`) as one
    transaction: the count changes exactly when the transition applies. None when the
    transition's condition does not hold. An ambiguous failure needs no re-read: the
    SDK retries a transaction with the same ClientRequestToken, which DynamoDB applies
    once."""
    request = update_request(job, transition, now)
    request.pop("ReturnValues")
    try:
        table.client.transact_write_items(
            TransactItems=[
                {"Update": {"TableName": table.name, **request}},  # type: ignore[typeddict-item]
                {"Update": count},  # type: ignore[typeddict-item]
            ]
        )
    except ClientError as exc:
        if dynamo.error_code(exc) != dynamo.TRANSACTION_CANCELED:
            raise
        reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return None
        raise
    return table.load(job.tenant_id, job.job_id)


def dead_letter(table: JobTable, job: Job, message: str) -> Job | None:
    """queued, or running with an expired lease (or none) -> failed, `dead_lettered`,
    counted `failed` in the tenant's usage for today (one transaction). None when the job
    moved on (finished, or another delivery holds a live lease)."""
    now = table.clock()
    day = now.strftime("%Y-%m-%d")
    unclaimed = Transition(
        to=JobStatus.FAILED,
        condition=(
            "#status = :queued OR (#status = :running AND "
            "(attribute_not_exists(#lease) OR #lease < :now_ms))"
        ),
        condition_values={
            "queued": JobStatus.QUEUED.value,
            "running": JobStatus.RUNNING.value,
            "now_ms": epoch_ms(now),
        },
        condition_names={"#lease": CLAIMED_UNTIL},
        set_values={"error": _error_record(DEAD_LETTERED, message), DEAD_LETTERED_ON: day},
        remove=(CLAIMED_UNTIL, CLAIM_ID),
    )
    count = usage.counter_update(
        table.name, job.tenant_id, now, outcome="failed", compute_ms=0, day=day
    )
    return apply_counted(table, job, unclaimed, now, count)


def requeue(table: JobTable, job: Job) -> Job | None:
    """failed with `dead_lettered` -> queued (its error stays, as after a retry), taking
    back the `failed` its dead-lettering counted (one transaction); None when the job is
    not (or no longer) dead-lettered."""
    now = table.clock()
    dead_lettered = "#status = :failed AND #error.#code = :dead_lettered"
    values = {"failed": JobStatus.FAILED.value, "dead_lettered": DEAD_LETTERED}
    names = {"#error": "error", "#code": "code", "#counted": DEAD_LETTERED_ON}
    if job.dead_lettered_on is None:  # dead-lettered before its failure was counted
        uncounted = Transition(
            to=JobStatus.QUEUED,
            condition=f"{dead_lettered} AND attribute_not_exists(#counted)",
            condition_values=values,
            condition_names=names,
        )
        return apply(table, job, uncounted, now)
    counted = Transition(
        to=JobStatus.QUEUED,
        condition=f"{dead_lettered} AND #counted = :counted",
        condition_values={**values, "counted": job.dead_lettered_on},
        condition_names=names,
        remove=(DEAD_LETTERED_ON,),
    )
    count = usage.counter_update(
        table.name, job.tenant_id, now, outcome="failed", compute_ms=0,
        day=job.dead_lettered_on, amount=-1,
    )  # fmt: skip
    return apply_counted(table, job, counted, now, count)
