"""scripts/redrive on the local stack: a dry run lists the DLQ's messages with their jobs
and changes nothing; --apply queues dead-lettered jobs again and moves their messages
back; the jobs then run and finish."""

from __future__ import annotations

import json
import time
from pathlib import Path

from jobs_platform import schema
from jobs_platform.jobs import Job, JobStatus, JobStore
from tests.e2e.conftest import Stack

REPO_ROOT = Path(__file__).resolve().parents[2]


def stream_record_body(job_sk: str, tenant_id: str) -> str:
    """The message the outbox pipe puts on the jobs queue for a job (a stream record)."""
    keys = {"pk": {"S": schema.tenant_pk(tenant_id)}, "sk": {"S": job_sk}}
    return json.dumps({"eventName": "INSERT", "dynamodb": {"Keys": keys}})


def dlq_depth(stack: Stack) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["jobs_dlq_url"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def set_status(stack: Stack, job: Job, status: str) -> None:
    """Put a finished job back in `status` (with a dead_lettered error), as if its message
    had reached the DLQ then."""
    stack.client("dynamodb").update_item(
        TableName=stack.outputs["jobs_table_name"],
        Key=job.key,
        UpdateExpression="SET #s = :s, #ts = :ts, #e = :e REMOVE #r",
        ExpressionAttributeNames={
            "#s": "status",
            "#ts": "tenant_status",
            "#e": "error",
            "#r": "result",
        },
        ExpressionAttributeValues={
            ":s": {"S": status},
            ":ts": {"S": f"{job.tenant_id}#{status}"},
            ":e": {"M": {"code": {"S": "dead_lettered"}, "message": {"S": "test"}}},
        },
    )


def test_redrive_lists_then_moves_dead_lettered_jobs_which_then_finish(stack: Stack) -> None:
    key = stack.mint_key("redrive")
    jobs = JobStore(stack.client("dynamodb"), stack.outputs["jobs_table_name"])
    sqs = stack.client("sqs")
    # Given three jobs with a message in the DLQ (how they get there is the worker's
    # tests, the bookkeeping's and the fault table): one failed with dead_lettered, one
    # still queued (its message got there without the worker's bookkeeping), one that
    # succeeded (a duplicate message); and a message that is no job's.
    created = [
        jobs.submit(tenant_id="redrive", job_type="echo", payload={"n": i}, daily_quota=10).job
        for i in range(3)
    ]
    # The real pipe delivers them to the worker at once: let them finish first.
    for job in created:
        stack.wait_for_job(job.job_id, {"succeeded"}, api_key=key)
    for job, status in zip(created, ("failed", "queued"), strict=False):
        set_status(stack, job, status)
    for job in created:
        sqs.send_message(
            QueueUrl=stack.outputs["jobs_dlq_url"],
            MessageBody=stream_record_body(schema.job_sk(job.job_id), "redrive"),
        )
    sqs.send_message(QueueUrl=stack.outputs["jobs_dlq_url"], MessageBody="not json")

    # The DLQ bookkeeping (every few seconds locally) marks the queued one failed
    deadline = time.monotonic() + 120
    while (queued := jobs.get("redrive", created[1].job_id)).status is not JobStatus.FAILED:
        assert time.monotonic() < deadline, "the DLQ bookkeeping did not mark the queued job"
        time.sleep(0.5)
    assert queued.error is not None and queued.error["code"] == "dead_lettered"

    # When a dry run looks: it names each job and what it would do, and changes nothing
    listing = stack.redrive()
    lines = {job.job_id: line for job in created for line in listing.splitlines()
             if job.job_id in line}  # fmt: skip
    assert len(lines) == len(created), listing
    assert "would queue the job again and move the message" in lines[created[0].job_id]
    assert "would queue the job again and move the message" in lines[created[1].job_id]
    assert "already succeeded -> would delete the message" in lines[created[2].job_id]
    assert "not JSON" in listing
    assert dlq_depth(stack) == 4
    assert jobs.get("redrive", created[0].job_id).status is JobStatus.FAILED

    # Then --apply moves them back; the jobs run again and finish; the junk stays
    done = stack.redrive("--apply")
    assert "job queued again, message moved" in done and "deleted (nothing to redo)" in done
    for job in created:
        finished = stack.wait_for_job(job.job_id, {"succeeded", "failed"}, api_key=key)
        assert finished["status"] == "succeeded", finished
        assert finished["result"] == job.payload
    deadline = time.monotonic() + 60
    while dlq_depth(stack) != 1:
        assert time.monotonic() < deadline, "the DLQ should hold only the unparseable message"
        time.sleep(0.5)
