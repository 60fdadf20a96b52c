"""Test helpers: events built from the samples in tests/events/, tables from the schema."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jobs_platform import config, schema
from jobs_platform.config import (
    ApiSettings,
    AuthorizerSettings,
    BookkeeperSettings,
    WorkerSettings,
)
from jobs_platform.handlers.authorizer import API_KEY_HEADER
from jobs_platform.routing import RouteTable

EVENTS_DIR = Path(__file__).parent / "events"
_UNSET: Any = object()

# A valid environment for every function's settings (each reads its own variables).
SETTINGS_ENVIRON = {
    config.JOBS_TABLE_NAME: "jobs",
    config.JOBS_DLQ_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/jobs-dlq",
    config.SESSIONS_TABLE_NAME: "sessions",
    config.API_KEYS_TABLE_NAME: "keys",
    config.ENABLE_TEST_JOB_TYPES: "true",
    config.MAX_RECEIVE_COUNT: "5",
    config.JOB_RETENTION_DAYS: "30",
    config.SESSION_DEFAULT_TTL_SECONDS: "3600",
    config.SERVICE_VERSION: "1.0.0",
    config.SERVICE_NAME: "jobs-platform-test",
    config.LOG_LEVEL: "warning",
}
# Each function (a module in jobs_platform/handlers) and the settings it parses.
FUNCTION_SETTINGS: dict[str, Any] = {
    "api": ApiSettings,
    "authorizer": AuthorizerSettings,
    "worker": WorkerSettings,
    "bookkeeper": BookkeeperSettings,
}


class _RecordingEnviron(dict[str, str]):
    """os.environ as `from_env` sees it, noting every name it reads."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


def env_vars_read_by(settings: Any, environ: Mapping[str, str] = SETTINGS_ENVIRON) -> set[str]:
    """The environment variables `settings.from_env` reads (set or not): derived from the
    code, so no list of names can drift from what the functions actually read."""
    recording = _RecordingEnviron(environ)
    settings.from_env(recording)
    return recording.read


@cache
def _read_event(name: str) -> str:
    return (EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8")


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of tests/events/<name>.json (the one loader every event goes through)."""
    return copy.deepcopy(json.loads(_read_event(name)))


def _route_for(method: str, path: str) -> tuple[str, dict[str, str] | None]:
    """What API Gateway's router does: the matching route key and path parameters."""
    from jobs_platform.handlers.api import ROUTES

    route_key, params = RouteTable(ROUTES).select(method, path)
    assert route_key is not None, "the api's ROUTES has a $default route"
    return route_key, params or None


def api_event(
    method: str,
    path: str,
    *,
    json_body: Any = _UNSET,
    body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    tenant_id: str | None = "tenant-a",
    daily_job_quota: int = 1000,
    base64_body: bool = False,
) -> dict[str, Any]:
    """An API Gateway HTTP API (2.0) event as the gateway would route it."""
    event = load_event("apigw_http_request")
    route_key, path_params = _route_for(method, path)
    event["routeKey"] = route_key
    event["requestContext"]["routeKey"] = route_key
    event["rawPath"] = path
    event["requestContext"]["http"].update({"method": method, "path": path})
    event["pathParameters"] = path_params
    event["queryStringParameters"] = query
    if headers:
        event["headers"].update({name.lower(): value for name, value in headers.items()})
    if json_body is not _UNSET:
        body = json.dumps(json_body)
        event["headers"].setdefault("content-type", "application/json")
    if isinstance(body, bytes) or (base64_body and body is not None):
        raw = body.encode("utf-8") if isinstance(body, str) else body
        event["body"] = base64.b64encode(raw).decode("ascii")
        event["isBase64Encoded"] = True
    else:
        event["body"] = body
    if tenant_id is None:
        del event["requestContext"]["authorizer"]
    else:
        event["requestContext"]["authorizer"]["lambda"].update(
            {"tenant_id": tenant_id, "daily_job_quota": daily_job_quota}
        )
    return event


def authorizer_event(api_key: str | None, *, header_name: str = API_KEY_HEADER) -> dict[str, Any]:
    event = load_event("authorizer_request")
    del event["headers"][API_KEY_HEADER]
    event["identitySource"] = []
    if api_key is not None:
        event["headers"][header_name] = api_key
        event["identitySource"] = [api_key]
    return event


def sqs_record(
    pk: str,
    sk: str,
    *,
    message_id: str = "msg-1",
    receive_count: int = 1,
    body: str | None = None,
) -> dict[str, Any]:
    """One SQS record whose body is the jobs-table stream record for (pk, sk)."""
    record: dict[str, Any] = load_event("sqs_stream_record")["Records"][0]
    stream_record = json.loads(record["body"])
    keys = {schema.PARTITION_KEY: {"S": pk}, schema.SORT_KEY: {"S": sk}}
    stream_record["dynamodb"]["Keys"] = keys
    stream_record["dynamodb"]["NewImage"].update(keys)
    record["body"] = json.dumps(stream_record) if body is None else body
    record["messageId"] = message_id
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return record


def job_record(
    tenant_id: str, job_id: str, *, message_id: str = "msg-1", receive_count: int = 1
) -> dict[str, Any]:
    return sqs_record(
        schema.tenant_pk(tenant_id),
        schema.job_sk(job_id),
        message_id=message_id,
        receive_count=receive_count,
    )


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response["body"] else None


def create_table(client: Any, name: str, table: schema.TableSchema) -> None:
    """Create a table from the key facts in jobs_platform.schema (as Terraform declares)."""
    key_schema = [{"AttributeName": table.partition_key, "KeyType": "HASH"}]
    if table.sort_key:
        key_schema.append({"AttributeName": table.sort_key, "KeyType": "RANGE"})
    kwargs: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": key_schema,
        "AttributeDefinitions": [
            {"AttributeName": attribute, "AttributeType": "S"} for attribute in table.key_attributes
        ],
    }
    if table.indexes:
        kwargs["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": index.projection},
            }
            for index in table.indexes
        ]
    if table.stream_view_type:
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": table.stream_view_type,
        }
    client.create_table(**kwargs)
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
    )
