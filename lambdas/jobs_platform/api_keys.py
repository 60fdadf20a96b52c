"""API keys: minted as `jp_` + 43 url-safe characters, stored only as SHA-256 hashes.

Items: `pk` = `KEY#<sha256hex(key)>`; `key_id`, `tenant_id`, `name`, `created_at`,
`revoked`, `daily_job_quota`, `expires_at`? (docs/architecture.md, "api keys").
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import ClientError

from jobs_platform import dynamo, ids, schema
from jobs_platform.clock import Clock, epoch_seconds, rfc3339, utc_now
from jobs_platform.errors import ApiKeyNotFound, BadRequest

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


PLAIN_KEY_PREFIX = "jp_"
TENANT_ID_PATTERN = ids.TENANT_ID_PATTERN
# What may be a key (at most 128 characters): checked before hashing and the table read.
_PLAIN_KEY_PATTERN = ids.API_KEY_PATTERN
DEFAULT_DAILY_JOB_QUOTA = 1000


def mint_key() -> str:
    return PLAIN_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(plain_key: str) -> str:
    return hashlib.sha256(plain_key.encode("utf-8")).hexdigest()


def looks_like_key(value: str) -> bool:
    return ids.is_whole_match(_PLAIN_KEY_PATTERN, value)


class ApiKey(NamedTuple):
    key_id: str
    tenant_id: str
    name: str
    created_at: str
    revoked: bool
    daily_job_quota: int
    expires_at: int | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ApiKey:
        values = dynamo.from_item(item)
        expires_at = values.get(schema.TTL_ATTRIBUTE)
        return cls(
            key_id=values["key_id"],
            tenant_id=values["tenant_id"],
            name=values.get("name", ""),
            created_at=values["created_at"],
            revoked=bool(values.get("revoked", False)),
            daily_job_quota=int(values.get("daily_job_quota", 0)),
            expires_at=int(expires_at) if expires_at is not None else None,
        )

    def is_usable(self, now_epoch: int) -> bool:
        return not self.revoked and (self.expires_at is None or self.expires_at > now_epoch)

    def to_public(self) -> dict[str, Any]:
        """Everything but the hash (which stays in the table only)."""
        return {
            "key_id": self.key_id,
            "tenant_id": self.tenant_id,
            "name": self.name,
            "created_at": self.created_at,
            "revoked": self.revoked,
            "daily_job_quota": self.daily_job_quota,
            "expires_at": self.expires_at,
        }


class ApiKeyStore:
    def __init__(self, client: DynamoDBClient, table_name: str, *, clock: Clock = utc_now) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock

    def create(
        self,
        tenant_id: str,
        *,
        name: str = "default",
        daily_job_quota: int = DEFAULT_DAILY_JOB_QUOTA,
        expires_at: int | None = None,
    ) -> tuple[str, ApiKey]:
        """Mint a key for `tenant_id`; returns (plain key - show it once, record)."""
        if not ids.is_whole_match(TENANT_ID_PATTERN, tenant_id):
            raise BadRequest(
                "tenant_id must be 1 to 64 characters: letters, digits, _ and - "
                "(starting with a letter or digit)."
            )
        if daily_job_quota < 0:
            raise BadRequest("daily_job_quota must be >= 0.")
        plain_key = mint_key()
        record = ApiKey(
            key_id=ids.new_ulid(),
            tenant_id=tenant_id,
            name=name,
            created_at=rfc3339(self._clock()),
            revoked=False,
            daily_job_quota=daily_job_quota,
            expires_at=expires_at,
        )
        values: dict[str, Any] = {
            schema.PARTITION_KEY: schema.api_key_pk(hash_key(plain_key)),
            "key_id": record.key_id,
            "tenant_id": record.tenant_id,
            "name": record.name,
            "created_at": record.created_at,
            "revoked": False,
            "daily_job_quota": record.daily_job_quota,
        }
        if expires_at is not None:
            values[schema.TTL_ATTRIBUTE] = expires_at
        self._client.put_item(
            TableName=self._table,
            Item=dynamo.to_item(values),
            ConditionExpression="attribute_not_exists(#pk)",
            ExpressionAttributeNames={"#pk": schema.PARTITION_KEY},
        )
        return plain_key, record

    def lookup(self, plain_key: str) -> ApiKey | None:
        """The key's record if it is known, not revoked and not expired; else None."""
        if not looks_like_key(plain_key):
            return None
        response = self._client.get_item(
            TableName=self._table,
            Key=dynamo.to_item({schema.PARTITION_KEY: schema.api_key_pk(hash_key(plain_key))}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None:
            return None
        record = ApiKey.from_item(item)
        return record if record.is_usable(epoch_seconds(self._clock())) else None

    def _scan(self) -> list[tuple[dict[str, Any], ApiKey]]:
        found = []
        paginator = self._client.get_paginator("scan")
        for page in paginator.paginate(TableName=self._table, ConsistentRead=True):
            for item in page.get("Items", []):
                pk = item.get(schema.PARTITION_KEY, {}).get("S", "")
                if pk.startswith(schema.KEY_PREFIX):
                    key = {schema.PARTITION_KEY: dict(item[schema.PARTITION_KEY])}
                    found.append((key, ApiKey.from_item(item)))
        return found

    def list_keys(self) -> list[ApiKey]:
        """Every key (also revoked and expired ones), oldest first."""
        return sorted((record for _, record in self._scan()), key=lambda r: r.key_id)

    def revoke(self, key_id: str) -> ApiKey:
        for key, record in self._scan():
            if record.key_id == key_id:
                try:
                    response = self._client.update_item(
                        TableName=self._table,
                        Key=key,
                        UpdateExpression="SET revoked = :true",
                        ConditionExpression="attribute_exists(#pk)",
                        ExpressionAttributeNames={"#pk": schema.PARTITION_KEY},
                        ExpressionAttributeValues=dynamo.values(true=True),
                        ReturnValues="ALL_NEW",
                    )
                except ClientError as exc:
                    if dynamo.is_condition_failure(exc):
                        break
                    raise
                return ApiKey.from_item(response["Attributes"])
        raise ApiKeyNotFound(f"API key {key_id} does not exist.")
