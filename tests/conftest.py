"""Shared fixtures: moto per test (xdist-safe: nothing shared between tests), tables from
jobs_platform.schema, handler modules with fresh settings."""

from __future__ import annotations

import os

# Before boto3 makes its first session: moto's hook must be registered, and no test may
# ever reach a real AWS account (what is set already wins: an e2e run may bring its own).
from scripts import fake_aws

os.environ.update({**fake_aws.credentials_env(), **os.environ})

from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from jobs_platform import config, schema
from jobs_platform.api_keys import ApiKeyStore
from jobs_platform.jobs import JobStore
from jobs_platform.sessions import SessionStore
from tests.helpers import create_table


@dataclass(frozen=True)
class Tables:
    jobs: str = "test-jobs"
    sessions: str = "test-sessions"
    api_keys: str = "test-api-keys"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An in-process AWS (moto) for this test only."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", fake_aws.ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", fake_aws.SECRET_ACCESS_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def dynamodb(aws: None) -> Any:
    return boto3.client("dynamodb", region_name=os.environ["AWS_DEFAULT_REGION"])


@pytest.fixture
def tables(dynamodb: Any) -> Tables:
    names = Tables()
    create_table(dynamodb, names.jobs, schema.JOBS_TABLE)
    create_table(dynamodb, names.sessions, schema.SESSIONS_TABLE)
    create_table(dynamodb, names.api_keys, schema.API_KEYS_TABLE)
    return names


@pytest.fixture
def enable_test_job_types() -> bool:
    """Override in a test module (or parametrize) to run with test job types off."""
    return True


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, tables: Tables, enable_test_job_types: bool
) -> dict[str, str]:
    values = {
        config.JOBS_TABLE_NAME: tables.jobs,
        config.SESSIONS_TABLE_NAME: tables.sessions,
        config.API_KEYS_TABLE_NAME: tables.api_keys,
        config.ENABLE_TEST_JOB_TYPES: "true" if enable_test_job_types else "false",
        config.MAX_RECEIVE_COUNT: "3",
        config.JOB_RETENTION_DAYS: "30",
        config.SESSION_DEFAULT_TTL_SECONDS: "3600",
        config.SERVICE_VERSION: "1.2.3-test",
        config.LOG_LEVEL: "DEBUG",
        config.SERVICE_NAME: "jobs-platform-test",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _fresh(module: ModuleType) -> Iterator[ModuleType]:
    """The handler module with its cached dependencies forgotten before and after (each
    handler builds them once per execution environment in `dependencies()`)."""
    module.dependencies.cache_clear()
    yield module
    module.dependencies.cache_clear()


@pytest.fixture
def api(env: dict[str, str]) -> Iterator[ModuleType]:
    from jobs_platform.handlers import api as module

    yield from _fresh(module)


@pytest.fixture
def authorizer(env: dict[str, str]) -> Iterator[ModuleType]:
    from jobs_platform.handlers import authorizer as module

    yield from _fresh(module)


@pytest.fixture
def worker(env: dict[str, str]) -> Iterator[ModuleType]:
    from jobs_platform.handlers import worker as module

    yield from _fresh(module)


@pytest.fixture
def job_store(dynamodb: Any, tables: Tables) -> JobStore:
    return JobStore(dynamodb, tables.jobs)


@pytest.fixture
def session_store(dynamodb: Any, tables: Tables) -> SessionStore:
    return SessionStore(dynamodb, tables.sessions)


@pytest.fixture
def api_key_store(dynamodb: Any, tables: Tables) -> ApiKeyStore:
    return ApiKeyStore(dynamodb, tables.api_keys)
