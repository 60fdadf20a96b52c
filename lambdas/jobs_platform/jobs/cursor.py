"""The list cursor: an opaque string for the next page, checked when it comes back.

Encoded as base64url (unpadded) of the query's LastEvaluatedKey as plain JSON; decoding
accepts only a key this tenant's query (with the same status filter) can have produced.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from jobs_platform import dynamo, ids, schema
from jobs_platform.errors import InvalidCursor
from jobs_platform.jobs.model import JobStatus

MAX_CURSOR_LENGTH = 2048
_BASE64URL = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_CURSOR_LENGTH}}}")


def _key_fields(status: JobStatus | None) -> set[str]:
    """The attributes of a LastEvaluatedKey: table keys, plus the index key with a filter."""
    names = {schema.PARTITION_KEY, schema.SORT_KEY}
    if status is not None:
        names.add(schema.STATUS_INDEX_PARTITION_KEY)
    return names


def encode_cursor(last_evaluated_key: Mapping[str, Any]) -> str:
    """Opaque cursor: base64url (unpadded) of the LastEvaluatedKey as plain JSON."""
    plain = dynamo.from_item(last_evaluated_key)
    raw = json.dumps(plain, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, *, tenant_id: str, status: JobStatus | None) -> dict[str, Any]:
    """The ExclusiveStartKey for `cursor`; InvalidCursor unless it is one this tenant's
    query (same status filter) produced."""
    invalid = InvalidCursor("The cursor is invalid; use next_cursor from a previous page.")
    if not isinstance(cursor, str) or not _BASE64URL.fullmatch(cursor):
        raise invalid
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        # Any JSON nested deeper than a key can be is refused before it is parsed (a
        # cursor of 1,536 "[" made json.loads raise RecursionError).
        if raw.count(b"[") + raw.count(b"{") > 1:
            raise invalid
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError):
        raise invalid from None
    if not isinstance(data, dict) or set(data) != _key_fields(status):
        raise invalid
    if not all(isinstance(value, str) for value in data.values()):
        raise invalid
    sort_key: str = data[schema.SORT_KEY]
    if data[schema.PARTITION_KEY] != schema.tenant_pk(tenant_id):
        raise invalid
    if not sort_key.startswith(schema.JOB_PREFIX) or not ids.is_ulid(
        sort_key.removeprefix(schema.JOB_PREFIX)
    ):
        raise invalid
    if status is not None and data[schema.STATUS_INDEX_PARTITION_KEY] != schema.tenant_status(
        tenant_id, status
    ):
        raise invalid
    return dynamo.to_item(data)
