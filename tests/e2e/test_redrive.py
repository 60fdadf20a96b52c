"""scripts/redrive on the local stack: a dry run lists the DLQ's messages with their jobs
and changes nothing; --apply queues dead-lettered jobs again and moves their messages
back; the jobs then run and finish."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from jobs_platform import schema
from jobs_platform.jobs import JobStatus, JobStore
from tests.e2e.conftest import Stack

REPO_ROOT = Path(__file__).resolve().parents[2]


def stream_record_body(job_sk: str, tenant_id: str) -> str:
    """The message the outbox pipe puts on the jobs queue for a job (a stream record)."""
    keys = {"pk": {"S": schema.tenant_pk(tenant_id)}, "sk": {"S": job_sk}}
    return json.dumps({"eventName": "INSERT", "dynamodb": {"Keys": keys}})


def redrive(stack: Stack, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "scripts.redrive", "--state-dir", str(stack.state_dir), *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def dlq_depth(stack: Stack) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["jobs_dlq_url"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_redrive_lists_then_moves_dead_lettered_jobs_which_then_finish(stack: Stack) -> None:
    key = stack.mint_key("redrive")
    jobs = JobStore(stack.client("dynamodb"), stack.outputs["jobs_table_name"])
    sqs = stack.client("sqs")
    # Given two jobs as the worker leaves them when their messages go to the DLQ (how
    # they get there is the worker's tests and the fault table): one failed with
    # dead_lettered, one still queued (its message got there without the bookkeeping).
    created = [
        jobs.submit(tenant_id="redrive", job_type="echo", payload={"n": i}, daily_quota=10).job
        for i in range(2)
    ]
    # The real pipe delivers them to the worker at once: let them finish, then set them
    # to those states, with their messages in the DLQ.
    for job in created:
        stack.wait_for_job(job.job_id, {"succeeded"}, api_key=key)
    table = stack.outputs["jobs_table_name"]
    dynamodb = stack.client("dynamodb")
    for job, status in zip(created, ("failed", "queued"), strict=True):
        dynamodb.update_item(
            TableName=table,
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
                ":ts": {"S": f"redrive#{status}"},
                ":e": {"M": {"code": {"S": "dead_lettered"}, "message": {"S": "test"}}},
            },
        )
        sqs.send_message(
            QueueUrl=stack.outputs["jobs_dlq_url"],
            MessageBody=stream_record_body(schema.job_sk(job.job_id), "redrive"),
        )
    sqs.send_message(QueueUrl=stack.outputs["jobs_dlq_url"], MessageBody="not json")

    # When a dry run looks: it names each job and what it would do, and changes nothing
    listing = redrive(stack)
    for job in created:
        assert job.job_id in listing
    assert "would queue the job again and move the message" in listing
    assert "would move the message" in listing and "not JSON" in listing
    assert dlq_depth(stack) == 3
    assert jobs.get("redrive", created[0].job_id).status is JobStatus.FAILED

    # Then --apply moves them back; the jobs run again and finish; the junk stays
    done = redrive(stack, "--apply")
    assert "job queued again, message moved" in done and "moved" in done
    for job in created:
        finished = stack.wait_for_job(job.job_id, {"succeeded", "failed"}, api_key=key)
        assert finished["status"] == "succeeded", finished
        assert finished["result"] == job.payload
    deadline = time.monotonic() + 60
    while dlq_depth(stack) != 1:
        assert time.monotonic() < deadline, "the DLQ should hold only the unparseable message"
        time.sleep(0.5)
