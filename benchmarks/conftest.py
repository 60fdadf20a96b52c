"""Benchmarks reuse the functional tests' fixtures (moto in-process, tables, env)."""

from tests.conftest import (  # noqa: F401 - fixtures
    api,
    authorizer,
    aws,
    dynamodb,
    enable_test_job_types,
    env,
    tables,
)
