"""Peer: AWS Lambda Powertools' APIGatewayHttpResolver with Logger, Tracer and Metrics,
written as its documentation shows (data validation with the same pydantic model)."""

# No `from __future__ import annotations`: the resolver reads the body model from the
# annotation at import time.

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from benchmarks.peers.job_write import submit_job
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
    body = submit_job(_client, _TABLE, tenant, job)
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    return body, 202


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = app.resolve(event, context)
    logger.info("request handled", extra={"status": result["statusCode"]})
    return result
