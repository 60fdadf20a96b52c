"""Peer: a plain hand-written dispatcher + pydantic, as a careful engineer writes it
without a framework: a dict of routes, json, the same model, the same transaction
(quota counter + job put), one JSON log line per request via print."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from pydantic import ValidationError

from benchmarks.peers.job_write import submit_job
from jobs_platform.models import JobRequest

_client = boto3.client("dynamodb")
_TABLE = os.environ["JOBS_TABLE_NAME"]


def _response(status: int, body: Any) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def health(event: dict[str, Any]) -> dict[str, Any]:
    return _response(200, {"status": "ok", "version": "bench"})


def submit(event: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(event.get("body") or "")
    except ValueError:
        return _response(400, {"title": "Invalid JSON"})
    try:
        job = JobRequest.model_validate(data)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        return _response(422, {"title": "Invalid request", "errors": errors})
    tenant = event["requestContext"]["authorizer"]["lambda"]["tenant_id"]
    return _response(202, submit_job(_client, _TABLE, tenant, job))


ROUTES = {"GET /health": health, "POST /v1/jobs": submit}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    route = ROUTES.get(event.get("routeKey", ""))
    result = route(event) if route else _response(404, {"title": "Not found"})
    print(
        json.dumps(
            {
                "level": "INFO",
                "message": "request handled",
                "request_id": event["requestContext"]["requestId"],
                "route": event.get("routeKey"),
                "status": result["statusCode"],
            }
        )
    )
    return result
