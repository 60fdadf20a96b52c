from __future__ import annotations

import base64
import json

import pytest

from jobs_platform import dynamo, schema
from jobs_platform.errors import InvalidCursor
from jobs_platform.jobs import JobStatus
from jobs_platform.jobs.cursor import decode_cursor, encode_cursor

JOB_SK = schema.job_sk("01JP1ZQ4K8M6V0N2R5T7W9Y3B1")


def key(tenant: str = "t1", status: JobStatus | None = None) -> dict[str, str]:
    out = {schema.PARTITION_KEY: schema.tenant_pk(tenant), schema.SORT_KEY: JOB_SK}
    if status is not None:
        out[schema.STATUS_INDEX_PARTITION_KEY] = schema.tenant_status(tenant, status)
    return out


def raw_cursor(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("status", [None, JobStatus.QUEUED])
def test_cursor_round_trips_to_the_exclusive_start_key(status: JobStatus | None) -> None:
    last_key = dynamo.to_item(key(status=status))

    cursor = encode_cursor(last_key)

    assert "=" not in cursor
    assert decode_cursor(cursor, tenant_id="t1", status=status) == last_key


def test_cursor_of_another_tenant_is_rejected() -> None:
    cursor = encode_cursor(dynamo.to_item(key(tenant="t2")))

    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, tenant_id="t1", status=None)


def test_cursor_of_another_status_filter_is_rejected() -> None:
    cursor = encode_cursor(dynamo.to_item(key(status=JobStatus.QUEUED)))

    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, tenant_id="t1", status=JobStatus.FAILED)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, tenant_id="t1", status=None)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "a" * 5000,
        raw_cursor([1, 2]),
        raw_cursor({**key(), "extra": "x"}),
        raw_cursor({**key(), schema.SORT_KEY: "JOB#not-a-ulid"}),
        raw_cursor({**key(), schema.SORT_KEY: "IDEMPOTENCY#01JP1ZQ4K8M6V0N2R5T7W9Y3B1"}),
        raw_cursor({**key(), schema.PARTITION_KEY: 5}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_malformed_or_tampered_cursor_is_rejected(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, tenant_id="t1", status=None)
