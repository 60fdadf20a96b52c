"""Sessions: tenant-scoped JSON state with optimistic concurrency (version / ETag).

PUT without If-Match creates (201, version 1) or, if a live session exists, is refused
(428). PUT with If-Match updates when a listed version (or `*`) matches the live session,
else 412. Every write resets the expiry to now + ttl. Expired-but-undeleted reads as absent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import ClientError

from jobs_platform import dynamo, ids, schema
from jobs_platform.clock import Clock, epoch_seconds, rfc3339, rfc3339_from_epoch, utc_now
from jobs_platform.config import SESSION_TTL_DEFAULT_SECONDS
from jobs_platform.errors import (
    BadRequest,
    PreconditionFailed,
    PreconditionRequired,
    SessionNotFound,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


SESSION_ID_PATTERN = ids.SESSION_ID_PATTERN
_ENTITY_TAG = re.compile(r'"(\d{1,18})"')


class Session(NamedTuple):
    session_id: str
    tenant_id: str
    state: dict[str, Any]
    version: int
    created_at: str
    updated_at: str
    expires_at: int

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Session:
        values = dynamo.from_item(item)
        return cls(
            session_id=values["session_id"],
            tenant_id=values["tenant_id"],
            state=values.get("state") or {},
            version=int(values["version"]),
            created_at=values["created_at"],
            updated_at=values["updated_at"],
            expires_at=int(values[schema.TTL_ATTRIBUTE]),
        )

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    def to_public(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "state": self.state,
            "version": self.version,
            "expires_at": rfc3339_from_epoch(self.expires_at),
        }


class PutResult(NamedTuple):
    session: Session
    created: bool


def validate_session_id(session_id: str) -> str:
    if not ids.is_whole_match(SESSION_ID_PATTERN, session_id):
        raise BadRequest(
            "session_id must be 1 to 128 characters: letters, digits and . _ : - "
            "(starting with a letter or digit)."
        )
    return session_id


def parse_if_match(header: str) -> list[int] | None:
    """The versions an If-Match header accepts; None means `*` (any live session).

    Strong comparison (RFC 9110): weak tags (W/"1") and malformed tags match nothing."""
    if header.strip() == "*":
        return None
    versions = []
    for tag in header.split(","):
        match = _ENTITY_TAG.fullmatch(tag.strip())
        if match:
            versions.append(int(match.group(1)))
    return versions


class SessionStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        default_ttl_seconds: int = SESSION_TTL_DEFAULT_SECONDS,
        clock: Clock = utc_now,
    ) -> None:
        self._client = client
        self._table = table_name
        self._default_ttl = default_ttl_seconds
        self._clock = clock

    def _key(self, tenant_id: str, session_id: str) -> dict[str, Any]:
        return dynamo.to_item(
            {
                schema.PARTITION_KEY: schema.tenant_pk(tenant_id),
                schema.SORT_KEY: schema.session_sk(session_id),
            }
        )

    def get(self, tenant_id: str, session_id: str) -> Session:
        validate_session_id(session_id)
        response = self._client.get_item(
            TableName=self._table, Key=self._key(tenant_id, session_id), ConsistentRead=True
        )
        item = response.get("Item")
        if item is None or not dynamo.is_live(dynamo.from_item(item), epoch_seconds(self._clock())):
            raise SessionNotFound(f"Session {session_id} does not exist.")
        return Session.from_item(item)

    def put(
        self,
        tenant_id: str,
        session_id: str,
        *,
        state: dict[str, Any],
        ttl_seconds: int | None = None,
        if_match: str | None = None,
    ) -> PutResult:
        validate_session_id(session_id)
        now = self._clock()
        expires_at = epoch_seconds(now + timedelta(seconds=ttl_seconds or self._default_ttl))
        if if_match is None:
            return PutResult(self._create(tenant_id, session_id, state, now, expires_at), True)
        return PutResult(
            self._update(tenant_id, session_id, state, now, expires_at, parse_if_match(if_match)),
            False,
        )

    def _create(
        self,
        tenant_id: str,
        session_id: str,
        state: dict[str, Any],
        now: datetime,
        expires_at: int,
    ) -> Session:
        stamp = rfc3339(now)
        values = {
            schema.PARTITION_KEY: schema.tenant_pk(tenant_id),
            schema.SORT_KEY: schema.session_sk(session_id),
            "session_id": session_id,
            "tenant_id": tenant_id,
            "state": state,
            "version": 1,
            "created_at": stamp,
            "updated_at": stamp,
            schema.TTL_ATTRIBUTE: expires_at,
        }
        item = dynamo.to_item(values)
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(#pk) OR #expires <= :now",
                ExpressionAttributeNames={
                    "#pk": schema.PARTITION_KEY,
                    "#expires": schema.TTL_ATTRIBUTE,
                },
                ExpressionAttributeValues=dynamo.values(now=epoch_seconds(now)),
            )
        except ClientError as exc:
            if dynamo.is_condition_failure(exc):
                raise PreconditionRequired(
                    f"Session {session_id} exists: send If-Match with its ETag to update it."
                ) from None
            raise
        return Session.from_item(item)

    def _update(
        self,
        tenant_id: str,
        session_id: str,
        state: dict[str, Any],
        now: datetime,
        expires_at: int,
        versions: list[int] | None,
    ) -> Session:
        condition = "attribute_exists(#pk) AND #expires > :now"
        expression_values: dict[str, Any] = {
            "now": epoch_seconds(now),
            "state": state,
            "updated": rfc3339(now),
            "expires_at": expires_at,
            "one": 1,
        }
        if versions is not None:
            if not versions:
                raise PreconditionFailed("If-Match does not match the session's ETag.")
            placeholders = []
            for index, version in enumerate(dict.fromkeys(versions)):
                expression_values[f"v{index}"] = version
                placeholders.append(f":v{index}")
            condition += f" AND #version IN ({', '.join(placeholders)})"
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=self._key(tenant_id, session_id),
                UpdateExpression="SET #state = :state, #updated = :updated, "
                "#expires = :expires_at, #version = #version + :one",
                ConditionExpression=condition,
                ExpressionAttributeNames={
                    "#pk": schema.PARTITION_KEY,
                    "#expires": schema.TTL_ATTRIBUTE,
                    "#state": "state",
                    "#updated": "updated_at",
                    "#version": "version",
                },
                ExpressionAttributeValues=dynamo.values(**expression_values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if dynamo.is_condition_failure(exc):
                raise PreconditionFailed(
                    f"If-Match does not match session {session_id} (stale or missing): "
                    "GET it for the current ETag."
                ) from None
            raise
        return Session.from_item(response["Attributes"])

    def delete(self, tenant_id: str, session_id: str) -> None:
        validate_session_id(session_id)
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=self._key(tenant_id, session_id),
                ConditionExpression="attribute_exists(#pk) AND #expires > :now",
                ExpressionAttributeNames={
                    "#pk": schema.PARTITION_KEY,
                    "#expires": schema.TTL_ATTRIBUTE,
                },
                ExpressionAttributeValues=dynamo.values(now=epoch_seconds(self._clock())),
            )
        except ClientError as exc:
            if dynamo.is_condition_failure(exc):
                raise SessionNotFound(f"Session {session_id} does not exist.") from None
            raise
