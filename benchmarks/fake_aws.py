"""AWS answered in-process: botocore still validates, serialises and signs each request,
then a `before-send` hook answers it instead of the network (what moto's in-process
mock does, without moto's own cost). Register before any client is created."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Minimal successful responses per operation (the handlers read nothing else).
ANSWERS: dict[str, bytes] = {
    "TransactWriteItems": b"{}",
    "PutItem": b"{}",
    "UpdateItem": b"{}",
    "GetItem": b"{}",
    "Query": b'{"Items":[],"Count":0,"ScannedCount":0}',
}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


ANSWERED: list[str] = []  # operations answered, for the harness's sanity checks


def install() -> None:
    """Answer every DynamoDB call of clients made from boto3's default session from now on."""
    import boto3  # noqa: PLC0415 - after the cold-start clock started
    from botocore.awsrequest import AWSResponse  # noqa: PLC0415

    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None

    def answer(request: Any, **kwargs: Any) -> AWSResponse:
        operation = request.headers.get("X-Amz-Target", b"")
        if isinstance(operation, bytes):
            operation = operation.decode()
        name = str(operation).rsplit(".", 1)[-1]
        if len(ANSWERED) < 100:
            ANSWERED.append(name)
        return AWSResponse(
            request.url,
            200,
            {"content-type": "application/x-amz-json-1.0"},
            _Raw(ANSWERS.get(name, b"{}")),
        )

    session.events.register("before-send.dynamodb", answer)
