"""The authorizer's origin check (edge on): requests must carry CloudFront's
`x-origin-verify` header with the secret's value (Secrets Manager, moto in process)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from scripts.origin_secret import revoke_previous

from jobs_platform import config
from jobs_platform.api_keys import ApiKeyStore
from jobs_platform.origin_verify import (
    MAX_CACHE_AGE_SECONDS,
    ORIGIN_VERIFY_HEADER,
    OriginVerifier,
)
from tests.helpers import authorizer_event

ORIGIN_VALUE = "origin-secret-v1-" + "A" * 40
ROTATED_VALUE = "origin-secret-v2-" + "B" * 40
DENY = {"isAuthorized": False}


@pytest.fixture
def secretsmanager(aws: None) -> Any:
    return boto3.client("secretsmanager", region_name=os.environ["AWS_DEFAULT_REGION"])


@pytest.fixture
def origin_secret_arn(secretsmanager: Any) -> str:
    created = secretsmanager.create_secret(
        Name="test/edge/origin-verify", SecretString=ORIGIN_VALUE
    )
    return str(created["ARN"])


@pytest.fixture
def edge_authorizer(
    authorizer: ModuleType, origin_secret_arn: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """The authorizer as deployed behind the edge (ORIGIN_VERIFY_SECRET_ARN set)."""
    monkeypatch.setenv(config.ORIGIN_VERIFY_SECRET_ARN, origin_secret_arn)
    authorizer.dependencies.cache_clear()
    yield authorizer
    authorizer.dependencies.cache_clear()


class CountingSecrets:
    """Wraps the Secrets Manager client and counts GetSecretValue calls."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.exceptions = client.exceptions
        self.calls: list[str] = []

    def get_secret_value(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs.get("VersionStage", "AWSCURRENT"))
        return self._client.get_secret_value(**kwargs)


def via_edge(
    api_key: str | None, origin: str | None = ORIGIN_VALUE, *, route_key: str = "POST /v1/jobs"
) -> dict[str, Any]:
    event = authorizer_event(api_key)
    event["routeKey"] = route_key
    event["requestContext"]["routeKey"] = route_key
    if origin is not None:
        event["headers"][ORIGIN_VERIFY_HEADER] = origin
        event["identitySource"] = [*event["identitySource"], origin]
    return event


def test_request_through_the_edge_with_a_valid_key_is_allowed(
    edge_authorizer: ModuleType, api_key_store: ApiKeyStore
) -> None:
    # Given a valid key and the edge's origin header
    plain, record = api_key_store.create("tenant-a", daily_job_quota=7)

    # When the authorizer runs
    response = edge_authorizer.handler(via_edge(plain), None)

    # Then it allows with the tenant context
    assert response == {
        "isAuthorized": True,
        "context": {"tenant_id": "tenant-a", "key_id": record.key_id, "daily_job_quota": 7},
    }


def test_wrong_origin_header_is_denied_even_with_a_valid_key(
    edge_authorizer: ModuleType, api_key_store: ApiKeyStore
) -> None:
    plain, _ = api_key_store.create("tenant-a")

    assert edge_authorizer.handler(via_edge(plain, origin="guessed-value"), None) == DENY


def test_missing_origin_header_is_denied_even_with_a_valid_key(
    edge_authorizer: ModuleType, api_key_store: ApiKeyStore
) -> None:
    # Given a call straight to the execute-api endpoint (no CloudFront header)
    plain, _ = api_key_store.create("tenant-a")

    assert edge_authorizer.handler(via_edge(plain, origin=None), None) == DENY


def test_origin_header_name_is_case_insensitive(
    edge_authorizer: ModuleType, api_key_store: ApiKeyStore
) -> None:
    plain, _ = api_key_store.create("tenant-a")
    event = via_edge(plain, origin=None)
    event["headers"]["X-Origin-Verify"] = ORIGIN_VALUE

    assert edge_authorizer.handler(event, None)["isAuthorized"] is True


def test_valid_origin_header_without_api_key_is_denied(edge_authorizer: ModuleType) -> None:
    assert edge_authorizer.handler(via_edge(None), None) == DENY


def test_health_through_the_edge_is_allowed_without_api_key(
    edge_authorizer: ModuleType,
) -> None:
    # Given GET /health (no API key) through CloudFront (the origin-only authorizer)
    event = via_edge(None, route_key="GET /health")

    # Then it is allowed, with no tenant context
    assert edge_authorizer.handler(event, None) == {"isAuthorized": True}


@pytest.mark.parametrize("origin", [None, "", "guessed-value"])
def test_health_bypassing_the_edge_is_denied(
    edge_authorizer: ModuleType, origin: str | None
) -> None:
    event = via_edge(None, origin=origin, route_key="GET /health")

    assert edge_authorizer.handler(event, None) == DENY


def test_rotated_secret_is_picked_up_after_one_refetch(
    edge_authorizer: ModuleType,
    api_key_store: ApiKeyStore,
    secretsmanager: Any,
    origin_secret_arn: str,
) -> None:
    # Given a warm authorizer that cached the first value
    plain, _ = api_key_store.create("tenant-a")
    assert edge_authorizer.handler(via_edge(plain), None)["isAuthorized"] is True

    # When the secret rotates (Terraform writes a new version) and CloudFront sends it
    secretsmanager.put_secret_value(SecretId=origin_secret_arn, SecretString=ROTATED_VALUE)

    # Then the new value is accepted (refetch on mismatch), and the previous one too
    # (CloudFront edges that have not yet deployed the new header)
    assert edge_authorizer.handler(via_edge(plain, ROTATED_VALUE), None)["isAuthorized"] is True
    assert edge_authorizer.handler(via_edge(plain, ORIGIN_VALUE), None)["isAuthorized"] is True
    assert edge_authorizer.handler(via_edge(plain, "guessed-value"), None) == DENY


def test_secret_is_fetched_once_per_cold_start(secretsmanager: Any, origin_secret_arn: str) -> None:
    # Given a verifier over a counting client
    client = CountingSecrets(secretsmanager)
    verifier = OriginVerifier(client, origin_secret_arn)

    # When many requests carry the right value
    results = [verifier.verify(ORIGIN_VALUE) for _ in range(20)]

    # Then it read the secret once
    assert all(results)
    assert client.calls == ["AWSCURRENT"]


def test_wrong_values_refetch_at_most_once_per_interval(
    secretsmanager: Any, origin_secret_arn: str
) -> None:
    # Given a verifier with a controllable clock
    now = [1000.0]
    client = CountingSecrets(secretsmanager)
    verifier = OriginVerifier(
        client, origin_secret_arn, refresh_interval_seconds=30, monotonic=lambda: now[0]
    )

    # When a flood of wrong values arrives
    denied = [verifier.verify(f"wrong-{i}") for i in range(50)]

    # Then all are denied with one initial read and one refetch (current + previous)
    assert not any(denied)
    assert client.calls == ["AWSCURRENT", "AWSCURRENT", "AWSPREVIOUS"]

    # And after the interval, one more refetch at most
    now[0] += 31
    assert verifier.verify("wrong-again") is False
    assert verifier.verify("wrong-again-2") is False
    assert client.calls[3:] == ["AWSCURRENT", "AWSPREVIOUS"]


def test_revoked_previous_value_is_refused_within_the_max_cache_age(
    secretsmanager: Any, origin_secret_arn: str
) -> None:
    # Given a warm verifier that accepts both values during a rotation
    now = [1000.0]
    verifier = OriginVerifier(
        secretsmanager,
        origin_secret_arn,
        refresh_interval_seconds=30,
        max_age_seconds=300,
        monotonic=lambda: now[0],
    )
    assert verifier.verify(ORIGIN_VALUE)
    secretsmanager.put_secret_value(SecretId=origin_secret_arn, SecretString=ROTATED_VALUE)
    assert verifier.verify(ROTATED_VALUE)
    assert verifier.verify(ORIGIN_VALUE)

    # When the revocation step drops AWSPREVIOUS (scripts/origin_secret.py)
    revoke_previous(secretsmanager, origin_secret_arn)

    # Then the old value, cached, is still accepted until the cache is max_age old...
    now[0] += 299
    assert verifier.verify(ORIGIN_VALUE)
    # ... and refused from then on, by this warm verifier as by a cold one; the new value
    # keeps working.
    now[0] += 1
    assert verifier.verify(ORIGIN_VALUE) is False
    assert OriginVerifier(secretsmanager, origin_secret_arn).verify(ORIGIN_VALUE) is False
    assert verifier.verify(ROTATED_VALUE)
    now[0] += 3600
    assert verifier.verify(ORIGIN_VALUE) is False


def test_max_age_refetch_keeps_reading_previous_during_a_rotation(
    secretsmanager: Any, origin_secret_arn: str
) -> None:
    # Given a rotation in progress (both values valid) and a verifier past its max age
    now = [0.0]
    client = CountingSecrets(secretsmanager)
    verifier = OriginVerifier(client, origin_secret_arn, monotonic=lambda: now[0])
    secretsmanager.put_secret_value(SecretId=origin_secret_arn, SecretString=ROTATED_VALUE)
    assert verifier.verify(ORIGIN_VALUE)  # a mismatch with the new current: refetch both
    now[0] += MAX_CACHE_AGE_SECONDS

    # Then edges still sending the previous value are not cut off before revocation
    assert verifier.verify(ORIGIN_VALUE)
    assert client.calls[-2:] == ["AWSCURRENT", "AWSPREVIOUS"]


def test_edge_off_skips_the_origin_check(
    authorizer: ModuleType, api_key_store: ApiKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the edge off (Terraform sets the variable to "")
    monkeypatch.setenv(config.ORIGIN_VERIFY_SECRET_ARN, "")
    authorizer.dependencies.cache_clear()
    plain, _ = api_key_store.create("tenant-a")

    # Then no origin header is needed and no Secrets Manager client is made
    assert authorizer.handler(authorizer_event(plain), None)["isAuthorized"] is True
    assert authorizer.dependencies().origin_verifier is None


def test_origin_secret_never_appears_in_logs(
    edge_authorizer: ModuleType, api_key_store: ApiKeyStore, capsys: pytest.CaptureFixture[str]
) -> None:
    plain, _ = api_key_store.create("tenant-a")

    edge_authorizer.handler(via_edge(plain), None)
    edge_authorizer.handler(via_edge(plain, ORIGIN_VALUE + "x"), None)

    output = capsys.readouterr()
    assert ORIGIN_VALUE not in output.out + output.err
    assert "bypassed the edge" in output.out
