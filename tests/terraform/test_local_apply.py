"""Apply the root module with environments/local.tfvars into the emulator (moto server),
check the key resources through the AWS APIs, and check that a second plan is empty.

One emulator and one apply for the whole module (xdist group ``terraform_apply``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from scripts import environments as envs
from scripts import fake_aws
from scripts.local_stack.emulator import EmulatorProcess
from scripts.local_stack.terraform import LocalTerraform

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "dist" / "artifacts.tfvars.json"
VAR_FILES = ["environments/local.tfvars", "dist/artifacts.tfvars.json"]

pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("terraform_apply")]

# docs/architecture.md "Routes": route key -> guarded by the authorizer.
EXPECTED_ROUTES = {
    "GET /health": False,
    "POST /v1/jobs": True,
    "GET /v1/jobs": True,
    "GET /v1/jobs/{job_id}": True,
    "GET /v1/usage": True,
    "DELETE /v1/jobs/{job_id}": True,
    "PUT /v1/sessions/{session_id}": True,
    "GET /v1/sessions/{session_id}": True,
    "DELETE /v1/sessions/{session_id}": True,
    "$default": True,
}
# docs/architecture.md "Outbox and worker".
EXPECTED_PIPE_FILTER = {
    "eventName": ["INSERT"],
    "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "JOB#"}]}}},
}


@dataclass
class AppliedStack:
    endpoint: str
    terraform: LocalTerraform
    outputs: dict[str, Any]
    tfvars: dict[str, Any]
    apply_seconds: float

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=fake_aws.REGION,
            aws_access_key_id=fake_aws.ACCESS_KEY_ID,
            aws_secret_access_key=fake_aws.SECRET_ACCESS_KEY,
        )


def _ensure_artifacts() -> None:
    if ARTIFACTS.exists():
        return
    subprocess.run([sys.executable, "-m", "scripts.package"], cwd=REPO_ROOT, check=True)
    assert ARTIFACTS.exists(), "scripts.package did not write dist/artifacts.tfvars.json"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppliedStack]:
    _ensure_artifacts()
    work = tmp_path_factory.mktemp("local-apply")
    tfvars = {name: a.value for name, a in envs.tfvars("local", REPO_ROOT).items()}
    with EmulatorProcess(log_path=work / "emulator.log") as emulator:
        # Own data dir: never collides with `make local` (.local/terraform) or e2e runs.
        terraform = LocalTerraform(emulator.endpoint, REPO_ROOT, data_dir=work / "terraform")
        terraform.init()
        start = time.monotonic()
        terraform.apply(VAR_FILES)
        apply_seconds = time.monotonic() - start
        yield AppliedStack(emulator.endpoint, terraform, terraform.output(), tfvars, apply_seconds)


def test_outputs_name_every_resource(stack: AppliedStack) -> None:
    outputs = stack.outputs
    prefix = "jobs-platform-local"

    assert outputs["jobs_table_name"] == f"{prefix}-jobs"
    assert outputs["sessions_table_name"] == f"{prefix}-sessions"
    assert outputs["api_keys_table_name"] == f"{prefix}-api-keys"
    assert outputs["jobs_queue_url"].endswith(f"/{prefix}-jobs")
    assert outputs["jobs_dlq_url"].endswith(f"/{prefix}-jobs-dlq")
    assert outputs["pipe_name"] == f"{prefix}-outbox"
    assert outputs["function_names"] == {
        "api": f"{prefix}-api",
        "authorizer": f"{prefix}-authorizer",
        "bookkeeper": f"{prefix}-bookkeeper",
        "worker": f"{prefix}-worker",
    }
    assert outputs["api_id"] and outputs["api_endpoint"]


def test_api_routes_match_the_architecture(stack: AppliedStack) -> None:
    apigw = stack.client("apigatewayv2")
    routes = apigw.get_routes(ApiId=stack.outputs["api_id"])["Items"]

    assert {r["RouteKey"]: r["AuthorizationType"] == "CUSTOM" for r in routes} == EXPECTED_ROUTES
    integrations = apigw.get_integrations(ApiId=stack.outputs["api_id"])["Items"]
    assert {i["PayloadFormatVersion"] for i in integrations} == {"2.0"}
    assert all(
        i["IntegrationUri"].endswith(":function:jobs-platform-local-api/invocations")
        or "jobs-platform-local-api" in i["IntegrationUri"]
        for i in integrations
    )


def test_authorizer_is_a_lambda_request_authorizer_on_the_api_key(stack: AppliedStack) -> None:
    apigw = stack.client("apigatewayv2")
    routes = apigw.get_routes(ApiId=stack.outputs["api_id"])["Items"]
    [authorizer_id] = {r["AuthorizerId"] for r in routes if r.get("AuthorizerId")}
    authorizer = apigw.get_authorizer(ApiId=stack.outputs["api_id"], AuthorizerId=authorizer_id)

    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == ["$request.header.x-api-key"]
    assert authorizer["AuthorizerPayloadFormatVersion"] == "2.0"
    assert authorizer["EnableSimpleResponses"] is True
    assert "jobs-platform-local-authorizer" in authorizer["AuthorizerUri"]


def test_worker_consumes_the_jobs_queue_with_partial_batch_failures(stack: AppliedStack) -> None:
    lam = stack.client("lambda")
    worker = stack.outputs["function_names"]["worker"]
    mappings = lam.list_event_source_mappings(EventSourceArn=stack.outputs["jobs_queue_arn"])
    [mapping] = mappings["EventSourceMappings"]

    assert mapping["FunctionArn"].endswith(f":function:{worker}")
    assert mapping["BatchSize"] == stack.tfvars["worker_batch_size"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    config = lam.get_function_configuration(FunctionName=worker)
    assert config["Runtime"] == "python3.12"
    assert config["Architectures"] == ["arm64"]
    assert config["TracingConfig"]["Mode"] == "Active"
    assert config["Timeout"] == stack.tfvars["worker_timeout_seconds"]
    assert config["Environment"]["Variables"]["MAX_RECEIVE_COUNT"] == str(
        stack.tfvars["max_receive_count"]
    )


def test_outbox_pipe_forwards_new_job_items_only(stack: AppliedStack) -> None:
    pipe = stack.client("pipes").describe_pipe(Name=stack.outputs["pipe_name"])
    stream = pipe["SourceParameters"]["DynamoDBStreamParameters"]
    [pattern] = pipe["SourceParameters"]["FilterCriteria"]["Filters"]

    assert pipe["Source"] == stack.outputs["jobs_table_stream_arn"]
    assert pipe["Target"] == stack.outputs["jobs_queue_arn"]
    assert stream["StartingPosition"] == "LATEST"
    assert json.loads(pattern["Pattern"]) == EXPECTED_PIPE_FILTER


def test_jobs_table_schema_ttl_and_stream(stack: AppliedStack) -> None:
    ddb = stack.client("dynamodb")
    name = stack.outputs["jobs_table_name"]
    table = ddb.describe_table(TableName=name)["Table"]

    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "KEYS_ONLY",
    }
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "status-index"
    assert {k["AttributeName"]: k["KeyType"] for k in index["KeySchema"]} == {
        "tenant_status": "HASH",
        "sk": "RANGE",
    }
    assert table["SSEDescription"]["SSEType"] == "KMS"
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_sessions_and_api_keys_tables_keys(stack: AppliedStack) -> None:
    ddb = stack.client("dynamodb")

    def keys(name: str) -> dict[str, str]:
        table = ddb.describe_table(TableName=name)["Table"]
        return {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]}

    assert keys(stack.outputs["sessions_table_name"]) == {"pk": "HASH", "sk": "RANGE"}
    assert keys(stack.outputs["api_keys_table_name"]) == {"pk": "HASH"}


def test_jobs_queue_redrives_to_the_dlq(stack: AppliedStack) -> None:
    sqs = stack.client("sqs")
    attrs = sqs.get_queue_attributes(
        QueueUrl=stack.outputs["jobs_queue_url"], AttributeNames=["All"]
    )["Attributes"]
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=stack.outputs["jobs_dlq_url"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]

    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": stack.tfvars["max_receive_count"],
    }
    assert int(attrs["VisibilityTimeout"]) == stack.tfvars["queue_visibility_timeout_seconds"]
    assert attrs["KmsMasterKeyId"] == "alias/jobs-platform-local"


def test_second_plan_has_no_changes(stack: AppliedStack) -> None:
    # Given the applied stack, when terraform plans again with the same inputs,
    # then there is nothing to change (exit code 0, not 2).
    code = stack.terraform.plan(VAR_FILES)

    changes = [
        line
        for line in stack.terraform.last_plan_stdout.splitlines()
        if line.lstrip().startswith(("#", "+", "-", "~")) or "Plan:" in line
    ]
    assert code == 0, "\n".join(changes)


def test_apply_from_scratch_is_fast(stack: AppliedStack) -> None:
    # The floor is the AWS provider's fixed SQS propagation wait (6 reads, 5 s apart) for
    # the DLQ then the queue: ~50 s. Guard against regressions (serialised waits).
    limit = float(os.environ.get("LOCAL_APPLY_MAX_SECONDS", "90"))
    assert stack.apply_seconds < limit, f"apply took {stack.apply_seconds:.0f} s"


def test_alarms_notify_the_kms_encrypted_topic_and_the_dashboard_exists(
    stack: AppliedStack,
) -> None:
    # Given the applied stack, when the alarms, the topic and the dashboard are read back
    prefix = "jobs-platform-local"
    topic_arn = stack.outputs["alarm_topic_arn"]
    topic = stack.client("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    alarms = {
        a["AlarmName"]: a
        for page in stack.client("cloudwatch")
        .get_paginator("describe_alarms")
        .paginate(AlarmNamePrefix=prefix)
        for a in page["MetricAlarms"]
    }

    # Then the topic is SSE-KMS with the environment's CMK
    assert topic["KmsMasterKeyId"] == stack.outputs["kms_key_arn"]
    # and every function, queue, table, the API and the pipe have their alarms
    expected = {
        *(
            f"{prefix}-{f}-{m}"
            for f in ("api", "authorizer", "worker", "bookkeeper")
            for m in ("errors", "throttles", "duration-p99")
        ),
        f"{prefix}-jobs-age-of-oldest-message",
        f"{prefix}-jobs-dlq-visible-messages",
        *(
            f"{prefix}-{t}-{m}"
            for t in ("jobs", "sessions", "api-keys")
            for m in ("throttled-requests", "system-errors")
        ),
        f"{prefix}-api-5xx-rate",
        f"{prefix}-api-latency-p99",
        f"{prefix}-outbox-failures",
        f"{prefix}-jobs-failure-rate",
        f"{prefix}-jobs-submit-to-terminal-p99",
    }
    assert set(alarms) == expected
    # and every alarm notifies the topic on ALARM and on OK
    assert all(a["AlarmActions"] == [topic_arn] == a["OKActions"] for a in alarms.values())
    assert alarms[f"{prefix}-worker-errors"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": f"{prefix}-worker"}
    ]
    # and the environment has its dashboard
    dashboard = stack.client("cloudwatch").get_dashboard(
        DashboardName=stack.outputs["dashboard_name"]
    )
    assert len(json.loads(dashboard["DashboardBody"])["widgets"]) == 17
