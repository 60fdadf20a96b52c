"""The emulator's moto patches, against the real emulator process."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from scripts.local_stack.emulator import EmulatorProcess


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with EmulatorProcess() as emulator:
        yield emulator.endpoint


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service, region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip


def test_cancelled_transaction_leaves_the_stream_readable_and_unpolluted(endpoint: str) -> None:
    dynamodb, streams = client(endpoint, "dynamodb"), client(endpoint, "dynamodbstreams")
    table = dynamodb.create_table(
        TableName="t-stream",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]
    stream_arn = table["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
    )["ShardIterator"]
    dynamodb.put_item(TableName="t-stream", Item={"pk": {"S": "exists"}})

    # Given a transaction that is cancelled by its second write's condition
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t-stream", "Item": {"pk": {"S": "phantom"}}}},
                {
                    "Put": {
                        "TableName": "t-stream",
                        "Item": {"pk": {"S": "exists"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    # When a later write happens
    dynamodb.put_item(TableName="t-stream", Item={"pk": {"S": "after"}})

    # Then the open iterator sees the writes that happened, and nothing else
    page = streams.get_records(ShardIterator=iterator)
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]]
    assert keys == ["exists", "after"]


def test_redrive_policy_is_compact_json_like_aws(endpoint: str) -> None:
    sqs = client(endpoint, "sqs")
    dlq = sqs.create_queue(QueueName="p-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    queue = sqs.create_queue(QueueName="p-main", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    rendered = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["RedrivePolicy"])[
        "Attributes"
    ]["RedrivePolicy"]
    assert " " not in rendered
    assert json.loads(rendered)["maxReceiveCount"] == 3


def test_retried_identical_create_function_returns_the_function_not_a_conflict(
    endpoint: str,
) -> None:
    iam, lambda_client = client(endpoint, "iam"), client(endpoint, "lambda")
    role = iam.create_role(
        RoleName="fn-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    request = {
        "FunctionName": "retried",
        "Runtime": "python3.12",
        "Role": role,
        "Handler": "handler.handler",
        "Code": {"ZipFile": buffer.getvalue()},
    }
    first = lambda_client.create_function(**request)

    # A retry of the same request (its response lost) succeeds with the same function
    retried = lambda_client.create_function(**request)
    assert retried["FunctionArn"] == first["FunctionArn"]

    # A different function under the same name is still a conflict
    other = {**request, "Code": {"ZipFile": buffer.getvalue() + b"x"}}
    with pytest.raises(ClientError, match="ResourceConflict"):
        lambda_client.create_function(**other)
