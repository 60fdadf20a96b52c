"""DynamoDB table facts the code relies on (keys, TTL, index, key prefixes).

The Terraform states the same facts; `tests/contract` compares the two. Every key
attribute is of type S (string).
"""

from __future__ import annotations

from typing import NamedTuple

PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expires_at"

STATUS_INDEX_NAME = "status-index"
STATUS_INDEX_PARTITION_KEY = "tenant_status"
STATUS_INDEX_SORT_KEY = SORT_KEY

TENANT_PREFIX = "TENANT#"
JOB_PREFIX = "JOB#"
IDEMPOTENCY_PREFIX = "IDEMPOTENCY#"
QUOTA_PREFIX = "QUOTA#"
SESSION_PREFIX = "SESSION#"
KEY_PREFIX = "KEY#"

JOBS_STREAM_VIEW_TYPE = "KEYS_ONLY"


class IndexSchema(NamedTuple):
    name: str
    partition_key: str
    sort_key: str
    projection: str = "ALL"


class TableSchema(NamedTuple):
    partition_key: str
    sort_key: str | None
    ttl_attribute: str
    stream_view_type: str | None = None
    indexes: tuple[IndexSchema, ...] = ()

    @property
    def key_attributes(self) -> tuple[str, ...]:
        """Every attribute used in a key of the table or an index (all type S)."""
        names = [self.partition_key]
        if self.sort_key:
            names.append(self.sort_key)
        for index in self.indexes:
            names.extend((index.partition_key, index.sort_key))
        return tuple(dict.fromkeys(names))


JOBS_TABLE = TableSchema(
    partition_key=PARTITION_KEY,
    sort_key=SORT_KEY,
    ttl_attribute=TTL_ATTRIBUTE,
    stream_view_type=JOBS_STREAM_VIEW_TYPE,
    indexes=(
        IndexSchema(
            name=STATUS_INDEX_NAME,
            partition_key=STATUS_INDEX_PARTITION_KEY,
            sort_key=STATUS_INDEX_SORT_KEY,
        ),
    ),
)
SESSIONS_TABLE = TableSchema(
    partition_key=PARTITION_KEY, sort_key=SORT_KEY, ttl_attribute=TTL_ATTRIBUTE
)
API_KEYS_TABLE = TableSchema(
    partition_key=PARTITION_KEY, sort_key=None, ttl_attribute=TTL_ATTRIBUTE
)


def tenant_pk(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}"


def job_sk(job_id: str) -> str:
    return f"{JOB_PREFIX}{job_id}"


def idempotency_sk(key_hash: str) -> str:
    return f"{IDEMPOTENCY_PREFIX}{key_hash}"


def quota_sk(day: str) -> str:
    return f"{QUOTA_PREFIX}{day}"


def session_sk(session_id: str) -> str:
    return f"{SESSION_PREFIX}{session_id}"


def api_key_pk(key_hash: str) -> str:
    return f"{KEY_PREFIX}{key_hash}"


def tenant_status(tenant_id: str, status: str) -> str:
    return f"{tenant_id}#{status}"
