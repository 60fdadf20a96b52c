"""Operator tool for API keys: mint (the plain key is printed once), list, revoke.

    python -m scripts.api_keys create --table T --tenant TENANT [--name N] [--daily-job-quota 1000]
    python -m scripts.api_keys list --table T
    python -m scripts.api_keys revoke --table T --key-id ID

Uses boto3's normal configuration (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL for the
local emulator). Only the SHA-256 hash of a key is stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import boto3

from jobs_platform.api_keys import DEFAULT_DAILY_JOB_QUOTA, ApiKeyStore
from jobs_platform.errors import DomainError


def _store(table_name: str, client: Any = None) -> ApiKeyStore:
    return ApiKeyStore(client or boto3.client("dynamodb"), table_name)


def create_api_key(
    table_name: str,
    tenant_id: str,
    name: str = "default",
    daily_job_quota: int = DEFAULT_DAILY_JOB_QUOTA,
    *,
    expires_at: int | None = None,
    client: Any = None,
) -> tuple[str, str]:
    """Mint a key for `tenant_id` in `table_name`; returns (plain_key, key_id)."""
    plain_key, record = _store(table_name, client).create(
        tenant_id, name=name, daily_job_quota=daily_job_quota, expires_at=expires_at
    )
    return plain_key, record.key_id


def list_api_keys(table_name: str, *, client: Any = None) -> list[dict[str, Any]]:
    return [record.to_public() for record in _store(table_name, client).list_keys()]


def revoke_api_key(table_name: str, key_id: str, *, client: Any = None) -> dict[str, Any]:
    return _store(table_name, client).revoke(key_id).to_public()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.api_keys", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="mint a key (printed once)")
    create.add_argument("--table", required=True, help="api keys table name")
    create.add_argument("--tenant", required=True, help="tenant id the key acts for")
    create.add_argument("--name", default="default", help="a label for the key")
    create.add_argument(
        "--daily-job-quota", type=int, default=DEFAULT_DAILY_JOB_QUOTA, help="jobs per UTC day"
    )
    create.add_argument(
        "--output",
        choices=("json", "key"),
        default="json",
        help="json: key, key_id and tenant; key: the key alone (to pipe into `gh secret set`)",
    )
    listing = commands.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--table", required=True)
    revoke = commands.add_parser("revoke", help="revoke a key by its key_id")
    revoke.add_argument("--table", required=True)
    revoke.add_argument("--key-id", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "create":
            plain_key, key_id = create_api_key(
                args.table, args.tenant, args.name, args.daily_job_quota
            )
            if args.output == "key":
                print(plain_key)
                print(f"minted key {key_id} for tenant {args.tenant}", file=sys.stderr)
            else:
                record = {"api_key": plain_key, "key_id": key_id, "tenant_id": args.tenant}
                print(json.dumps(record))
                print("Store the api_key now: it is not shown again.", file=sys.stderr)
        elif args.command == "list":
            for record in list_api_keys(args.table):
                print(json.dumps(record))
        else:
            print(json.dumps(revoke_api_key(args.table, args.key_id)))
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
