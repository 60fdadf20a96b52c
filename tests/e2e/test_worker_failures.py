"""Failure handling with Lambda + SQS semantics: retries, maxReceiveCount, the DLQ."""

from __future__ import annotations

import json
import time

from tests.e2e.conftest import Stack


def queue_depth(stack: Stack, queue_url: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def dlq_bodies(stack: Stack) -> list[str]:
    sqs = stack.client("sqs")
    response = sqs.receive_message(
        QueueUrl=stack.outputs["jobs_dlq_url"], MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return [m["Body"] for m in response.get("Messages", [])]


def test_failing_job_fails_after_max_receive_count_and_poison_message_reaches_dlq(
    stack: Stack,
) -> None:
    sqs = stack.client("sqs")
    queue_url = stack.outputs["jobs_queue_url"]
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]["RedrivePolicy"]
    )
    max_receive_count = int(redrive["maxReceiveCount"])

    # Given a job that always fails, and a message the worker cannot even parse
    job = stack.submit("fail", {"reason": "e2e"}).json()
    sqs.send_message(QueueUrl=queue_url, MessageBody="not a stream record")

    # When the worker has used every receive
    visibility = int(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])[
            "Attributes"
        ]["VisibilityTimeout"]
    )
    budget = (max_receive_count + 1) * visibility + 30
    failed = stack.wait_for_job(job["job_id"], {"failed", "succeeded"}, timeout=budget)

    # Then the job is failed after exactly maxReceiveCount attempts, its message deleted
    assert failed["status"] == "failed"
    assert failed["attempts"] == max_receive_count
    assert failed["error"]

    # And the poison message ends in the DLQ (moved on the receive after the last one)
    deadline = time.monotonic() + budget
    while "not a stream record" not in dlq_bodies(stack):
        assert time.monotonic() < deadline, "poison message never reached the DLQ"
        time.sleep(1)
    assert queue_depth(stack, queue_url) == 0
    assert all(job["job_id"] not in body for body in dlq_bodies(stack))
