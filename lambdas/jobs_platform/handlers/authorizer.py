"""The authorizer function: HTTP API Lambda REQUEST authorizer, simple responses.

Reads the `x-api-key` header, looks up its SHA-256 hash; allows known, unrevoked,
unexpired keys with context `{tenant_id, key_id, daily_job_quota}`. Never logs the key.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3

from jobs_platform import log
from jobs_platform.api_keys import ApiKeyStore
from jobs_platform.config import AuthorizerSettings

API_KEY_HEADER = "x-api-key"

_dynamodb = boto3.client("dynamodb")


@cache
def store() -> ApiKeyStore:
    settings = AuthorizerSettings.from_env(os.environ)
    log.setup("authorizer", settings.log_level)
    return ApiKeyStore(_dynamodb, settings.api_keys_table_name)


def _api_key(event: dict[str, Any]) -> str | None:
    headers = event.get("headers") or {}
    for name, value in headers.items():
        if str(name).lower() == API_KEY_HEADER and isinstance(value, str) and value:
            return value
    return None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    keys = store()
    log.clear()
    request_id = (event.get("requestContext") or {}).get("requestId")
    log.bind(request_id=request_id if isinstance(request_id, str) else None)
    plain_key = _api_key(event)
    if plain_key is None:
        log.info("denied: no api key")
        return {"isAuthorized": False}
    record = keys.lookup(plain_key)
    if record is None:
        log.info("denied: unknown, revoked or expired api key")
        return {"isAuthorized": False}
    log.bind(tenant_id=record.tenant_id)
    log.info("allowed", key_id=record.key_id)
    return {
        "isAuthorized": True,
        "context": {
            "tenant_id": record.tenant_id,
            "key_id": record.key_id,
            "daily_job_quota": record.daily_job_quota,
        },
    }
