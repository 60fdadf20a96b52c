"""DynamoDB helpers shared by the domain modules: typed <-> plain values, errors."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from jobs_platform import schema

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"


def storable(value: Any) -> Any:
    """Floats (which boto3 refuses) as exact Decimals of their shortest repr, recursively."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("NaN and infinity cannot be stored")
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


def serialize(value: Any) -> dict[str, Any]:
    """One plain value (str, int, float, Decimal, bool, None, dict, list) as an AttributeValue."""
    return dict(_serializer.serialize(storable(value)))


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: serialize(value) for name, value in values.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def values(**named: Any) -> dict[str, Any]:
    """ExpressionAttributeValues from keyword arguments: `values(now=1)` -> `{":now": ...}`."""
    return {f":{name}": serialize(value) for name, value in named.items()}


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_condition_failure(error: ClientError) -> bool:
    return error_code(error) == CONDITIONAL_CHECK_FAILED


def is_live(item: Mapping[str, Any], now_epoch: int) -> bool:
    """False when the item's TTL (`schema.TTL_ATTRIBUTE`) has passed: TTL deletes lazily."""
    expires_at = item.get(schema.TTL_ATTRIBUTE)
    return expires_at is None or int(expires_at) > now_epoch
