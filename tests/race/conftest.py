"""Race tests: real concurrency against DynamoDB Local (AWS's engine), not moto.

moto's DynamoDB is not atomic under concurrency (racing ADDs and conditional
read-modify-writes lose updates), so these tests start DynamoDB Local once per session
(scripts/dynamodb_local.py) and race threads through the real domain code. If it cannot
start, every test here FAILS (never skips): these tests must run on developers' machines
and in CI. Every test is marked `race` and `xdist_group("dynamodb_local")`, so under
`-n 2 --dist loadgroup` they share one worker and one DynamoDB Local.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from scripts import fake_aws
from scripts.dynamodb_local import DynamoDBLocal, DynamoDBLocalError

from jobs_platform import schema
from jobs_platform.clock import utc_now
from tests.helpers import create_table

HERE = Path(__file__).parent
RACE_TIMEOUT_SECONDS = 60
MAX_THREADS = 32


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.race)
            item.add_marker(pytest.mark.xdist_group("dynamodb_local"))


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    server = DynamoDBLocal()
    try:
        server.start()
    except DynamoDBLocalError as exc:
        pytest.fail(f"DynamoDB Local could not start (race tests never skip): {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def race_client(dynamodb_local: DynamoDBLocal) -> Any:
    """One thread-safe client, a connection per racing thread, fake credentials (never
    the caller's), the SDK's default retries (as the Lambda functions have)."""
    return boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_local.endpoint,
        region_name=fake_aws.REGION,
        aws_access_key_id=fake_aws.ACCESS_KEY_ID,
        aws_secret_access_key=fake_aws.SECRET_ACCESS_KEY,
        config=Config(max_pool_connections=MAX_THREADS * 2, connect_timeout=5, read_timeout=30),
    )


@dataclass(frozen=True)
class RaceTables:
    jobs: str
    sessions: str


@pytest.fixture(scope="session")
def race_tables(race_client: Any) -> RaceTables:
    suffix = uuid.uuid4().hex[:8]
    tables = RaceTables(jobs=f"race-jobs-{suffix}", sessions=f"race-sessions-{suffix}")
    create_table(race_client, tables.jobs, schema.JOBS_TABLE)
    create_table(race_client, tables.sessions, schema.SESSIONS_TABLE)
    return tables


@pytest.fixture(scope="session")
def frozen_clock() -> Callable[[], datetime]:
    """One instant for the whole session: the quota day cannot roll over mid-race."""
    moment = utc_now()
    return lambda: moment


@pytest.fixture
def tenant() -> str:
    """A tenant of its own per test: tests share the tables, never their items."""
    return f"tenant-{uuid.uuid4().hex[:12]}"


def race[T](count: int, action: Callable[[int], T]) -> list[T | Exception]:
    """Run `action(0..count-1)` on `count` threads released together by a barrier; each
    outcome is the return value or the exception raised. Bounded: fails after a minute."""
    assert count <= MAX_THREADS
    barrier = threading.Barrier(count)

    def run(index: int) -> T | Exception:
        barrier.wait(timeout=RACE_TIMEOUT_SECONDS)
        try:
            return action(index)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            return exc

    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="racer") as pool:
        futures = [pool.submit(run, index) for index in range(count)]
        return [future.result(timeout=RACE_TIMEOUT_SECONDS) for future in futures]
