"""Structured JSON logs on stdout: one object per line.

Fields: `timestamp`, `level`, `message`, `function`, and, when bound for the current
invocation, `request_id`, `tenant_id`, `job_id`; plus the keyword fields of the call.
Never pass API keys, key hashes, payloads, results or session state as fields.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from jobs_platform.clock import rfc3339

LOGGER_NAME = "jobs_platform"
_CONTEXT_FIELDS = ("request_id", "tenant_id", "job_id")

_function = {"name": "unknown"}  # one function per execution environment
_context: ContextVar[dict[str, str]] = ContextVar("log_context")

_logger = logging.getLogger(LOGGER_NAME)


class _StdoutHandler(logging.Handler):
    """Writes to whatever sys.stdout is at the time (Lambda captures stdout)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never break the function
            self.handleError(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": rfc3339(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname,
            "message": record.getMessage(),
            "function": _function["name"],
        }
        entry.update(_context.get({}))
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


def setup(function: str, level: str = "INFO") -> None:
    """Configure the package logger once per cold start (idempotent)."""
    _function["name"] = function
    _logger.setLevel(level)
    _logger.propagate = False
    if not any(getattr(h, "_jobs_platform", False) for h in _logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        handler._jobs_platform = True  # type: ignore[attr-defined]
        _logger.addHandler(handler)


def bind(**fields: str | None) -> None:
    """Add request_id / tenant_id / job_id to every following log line of this call."""
    current = dict(_context.get({}))
    for name, value in fields.items():
        if name not in _CONTEXT_FIELDS:
            raise ValueError(f"unknown log context field: {name}")
        if value is None:
            current.pop(name, None)
        else:
            current[name] = value
    _context.set(current)


def clear() -> None:
    _context.set({})


def info(message: str, **fields: Any) -> None:
    _logger.info(message, extra={"fields": fields})


def warning(message: str, **fields: Any) -> None:
    _logger.warning(message, extra={"fields": fields})


def error(message: str, **fields: Any) -> None:
    _logger.error(message, extra={"fields": fields})


def exception(message: str, **fields: Any) -> None:
    """Log at ERROR with the current exception's traceback."""
    _logger.exception(message, extra={"fields": fields})
