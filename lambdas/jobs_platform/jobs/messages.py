"""The messages of the jobs queue and of its dead-letter queue, and how to read them.

- A job's message: the jobs-table stream record the outbox pipe delivered (no input
  template); the worker reads the job's key from `dynamodb.Keys` (`job_key`).
- A pipe failure record: what EventBridge Pipes sends to the dead-letter queue once a
  batch could not be delivered within its retries. Like a Lambda stream event source's
  on-failure record, it says where the batch was in the stream (`DDBStreamBatchInfo`:
  stream, shard, first and last sequence number), not what it held (`PipeFailure`).
  `batch_job_records` reads the batch back from the stream (records live 24 hours) and
  keeps what the pipe would have delivered: the INSERTs of job items (the outbox filter,
  `is_job_insert`; a contract test compares it with the pipe's filter in Terraform).

Both the DLQ bookkeeping (handlers/bookkeeper.py) and `scripts/redrive` read DLQ messages
through `read`, so there is one statement of both formats.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from jobs_platform import schema

# The outbox pipe's filter: which stream records become job messages (terraform/modules/
# outbox: event_names and sort_key_prefix; tests/contract compares them).
OUTBOX_EVENT_NAMES = ("INSERT",)
OUTBOX_SORT_KEY_PREFIX = schema.JOB_PREFIX
# Reading a failed batch back: GetRecords pages at most (each up to 1,000 records).
MAX_STREAM_PAGES = 20


class UnreadableMessage(ValueError):
    """The message body is neither a job's stream record nor a pipe failure record."""


class JobMessage(NamedTuple):
    """A job's message: the stream record of the job item's INSERT."""

    pk: str
    sk: str


class PipeFailure(NamedTuple):
    """The pipe could not deliver the stream records `first`..`last` (sequence numbers)."""

    stream_arn: str
    shard_id: str
    first_sequence: str
    last_sequence: str

    def describe(self) -> str:
        return f"stream records {self.first_sequence}..{self.last_sequence} ({self.shard_id})"


def job_key(body: str) -> tuple[str, str]:
    """(pk, sk) of the job a job's message (a stream record) is about."""
    try:
        record = json.loads(body)
        keys = record["dynamodb"]["Keys"]
        pk, sk = keys["pk"]["S"], keys["sk"]["S"]
    except (ValueError, TypeError, KeyError) as exc:
        raise UnreadableMessage(f"not a stream record: {type(exc).__name__}") from None
    if not isinstance(pk, str) or not isinstance(sk, str):
        raise UnreadableMessage("stream record keys are not strings")
    return pk, sk


def receive_count(record: Mapping[str, Any]) -> int:
    """SQS's ApproximateReceiveCount of a record (1 when absent or malformed)."""
    try:
        return int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError):
        return 1


def read(body: str) -> JobMessage | PipeFailure:
    """What a dead-letter queue message is: a job's message or a pipe failure record."""
    try:
        record = json.loads(body)
    except ValueError:
        raise UnreadableMessage("not JSON") from None
    if isinstance(record, dict) and "DDBStreamBatchInfo" in record:
        info = record["DDBStreamBatchInfo"]
        try:
            fields = [
                info["streamArn"],
                info["shardId"],
                info["startSequenceNumber"],
                info["endSequenceNumber"],
            ]
        except (TypeError, KeyError) as exc:
            raise UnreadableMessage(f"pipe failure record without {exc}") from None
        if not all(isinstance(field, str) and field for field in fields):
            raise UnreadableMessage("pipe failure record with empty or non-string fields")
        if not (fields[2].isdigit() and fields[3].isdigit()):
            raise UnreadableMessage("pipe failure record with non-numeric sequence numbers")
        return PipeFailure(*fields)
    return JobMessage(*job_key(body))


def is_job_insert(record: Mapping[str, Any]) -> bool:
    """Would the outbox pipe deliver this stream record as a job's message?"""
    try:
        sk = record["dynamodb"]["Keys"][schema.SORT_KEY]["S"]
    except (KeyError, TypeError):
        return False
    return (
        record.get("eventName") in OUTBOX_EVENT_NAMES
        and isinstance(sk, str)
        and sk.startswith(OUTBOX_SORT_KEY_PREFIX)
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):  # the SDK parses ApproximateCreationDateTime
        return int(value.timestamp())
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def stream_record_body(record: Mapping[str, Any], stream_arn: str) -> str:
    """The message body the pipe delivers for a stream record (GetRecords' shape)."""
    return json.dumps({**record, "eventSourceARN": stream_arn}, default=_json_default)


def batch_job_records(streams: Any, failure: PipeFailure) -> list[dict[str, Any]]:
    """The job INSERT records of a failed pipe batch, read back from the table's stream
    (`streams`: a DynamoDB Streams client). Raises the client's error when the records
    are gone (TrimmedDataAccessException after 24 hours) or the shard is unknown."""
    first, last = int(failure.first_sequence), int(failure.last_sequence)
    iterator = streams.get_shard_iterator(
        StreamArn=failure.stream_arn,
        ShardId=failure.shard_id,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        # The API takes 21 to 40 digits (AWS's numbers have them; DynamoDB Local writes
        # shorter ones, and refuses them back unless padded): the same number.
        SequenceNumber=failure.first_sequence.zfill(21),
    ).get("ShardIterator")
    found: list[dict[str, Any]] = []
    seen_any = False
    for _ in range(MAX_STREAM_PAGES):
        if not iterator:
            break
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        records = page.get("Records", [])
        for record in records:
            seen_any = True
            sequence = int(record.get("dynamodb", {}).get("SequenceNumber", "0"))
            if sequence > last:
                return found
            if sequence >= first and is_job_insert(record):
                found.append(record)
        if not records and seen_any:  # caught up with an open shard: the batch is behind
            break
        iterator = page.get("NextShardIterator")
    return found
