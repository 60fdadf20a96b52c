"""Environment variables: one constant per name, and per-function settings.

The names below are the contract with Terraform (`local.functions[*].environment` in the
root `main.tf`): each function's `from_env` reads exactly the variables Terraform sets
for it, and `tests/contract` compares the two (and the bounds below with the Terraform
variables' validations and defaults). Settings are parsed and validated once per cold
start (`from_env`), and a missing or invalid variable raises `ConfigError` naming it.

Records in this package are named tuples, not dataclasses: a dataclass generates and
compiles its methods when its module is imported (about 1 ms each here, on every cold
start: `make bench`), a named tuple's cost a fraction of that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

JOBS_TABLE_NAME = "JOBS_TABLE_NAME"
# URL of the jobs queue's dead-letter queue (the DLQ bookkeeping reads it).
JOBS_DLQ_URL = "JOBS_DLQ_URL"
SESSIONS_TABLE_NAME = "SESSIONS_TABLE_NAME"
API_KEYS_TABLE_NAME = "API_KEYS_TABLE_NAME"
ENABLE_TEST_JOB_TYPES = "ENABLE_TEST_JOB_TYPES"
MAX_RECEIVE_COUNT = "MAX_RECEIVE_COUNT"
JOB_RETENTION_DAYS = "JOB_RETENTION_DAYS"
SESSION_DEFAULT_TTL_SECONDS = "SESSION_DEFAULT_TTL_SECONDS"
SERVICE_VERSION = "SERVICE_VERSION"
# The environment's name prefix: the `Service` dimension of the EMF metrics (metrics.py).
SERVICE_NAME = "SERVICE_NAME"
LOG_LEVEL = "LOG_LEVEL"
# ARN of the edge's origin-verify secret; always set, "" when the edge is off.
ORIGIN_VERIFY_SECRET_ARN = "ORIGIN_VERIFY_SECRET_ARN"  # noqa: S105 (a variable name, not a secret)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_LOG_LEVEL = "INFO"
# Bounds and defaults the Terraform variables state too (root variables.tf, and the queue
# module's max_receive_count): the contract tests compare them.
SESSION_TTL_MIN_SECONDS = 60
SESSION_TTL_MAX_SECONDS = 604_800
SESSION_TTL_DEFAULT_SECONDS = 86_400
JOB_RETENTION_DAYS_MIN = 1
JOB_RETENTION_DAYS_MAX = 365
JOB_RETENTION_DAYS_DEFAULT = 30
MAX_RECEIVE_COUNT_MIN = 3
MAX_RECEIVE_COUNT_MAX = 1000


class ConfigError(ValueError):
    """An environment variable is missing or invalid; the message names it."""


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required but is not set")
    return value


def _int(environ: Mapping[str, str], name: str, minimum: int, maximum: int) -> int:
    raw = _required(environ, name)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"environment variable {name}={raw!r} is invalid: expected an integer"
        ) from None
    if not minimum <= value <= maximum:
        raise ConfigError(
            f"environment variable {name}={value} is invalid: "
            f"expected an integer between {minimum} and {maximum}"
        )
    return value


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "false"):
        return raw == "true"
    raise ConfigError(f"environment variable {name}={raw!r} is invalid: expected true or false")


def _optional_secret_arn(environ: Mapping[str, str], name: str) -> str | None:
    """An optional Secrets Manager ARN: empty (or unset) means "not configured"."""
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    parts = raw.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "secretsmanager" or parts[5] != "secret":
        raise ConfigError(
            f"environment variable {name}={raw!r} is invalid: "
            "expected a Secrets Manager secret ARN or an empty string"
        )
    return raw


def _log_level(environ: Mapping[str, str]) -> str:
    raw = environ.get(LOG_LEVEL, "").strip().upper() or DEFAULT_LOG_LEVEL
    if raw not in LOG_LEVELS:
        raise ConfigError(
            f"environment variable {LOG_LEVEL}={raw!r} is invalid: "
            f"expected one of {', '.join(LOG_LEVELS)}"
        )
    return raw


class ApiSettings(NamedTuple):
    jobs_table_name: str
    sessions_table_name: str
    enable_test_job_types: bool
    job_retention_days: int
    session_default_ttl_seconds: int
    service_version: str
    log_level: str
    service_name: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ApiSettings:
        return cls(
            jobs_table_name=_required(environ, JOBS_TABLE_NAME),
            sessions_table_name=_required(environ, SESSIONS_TABLE_NAME),
            enable_test_job_types=_bool(environ, ENABLE_TEST_JOB_TYPES, default=False),
            job_retention_days=_int(
                environ, JOB_RETENTION_DAYS, JOB_RETENTION_DAYS_MIN, JOB_RETENTION_DAYS_MAX
            ),
            session_default_ttl_seconds=_int(
                environ,
                SESSION_DEFAULT_TTL_SECONDS,
                SESSION_TTL_MIN_SECONDS,
                SESSION_TTL_MAX_SECONDS,
            ),
            service_version=_required(environ, SERVICE_VERSION),
            log_level=_log_level(environ),
            service_name=_required(environ, SERVICE_NAME),
        )


class AuthorizerSettings(NamedTuple):
    api_keys_table_name: str
    log_level: str
    # None: no edge in front of the API, no origin check (local, and dev without edge).
    origin_verify_secret_arn: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AuthorizerSettings:
        return cls(
            api_keys_table_name=_required(environ, API_KEYS_TABLE_NAME),
            log_level=_log_level(environ),
            origin_verify_secret_arn=_optional_secret_arn(environ, ORIGIN_VERIFY_SECRET_ARN),
        )


class WorkerSettings(NamedTuple):
    jobs_table_name: str
    enable_test_job_types: bool
    max_receive_count: int
    log_level: str
    service_name: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WorkerSettings:
        return cls(
            jobs_table_name=_required(environ, JOBS_TABLE_NAME),
            enable_test_job_types=_bool(environ, ENABLE_TEST_JOB_TYPES, default=False),
            max_receive_count=_int(
                environ, MAX_RECEIVE_COUNT, MAX_RECEIVE_COUNT_MIN, MAX_RECEIVE_COUNT_MAX
            ),
            log_level=_log_level(environ),
            service_name=_required(environ, SERVICE_NAME),
        )


class BookkeeperSettings(NamedTuple):
    jobs_table_name: str
    jobs_dlq_url: str
    log_level: str
    service_name: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> BookkeeperSettings:
        return cls(
            jobs_table_name=_required(environ, JOBS_TABLE_NAME),
            jobs_dlq_url=_required(environ, JOBS_DLQ_URL),
            log_level=_log_level(environ),
            service_name=_required(environ, SERVICE_NAME),
        )
