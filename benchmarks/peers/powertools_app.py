"""Peer: AWS Lambda Powertools' APIGatewayHttpResolver with Logger, Tracer and Metrics,
written as its documentation shows (data validation with the same pydantic model)."""

# No `from __future__ import annotations`: the resolver reads the body model from the
# annotation at import time.

import json
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from jobs_platform.models import JobRequest

tracer = Tracer()
logger = Logger()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
_client = boto3.client("dynamodb")
_TABLE = os.environ["JOBS_TABLE_NAME"]


@app.get("/health")
@tracer.capture_method
def health() -> dict[str, Any]:
    return {"status": "ok", "version": "bench"}


@app.post("/v1/jobs")
@tracer.capture_method
def submit(job: JobRequest) -> tuple[dict[str, Any], int]:
    tenant = app.current_event.request_context.authorizer.get_lambda["tenant_id"]
    job_id = uuid.uuid4().hex
    stamp = datetime.now(UTC).isoformat()
    _client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": _TABLE,
                    "Key": {"pk": {"S": f"TENANT#{tenant}"}, "sk": {"S": f"QUOTA#{stamp[:10]}"}},
                    "UpdateExpression": "ADD #c :one",
                    "ConditionExpression": "attribute_not_exists(#c) OR #c < :quota",
                    "ExpressionAttributeNames": {"#c": "count"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":quota": {"N": "1000"}},
                }
            },
            {
                "Put": {
                    "TableName": _TABLE,
                    "Item": {
                        "pk": {"S": f"TENANT#{tenant}"},
                        "sk": {"S": f"JOB#{job_id}"},
                        "type": {"S": job.type},
                        "status": {"S": "queued"},
                        "payload": {"S": json.dumps(job.payload)},
                        "created_at": {"S": stamp},
                        "expires_at": {"N": str(int(time.time()) + 86400 * 30)},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    return {"job_id": job_id, "status": "queued", "created_at": stamp}, 202


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = app.resolve(event, context)
    logger.info("request handled", extra={"status": result["statusCode"]})
    return result
