"""The authorizer function: HTTP API Lambda REQUEST authorizer, simple responses.

1. When the edge is on (`ORIGIN_VERIFY_SECRET_ARN` set), the request must carry the
   `x-origin-verify` header CloudFront adds, with the secret's value: a call that
   bypasses CloudFront is denied, whatever else it carries.
2. Routes that need no API key (`PUBLIC_ROUTES`: Terraform attaches the origin-only
   authorizer to them when the edge is on) are then allowed.
3. Otherwise reads the `x-api-key` header, looks up its SHA-256 hash; allows known,
   unrevoked, unexpired keys with context `{tenant_id, key_id, daily_job_quota}`.

Never logs the key or the origin secret.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any, NamedTuple

from jobs_platform import aws, log
from jobs_platform.api_keys import ApiKeyStore
from jobs_platform.config import AuthorizerSettings
from jobs_platform.origin_verify import ORIGIN_VERIFY_HEADER, OriginVerifier, header_value

API_KEY_HEADER = "x-api-key"
# Route keys that need no API key: the routes Terraform declares with authorized = false
# (a contract test compares both). With the edge on, they still need the origin header.
PUBLIC_ROUTES = frozenset({"GET /health"})

# Created once per cold start (during init, outside the billed/latency-critical path).
_dynamodb = aws.client("dynamodb")


class Dependencies(NamedTuple):
    settings: AuthorizerSettings
    keys: ApiKeyStore
    # None when the edge is off: then no Secrets Manager client is made at all.
    origin_verifier: OriginVerifier | None


@cache
def dependencies() -> Dependencies:
    """Settings, key store and origin verifier, built on the first invocation of this
    execution environment (and kept for its life; `dependencies.cache_clear()` forgets them)."""
    settings = AuthorizerSettings.from_env(os.environ)
    log.setup("authorizer", settings.log_level)
    secret_arn = settings.origin_verify_secret_arn
    return Dependencies(
        settings=settings,
        keys=ApiKeyStore(_dynamodb, settings.api_keys_table_name),
        origin_verifier=(
            OriginVerifier(aws.client("secretsmanager"), secret_arn)
            if secret_arn is not None
            else None
        ),
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    log.start_invocation(context)
    deps = dependencies()
    verifier = deps.origin_verifier
    log.clear()
    request_id = (event.get("requestContext") or {}).get("requestId")
    log.bind(request_id=request_id if isinstance(request_id, str) else None)
    headers = event.get("headers") or {}
    if verifier is not None and not verifier.verify(header_value(headers, ORIGIN_VERIFY_HEADER)):
        log.info("denied: origin verify header missing or wrong (request bypassed the edge)")
        return {"isAuthorized": False}
    if event.get("routeKey") in PUBLIC_ROUTES:
        log.info("allowed: public route", route_key=event.get("routeKey"))
        return {"isAuthorized": True}
    plain_key = header_value(headers, API_KEY_HEADER)
    if plain_key is None:
        log.info("denied: no api key")
        return {"isAuthorized": False}
    record = deps.keys.lookup(plain_key)
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
