"""Origin verification: was this request sent by our CloudFront distribution?

CloudFront adds the header `x-origin-verify` with a secret value (Secrets Manager) to
every request it forwards to the HTTP API; a call straight to the execute-api endpoint
lacks it (docs/architecture.md "Edge"). The value is fetched on the first request of an
execution environment and cached:

- a presented value that matches nothing cached triggers a refetch of the current and the
  previous version (the first time at once, then at most once per
  `refresh_interval_seconds`): a rotation is picked up without a redeploy, CloudFront
  edges still sending the previous value keep working while the distribution deploys, and
  a flood of wrong values cannot become a flood of Secrets Manager calls;
- cached values are never trusted for longer than `max_age_seconds`
  (MAX_CACHE_AGE_SECONDS): then they are read again before the next comparison. Once the
  revocation step has dropped AWSPREVIOUS (docs/deploying.md "Rotating the origin-verify
  secret"), every warm authorizer refuses the old value within that bound.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

ORIGIN_VERIFY_HEADER = "x-origin-verify"
DEFAULT_REFRESH_INTERVAL_SECONDS = 30.0
# The longest a revoked value is still accepted by a warm authorizer (docs/security.md adds
# API Gateway's authorizer result cache to it).
MAX_CACHE_AGE_SECONDS = 300.0


class OriginVerifier:
    def __init__(
        self,
        secrets_client: Any,
        secret_arn: str,
        *,
        refresh_interval_seconds: float = DEFAULT_REFRESH_INTERVAL_SECONDS,
        max_age_seconds: float = MAX_CACHE_AGE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < refresh_interval_seconds <= max_age_seconds:
            raise ValueError("need 0 < refresh_interval_seconds <= max_age_seconds")
        self._client = secrets_client
        self._secret_arn = secret_arn
        self._refresh_interval = refresh_interval_seconds
        self._max_age = max_age_seconds
        self._monotonic = monotonic
        self._values: tuple[bytes, ...] = ()
        self._fetched_at: float | None = None
        self._previous_loaded = False

    def verify(self, presented: str | None) -> bool:
        """True when `presented` is the current (or, after a refetch, previous) value."""
        if not presented:
            return False
        candidate = presented.encode()
        if self._fetched_at is None:
            self._load_secret_values(include_previous=False)
        elif self._monotonic() - self._fetched_at >= self._max_age:
            # Too old to trust: a revoked AWSPREVIOUS (or a replaced AWSCURRENT) drops out.
            self._load_secret_values(include_previous=self._previous_loaded)
        if self._matches(candidate):
            return True
        if self._previous_loaded and not self._refresh_due():
            return False
        self._load_secret_values(include_previous=True)
        return self._matches(candidate)

    def _refresh_due(self) -> bool:
        return (
            self._fetched_at is None
            or self._monotonic() - self._fetched_at >= self._refresh_interval
        )

    def _matches(self, candidate: bytes) -> bool:
        # Compare against every value (constant time each, no early exit).
        results = [hmac.compare_digest(candidate, value) for value in self._values]
        return any(results)

    def _load_secret_values(self, *, include_previous: bool) -> None:
        values = [self._secret_value("AWSCURRENT")]
        if include_previous:
            previous = self._secret_value("AWSPREVIOUS", missing_ok=True)
            if previous:
                values.append(previous)
        self._values = tuple(value.encode() for value in values if value)
        self._fetched_at = self._monotonic()
        self._previous_loaded = self._previous_loaded or include_previous

    def _secret_value(self, stage: str, *, missing_ok: bool = False) -> str | None:
        try:
            response = self._client.get_secret_value(SecretId=self._secret_arn, VersionStage=stage)
        except self._client.exceptions.ResourceNotFoundException:
            # AWSPREVIOUS exists only after a first rotation.
            if missing_ok:
                return None
            raise
        value = response.get("SecretString")
        return value if isinstance(value, str) else None


def header_value(headers: dict[str, Any] | None, name: str) -> str | None:
    """A request header's value (names are case-insensitive), or None."""
    for key, value in (headers or {}).items():
        if str(key).lower() == name and isinstance(value, str) and value:
            return value
    return None
