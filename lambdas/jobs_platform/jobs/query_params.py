"""The list route's query-string parameters (`limit`, `status`): parsed or 400."""

from __future__ import annotations

import re

from jobs_platform.errors import BadRequest
from jobs_platform.jobs.model import JobStatus

_DIGITS = re.compile(r"[0-9]{1,3}")
DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 100


def limit_out_of_range() -> BadRequest:
    return BadRequest(f"limit must be an integer between 1 and {MAX_LIST_LIMIT}.")


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIST_LIMIT
    # ASCII digits only: str.isdigit() also accepts "²" or "①", which int() refuses.
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIST_LIMIT:
        raise limit_out_of_range()
    return int(raw)


def parse_status(raw: str | None) -> JobStatus | None:
    if raw is None or raw == "":
        return None
    try:
        return JobStatus(raw)
    except ValueError:
        known = ", ".join(status.value for status in JobStatus)
        raise BadRequest(f"status must be one of: {known}.") from None
