"""scripts/api_keys.py: create / list / revoke against moto, checked via the authorizer."""

from __future__ import annotations

import json
from types import ModuleType

import pytest
from scripts import api_keys as cli

from tests.conftest import Tables
from tests.helpers import authorizer_event


def test_create_api_key_returns_a_key_the_authorizer_accepts(
    authorizer: ModuleType, tables: Tables
) -> None:
    plain_key, key_id = cli.create_api_key(tables.api_keys, "tenant-a", "local", 5)

    response = authorizer.handler(authorizer_event(plain_key), None)

    assert plain_key.startswith("jp_")
    assert response["context"] == {"tenant_id": "tenant-a", "key_id": key_id, "daily_job_quota": 5}


def test_cli_create_prints_the_key_once_and_list_never_shows_it(
    tables: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["create", "--table", tables.api_keys, "--tenant", "tenant-a"]) == 0
    created = json.loads(capsys.readouterr().out)

    assert cli.main(["list", "--table", tables.api_keys]) == 0
    listed = capsys.readouterr().out

    assert created["api_key"].startswith("jp_")
    assert created["api_key"] not in listed
    assert json.loads(listed)["key_id"] == created["key_id"]
    assert json.loads(listed)["daily_job_quota"] == 1000


def test_cli_revoke_makes_the_authorizer_deny_the_key(
    authorizer: ModuleType, tables: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    plain_key, key_id = cli.create_api_key(tables.api_keys, "tenant-a")

    code = cli.main(["revoke", "--table", tables.api_keys, "--key-id", key_id])

    assert code == 0
    assert json.loads(capsys.readouterr().out)["revoked"] is True
    assert authorizer.handler(authorizer_event(plain_key), None) == {"isAuthorized": False}


def test_cli_revoke_unknown_key_fails(tables: Tables, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["revoke", "--table", tables.api_keys, "--key-id", "nope"])

    assert code == 1
    assert "does not exist" in capsys.readouterr().err


def test_cli_create_rejects_a_tenant_id_with_separator(
    tables: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["create", "--table", tables.api_keys, "--tenant", "a#b"])

    assert code == 1


def test_cli_create_output_key_prints_only_a_key_the_authorizer_accepts(
    authorizer: ModuleType, tables: Tables, capsys: pytest.CaptureFixture[str]
) -> None:
    # `make -s api-key ENV=... KEY_ONLY=1 | gh secret set SMOKE_API_KEY` pipes stdout.
    code = cli.main(["create", "--table", tables.api_keys, "--tenant", "smoke", "--output", "key"])

    out = capsys.readouterr()
    plain_key = out.out.strip()
    assert code == 0
    assert out.out == f"{plain_key}\n" and plain_key.startswith("jp_")
    assert plain_key not in out.err
    assert authorizer.handler(authorizer_event(plain_key), None)["isAuthorized"] is True
