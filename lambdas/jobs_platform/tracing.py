"""AWS SDK calls as X-Ray subsegments, without a tracing library.

With active tracing, Lambda starts the function's segment and hands its id to the code
in `_X_AMZN_TRACE_ID` (`Root=<trace id>;Parent=<segment id>;Sampled=<0|1>`, per
invocation). For a sampled invocation, `instrument(client)` times every call the client
makes (botocore's before-parameter-build / after-call events) and sends each as a subsegment of that
segment to the X-Ray daemon (UDP, `AWS_XRAY_DAEMON_ADDRESS`, as the X-Ray SDK does):
namespace `aws`, the service, operation, region, table, request id, retries, and
error/throttle/fault flags. X-Ray then shows each DynamoDB call inside the invocation.

Why not the X-Ray SDK, Powertools Tracer or OpenTelemetry: `make bench` measures what
each adds to a cold start ("tracing libraries" table) and every one of them costs more
than this module (a few standard-library imports the handler loads anyway), while the
only thing the platform needs from them is this subsegment per SDK call.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

TRACE_HEADER_ENV = "_X_AMZN_TRACE_ID"
DAEMON_ADDRESS_ENV = "AWS_XRAY_DAEMON_ADDRESS"
DEFAULT_DAEMON_ADDRESS = "127.0.0.1:2000"
_HEADER = b'{"format":"json","version":1}\n'
_STATE = "jobs_platform_trace"  # key in botocore's per-call context dict

_socket: socket.socket | None = None


def parse_trace_header(value: str) -> dict[str, str]:
    """`Root=1-...;Parent=...;Sampled=1` (or `X-Amzn-Trace-Id` in a request) as a dict."""
    fields: dict[str, str] = {}
    for part in value.split(";"):
        name, sep, item = part.strip().partition("=")
        if sep and name:
            fields[name] = item
    return fields


def current_trace_header() -> str:
    """This invocation's trace header ('' when the function is not traced)."""
    return os.environ.get(TRACE_HEADER_ENV, "")


def trace_id(header: str) -> str | None:
    """The trace id (`Root`) of a trace header, or None."""
    return parse_trace_header(header).get("Root") if header else None


def _daemon() -> tuple[str, int]:
    raw = os.environ.get(DAEMON_ADDRESS_ENV, DEFAULT_DAEMON_ADDRESS)
    # The variable may name separate TCP and UDP addresses: "tcp:h:p udp:h:p".
    for part in raw.split():
        if part.startswith("udp:"):
            raw = part[4:]
            break
    host, _, port = raw.rpartition(":")
    return host or "127.0.0.1", int(port)


def send(document: dict[str, Any]) -> None:
    """One segment document to the daemon; never raises (tracing must not break a call)."""
    global _socket  # noqa: PLW0603 - one socket per execution environment
    try:
        if _socket is None:
            _socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            _socket.setblocking(False)
        payload = json.dumps(document, separators=(",", ":"), default=str).encode()
        _socket.sendto(_HEADER + payload, _daemon())
    except (OSError, ValueError):
        pass


def _before_call(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    header = os.environ.get(TRACE_HEADER_ENV)
    if not header or "Sampled=1" not in header:
        return
    fields = parse_trace_header(header)
    if "Root" not in fields or "Parent" not in fields:
        return
    table = params.get("TableName") if isinstance(params, dict) else None
    context[_STATE] = (fields["Root"], fields["Parent"], time.time(), model.name, table)


_THROTTLING = frozenset(
    {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"}
)


def _subsegment(
    context: dict[str, Any], model: Any, status: int, meta: dict[str, Any], error_code: str = ""
) -> None:
    state = context.get(_STATE)
    if state is None:
        return
    root, parent, started, operation, table = state
    service = model.service_model
    document: dict[str, Any] = {
        "name": str(service.service_id),  # e.g. DynamoDB
        "id": os.urandom(8).hex(),
        "trace_id": root,
        "parent_id": parent,
        "start_time": started,
        "end_time": time.time(),
        "type": "subsegment",
        "namespace": "aws",
        "aws": {
            "operation": operation,
            "region": os.environ.get("AWS_REGION", ""),
            "request_id": meta.get("RequestId", ""),
            "retries": meta.get("RetryAttempts", 0),
        },
        "http": {"response": {"status": status}},
    }
    if table:
        document["aws"]["table_name"] = table
    if status == 429 or error_code in _THROTTLING:
        document["throttle"] = True
        document["error"] = True
    elif 400 <= status < 500:
        document["error"] = True
    elif status >= 500 or status == 0:
        document["fault"] = True
    send(document)


def _after_call(
    http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
) -> None:
    meta = parsed.get("ResponseMetadata", {}) if isinstance(parsed, dict) else {}
    status = int(getattr(http_response, "status_code", 0) or meta.get("HTTPStatusCode", 0))
    error = parsed.get("Error", {}) if isinstance(parsed, dict) else {}
    _subsegment(context, model, status, meta, str(error.get("Code", "")))


def _after_call_error(model: Any, context: dict[str, Any], **_: Any) -> None:
    _subsegment(context, model, 0, {})


def instrument(client: Any) -> Any:
    """Trace every call `client` makes as an X-Ray subsegment (sampled invocations only)."""
    events = client.meta.events
    events.register("before-parameter-build", _before_call)
    events.register("after-call", _after_call)
    events.register("after-call-error", _after_call_error)
    return client
