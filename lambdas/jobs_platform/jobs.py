"""Jobs: submit (one transaction: quota + job + idempotency record), read, list, cancel,
and the worker's conditional state transitions. Knows nothing of HTTP or SQS events.

Item layouts and conditions follow docs/architecture.md ("jobs" table).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from jobs_platform import dynamo, ids, schema
from jobs_platform.clock import Clock, epoch_ms, epoch_seconds, rfc3339, utc_now
from jobs_platform.errors import (
    BadRequest,
    IdempotencyKeyReused,
    InvalidCursor,
    JobNotCancellable,
    JobNotFound,
    QuotaExceeded,
    ServiceBusy,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


IDEMPOTENCY_TTL = timedelta(hours=24)
QUOTA_COUNTER_TTL = timedelta(days=2)
DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 100
MAX_IDEMPOTENCY_KEY_LENGTH = 255
MAX_CURSOR_LENGTH = 2048
MAX_ERROR_MESSAGE_LENGTH = 1000
_TRANSACTION_ATTEMPTS = 3
CLAIMED_UNTIL = "claimed_until"  # epoch ms: the claiming invocation's deadline (the lease)
_LIST_QUERY_ROUNDS = 5


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True)
class Job:
    job_id: str
    tenant_id: str
    type: str
    status: JobStatus
    payload: dict[str, Any]
    created_at: str
    updated_at: str
    attempts: int
    expires_at: int
    result: Any = None
    error: dict[str, Any] | None = None
    claimed_until: int | None = None  # epoch ms; set while `running` (absent on older items)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Job:
        values = dynamo.from_item(item)
        return cls(
            job_id=values["job_id"],
            tenant_id=values["tenant_id"],
            type=values["type"],
            status=JobStatus(values["status"]),
            payload=values.get("payload") or {},
            created_at=values["created_at"],
            updated_at=values["updated_at"],
            attempts=int(values.get("attempts", 0)),
            expires_at=int(values["expires_at"]),
            result=values.get("result"),
            error=values.get("error"),
            claimed_until=(
                int(values[CLAIMED_UNTIL]) if values.get(CLAIMED_UNTIL) is not None else None
            ),
        )

    @property
    def key(self) -> dict[str, Any]:
        return dynamo.to_item(
            {
                schema.PARTITION_KEY: schema.tenant_pk(self.tenant_id),
                schema.SORT_KEY: schema.job_sk(self.job_id),
            }
        )

    def to_public(self) -> dict[str, Any]:
        """The job as the HTTP API shows it."""
        body: dict[str, Any] = {
            "job_id": self.job_id,
            "type": self.type,
            "status": self.status.value,
            "payload": self.payload,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "attempts": self.attempts,
        }
        if self.result is not None:
            body["result"] = self.result
        if self.error is not None:
            body["error"] = self.error
        return body


@dataclass(frozen=True)
class SubmitResult:
    job: Job
    replayed: bool


@dataclass(frozen=True)
class JobPage:
    items: list[Job]
    next_cursor: str | None


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def request_hash(job_type: str, payload: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the request (key order and spacing do not matter)."""
    canonical = json.dumps(
        {"payload": payload, "type": job_type},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
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


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIST_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST_LIMIT:
        raise BadRequest(f"limit must be an integer between 1 and {MAX_LIST_LIMIT}.")
    return int(raw)


def parse_status(raw: str | None) -> JobStatus | None:
    if raw is None or raw == "":
        return None
    try:
        return JobStatus(raw)
    except ValueError:
        known = ", ".join(status.value for status in JobStatus)
        raise BadRequest(f"status must be one of: {known}.") from None


def _cursor_fields(status: JobStatus | None) -> set[str]:
    names = {schema.PARTITION_KEY, schema.SORT_KEY}
    if status is not None:
        names.add(schema.STATUS_INDEX_PARTITION_KEY)
    return names


def encode_cursor(last_evaluated_key: Mapping[str, Any]) -> str:
    """Opaque cursor: base64url (unpadded) of the LastEvaluatedKey as plain JSON."""
    plain = dynamo.from_item(last_evaluated_key)
    raw = json.dumps(plain, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, *, tenant_id: str, status: JobStatus | None) -> dict[str, Any]:
    """The ExclusiveStartKey for `cursor`; InvalidCursor unless it is one this tenant's
    query (same status filter) produced."""
    invalid = InvalidCursor("The cursor is invalid; use next_cursor from a previous page.")
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(data, dict) or set(data) != _cursor_fields(status):
        raise invalid
    if not all(isinstance(value, str) for value in data.values()):
        raise invalid
    sort_key: str = data[schema.SORT_KEY]
    if data[schema.PARTITION_KEY] != schema.tenant_pk(tenant_id):
        raise invalid
    if not sort_key.startswith(schema.JOB_PREFIX) or not ids.is_ulid(
        sort_key.removeprefix(schema.JOB_PREFIX)
    ):
        raise invalid
    if status is not None and data[schema.STATUS_INDEX_PARTITION_KEY] != schema.tenant_status(
        tenant_id, status
    ):
        raise invalid
    return dynamo.to_item(data)


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message[:MAX_ERROR_MESSAGE_LENGTH]}


class JobStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        retention_days: int = 30,
        clock: Clock = utc_now,
    ) -> None:
        self._client = client
        self._table = table_name
        self._retention = timedelta(days=retention_days)
        self._clock = clock

    # -- reads -------------------------------------------------------------------------

    def _get(self, pk: str, sk: str, now: datetime) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=dynamo.to_item({schema.PARTITION_KEY: pk, schema.SORT_KEY: sk}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None or not dynamo.is_live(dynamo.from_item(item), epoch_seconds(now)):
            return None
        return dict(item)

    def load(self, tenant_id: str, job_id: str) -> Job | None:
        """The job, or None when it does not exist or has expired (consistent read)."""
        if not ids.is_ulid(job_id):
            return None
        item = self._get(schema.tenant_pk(tenant_id), schema.job_sk(job_id), self._clock())
        return Job.from_item(item) if item else None

    def load_by_key(self, pk: str, sk: str) -> Job | None:
        """The job for a table key (as the worker gets it from the stream record)."""
        if not pk.startswith(schema.TENANT_PREFIX) or not sk.startswith(schema.JOB_PREFIX):
            return None
        item = self._get(pk, sk, self._clock())
        return Job.from_item(item) if item else None

    def get(self, tenant_id: str, job_id: str) -> Job:
        job = self.load(tenant_id, job_id)
        if job is None:
            raise JobNotFound(f"Job {job_id} does not exist.")
        return job

    def list_jobs(
        self,
        tenant_id: str,
        *,
        status: JobStatus | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        cursor: str | None = None,
    ) -> JobPage:
        """Newest first; `status` uses the status-index GSI. Expired items are skipped."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise BadRequest(f"limit must be an integer between 1 and {MAX_LIST_LIMIT}.")
        now = epoch_seconds(self._clock())
        query: dict[str, Any] = {
            "TableName": self._table,
            "ScanIndexForward": False,
            "FilterExpression": "#expires > :now",
            "ExpressionAttributeNames": {"#expires": schema.TTL_ATTRIBUTE},
        }
        if status is None:
            query["KeyConditionExpression"] = "#pk = :pk AND begins_with(#sk, :prefix)"
            query["ExpressionAttributeNames"].update(
                {"#pk": schema.PARTITION_KEY, "#sk": schema.SORT_KEY}
            )
            query["ExpressionAttributeValues"] = dynamo.values(
                pk=schema.tenant_pk(tenant_id), prefix=schema.JOB_PREFIX, now=now
            )
        else:
            query["IndexName"] = schema.STATUS_INDEX_NAME
            query["KeyConditionExpression"] = "#ts = :ts"
            query["ExpressionAttributeNames"]["#ts"] = schema.STATUS_INDEX_PARTITION_KEY
            query["ExpressionAttributeValues"] = dynamo.values(
                ts=schema.tenant_status(tenant_id, status), now=now
            )
        start_key = decode_cursor(cursor, tenant_id=tenant_id, status=status) if cursor else None
        items: list[Job] = []
        last_key: dict[str, Any] | None = None
        for _ in range(_LIST_QUERY_ROUNDS):
            if start_key is not None:
                query["ExclusiveStartKey"] = start_key
            query["Limit"] = limit - len(items)
            response = self._client.query(**query)
            items.extend(Job.from_item(item) for item in response.get("Items", []))
            last_key = (
                dict(response["LastEvaluatedKey"]) if "LastEvaluatedKey" in response else None
            )
            if last_key is None or len(items) >= limit:
                break
            start_key = last_key
        return JobPage(items=items, next_cursor=encode_cursor(last_key) if last_key else None)

    # -- submit ------------------------------------------------------------------------

    def submit(
        self,
        *,
        tenant_id: str,
        job_type: str,
        payload: dict[str, Any],
        daily_quota: int,
        idempotency_key: str | None = None,
    ) -> SubmitResult:
        """Create a queued job, or replay the job an earlier request with the same
        Idempotency-Key created. One transaction: quota counter, job, idempotency record."""
        now = self._clock()
        body_hash = request_hash(job_type, payload)
        idempotency_sk = None
        if idempotency_key is not None:
            validate_idempotency_key(idempotency_key)
            idempotency_sk = schema.idempotency_sk(sha256_hex(idempotency_key))
            replay = self._replay(tenant_id, idempotency_sk, body_hash, now)
            if replay is not None:
                return replay
        if daily_quota <= 0:
            raise self._quota_exceeded(now, daily_quota)

        for attempt in range(_TRANSACTION_ATTEMPTS):
            now = self._clock() if attempt else now
            job = self._new_job(tenant_id, job_type, payload, now)
            items = self._create_transaction(
                job, now, daily_quota, idempotency_sk, body_hash if idempotency_sk else None
            )
            try:
                self._client.transact_write_items(
                    TransactItems=cast("list[TransactWriteItemTypeDef]", items)
                )
            except ClientError as exc:
                if dynamo.error_code(exc) != dynamo.TRANSACTION_CANCELED:
                    raise
                reasons = [
                    reason.get("Code", "None")
                    for reason in exc.response.get("CancellationReasons", [])
                ]
                outcome = self._after_cancel(
                    reasons, tenant_id, idempotency_sk, body_hash, now, daily_quota
                )
                if outcome is not None:
                    return outcome
                # A transaction conflict (concurrent write to the quota counter): retry.
                time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter
                continue
            return SubmitResult(job=job, replayed=False)
        raise ServiceBusy("Too many concurrent submissions; retry shortly.")

    def _new_job(
        self, tenant_id: str, job_type: str, payload: dict[str, Any], now: datetime
    ) -> Job:
        stamp = rfc3339(now)
        return Job(
            job_id=ids.new_ulid(epoch_ms(now)),
            tenant_id=tenant_id,
            type=job_type,
            status=JobStatus.QUEUED,
            payload=payload,
            created_at=stamp,
            updated_at=stamp,
            attempts=0,
            expires_at=epoch_seconds(now + self._retention),
        )

    def _create_transaction(
        self,
        job: Job,
        now: datetime,
        daily_quota: int,
        idempotency_sk: str | None,
        body_hash: str | None,
    ) -> list[dict[str, Any]]:
        pk = schema.tenant_pk(job.tenant_id)
        job_item: dict[str, Any] = {
            schema.PARTITION_KEY: pk,
            schema.SORT_KEY: schema.job_sk(job.job_id),
            "job_id": job.job_id,
            "tenant_id": job.tenant_id,
            "type": job.type,
            "status": job.status.value,
            "payload": job.payload,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "attempts": 0,
            schema.TTL_ATTRIBUTE: job.expires_at,
            schema.STATUS_INDEX_PARTITION_KEY: schema.tenant_status(job.tenant_id, job.status),
        }
        if body_hash is not None:
            job_item["request_hash"] = body_hash
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": dynamo.to_item(
                        {
                            schema.PARTITION_KEY: pk,
                            schema.SORT_KEY: schema.quota_sk(now.strftime("%Y-%m-%d")),
                        }
                    ),
                    "UpdateExpression": "SET #expires = if_not_exists(#expires, :expires) "
                    "ADD #count :one",
                    "ConditionExpression": "attribute_not_exists(#count) OR #count < :quota",
                    "ExpressionAttributeNames": {
                        "#count": "count",
                        "#expires": schema.TTL_ATTRIBUTE,
                    },
                    "ExpressionAttributeValues": dynamo.values(
                        one=1,
                        quota=daily_quota,
                        expires=epoch_seconds(now + QUOTA_COUNTER_TTL),
                    ),
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": dynamo.to_item(job_item),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": schema.PARTITION_KEY},
                }
            },
        ]
        if idempotency_sk is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": dynamo.to_item(
                            {
                                schema.PARTITION_KEY: pk,
                                schema.SORT_KEY: idempotency_sk,
                                "job_id": job.job_id,
                                "request_hash": body_hash,
                                schema.TTL_ATTRIBUTE: epoch_seconds(now + IDEMPOTENCY_TTL),
                            }
                        ),
                        "ConditionExpression": "attribute_not_exists(#pk) OR #expires <= :now",
                        "ExpressionAttributeNames": {
                            "#pk": schema.PARTITION_KEY,
                            "#expires": schema.TTL_ATTRIBUTE,
                        },
                        "ExpressionAttributeValues": dynamo.values(now=epoch_seconds(now)),
                    }
                }
            )
        return items

    def _after_cancel(
        self,
        reasons: list[str],
        tenant_id: str,
        idempotency_sk: str | None,
        body_hash: str,
        now: datetime,
        daily_quota: int,
    ) -> SubmitResult | None:
        """Why the create transaction was cancelled -> replay / error; None = retry."""
        failed = "ConditionalCheckFailed"
        if idempotency_sk is not None and len(reasons) > 2 and reasons[2] == failed:
            # Lost a race with a request using the same key: answer as its replay.
            replay = self._replay(tenant_id, idempotency_sk, body_hash, now)
            if replay is not None:
                return replay
            return None
        if reasons and reasons[0] == failed:
            raise self._quota_exceeded(now, daily_quota)
        if any(reason not in ("None", "TransactionConflict", failed) for reason in reasons):
            raise RuntimeError(f"job create transaction cancelled: {reasons}")
        return None

    def _replay(
        self, tenant_id: str, idempotency_sk: str, body_hash: str, now: datetime
    ) -> SubmitResult | None:
        item = self._get(schema.tenant_pk(tenant_id), idempotency_sk, now)
        if item is None:
            return None
        record = dynamo.from_item(item)
        if record.get("request_hash") != body_hash:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request body."
            )
        job = self.load(tenant_id, str(record["job_id"]))
        if job is None:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used for a job that no longer exists; use a new key."
            )
        return SubmitResult(job=job, replayed=True)

    @staticmethod
    def _quota_exceeded(now: datetime, daily_quota: int) -> QuotaExceeded:
        tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return QuotaExceeded(
            f"The daily job quota ({daily_quota}) is used up; it resets at 00:00 UTC.",
            retry_after_seconds=max(1, int((tomorrow - now).total_seconds())),
        )

    # -- transitions -------------------------------------------------------------------

    def _transition(
        self,
        job: Job,
        *,
        to: JobStatus,
        condition: str,
        condition_values: Mapping[str, Any],
        condition_names: Mapping[str, str] | None = None,
        set_values: Mapping[str, Any] | None = None,
        remove: tuple[str, ...] = (),
        increment_attempts: bool = False,
        now: datetime | None = None,
    ) -> Job | None:
        """A conditional update; None when the condition does not hold (lost the race)."""
        now = self._clock() if now is None else now
        names = {
            "#pk": schema.PARTITION_KEY,
            "#status": "status",
            "#ts": schema.STATUS_INDEX_PARTITION_KEY,
            "#updated": "updated_at",
            "#expires": schema.TTL_ATTRIBUTE,
            **(condition_names or {}),
        }
        assignments = ["#status = :to", "#ts = :ts", "#updated = :updated"]
        expression_values: dict[str, Any] = {
            "to": to.value,
            "ts": schema.tenant_status(job.tenant_id, to),
            "updated": rfc3339(now),
            "now": epoch_seconds(now),
            **condition_values,
        }
        for index, (name, value) in enumerate((set_values or {}).items()):
            names[f"#s{index}"] = name
            expression_values[f"s{index}"] = value
            assignments.append(f"#s{index} = :s{index}")
        if increment_attempts or "#attempts" in condition:
            names["#attempts"] = "attempts"
        if increment_attempts:
            expression_values["one"] = 1
            assignments.append("#attempts = #attempts + :one")
        update = "SET " + ", ".join(assignments)
        if remove:
            for index, name in enumerate(remove):
                names[f"#r{index}"] = name
            update += " REMOVE " + ", ".join(f"#r{index}" for index in range(len(remove)))
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=job.key,
                UpdateExpression=update,
                ConditionExpression=f"attribute_exists(#pk) AND #expires > :now AND ({condition})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=dynamo.values(**expression_values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if dynamo.is_condition_failure(exc):
                return None
            raise
        return Job.from_item(response["Attributes"])

    def cancel(self, tenant_id: str, job_id: str) -> Job:
        """queued -> cancelled; JobNotFound / JobNotCancellable otherwise."""
        job = self.get(tenant_id, job_id)
        cancelled = self._transition(
            job,
            to=JobStatus.CANCELLED,
            condition="#status = :queued",
            condition_values={"queued": JobStatus.QUEUED.value},
        )
        if cancelled is not None:
            return cancelled
        current = self.get(tenant_id, job_id)
        raise JobNotCancellable(
            f"Job {job_id} is {current.status.value}; only queued jobs can be cancelled."
        )

    def start(self, job: Job, *, lease_until: int) -> Job | None:
        """Claim the job until `lease_until` (epoch ms; the caller's deadline): -> running,
        attempts + 1, claimed_until = lease_until. Claimable: queued, or running with an
        expired lease (its worker crashed or timed out) or none (items from before leases);
        in both cases only with attempts as seen. None when the claim is lost: another
        delivery holds the lease, or the job moved on since it was read."""
        now = self._clock()
        now_ms = epoch_ms(now)
        if lease_until <= now_ms:
            raise ValueError(f"lease_until {lease_until} is not after now ({now_ms})")
        return self._transition(
            job,
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
            set_values={CLAIMED_UNTIL: lease_until},
            increment_attempts=True,
            now=now,
        )

    def _owned(self, job: Job) -> dict[str, Any]:
        return {"running": JobStatus.RUNNING.value, "claimed": job.attempts}

    def succeed(self, job: Job, result: Any) -> Job | None:
        """running (this claim) -> succeeded with `result`."""
        return self._owned_transition(
            job, JobStatus.SUCCEEDED, {"result": result}, remove=("error",)
        )

    def retry(self, job: Job, code: str, message: str) -> Job | None:
        """running (this claim) -> queued with `error` (SQS redelivers the message)."""
        return self._owned_transition(job, JobStatus.QUEUED, {"error": _error(code, message)})

    def fail(self, job: Job, code: str, message: str) -> Job | None:
        """running (this claim) -> failed with `error`."""
        return self._owned_transition(job, JobStatus.FAILED, {"error": _error(code, message)})

    def _owned_transition(
        self,
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
        return self._transition(
            job,
            to=to,
            condition="#status = :running AND #attempts = :claimed",
            condition_values=self._owned(job),
            set_values=set_values,
            remove=(*remove, CLAIMED_UNTIL),
        )
