"""Peer: FastAPI + Mangum, as their documentation shows (the same pydantic model as the
request body, a JSON log line per request through the standard logging module)."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

import boto3
from fastapi import FastAPI, Request
from mangum import Mangum

from benchmarks.peers.job_write import submit_job
from jobs_platform.models import JobRequest

logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
logger = logging.getLogger("bench")
app = FastAPI()
_client = boto3.client("dynamodb")
_TABLE = os.environ["JOBS_TABLE_NAME"]


# FastAPI's documentation: `async def` for a path operation that waits on nothing (no
# thread hop), plain `def` for one that makes a blocking call (boto3) so it runs in the
# thread pool.
@app.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "ok", "version": "bench"}


@app.post("/v1/jobs", status_code=202)
def submit(job: JobRequest, request: Request) -> dict[str, Any]:
    tenant = request.scope["aws.event"]["requestContext"]["authorizer"]["lambda"]["tenant_id"]
    return submit_job(_client, _TABLE, tenant, job)


_mangum = Mangum(app, lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = _mangum(event, context)
    logger.info(
        json.dumps(
            {
                "level": "INFO",
                "message": "request handled",
                "request_id": event["requestContext"]["requestId"],
                "status": result["statusCode"],
            }
        )
    )
    return result
