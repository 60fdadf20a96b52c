"""Submitting a job: one DynamoDB transaction that counts the tenant's daily quota, puts
the queued job and, with an Idempotency-Key, records which job the key created.

A repeated key with the same request body replays the first job; with another body it
is refused. Item layouts: docs/architecture.md ("jobs" table).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from jobs_platform import dynamo, ids, json_values, schema
from jobs_platform.clock import epoch_ms, epoch_seconds, rfc3339
from jobs_platform.errors import BadRequest, IdempotencyKeyReused, QuotaExceeded, ServiceBusy
from jobs_platform.jobs.model import Job, JobStatus, SubmitResult
from jobs_platform.jobs.table import JobTable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


IDEMPOTENCY_TTL = timedelta(hours=24)
# The quota counter is also the day's usage record (jobs/usage.py): kept as long.
QUOTA_COUNTER_TTL = timedelta(days=400)
MAX_IDEMPOTENCY_KEY_LENGTH = 255
_TRANSACTION_ATTEMPTS = 3
# The create transaction's items, in order: a cancellation reports one reason per item.
_QUOTA_ITEM, _JOB_ITEM, _IDEMPOTENCY_ITEM = 0, 1, 2
_CONDITION_FAILED = "ConditionalCheckFailed"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def request_hash(job_type: str, payload: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the request: key order, spacing and the way a number
    is written (1, 1.0, 1E0) do not matter, its value does."""
    canonical = json_values.dumps({"payload": payload, "type": job_type}, canonical=True)
    return sha256_hex(canonical)


def validate_idempotency_key(key: str) -> str:
    if (
        not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH
        or not key.isprintable()
        or not key.isascii()
    ):
        raise BadRequest(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters."
        )
    return key


def quota_exceeded(now: datetime, daily_quota: int) -> QuotaExceeded:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return QuotaExceeded(
        f"The daily job quota ({daily_quota}) is used up; it resets at 00:00 UTC.",
        retry_after_seconds=max(1, int((tomorrow - now).total_seconds())),
    )


def new_job(
    tenant_id: str,
    job_type: str,
    payload: dict[str, Any],
    now: datetime,
    retention: timedelta,
    *,
    request_id: str | None = None,
    trace_header: str | None = None,
) -> Job:
    stamp = rfc3339(now)
    return Job(
        request_id=request_id,
        trace_header=trace_header,
        job_id=ids.new_ulid(epoch_ms(now)),
        tenant_id=tenant_id,
        type=job_type,
        status=JobStatus.QUEUED,
        payload=payload,
        created_at=stamp,
        updated_at=stamp,
        attempts=0,
        expires_at=epoch_seconds(now + retention),
    )


# -- the transaction's items ---------------------------------------------------------------


def _count_quota(
    table_name: str, tenant_id: str, now: datetime, daily_quota: int
) -> dict[str, Any]:
    """+1 on the tenant's counter for today, refused once it has reached the quota."""
    key = {
        schema.PARTITION_KEY: schema.tenant_pk(tenant_id),
        schema.SORT_KEY: schema.quota_sk(now.strftime("%Y-%m-%d")),
    }
    return {
        "Update": {
            "TableName": table_name,
            "Key": dynamo.to_item(key),
            "UpdateExpression": "SET #expires = if_not_exists(#expires, :expires) ADD #count :one",
            "ConditionExpression": "attribute_not_exists(#count) OR #count < :quota",
            "ExpressionAttributeNames": {"#count": "count", "#expires": schema.TTL_ATTRIBUTE},
            "ExpressionAttributeValues": dynamo.values(
                one=1, quota=daily_quota, expires=epoch_seconds(now + QUOTA_COUNTER_TTL)
            ),
        }
    }


def _put_job(table_name: str, job: Job, body_hash: str | None) -> dict[str, Any]:
    values = job.to_new_item_values()
    if body_hash is not None:
        values["request_hash"] = body_hash
    return {
        "Put": {
            "TableName": table_name,
            "Item": dynamo.to_item(values),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": schema.PARTITION_KEY},
        }
    }


def _record_idempotency_key(
    table_name: str, job: Job, idempotency_sk: str, body_hash: str | None, now: datetime
) -> dict[str, Any]:
    """The key -> job record; refused while a live record for the key exists."""
    record = {
        schema.PARTITION_KEY: schema.tenant_pk(job.tenant_id),
        schema.SORT_KEY: idempotency_sk,
        "job_id": job.job_id,
        "request_hash": body_hash,
        schema.TTL_ATTRIBUTE: epoch_seconds(now + IDEMPOTENCY_TTL),
    }
    return {
        "Put": {
            "TableName": table_name,
            "Item": dynamo.to_item(record),
            "ConditionExpression": "attribute_not_exists(#pk) OR #expires <= :now",
            "ExpressionAttributeNames": {
                "#pk": schema.PARTITION_KEY,
                "#expires": schema.TTL_ATTRIBUTE,
            },
            "ExpressionAttributeValues": dynamo.values(now=epoch_seconds(now)),
        }
    }


def create_transaction(
    table_name: str,
    job: Job,
    now: datetime,
    daily_quota: int,
    idempotency_sk: str | None,
    body_hash: str | None,
) -> list[dict[str, Any]]:
    """The TransactItems: quota counter, job, and (with a key) the idempotency record."""
    items = [
        _count_quota(table_name, job.tenant_id, now, daily_quota),
        _put_job(table_name, job, body_hash),
    ]
    if idempotency_sk is not None:
        items.append(_record_idempotency_key(table_name, job, idempotency_sk, body_hash, now))
    return items


# -- submit ------------------------------------------------------------------------------


def _replay_earlier_submission(
    table: JobTable, tenant_id: str, idempotency_sk: str, body_hash: str, now: datetime
) -> SubmitResult | None:
    """The job an earlier request with this key created; None when the key is unused."""
    item = table.get_live_item(schema.tenant_pk(tenant_id), idempotency_sk, now)
    if item is None:
        return None
    record = dynamo.from_item(item)
    if record.get("request_hash") != body_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body."
        )
    job = table.load(tenant_id, str(record["job_id"]))
    if job is None:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used for a job that no longer exists; use a new key."
        )
    return SubmitResult(job=job, replayed=True)


def _resolve_cancelled_create(
    table: JobTable,
    reasons: list[str],
    tenant_id: str,
    idempotency_sk: str | None,
    body_hash: str,
    now: datetime,
    daily_quota: int,
) -> SubmitResult | None:
    """Why the create transaction was cancelled -> replay / error; None = retry."""
    if (
        idempotency_sk is not None
        and len(reasons) > _IDEMPOTENCY_ITEM
        and reasons[_IDEMPOTENCY_ITEM] == _CONDITION_FAILED
    ):
        # Lost a race with a request using the same key: answer as its replay (or retry).
        return _replay_earlier_submission(table, tenant_id, idempotency_sk, body_hash, now)
    if reasons and reasons[_QUOTA_ITEM] == _CONDITION_FAILED:
        raise quota_exceeded(now, daily_quota)
    if any(reason not in ("None", "TransactionConflict", _CONDITION_FAILED) for reason in reasons):
        raise RuntimeError(f"job create transaction cancelled: {reasons}")
    return None


def submit(
    table: JobTable,
    *,
    retention: timedelta,
    tenant_id: str,
    job_type: str,
    payload: dict[str, Any],
    daily_quota: int,
    idempotency_key: str | None = None,
    request_id: str | None = None,
    trace_header: str | None = None,
) -> SubmitResult:
    """Create a queued job, or replay the job an earlier request with the same
    Idempotency-Key created. One transaction: quota counter, job, idempotency record.

    One round trip for a new key too: the transaction is tried first (its idempotency
    item is refused while the key's record lives), and only a refused key is read back
    (replays are rare; a read before every keyed submit would cost every one of them)."""
    now = table.clock()
    body_hash = request_hash(job_type, payload)
    idempotency_sk = None
    if idempotency_key is not None:
        validate_idempotency_key(idempotency_key)
        idempotency_sk = schema.idempotency_sk(sha256_hex(idempotency_key))
    if daily_quota <= 0:
        # No transaction can succeed (the counter's condition holds for a missing counter,
        # so it is checked here): a keyed request still replays its job.
        if idempotency_sk is not None and (
            replay := _replay_earlier_submission(table, tenant_id, idempotency_sk, body_hash, now)
        ):
            return replay
        raise quota_exceeded(now, daily_quota)

    for attempt in range(_TRANSACTION_ATTEMPTS):
        now = table.clock() if attempt else now
        job = new_job(
            tenant_id, job_type, payload, now, retention,
            request_id=request_id, trace_header=trace_header,
        )  # fmt: skip
        outcome = _create_or_resolve(table, job, now, daily_quota, idempotency_sk, body_hash)
        if outcome is not None:
            return outcome
        # A transaction conflict (concurrent write to the quota counter): retry.
        time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter
    raise ServiceBusy("Too many concurrent submissions; retry shortly.")


def _create_or_resolve(
    table: JobTable,
    job: Job,
    now: datetime,
    daily_quota: int,
    idempotency_sk: str | None,
    body_hash: str,
) -> SubmitResult | None:
    """One create transaction: the new job, the earlier job a refused key replays (or
    the refusal), or None for a transaction conflict worth retrying."""
    items = create_transaction(
        table.name, job, now, daily_quota, idempotency_sk, body_hash if idempotency_sk else None
    )
    try:
        table.client.transact_write_items(
            TransactItems=cast("list[TransactWriteItemTypeDef]", items)
        )
    except ClientError as exc:
        if dynamo.error_code(exc) != dynamo.TRANSACTION_CANCELED:
            raise
        reasons = [
            reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])
        ]
        return _resolve_cancelled_create(
            table, reasons, job.tenant_id, idempotency_sk, body_hash, now, daily_quota
        )
    return SubmitResult(job=job, replayed=False)
