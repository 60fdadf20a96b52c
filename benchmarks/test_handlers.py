"""`make bench`: each benchmark group pairs our code with a peer doing the bare minimum
the same request needs, in the same run, so the ratio (pytest-benchmark's parenthesised
column) is what our layer costs, independent of the machine's speed.

- submit-job: api handler POST /v1/jobs (decode, validate, one conditional transaction
  with quota and job) vs a bare put_item of the same job item.
- authorize: authorizer handler vs a bare get_item of the key record.
- cold-start: a fresh interpreter importing each handler (what a cold start pays before
  the first request) vs one importing boto3 and creating its DynamoDB client, which every
  Python function that talks to DynamoDB pays anyway.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from scripts.api_keys import create_api_key
from tests.conftest import Tables
from tests.helpers import api_event, authorizer_event

from jobs_platform import config

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.benchmark(group="submit-job")
def test_peer_bare_put_item(benchmark: Any, dynamodb: Any, tables: Tables) -> None:
    counter = iter(range(10**9))

    def put() -> None:
        n = next(counter)
        dynamodb.put_item(
            TableName=tables.jobs,
            Item={
                "pk": {"S": "TENANT#bench"},
                "sk": {"S": f"JOB#{n:026d}"},
                "type": {"S": "echo"},
                "status": {"S": "queued"},
                "payload": {"M": {"n": {"N": str(n)}}},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    benchmark.pedantic(put, rounds=200, warmup_rounds=5)


@pytest.mark.benchmark(group="submit-job")
def test_api_submit_job(benchmark: Any, api: ModuleType) -> None:
    event = api_event(
        "POST", "/v1/jobs", json_body={"type": "echo", "payload": {"n": 1}}, daily_job_quota=10**9
    )

    def submit() -> None:
        response = api.handler(event, None)
        assert response["statusCode"] == 202

    benchmark.pedantic(submit, rounds=200, warmup_rounds=5)


@pytest.mark.benchmark(group="authorize")
def test_peer_bare_get_item(benchmark: Any, dynamodb: Any, tables: Tables) -> None:
    dynamodb.put_item(TableName=tables.api_keys, Item={"pk": {"S": "KEY#x"}})
    benchmark.pedantic(
        dynamodb.get_item,
        kwargs={"TableName": tables.api_keys, "Key": {"pk": {"S": "KEY#x"}}},
        rounds=200,
        warmup_rounds=5,
    )


@pytest.mark.benchmark(group="authorize")
def test_authorizer(benchmark: Any, authorizer: ModuleType, tables: Tables) -> None:
    key, _ = create_api_key(tables.api_keys, "bench", "bench", 1000)
    event = authorizer_event(key)

    def authorize() -> None:
        assert authorizer.handler(event, None)["isAuthorized"] is True

    benchmark.pedantic(authorize, rounds=200, warmup_rounds=5)


def _fresh_interpreter(code: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT / "lambdas")},
    )


BOTO3_CLIENT = "import boto3; boto3.client('dynamodb', region_name='us-east-1')"


@pytest.mark.benchmark(group="cold-start")
def test_peer_cold_start_boto3_client(benchmark: Any, env: dict[str, str]) -> None:
    benchmark.pedantic(_fresh_interpreter, args=(BOTO3_CLIENT, env), rounds=8, iterations=1)


@pytest.mark.benchmark(group="cold-start")
@pytest.mark.parametrize("function", ["api", "authorizer", "worker"])
def test_cold_start_handler_import(benchmark: Any, env: dict[str, str], function: str) -> None:
    env = {**env, config.LOG_LEVEL: "INFO", "AWS_DEFAULT_REGION": "us-east-1"}
    code = f"import jobs_platform.handlers.{function}"
    benchmark.pedantic(_fresh_interpreter, args=(code, env), rounds=8, iterations=1)
