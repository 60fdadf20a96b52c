"""What `terraform apply` created in the emulator is what the code expects."""

from __future__ import annotations

import json

from jobs_platform import schema
from jobs_platform.handlers import api
from tests.e2e.conftest import Stack
from tests.helpers import FUNCTION_SETTINGS, env_vars_read_by


def test_deployed_tables_have_the_code_key_schema_ttl_and_stream(stack: Stack) -> None:
    dynamodb = stack.client("dynamodb")
    for output, expected in (
        ("jobs_table_name", schema.JOBS_TABLE),
        ("sessions_table_name", schema.SESSIONS_TABLE),
        ("api_keys_table_name", schema.API_KEYS_TABLE),
    ):
        name = stack.outputs[output]
        table = dynamodb.describe_table(TableName=name)["Table"]
        keys = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
        assert keys.get("HASH") == expected.partition_key, name
        assert keys.get("RANGE") == expected.sort_key, name
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl["AttributeName"] == expected.ttl_attribute, name
        indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
        assert set(indexes) == {i.name for i in expected.indexes}, name
        if expected.stream_view_type:
            assert table["StreamSpecification"]["StreamViewType"] == expected.stream_view_type


def test_deployed_routes_are_the_handlers_routes(stack: Stack) -> None:
    routes = stack.client("apigatewayv2").get_routes(ApiId=stack.outputs["api_id"])["Items"]
    assert {r["RouteKey"] for r in routes} - {"$default"} == set(api.ROUTES) - {"$default"}


def test_deployed_functions_get_exactly_the_env_vars_they_read(stack: Stack) -> None:
    lambda_client = stack.client("lambda")
    for key, name in stack.outputs["function_names"].items():
        variables = lambda_client.get_function_configuration(FunctionName=name)["Environment"][
            "Variables"
        ]
        assert set(variables) == env_vars_read_by(FUNCTION_SETTINGS[key]), key


def test_deployed_pipe_filters_job_inserts_into_the_jobs_queue(stack: Stack) -> None:
    pipe = stack.client("pipes").describe_pipe(Name=stack.outputs["pipe_name"])
    pattern = json.loads(pipe["SourceParameters"]["FilterCriteria"]["Filters"][0]["Pattern"])
    assert pattern == {
        "eventName": ["INSERT"],
        "dynamodb": {"Keys": {schema.SORT_KEY: {"S": [{"prefix": schema.JOB_PREFIX}]}}},
    }
    assert pipe["Target"] == stack.outputs["jobs_queue_arn"]
