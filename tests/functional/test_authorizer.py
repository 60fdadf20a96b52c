"""The Lambda REQUEST authorizer (simple responses) against moto."""

from __future__ import annotations

import time
from types import ModuleType

import pytest

from jobs_platform.api_keys import ApiKeyStore
from tests.helpers import authorizer_event


def test_valid_key_is_allowed_with_tenant_context(
    authorizer: ModuleType, api_key_store: ApiKeyStore
) -> None:
    plain, record = api_key_store.create("tenant-a", name="ci", daily_job_quota=50)

    response = authorizer.handler(authorizer_event(plain), None)

    assert response == {
        "isAuthorized": True,
        "context": {"tenant_id": "tenant-a", "key_id": record.key_id, "daily_job_quota": 50},
    }


def test_header_name_is_case_insensitive(
    authorizer: ModuleType, api_key_store: ApiKeyStore
) -> None:
    plain, _ = api_key_store.create("tenant-a")

    response = authorizer.handler(authorizer_event(plain, header_name="X-Api-Key"), None)

    assert response["isAuthorized"] is True


@pytest.mark.parametrize("key", [None, "", "jp_" + "A" * 43, "not-a-key", "jp_short"])
def test_missing_unknown_or_malformed_key_is_denied(
    authorizer: ModuleType, key: str | None
) -> None:
    assert authorizer.handler(authorizer_event(key), None) == {"isAuthorized": False}


def test_revoked_key_is_denied(authorizer: ModuleType, api_key_store: ApiKeyStore) -> None:
    plain, record = api_key_store.create("tenant-a")
    api_key_store.revoke(record.key_id)

    assert authorizer.handler(authorizer_event(plain), None) == {"isAuthorized": False}


def test_expired_key_is_denied(authorizer: ModuleType, api_key_store: ApiKeyStore) -> None:
    plain, _ = api_key_store.create("tenant-a", expires_at=int(time.time()) - 1)

    assert authorizer.handler(authorizer_event(plain), None) == {"isAuthorized": False}


def test_key_not_yet_expired_is_allowed(authorizer: ModuleType, api_key_store: ApiKeyStore) -> None:
    plain, _ = api_key_store.create("tenant-a", expires_at=int(time.time()) + 3600)

    assert authorizer.handler(authorizer_event(plain), None)["isAuthorized"] is True


def test_the_key_never_appears_in_logs(
    authorizer: ModuleType, api_key_store: ApiKeyStore, capsys: pytest.CaptureFixture[str]
) -> None:
    plain, _ = api_key_store.create("tenant-a")

    authorizer.handler(authorizer_event(plain), None)
    authorizer.handler(authorizer_event(plain + "x"), None)

    output = capsys.readouterr()
    assert plain not in output.out + output.err
    assert "allowed" in output.out
