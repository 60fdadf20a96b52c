"""AWS SDK calls become X-Ray subsegments of the invocation's segment (sampled only)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from jobs_platform import tracing
from tests.conftest import Tables

ROOT = "1-65a1b2c3-0123456789abcdef01234567"
PARENT = "53995c3f42cd8ad8"


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A stand-in X-Ray daemon on loopback."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    monkeypatch.setenv(tracing.DAEMON_ADDRESS_ENV, f"127.0.0.1:{sock.getsockname()[1]}")
    yield sock
    sock.close()


def _received(sock: socket.socket) -> dict[str, Any]:
    header, _, body = sock.recv(65536).partition(b"\n")
    assert json.loads(header) == {"format": "json", "version": 1}
    document: dict[str, Any] = json.loads(body)
    return document


def test_sdk_calls_are_sent_as_subsegments_of_the_invocation(
    daemon: socket.socket, tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tracing.TRACE_HEADER_ENV, f"Root={ROOT};Parent={PARENT};Sampled=1")
    client = tracing.instrument(boto3.client("dynamodb"))
    item = {"pk": {"S": "TENANT#t"}, "sk": {"S": "JOB#1"}}
    client.put_item(TableName=tables.jobs, Item=item)
    with pytest.raises(ClientError):
        client.put_item(
            TableName=tables.jobs, Item=item, ConditionExpression="attribute_not_exists(pk)"
        )

    ok, failed = _received(daemon), _received(daemon)
    for document in (ok, failed):
        assert document["type"] == "subsegment" and document["namespace"] == "aws"
        assert document["trace_id"] == ROOT and document["parent_id"] == PARENT
        assert document["name"] == "DynamoDB"
        assert document["aws"]["operation"] == "PutItem"
        assert document["aws"]["table_name"] == tables.jobs
        assert document["start_time"] <= document["end_time"]
        assert len(document["id"]) == 16
    assert ok["http"]["response"]["status"] == 200 and "error" not in ok
    assert failed["http"]["response"]["status"] == 400 and failed["error"] is True


def test_unsampled_or_untraced_invocations_send_nothing(
    daemon: socket.socket, tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = tracing.instrument(boto3.client("dynamodb"))
    daemon.settimeout(0.3)
    for header in (f"Root={ROOT};Parent={PARENT};Sampled=0", None):
        if header is None:
            monkeypatch.delenv(tracing.TRACE_HEADER_ENV, raising=False)
        else:
            monkeypatch.setenv(tracing.TRACE_HEADER_ENV, header)
        client.describe_table(TableName=tables.jobs)
        with pytest.raises(TimeoutError):
            daemon.recv(65536)


def test_trace_header_fields() -> None:
    header = f"Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a:1"
    assert tracing.parse_trace_header(header)["Parent"] == PARENT
    assert tracing.trace_id(header) == ROOT
    assert tracing.trace_id("") is None
