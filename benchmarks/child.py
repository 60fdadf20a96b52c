"""One benchmark process: `python -m benchmarks.child <mode> <contender> <events.json> <out.json>`.

- cold: the clock starts before the first import; import the contender (AWS answered
  in-process), answer the valid submit, stop the clock. One cold start per process.
- warm: import, check every request's status, warm up, then ROUNDS x CALLS invocations of
  each request; the per-call median over rounds.
- check: import and answer each request once; print the statuses (tests use it).
- tracer: import boto3, create a client and set up one tracing library (TRACERS).
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # before anything of the contender is imported

import importlib  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

CONTENDERS = {
    "ours": "jobs_platform.handlers.api",
    "floor": "benchmarks.peers.floor",
    "plain": "benchmarks.peers.plain",
    "powertools": "benchmarks.peers.powertools_app",
    "fastapi": "benchmarks.peers.fastapi_app",
}
WARMUP_CALLS = 200

# Tracing candidates: what each adds to a cold start after boto3 and its client.
TRACERS = {
    "none": "",
    "ours": "from jobs_platform import tracing; tracing.instrument(client)",
    "xray-sdk": "from aws_xray_sdk.core import patch, xray_recorder; patch(('botocore',))",
    "powertools-tracer": "from aws_lambda_powertools import Tracer; Tracer(service='bench')",
}


class Context:
    """The Lambda context attributes the contenders read."""

    function_name = "bench-api"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-api"
    memory_limit_in_mb = 512
    aws_request_id = "4a8b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d"
    log_group_name = "/aws/lambda/bench-api"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _handler(contender: str) -> Any:
    from benchmarks import fake_aws  # noqa: PLC0415 - imports boto3: part of every cold start

    fake_aws.install()
    return importlib.import_module(CONTENDERS[contender]).handler


def main(argv: list[str]) -> int:
    mode, contender, events_path, out_path = argv[:4]
    with open(events_path, encoding="utf-8") as handle:
        events: dict[str, dict[str, Any]] = json.load(handle)
    context = Context()
    result: dict[str, Any] = {"contender": contender, "mode": mode}
    if mode == "tracer":
        import boto3  # noqa: PLC0415 - inside the clock, as in every cold start

        client = boto3.client("dynamodb")
        exec(TRACERS[contender], {"client": client})  # noqa: S102 - fixed snippets above
        result["seconds"] = time.perf_counter() - T0
    elif mode == "cold":
        start = T0
        handler = _handler(contender)
        response = handler(events["submit"], context)
        result["seconds"] = time.perf_counter() - start
        result["status"] = response["statusCode"]
    else:
        rounds, calls = (int(v) for v in argv[4:6]) if len(argv) > 4 else (5, 2000)
        handler = _handler(contender)
        result["status"] = {
            name: handler(event, context)["statusCode"] for name, event in events.items()
        }
        if mode == "warm":
            result["seconds"] = {}
            for name, event in events.items():
                for _ in range(WARMUP_CALLS):
                    handler(event, context)
                per_call = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    for _ in range(calls):
                        handler(event, context)
                    per_call.append((time.perf_counter() - started) / calls)
                result["seconds"][name] = statistics.median(per_call)
    if mode != "tracer":
        from benchmarks import fake_aws  # noqa: PLC0415

        result["aws_calls_answered"] = len(fake_aws.ANSWERED)
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
