"""Business metrics in CloudWatch Embedded Metric Format (EMF), carried by log lines.

A metric is published by adding `fields(...)` to the structured log line that reports the
event ("job submitted", "job succeeded", ...): CloudWatch Logs extracts the values named
in `_aws.CloudWatchMetrics` from the line, so one line is both the log record and the
metric datapoint, and costs nothing more than the log line did. Every other member of
the line (request_id, tenant_id, job_id, trace_id...) becomes a searchable property of
the datapoint, so a spike can be traced to a tenant and a request without making the
tenant a dimension (dimensions multiply metrics, and so cost, by their cardinality).

Namespace `JobsPlatform`; dimension sets [Service] and [Service, JobType], where Service
is the environment's name prefix (SERVICE_NAME) and JobType one of the job types. The
dashboard widgets and alarms (terraform/modules/monitoring) read the same names; a
contract test compares them.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

NAMESPACE = "JobsPlatform"
SERVICE_DIMENSION = "Service"
JOB_TYPE_DIMENSION = "JobType"
DIMENSION_SETS: tuple[tuple[str, ...], ...] = (
    (SERVICE_DIMENSION,),
    (SERVICE_DIMENSION, JOB_TYPE_DIMENSION),
)

# Counts: one datapoint of 1 per event.
JOBS_SUBMITTED = "JobsSubmitted"  # api: a new job was accepted (202)
JOBS_REPLAYED = "JobsReplayed"  # api: an Idempotency-Key replay answered the earlier job
JOBS_REJECTED = "JobsRejected"  # api: refused by the tenant's daily quota (429)
JOBS_SUCCEEDED = "JobsSucceeded"  # worker: running -> succeeded
JOBS_FAILED = "JobsFailed"  # worker: running -> failed (no attempt left, or invalid)
JOBS_CANCELLED = "JobsCancelled"  # api: queued -> cancelled
JOB_ATTEMPTS_FAILED = "JobAttemptsFailed"  # worker: an attempt failed, the job is retried
# Latencies, in milliseconds.
QUEUE_WAIT = "QueueWait"  # created (enqueued) -> this attempt started
JOB_DURATION = "JobDuration"  # this attempt started -> terminal
SUBMIT_TO_TERMINAL = "SubmitToTerminal"  # created -> terminal (what the client waits)

COUNT = "Count"
MILLISECONDS = "Milliseconds"

METRIC_UNITS: Mapping[str, str] = {
    JOBS_SUBMITTED: COUNT,
    JOBS_REPLAYED: COUNT,
    JOBS_REJECTED: COUNT,
    JOBS_SUCCEEDED: COUNT,
    JOBS_FAILED: COUNT,
    JOBS_CANCELLED: COUNT,
    JOB_ATTEMPTS_FAILED: COUNT,
    QUEUE_WAIT: MILLISECONDS,
    JOB_DURATION: MILLISECONDS,
    SUBMIT_TO_TERMINAL: MILLISECONDS,
}
METRIC_NAMES: tuple[str, ...] = tuple(METRIC_UNITS)


@cache
def _directive(names: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    """The (immutable by convention) CloudWatchMetrics member for these metric names."""
    for name in names:
        if name not in METRIC_UNITS:
            raise ValueError(f"unknown metric {name!r}")
    return (
        {
            "Namespace": NAMESPACE,
            "Dimensions": [list(dimensions) for dimensions in DIMENSION_SETS],
            "Metrics": [{"Name": name, "Unit": METRIC_UNITS[name]} for name in names],
        },
    )


def fields(
    service: str, job_type: str, timestamp_ms: int, values: Mapping[str, float]
) -> dict[str, Any]:
    """The members that turn a JSON log line into an EMF document for `values`."""
    return {
        "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": list(_directive(tuple(values)))},
        SERVICE_DIMENSION: service,
        JOB_TYPE_DIMENSION: job_type,
        **values,
    }
