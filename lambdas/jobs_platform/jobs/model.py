"""The job: its statuses, its item in the jobs table, and how the HTTP API shows it.

Item layout: docs/architecture.md ("jobs" table).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NamedTuple

from jobs_platform import dynamo, schema, tracing

CLAIMED_UNTIL = "claimed_until"  # epoch ms: the claiming invocation's deadline (the lease)
# A random id written with each claim: tells a claim whose response was lost (its own
# write, found on a re-read) from another delivery's claim with the same deadline.
CLAIM_ID = "claim_id"
REQUEST_ID = "request_id"  # the x-request-id of the API request that created the job
TRACE_HEADER = "trace_header"  # that request's X-Ray trace header (Root=...;Parent=...)
# The UTC day (YYYY-MM-DD) whose usage counted the job `failed` when it was dead-lettered:
# a redrive that queues it again takes the count back from that day (jobs/transitions.py).
DEAD_LETTERED_ON = "dead_lettered_on"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class Job(NamedTuple):
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
    claim_id: str | None = None  # set with claimed_until
    # Correlation: the API request that created the job and its X-Ray trace header, so the
    # worker's log lines (and its trace) join the request's (absent on older items).
    request_id: str | None = None
    trace_header: str | None = None
    dead_lettered_on: str | None = None  # set while failed with `dead_lettered`

    def log_fields(self) -> dict[str, str | None]:
        """What every log line about the job carries: its tenant and id, the API request
        that created it and that request's trace."""
        return {
            "tenant_id": self.tenant_id,
            "job_id": self.job_id,
            "request_id": self.request_id,
            "trace_id": tracing.trace_id(self.trace_header or ""),
        }

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
            expires_at=int(values[schema.TTL_ATTRIBUTE]),
            result=values.get("result"),
            error=values.get("error"),
            claimed_until=(
                int(values[CLAIMED_UNTIL]) if values.get(CLAIMED_UNTIL) is not None else None
            ),
            claim_id=values.get(CLAIM_ID),
            request_id=values.get(REQUEST_ID),
            trace_header=values.get(TRACE_HEADER),
            dead_lettered_on=values.get(DEAD_LETTERED_ON),
        )

    def to_new_item_values(self) -> dict[str, Any]:
        """The plain values of a just-created (queued) job's item: keys, TTL, status index."""
        return {
            schema.PARTITION_KEY: schema.tenant_pk(self.tenant_id),
            schema.SORT_KEY: schema.job_sk(self.job_id),
            "job_id": self.job_id,
            "tenant_id": self.tenant_id,
            "type": self.type,
            "status": self.status.value,
            "payload": self.payload,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "attempts": self.attempts,
            schema.TTL_ATTRIBUTE: self.expires_at,
            schema.STATUS_INDEX_PARTITION_KEY: schema.tenant_status(self.tenant_id, self.status),
            **({REQUEST_ID: self.request_id} if self.request_id else {}),
            **({TRACE_HEADER: self.trace_header} if self.trace_header else {}),
        }

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


class SubmitResult(NamedTuple):
    job: Job
    replayed: bool


class JobPage(NamedTuple):
    items: list[Job]
    next_cursor: str | None
