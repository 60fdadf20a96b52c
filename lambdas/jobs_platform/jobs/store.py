"""JobStore: the one entry point the handlers use for jobs: submit, read, list, cancel,
and the worker's claim and finish. Knows nothing of HTTP or SQS events.

It composes the pieces: `create` (quota + idempotency transaction), `transitions` (the
state machine), `cursor` (list pages), `usage` (daily counters); reads go through
`table.JobTable`. Only `create` is imported with the store: the api's cold start is a
submit (make bench); the others come with the first call that needs them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from jobs_platform import dynamo, json_values, schema
from jobs_platform.clock import Clock, epoch_seconds, utc_now
from jobs_platform.config import JOB_RETENTION_DAYS_DEFAULT
from jobs_platform.jobs import create
from jobs_platform.jobs.model import Job, JobPage, JobStatus, SubmitResult
from jobs_platform.jobs.query_params import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, limit_out_of_range
from jobs_platform.jobs.table import JobTable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from jobs_platform.jobs.usage import DayUsage

# A filtered query page can come back short (expired items); refill it this many times.
_LIST_QUERY_ROUNDS = 5
# Lambda's response payload limit is 6 MB, and a job can be about 2 x 64 KiB (payload and
# echoed result): a page stops before its jobs' JSON passes this, and its next_cursor
# continues after the last job it holds.
MAX_PAGE_BYTES = 4 * 1024 * 1024


def page_key(job: Job, status: JobStatus | None) -> dict[str, Any]:
    """The LastEvaluatedKey a query would return after `job` (for its next_cursor)."""
    values = {
        schema.PARTITION_KEY: schema.tenant_pk(job.tenant_id),
        schema.SORT_KEY: schema.job_sk(job.job_id),
    }
    if status is not None:
        values[schema.STATUS_INDEX_PARTITION_KEY] = schema.tenant_status(job.tenant_id, status)
    return dynamo.to_item(values)


def within_page_budget(items: list[Job], max_bytes: int = MAX_PAGE_BYTES) -> int:
    """How many of `items` (at least one) fit in `max_bytes` of JSON."""
    total = 0
    for count, job in enumerate(items):
        total += len(json_values.dumps(job.to_public()).encode("utf-8")) + 1
        if total > max_bytes and count > 0:
            return count
    return len(items)


def list_query(
    table_name: str, tenant_id: str, status: JobStatus | None, now: int
) -> dict[str, Any]:
    """Query arguments for a tenant's live jobs, newest first (`status`: the status index)."""
    query: dict[str, Any] = {
        "TableName": table_name,
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
    return query


class JobStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        retention_days: int = JOB_RETENTION_DAYS_DEFAULT,
        clock: Clock = utc_now,
    ) -> None:
        self._table = JobTable(client, table_name, clock)
        self._retention = timedelta(days=retention_days)

    # -- reads -------------------------------------------------------------------------

    def load(self, tenant_id: str, job_id: str) -> Job | None:
        """The job, or None when it does not exist or has expired (consistent read)."""
        return self._table.load(tenant_id, job_id)

    def load_by_key(self, pk: str, sk: str) -> Job | None:
        """The job for a table key (as the worker gets it from the stream record)."""
        if not pk.startswith(schema.TENANT_PREFIX) or not sk.startswith(schema.JOB_PREFIX):
            return None
        item = self._table.get_live_item(pk, sk, self._table.clock())
        return Job.from_item(item) if item else None

    def get(self, tenant_id: str, job_id: str) -> Job:
        """The job; JobNotFound when it does not exist or has expired."""
        return self._table.get(tenant_id, job_id)

    def list_jobs(
        self,
        tenant_id: str,
        *,
        status: JobStatus | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        cursor: str | None = None,
    ) -> JobPage:
        """Newest first; `status` uses the status-index GSI. Expired items are skipped."""
        from jobs_platform.jobs.cursor import decode_cursor, encode_cursor  # noqa: PLC0415

        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise limit_out_of_range()
        now = epoch_seconds(self._table.clock())
        query = list_query(self._table.name, tenant_id, status, now)
        start_key = decode_cursor(cursor, tenant_id=tenant_id, status=status) if cursor else None
        items: list[Job] = []
        last_key: dict[str, Any] | None = None
        for _ in range(_LIST_QUERY_ROUNDS):
            if start_key is not None:
                query["ExclusiveStartKey"] = start_key
            query["Limit"] = limit - len(items)
            response = self._table.client.query(**query)
            items.extend(Job.from_item(item) for item in response.get("Items", []))
            last_key = (
                dict(response["LastEvaluatedKey"]) if "LastEvaluatedKey" in response else None
            )
            if last_key is None or len(items) >= limit:
                break
            start_key = last_key
        fits = within_page_budget(items)
        if fits < len(items):
            items, last_key = items[:fits], page_key(items[fits - 1], status)
        return JobPage(items=items, next_cursor=encode_cursor(last_key) if last_key else None)

    # -- writes (create.py, transitions.py) ---------------------------------------------

    def submit(
        self,
        *,
        tenant_id: str,
        job_type: str,
        payload: dict[str, Any],
        daily_quota: int,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        trace_header: str | None = None,
    ) -> SubmitResult:
        """Create a queued job or replay an earlier one with the same Idempotency-Key.
        `request_id` and `trace_header` are stored on the job (correlation)."""
        return create.submit(
            self._table,
            retention=self._retention,
            tenant_id=tenant_id,
            job_type=job_type,
            payload=payload,
            daily_quota=daily_quota,
            idempotency_key=idempotency_key,
            request_id=request_id,
            trace_header=trace_header,
        )

    def cancel(self, tenant_id: str, job_id: str) -> Job:
        """queued -> cancelled (counted in the tenant's usage); JobNotFound /
        JobNotCancellable otherwise."""
        from jobs_platform.jobs import transitions, usage  # noqa: PLC0415

        job = transitions.cancel(self._table, tenant_id, job_id)
        usage.count(self._table, tenant_id, self._table.clock(), outcome="cancelled", compute_ms=0)
        return job

    def count_usage(self, job: Job, *, outcome: str | None, compute_ms: int) -> None:
        """Add a finished job (`outcome`) and/or an attempt's compute time to its tenant's
        usage for today (one UpdateItem)."""
        from jobs_platform.jobs import usage  # noqa: PLC0415

        usage.count(
            self._table, job.tenant_id, self._table.clock(), outcome=outcome, compute_ms=compute_ms
        )

    def today(self) -> date:
        """Today's UTC date by the store's clock."""
        return self._table.clock().date()

    def usage_by_day(self, tenant_id: str, start: date, end: date) -> list[DayUsage]:
        """The tenant's usage per day from `start` to `end` (inclusive)."""
        from jobs_platform.jobs import usage  # noqa: PLC0415

        return usage.read(self._table, tenant_id, start, end)

    def start(self, job: Job, *, lease_until: int) -> Job | None:
        """Claim the job until `lease_until` (epoch ms); None when the claim is lost."""
        from jobs_platform.jobs import transitions  # noqa: PLC0415

        return transitions.start(self._table, job, lease_until=lease_until)

    def succeed(self, job: Job, result: Any) -> Job | None:
        """running (this claim) -> succeeded with `result`."""
        from jobs_platform.jobs import transitions  # noqa: PLC0415

        return transitions.succeed(self._table, job, result)

    def retry(self, job: Job, code: str, message: str) -> Job | None:
        """running (this claim) -> queued with `error` (SQS redelivers the message)."""
        from jobs_platform.jobs import transitions  # noqa: PLC0415

        return transitions.retry(self._table, job, code, message)

    def fail(self, job: Job, code: str, message: str) -> Job | None:
        """running (this claim) -> failed with `error`."""
        from jobs_platform.jobs import transitions  # noqa: PLC0415

        return transitions.fail(self._table, job, code, message)

    def dead_letter(self, job: Job, message: str) -> Job | None:
        """Unclaimed (queued, or running with an expired lease) -> failed, dead_lettered."""
        from jobs_platform.jobs import transitions  # noqa: PLC0415

        return transitions.dead_letter(self._table, job, message)

    def requeue(self, job: Job) -> Job | None:
        """failed, dead_lettered -> queued (the redrive)."""
        from jobs_platform.jobs import transitions  # noqa: PLC0415

        return transitions.requeue(self._table, job)
