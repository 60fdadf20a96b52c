"""EventBridge Pipes and Lambda SQS event source mapping emulation.

moto stores pipes and event source mappings but runs neither. These pollers read their
configuration back from the emulator and do what AWS does with it:

- `PipePoller`: DynamoDB stream -> filter (EventBridge pattern) -> SQS target. The
  message body is the stream record as Pipes delivers it (no input template). A record
  is only passed once the send succeeded (the pipe retries, it never skips).
- `QueuePoller`: SQS -> Lambda with the mapping's batch size and batching window; the
  whole batch fails on a function error; with `ReportBatchItemFailures` only the listed
  messages stay (invalid responses fail the whole batch, as Lambda does). Messages that
  stay become visible after the queue's visibility timeout; SQS (moto) moves them to the
  DLQ once `maxReceiveCount` receives are used.
- `ScheduleRunner`: EventBridge Scheduler -> Lambda: invokes a schedule's function target
  with its input, one run after the other (Scheduler invokes asynchronously; a function
  with reserved concurrency 1 runs one at a time), at the schedule's rate or, locally,
  every `period` seconds.

A fault can be injected while the stack runs: while the file `faults/pipe-target` exists
in the stack's state dir, the pipe's sends to its target fail (as when the target queue's
KMS key is disabled), so its retries run out and its failure records reach its DLQ.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts import fake_aws
from scripts.local_stack.runtime import InvocationError

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import EventSourceMappingConfigurationTypeDef
    from mypy_boto3_pipes import EventBridgePipesClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef


def matches(pattern: Any, value: Any) -> bool:
    """The subset of EventBridge event patterns the platform uses (and a bit more)."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(matches(p, value.get(k, _MISSING)) for k, p in pattern.items())
    if isinstance(pattern, list):
        return any(_match_leaf(p, value) for p in pattern)
    raise ValueError(f"invalid event pattern element: {pattern!r}")


_MISSING = object()


def _match_leaf(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict):
        (op, arg), *_ = rule.items()
        if op == "exists":
            return (value is not _MISSING) == bool(arg)
        if value is _MISSING:
            return False
        if op == "prefix":
            return isinstance(value, str) and value.startswith(arg)
        if op == "suffix":
            return isinstance(value, str) and value.endswith(arg)
        if op == "anything-but":
            return value not in (arg if isinstance(arg, list) else [arg])
        raise NotImplementedError(f"event pattern operator {op!r} is not emulated")
    return value is not _MISSING and value == rule


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


Recorder = Callable[[str, str], None]  # (IAM action, resource ARN) made with the role
Log = Callable[[str], None]
# (function name, event) -> the handler's result (JSON), or raises InvocationError.
Invoke = Callable[[str, dict[str, Any]], Any]


def _ignore(_action: str, _resource: str) -> None:
    pass


class StoppableThread(threading.Thread):
    def __init__(self, name: str, record: Recorder | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self.stopping = threading.Event()
        self.errors: list[str] = []
        # The calls AWS makes with the pipe's / function's role, for the IAM audit.
        self.record: Recorder = record or _ignore

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


class PipePoller(StoppableThread):
    # While this file exists, sends to the target fail (fault injection, see above).
    fault_file: Path | None = None
    shard_id = ""  # the shard of the batch being delivered (named by its failure record)

    def __init__(
        self,
        pipes: EventBridgePipesClient,
        streams: DynamoDBStreamsClient,
        sqs: SQSClient,
        pipe_name: str,
        log: Log,
        record: Recorder | None = None,
        fault_file: Path | None = None,
    ) -> None:
        super().__init__(name=f"pipe:{pipe_name}", record=record)
        self.fault_file = fault_file
        pipe = pipes.describe_pipe(Name=pipe_name)
        self.log = log
        self.streams, self.sqs = streams, sqs
        self.stream_arn = pipe["Source"]
        self.running = pipe.get("DesiredState", "RUNNING") == "RUNNING"
        params = pipe.get("SourceParameters", {})
        stream_params = params.get("DynamoDBStreamParameters", {})
        self.batch_size = int(stream_params.get("BatchSize", 100))
        # -1 (AWS's default) retries until the record expires; the platform caps it.
        self.max_retries = int(stream_params.get("MaximumRetryAttempts", -1))
        self.dlq_arn = stream_params.get("DeadLetterConfig", {}).get("Arn")
        self.starting_position = stream_params.get("StartingPosition", "LATEST")
        self.patterns = [
            json.loads(f["Pattern"]) for f in params.get("FilterCriteria", {}).get("Filters", [])
        ]
        target = pipe["Target"]
        queue_name = target.rsplit(":", 1)[1]
        self.queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self.queue_arn = target
        self.iterators: dict[str, str] = {}
        self.passed = 0
        self.filtered = 0
        # Take the starting position now, so records written after start-up are seen.
        self._refresh_shards()

    def _refresh_shards(self) -> None:
        self.record("dynamodb:DescribeStream", self.stream_arn)
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in self.iterators:
                self.record("dynamodb:GetShardIterator", self.stream_arn)
                self.iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType=self.starting_position,
                )["ShardIterator"]

    def accepts(self, record: dict[str, Any]) -> bool:
        return not self.patterns or any(matches(p, record) for p in self.patterns)

    def poll_once(self) -> int:
        delivered = 0
        for shard_id, iterator in list(self.iterators.items()):
            self.record("dynamodb:GetRecords", self.stream_arn)
            page = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            accepted = []
            for raw in page["Records"]:
                record = json.loads(json.dumps(raw, default=_json_default))
                record.setdefault("eventSourceARN", self.stream_arn)
                if self.accepts(record):
                    accepted.append(record)
                else:
                    self.filtered += 1
            self.shard_id = shard_id
            sent = self.deliver(accepted)
            delivered += sent
            self.passed += sent
            if page.get("NextShardIterator"):
                self.iterators[shard_id] = page["NextShardIterator"]
        return delivered

    def deliver(self, records: list[dict[str, Any]]) -> int:
        """Send a batch to the target (one SendMessageBatch), retrying the entries that
        failed up to the pipe's cap; then dead-letter those. Returns how many were sent."""
        pending = dict(enumerate(records))
        failures = 0
        sent = 0
        while pending and not self.stopping.is_set():
            try:
                if self.fault_file is not None and self.fault_file.exists():
                    raise ConnectionError(f"injected fault ({self.fault_file.name})")
                self.record("sqs:SendMessage", self.queue_arn)
                response = self.sqs.send_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(i), "MessageBody": json.dumps(record)}
                        for i, record in pending.items()
                    ],
                )
                for entry in response.get("Successful", []):
                    pending.pop(int(entry["Id"]), None)
                    sent += 1
                error = "; ".join(f.get("Message", "") for f in response.get("Failed", []))
            except Exception as exc:  # noqa: BLE001 - a pipe retries its target
                error = str(exc)
            if not pending:
                break
            failures += 1
            self.log(f"pipe: send to target failed ({failures}): {error}")
            if 0 <= self.max_retries < failures:
                self.dead_letter(list(pending.values()), error)
                return sent
            self.stopping.wait(0.2)
        return sent

    def dead_letter(self, records: list[dict[str, Any]], reason: str) -> None:
        """What Pipes sends to a DynamoDB-stream source's DLQ for a batch it gave up on
        (the format of a Lambda stream event source's on-failure record): where the
        batch is in the stream, not its records."""
        if not records:
            return
        if not self.dlq_arn:
            self.log(f"pipe: dropped {len(records)} record(s) (no DLQ): {reason}")
            return
        dlq_url = self.sqs.get_queue_url(QueueName=self.dlq_arn.rsplit(":", 1)[1])["QueueUrl"]
        self.record("sqs:SendMessage", self.dlq_arn)
        sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
        arrivals = [r["dynamodb"].get("ApproximateCreationDateTime") for r in records]
        failure = {
            "requestContext": {
                "condition": "RetryAttemptsExhausted",
                "errorMessage": reason,
                "approximateInvokeCount": self.max_retries + 1,
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": str(min(sequences)),
                "endSequenceNumber": str(max(sequences)),
                "approximateArrivalOfFirstRecord": arrivals[0],
                "approximateArrivalOfLastRecord": arrivals[-1],
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        self.sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps(failure))
        self.log(f"pipe: gave up on {len(records)} record(s); failure record sent to the DLQ")

    def run(self) -> None:
        while not self.stopping.is_set():
            if not self.running:
                self.stopping.wait(1)
                continue
            try:
                if self.poll_once() == 0:
                    self.stopping.wait(0.1)
            except Exception as exc:  # noqa: BLE001 - keep polling; the pipe would too
                self.errors.append(str(exc))
                self.log(f"pipe: poll failed: {exc}")
                self.stopping.wait(1)


class QueuePoller(StoppableThread):
    def __init__(
        self,
        sqs: SQSClient,
        mapping: EventSourceMappingConfigurationTypeDef,
        invoke: Invoke,
        log: Log,
        record: Recorder | None = None,
        lambda_client: LambdaClient | None = None,
    ) -> None:
        super().__init__(name=f"esm:{mapping['UUID']}", record=record)
        # Read again while running: a mapping disabled with UpdateEventSourceMapping stops
        # polling (its messages wait in the queue), as Lambda does, until enabled again.
        self.lambda_client = lambda_client
        self.uuid = mapping["UUID"]
        self.state_checked = time.monotonic()
        self.sqs, self.invoke, self.log = sqs, invoke, log
        self.function_name = mapping["FunctionArn"].rsplit(":", 1)[1]
        self.queue_arn = mapping["EventSourceArn"]
        self.queue_url = sqs.get_queue_url(QueueName=self.queue_arn.rsplit(":", 1)[1])["QueueUrl"]
        self.batch_size = int(mapping.get("BatchSize", 10))
        self.window_seconds = int(mapping.get("MaximumBatchingWindowInSeconds", 0))
        self.report_failures = "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", [])
        self.enabled = mapping.get("State", "Enabled") in ("Enabled", "Enabling", "Creating")
        self.invocations = 0

    def _receive_batch(self) -> list[MessageTypeDef]:
        messages: list[MessageTypeDef] = []
        deadline = time.monotonic() + self.window_seconds
        while len(messages) < self.batch_size and not self.stopping.is_set():
            self.record("sqs:ReceiveMessage", self.queue_arn)
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=1 if not messages else 0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            messages.extend(received)
            if not received and (messages or time.monotonic() >= deadline):
                break
            if time.monotonic() >= deadline and messages:
                break
        return messages

    def to_event(self, messages: list[MessageTypeDef]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": m.get("MessageAttributes", {}),
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": fake_aws.REGION,
                }
                for m in messages
            ]
        }

    def failed_ids(self, result: Any, batch_ids: set[str]) -> set[str]:
        """Lambda's partial batch response rules: anything malformed fails the batch."""
        if not self.report_failures or result is None:
            return set()
        if not isinstance(result, dict):
            return batch_ids
        failures = result.get("batchItemFailures") or []
        failed = set()
        for item in failures:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not identifier or identifier not in batch_ids:
                return batch_ids
            failed.add(identifier)
        return failed

    def process_once(self) -> int:
        messages = self._receive_batch()
        if not messages:
            return 0
        batch_ids = {m["MessageId"] for m in messages}
        self.invocations += 1
        try:
            result = self.invoke(self.function_name, self.to_event(messages))
        except InvocationError as exc:
            self.log(f"esm: {self.function_name} failed the batch of {len(messages)}: {exc}")
            return len(messages)  # nothing deleted: all come back after the visibility timeout
        failed = self.failed_ids(result, batch_ids)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.record("sqs:DeleteMessage", self.queue_arn)
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        return len(messages)

    def refresh_state(self, every: float = 1.0) -> None:
        if self.lambda_client is None or time.monotonic() - self.state_checked < every:
            return
        self.state_checked = time.monotonic()
        mapping = self.lambda_client.get_event_source_mapping(UUID=self.uuid)
        enabled = mapping.get("State", "Enabled") in ("Enabled", "Enabling", "Creating")
        if enabled != self.enabled:
            # Said once per poller, after its last batch: what a test waits on.
            self.log(f"esm {self.uuid} {'enabled' if enabled else 'disabled'}")
        self.enabled = enabled

    def run(self) -> None:
        self.log(f"esm {self.uuid} polling {self.queue_arn} for {self.function_name}")
        while not self.stopping.is_set():
            try:
                self.refresh_state()
            except Exception as exc:  # noqa: BLE001 - keep the last known state
                self.log(f"esm: reading the mapping failed: {exc}")
            if not self.enabled:
                self.stopping.wait(0.5)
                continue
            try:
                self.process_once()
            except Exception as exc:  # noqa: BLE001 - keep polling, as the ESM would
                self.errors.append(str(exc))
                self.log(f"esm: poll failed: {exc}")
                self.stopping.wait(1)


_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """The period of a `rate(...)` schedule expression; None for cron/at expressions."""
    match = _RATE.fullmatch(expression.strip())
    if not match:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


class ScheduleRunner(StoppableThread):
    def __init__(
        self,
        schedule: dict[str, Any],
        invoke: Any,
        log: Any,
        record: Recorder | None = None,
        period: float | None = None,
    ) -> None:
        super().__init__(name=f"schedule:{schedule['Name']}", record=record)
        self.invoke, self.log = invoke, log
        target = schedule["Target"]
        self.target_arn = target["Arn"]
        self.function_name = self.target_arn.rsplit(":", 1)[1]
        self.input = json.loads(target.get("Input") or "{}")
        self.enabled = schedule.get("State", "ENABLED") == "ENABLED"
        declared = rate_seconds(schedule["ScheduleExpression"])
        chosen = period or declared
        if chosen is None:
            raise NotImplementedError(
                f"schedule {schedule['Name']}: {schedule['ScheduleExpression']} is not emulated "
                "(only rate(...)); give the local stack a --schedule-period"
            )
        self.period = float(chosen)
        self.invocations = 0

    def run_once(self) -> None:
        # Scheduler invokes the target with the schedule's role (the IAM audit's record).
        self.record("lambda:InvokeFunction", self.target_arn)
        self.invocations += 1
        try:
            self.invoke(self.function_name, self.input)
        except InvocationError as exc:
            self.log(f"schedule: {self.function_name} failed: {exc}")

    def run(self) -> None:
        while not self.stopping.wait(self.period):
            if self.enabled:
                self.run_once()
