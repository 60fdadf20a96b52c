"""One benchmark process: `python -m benchmarks.child <mode> <contender> <events.json> ...`.

- cold `<out.json>`: the clock starts before the first import; import the contender (AWS
  answered in-process), answer the valid submit, stop the clock. One cold start per
  process.
- serve `<result fd>`: import, answer each request once (its status), warm up, then obey
  the harness on stdin, one command per line: `<request> <calls>` runs that many
  invocations of the request and answers `<wall seconds> <cpu seconds>` (per call) on
  the result fd; `quit` answers the AWS calls answered and exits. The harness keeps one
  such process per contender and interleaves their batches (benchmarks/__main__.py).
- check `<out.json>`: import and answer each request once; the statuses (tests use it).
- tracer `<out.json>`: import boto3, create a client and set up one tracing library.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # before anything of the contender is imported

import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

CONTENDERS = {
    "ours": "jobs_platform.handlers.api",
    "floor": "benchmarks.peers.floor",
    "plain": "benchmarks.peers.plain",
    "powertools": "benchmarks.peers.powertools_app",
    "fastapi": "benchmarks.peers.fastapi_app",
}
# Warm-up per request before any timed call: at least this many calls and this long.
WARMUP_CALLS = 300
WARMUP_SECONDS = 0.2

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


def _answered() -> int:
    from benchmarks import fake_aws  # noqa: PLC0415

    return len(fake_aws.ANSWERED)


def _timed(
    handler: Any, event: dict[str, Any], context: Context, calls: int
) -> tuple[float, float]:
    """Wall and CPU seconds per call over `calls` invocations."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        handler(event, context)
    return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


def serve(contender: str, events: dict[str, dict[str, Any]], result_fd: int) -> int:
    context = Context()
    handler = _handler(contender)
    status = {name: handler(event, context)["statusCode"] for name, event in events.items()}
    estimate = {}
    for name, event in events.items():
        calls, started = 0, time.perf_counter()
        while calls < WARMUP_CALLS or time.perf_counter() - started < WARMUP_SECONDS:
            handler(event, context)
            calls += 1
        estimate[name] = (time.perf_counter() - started) / calls
    with os.fdopen(result_fd, "w", buffering=1, encoding="utf-8") as results:
        results.write(json.dumps({"status": status, "per_call_estimate": estimate}) + "\n")
        for line in sys.stdin:
            command = line.split()
            if command == ["quit"]:
                results.write(json.dumps({"aws_calls_answered": _answered()}) + "\n")
                break
            name, calls = command[0], int(command[1])
            wall, cpu = _timed(handler, events[name], context, calls)
            results.write(f"{wall!r} {cpu!r}\n")
    return 0


def main(argv: list[str]) -> int:
    mode, contender, events_path = argv[:3]
    with open(events_path, encoding="utf-8") as handle:
        events: dict[str, dict[str, Any]] = json.load(handle)
    if mode == "serve":
        return serve(contender, events, int(argv[3]))
    out_path = argv[3]
    context = Context()
    result: dict[str, Any] = {"contender": contender, "mode": mode}
    if mode == "tracer":
        import boto3  # noqa: PLC0415 - inside the clock, as in every cold start

        client = boto3.client("dynamodb")
        exec(TRACERS[contender], {"client": client})  # noqa: S102 - fixed snippets above
        result["seconds"] = time.perf_counter() - T0
    elif mode == "cold":
        handler = _handler(contender)
        response = handler(events["submit"], context)
        result["seconds"] = time.perf_counter() - T0
        result["status"] = response["statusCode"]
    else:  # check
        handler = _handler(contender)
        result["status"] = {
            name: handler(event, context)["statusCode"] for name, event in events.items()
        }
    if mode != "tracer":
        result["aws_calls_answered"] = _answered()
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
