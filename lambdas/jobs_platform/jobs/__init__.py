"""Jobs: the domain of the jobs table, one concern per module.

- `model`: Job, JobStatus and the job's item; `query_params`: the list route's `limit`
  and `status`; `cursor`: the list cursor codec;
- `create`: submit (quota + job + idempotency record in one transaction);
- `transitions`: the state machine (cancel, start, succeed, retry, fail);
- `table`: the shared client/table/clock and consistent reads;
- `store`: `JobStore`, the one entry point composed of the above.

Item layouts and conditions follow docs/architecture.md ("jobs" table).
"""

from jobs_platform.jobs.model import TERMINAL_STATUSES, Job, JobPage, JobStatus, SubmitResult
from jobs_platform.jobs.query_params import parse_limit, parse_status
from jobs_platform.jobs.store import JobStore

__all__ = [
    "TERMINAL_STATUSES",
    "Job",
    "JobPage",
    "JobStatus",
    "JobStore",
    "SubmitResult",
    "parse_limit",
    "parse_status",
]
