"""Move the jobs DLQ's messages back to the jobs queue: `make redrive` (scripts/redrive.py).

A dry run by default: it lists every message in the dead-letter queue with the job it
belongs to (tenant, id, status, why it failed) and what `--apply` would do, then makes the
messages visible again, changing nothing. With `--apply` it does it and says what it did:

- job `failed` with `dead_lettered` (the worker marked it before letting the message go):
  the job goes back to `queued` (a conditional update) and its message to the jobs queue;
- job `queued` or `running` (its message reached the DLQ and the DLQ bookkeeping has not
  run since): the message goes back; the worker claims a queued job, or a running one
  whose lease is over;
- job finished, missing or expired: nothing to redo, the message is deleted;
- anything else (an unparseable message, a job failed for its own reasons, a pipe
  failure record, which the DLQ bookkeeping replaces by its jobs' messages on its next
  run): left in the DLQ, and said so.

A message is sent to the jobs queue before it is deleted from the DLQ (at least once: the
worker's conditional claim makes a duplicate harmless).

Target: the local stack (`.local/emulator.json`, or `--state-dir`), or a deployed
environment from its Terraform outputs (`--terraform-outputs`: `terraform output -json`,
a file or - for stdin; `make redrive ENV=staging` pipes them) with the usual AWS
credentials. The queue URLs, the table name and the region are the outputs' own
(`jobs_dlq_url`, `jobs_queue_url`, `jobs_table_name`, the region of `jobs_queue_arn`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from jobs_platform.jobs import Job, JobStatus, JobStore, messages
from jobs_platform.jobs.transitions import DEAD_LETTERED
from scripts import fake_aws
from scripts.terraform_cli import read_output_values

REPO_ROOT = Path(__file__).resolve().parent.parent
HOLD_SECONDS = 60  # how long a listed message stays invisible while the tool decides
MAX_MESSAGES = 10_000
WAIT_FOR_HELD_SECONDS = 90.0  # messages another reader holds: the bookkeeping's hold


@dataclass(frozen=True)
class Target:
    dlq_url: str
    queue_url: str
    table_name: str
    endpoint: str | None
    region: str


@dataclass
class Entry:
    message: dict[str, Any]
    job: Job | None
    kind: str  # "job" | "unparseable" | "pipe"
    action: str  # "requeue" | "move" | "delete" | "leave"
    reason: str
    done: str = ""

    @property
    def message_id(self) -> str:
        return str(self.message["MessageId"])


# The Terraform outputs a target is made of (the local stack's `.local/emulator.json`
# holds them too).
TARGET_OUTPUTS = ("jobs_dlq_url", "jobs_queue_url", "jobs_table_name", "jobs_queue_arn")


def target_from_outputs(outputs: dict[str, Any], endpoint: str | None = None) -> Target:
    """The jobs queues and table named by an environment's Terraform outputs ({name: value});
    the region is the queue ARN's. `endpoint`: the local emulator's URL."""
    missing = [name for name in TARGET_OUTPUTS if not outputs.get(name)]
    if missing:
        raise SystemExit(
            f"error: the Terraform outputs lack {', '.join(missing)}: has the environment "
            "been applied? (make plan/apply ENV=...)"
        )
    return Target(
        dlq_url=str(outputs["jobs_dlq_url"]),
        queue_url=str(outputs["jobs_queue_url"]),
        table_name=str(outputs["jobs_table_name"]),
        endpoint=endpoint,
        region=str(outputs["jobs_queue_arn"]).split(":")[3],  # arn:aws:sqs:<region>:...
    )


def local_target(state_dir: Path) -> Target:
    path = state_dir / "emulator.json"
    if not path.exists():
        raise SystemExit(f"error: {path} is missing: start the local stack (make local), "
                         "or give a deployed environment's --terraform-outputs")  # fmt: skip
    details = json.loads(path.read_text())
    return target_from_outputs(details["outputs"], endpoint=details["emulator_endpoint"])


def clients(target: Target) -> tuple[Any, Any]:
    extra: dict[str, Any] = {"region_name": target.region}
    if target.endpoint:  # the local emulator: its fake credentials
        extra.update(endpoint_url=target.endpoint, aws_access_key_id=fake_aws.ACCESS_KEY_ID,
                     aws_secret_access_key=fake_aws.SECRET_ACCESS_KEY)  # fmt: skip
    return boto3.client("sqs", **extra), boto3.client("dynamodb", **extra)


def receive_all(
    sqs: Any, dlq_url: str, limit: int, wait_for_held: float = WAIT_FOR_HELD_SECONDS
) -> list[dict[str, Any]]:
    """Every message now in the DLQ (each held invisible for HOLD_SECONDS). Messages
    another reader holds (the DLQ bookkeeping peeks at them for a moment on each run)
    are waited for, at most `wait_for_held` seconds."""
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + wait_for_held
    while len(found) < limit:
        response = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=HOLD_SECONDS,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
        )
        batch = response.get("Messages", [])
        for message in batch:
            found.setdefault(message["MessageId"], message)
        if batch:
            continue
        # Counted after the empty answer, visible ones too: a message another reader
        # made visible again in between is still to be received, not missed.
        attributes = sqs.get_queue_attributes(
            QueueUrl=dlq_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        in_queue = sum(int(attributes[name]) for name in attributes)
        if in_queue <= len(found) or time.monotonic() > deadline:
            break
        time.sleep(1)
    return list(found.values())


def classify(message: dict[str, Any], jobs: JobStore) -> Entry:
    try:
        parsed = messages.read(message["Body"])
    except messages.UnreadableMessage as exc:
        return Entry(message, None, "unparseable", "leave", str(exc))
    if isinstance(parsed, messages.PipeFailure):
        return Entry(message, None, "pipe", "leave",
                     f"the outbox pipe could not deliver {parsed.describe()}; the DLQ "
                     "bookkeeping marks their jobs failed and replaces this record by "
                     "their messages on its next run")  # fmt: skip
    pk, sk = parsed.pk, parsed.sk
    job = jobs.load_by_key(pk, sk)
    if job is None:
        return Entry(message, None, "job", "delete", f"job {sk} missing or expired")
    if job.status is JobStatus.FAILED:
        code = (job.error or {}).get("code")
        if code == DEAD_LETTERED:
            return Entry(message, job, "job", "requeue", "dead-lettered")
        return Entry(message, job, "job", "leave", f"failed ({code}): not a delivery problem")
    if job.status in (JobStatus.SUCCEEDED, JobStatus.CANCELLED):
        return Entry(message, job, "job", "delete", f"already {job.status.value}")
    return Entry(message, job, "job", "move", f"still {job.status.value}")


def apply(entry: Entry, sqs: Any, jobs: JobStore, target: Target) -> None:
    handle = entry.message["ReceiptHandle"]
    if entry.action == "leave":
        sqs.change_message_visibility(
            QueueUrl=target.dlq_url, ReceiptHandle=handle, VisibilityTimeout=0
        )
        entry.done = "left in the DLQ"
        return
    if entry.action == "delete":
        sqs.delete_message(QueueUrl=target.dlq_url, ReceiptHandle=handle)
        entry.done = "deleted (nothing to redo)"
        return
    if entry.action == "requeue":
        assert entry.job is not None
        if jobs.requeue(entry.job) is None:
            current = jobs.load(entry.job.tenant_id, entry.job.job_id)
            state = current.status.value if current else "gone"
            sqs.change_message_visibility(
                QueueUrl=target.dlq_url, ReceiptHandle=handle, VisibilityTimeout=0
            )
            entry.done = f"left: the job changed meanwhile (now {state})"
            return
    sqs.send_message(QueueUrl=target.queue_url, MessageBody=entry.message["Body"])
    sqs.delete_message(QueueUrl=target.dlq_url, ReceiptHandle=handle)
    entry.done = "job queued again, message moved" if entry.action == "requeue" else "moved"


def describe(entry: Entry) -> str:
    job = entry.job
    who = f"job {job.job_id} (tenant {job.tenant_id}, {job.status.value})" if job else entry.kind
    plan = {"requeue": "queue the job again and move the message", "move": "move the message",
            "delete": "delete the message", "leave": "leave it"}[entry.action]  # fmt: skip
    outcome = entry.done or f"would {plan}"
    return f"  {entry.message_id}  {who}: {entry.reason} -> {outcome}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apply", action="store_true", help="do it (default: a dry run)")
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".local")
    parser.add_argument("--terraform-outputs", type=Path, help="a deployed environment's "
                        "`terraform output -json` (a file, or - for stdin; default: the local "
                        "stack)")  # fmt: skip
    parser.add_argument("--max", type=int, default=MAX_MESSAGES, help="messages at most")
    args = parser.parse_args(argv)
    target = (
        local_target(args.state_dir)
        if args.terraform_outputs is None
        else target_from_outputs(read_output_values(args.terraform_outputs))
    )
    sqs, dynamodb = clients(target)
    jobs = JobStore(dynamodb, target.table_name)
    messages = receive_all(sqs, target.dlq_url, args.max)
    entries = [classify(message, jobs) for message in messages]
    mode = "apply" if args.apply else "dry run"
    print(f"redrive ({mode}): {len(entries)} message(s) in {target.dlq_url}")
    for entry in entries:
        if args.apply:
            apply(entry, sqs, jobs, target)
        else:
            sqs.change_message_visibility(
                QueueUrl=target.dlq_url,
                ReceiptHandle=entry.message["ReceiptHandle"],
                VisibilityTimeout=0,
            )
        print(describe(entry))
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.action] = counts.get(entry.action, 0) + 1
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing"
    if args.apply:
        print(f"done: {summary}")
    else:
        print(f"would: {summary}; run with --apply (make redrive REDRIVE_ARGS=--apply) to do it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
