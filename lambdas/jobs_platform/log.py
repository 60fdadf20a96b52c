"""Structured JSON logs on stdout: one object per line.

Fields: `timestamp`, `level`, `message`, `function`, the invocation's
`lambda_request_id` and `cold_start` (true on the first invocation of an execution
environment), and, when bound for the current request or job, `request_id` (the API
request that created the job), `trace_id` (its X-Ray trace), `tenant_id`, `job_id`; plus
the keyword fields of the call. Never pass API keys, key hashes, payloads, results or
session state as fields.

Written straight to stdout, not through the `logging` module: a line is one dict, one
`json` encode and one write (the stdlib's records, handlers and formatters were half of a
warm request's cost: `make bench`). The timestamp's seconds are formatted once a second.
"""

from __future__ import annotations

import sys
import time
from contextvars import ContextVar
from typing import Any

from jobs_platform.json_encoding import compact_encoder

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
_CONTEXT_FIELDS = frozenset(("request_id", "trace_id", "tenant_id", "job_id"))

# One function and one invocation at a time per execution environment.
_process: dict[str, Any] = {"function": "unknown", "threshold": LEVELS["INFO"], "invocations": 0}
_invocation: dict[str, Any] = {"function": "unknown"}
_context: ContextVar[dict[str, str]] = ContextVar("log_context")
_NO_CONTEXT: dict[str, str] = {}
_encode = compact_encoder(str)
_MILLISECONDS = tuple(f"{n:03d}Z" for n in range(1000))
_second: list[Any] = [-1, ""]


def _timestamp(now: float) -> str:
    """RFC 3339 UTC with milliseconds, e.g. `2025-01-31T12:00:00.123Z`."""
    second = int(now)
    if second != _second[0]:
        _second[0] = second
        _second[1] = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
    prefix: str = _second[1]
    return prefix + _MILLISECONDS[int((now - second) * 1000)]


def setup(function: str, level: str = "INFO") -> None:
    """Set the function's name and the level once per cold start (idempotent)."""
    _process["function"] = function
    _process["threshold"] = LEVELS[level]
    _invocation["function"] = function


def start_invocation(context: Any) -> None:
    """Put the Lambda request id and the cold-start flag on every line of this invocation."""
    _process["invocations"] += 1
    _invocation.clear()
    _invocation["function"] = _process["function"]
    _invocation["lambda_request_id"] = getattr(context, "aws_request_id", None)
    _invocation["cold_start"] = _process["invocations"] == 1


def reset_process() -> None:
    """Forget the invocations seen (tests: the next invocation is a cold start again)."""
    _process["invocations"] = 0


def bind(**fields: str | None) -> None:
    """Add request_id / trace_id / tenant_id / job_id to every following line of this call."""
    current = dict(_context.get({}))
    for name, value in fields.items():
        if name not in _CONTEXT_FIELDS:
            raise ValueError(f"unknown log context field: {name}")
        if value is None:
            current.pop(name, None)
        else:
            current[name] = value
    _context.set(current)


def clear(**fields: str | None) -> None:
    """Forget every bound field, then bind `fields` (as `bind`): the start of a request."""
    if not fields.keys() <= _CONTEXT_FIELDS:
        raise ValueError(f"unknown log context field: {sorted(fields.keys() - _CONTEXT_FIELDS)}")
    _context.set({name: value for name, value in fields.items() if value is not None})


def start_request(request_id: str, tenant_id: str | None) -> None:
    """`clear(request_id=..., tenant_id=...)`, as the api starts every request (without
    the keyword checks: a warm 4xx is a few microseconds, make bench)."""
    _context.set(
        {"request_id": request_id, "tenant_id": tenant_id}
        if tenant_id is not None
        else {"request_id": request_id}
    )


def enabled(level: str) -> bool:
    return bool(LEVELS[level] >= _process["threshold"])


def _emit(
    level: str,
    message: str,
    fields: dict[str, Any],
    with_exception: bool = False,
    always: bool = False,
) -> None:
    if not always and LEVELS[level] < _process["threshold"]:
        return
    entry = {
        "timestamp": _timestamp(time.time()),
        "level": level,
        "message": message,
        **_invocation,
        **_context.get(_NO_CONTEXT),
        **fields,
    }
    if with_exception:
        import traceback  # noqa: PLC0415 - only when an exception is logged

        entry["exception"] = traceback.format_exc()
    try:
        sys.stdout.write(_encode(entry) + "\n")
    except Exception:  # noqa: BLE001 - logging must never break the function
        return


def debug(message: str, **fields: Any) -> None:
    _emit("DEBUG", message, fields)


def info(message: str, **fields: Any) -> None:
    _emit("INFO", message, fields)


def with_metrics(level: str, message: str, **fields: Any) -> None:
    """A line that carries EMF metrics (metrics.fields): written whatever LOG_LEVEL says,
    since CloudWatch extracts the metrics from it."""
    _emit(level, message, fields, always="_aws" in fields)


def warning(message: str, **fields: Any) -> None:
    _emit("WARNING", message, fields)


def error(message: str, **fields: Any) -> None:
    _emit("ERROR", message, fields)


def exception(message: str, **fields: Any) -> None:
    """Log at ERROR with the current exception's traceback."""
    _emit("ERROR", message, fields, with_exception=True)
