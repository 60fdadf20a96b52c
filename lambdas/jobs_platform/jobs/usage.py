"""Per-tenant daily usage: jobs by outcome and compute milliseconds, per UTC day.

One item per tenant and day, the daily quota counter (`TENANT#<id>` / `QUOTA#<day>`):
- `count`: jobs submitted that day, written by the submit transaction itself (the quota
  check), so metering adds nothing to a submit: still one transaction;
- `succeeded`, `failed`, `cancelled`: added (atomic `ADD`) when a job reaches that status,
  one `UpdateItem` after the transition (the worker's one extra write; cancel's); a job
  dead-lettered (its message went to the DLQ) is counted `failed` in the same transaction
  as its transition, and a redrive that queues it again takes that count back;
- `compute_ms`: milliseconds the worker spent running the tenant's jobs, every attempt.

Counters are kept `USAGE_RETENTION` (TTL), long enough for monthly invoices and a year's
comparison. A worker that dies between a job's transition and its counter write leaves
that job uncounted (the job itself is exact); SQS redelivery does not count it twice,
because a finished job is never finished again.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from jobs_platform import dynamo, ids, schema
from jobs_platform.clock import epoch_seconds
from jobs_platform.errors import BadRequest
from jobs_platform.jobs.table import JobTable

USAGE_RETENTION = timedelta(days=400)
MAX_RANGE_DAYS = 92
SUBMITTED = "count"  # the quota counter's attribute
OUTCOMES = ("succeeded", "failed", "cancelled")
COMPUTE_MS = "compute_ms"


class DayUsage(NamedTuple):
    day: str
    submitted: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    compute_ms: int = 0

    def to_public(self) -> dict[str, Any]:
        return {
            "date": self.day,
            "submitted": self.submitted,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "compute_ms": self.compute_ms,
        }


def counter_key(tenant_id: str, day: str) -> dict[str, Any]:
    return dynamo.to_item(
        {schema.PARTITION_KEY: schema.tenant_pk(tenant_id), schema.SORT_KEY: schema.quota_sk(day)}
    )


def counter_update(
    table_name: str,
    tenant_id: str,
    now: datetime,
    *,
    outcome: str | None,
    compute_ms: int,
    day: str | None = None,
    amount: int = 1,
) -> dict[str, Any]:
    """The UpdateItem arguments that add `amount` `outcome`s (succeeded/failed/cancelled,
    or None) and `compute_ms` to the tenant's counters for `day` (default: today). Also a
    TransactWriteItems `Update`, so a transition and its count can be one atomic write."""
    if outcome is not None and outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    names = {"#expires": schema.TTL_ATTRIBUTE, "#ms": COMPUTE_MS}
    values: dict[str, Any] = {
        "expires": epoch_seconds(now + USAGE_RETENTION),
        "ms": max(0, int(compute_ms)),
    }
    adds = ["#ms :ms"]
    if outcome is not None:
        names["#outcome"] = outcome
        values["amount"] = amount
        adds.append("#outcome :amount")
    return {
        "TableName": table_name,
        "Key": counter_key(tenant_id, day or now.strftime("%Y-%m-%d")),
        "UpdateExpression": "SET #expires = if_not_exists(#expires, :expires) ADD "
        + ", ".join(adds),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": dynamo.values(**values),
    }


def count(
    table: JobTable, tenant_id: str, now: datetime, *, outcome: str | None, compute_ms: int
) -> None:
    """Add one `outcome` (succeeded/failed/cancelled, or None) and `compute_ms` to the
    tenant's counters for today."""
    table.client.update_item(
        **counter_update(table.name, tenant_id, now, outcome=outcome, compute_ms=compute_ms)
    )


def parse_day(raw: str | None, name: str, default: date) -> date:
    if raw is None or raw == "":
        return default
    # The grammar first (date.fromisoformat also takes ISO week dates like 2025-W01-1).
    if not ids.is_whole_match(ids.DAY_PATTERN, raw):
        return _invalid(name)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return _invalid(name)


def _invalid(name: str) -> date:
    raise BadRequest(f"{name} must be a date as YYYY-MM-DD.")


def day_range(raw_from: str | None, raw_to: str | None, today: date) -> tuple[date, date]:
    """The `from`..`to` query parameters (inclusive UTC days; default: today only)."""
    to = parse_day(raw_to, "to", today)
    start = parse_day(raw_from, "from", to)
    if start > to:
        raise BadRequest("from must not be after to.")
    if (to - start).days + 1 > MAX_RANGE_DAYS:
        raise BadRequest(f"The range may cover at most {MAX_RANGE_DAYS} days.")
    return start, to


def read(table: JobTable, tenant_id: str, start: date, end: date) -> list[DayUsage]:
    """Every day from `start` to `end` (inclusive), zeros where nothing happened: one
    query over the tenant's counter items in that range (strongly consistent)."""
    found: dict[str, DayUsage] = {}
    query: dict[str, Any] = {
        "TableName": table.name,
        "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :from AND :to",
        "ExpressionAttributeNames": {"#pk": schema.PARTITION_KEY, "#sk": schema.SORT_KEY},
        "ExpressionAttributeValues": dynamo.values(
            pk=schema.tenant_pk(tenant_id),
            **{"from": schema.quota_sk(start.isoformat()), "to": schema.quota_sk(end.isoformat())},
        ),
        "ConsistentRead": True,
    }
    while True:
        response = table.client.query(**query)
        for item in response.get("Items", []):
            values = dynamo.from_item(item)
            day = str(values[schema.SORT_KEY]).removeprefix(schema.QUOTA_PREFIX)
            found[day] = DayUsage(
                day=day,
                submitted=int(values.get(SUBMITTED, 0)),
                succeeded=int(values.get("succeeded", 0)),
                failed=int(values.get("failed", 0)),
                cancelled=int(values.get("cancelled", 0)),
                compute_ms=int(values.get(COMPUTE_MS, 0)),
            )
        if "LastEvaluatedKey" not in response:
            break
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    days = ((start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1))
    return [found.get(day, DayUsage(day=day)) for day in days]
