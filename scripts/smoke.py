"""Smoke-test a running environment end to end: `python -m scripts.smoke`.

Checks: GET /health is ok; a call without an API key is refused with 401; an `echo` job
submitted with the key reaches `succeeded` (polled with a timeout, progress printed) and
its result equals its payload. Exits 0 when every check passed, 1 with a clear message on
the first failure, 2 on bad usage.

Target: `--base-url`/`--api-key`, else `SMOKE_BASE_URL`/`SMOKE_API_KEY`; for a deployed
environment (`make smoke ENV=staging`) the base URL comes from its Terraform outputs
(`--terraform-outputs`: `edge_url`, else `api_endpoint`); else the local stack's
`.local/stack.json`. Only the standard library is used, so it runs anywhere.

The first deploy of an environment: its api-keys table did not exist before this apply,
so no key can be in `SMOKE_API_KEY` yet. Given the change set just applied
(`--applied-plan dist/<env>.plan.json`) and no key, smoke checks what needs none (health,
401 without a key), then says loudly (a GitHub warning annotation and the job summary)
that the authenticated checks were skipped and how to mint the key. Without a key in any
other run, smoke fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from scripts.terraform_cli import read_output_values

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_STACK_FILE = REPO_ROOT / ".local" / "stack.json"
# The authorizer's header (standard library only here, so stated again; a contract test
# ties it to jobs_platform.handlers.authorizer.API_KEY_HEADER).
API_KEY_HEADER = "x-api-key"


class SmokeFailure(Exception):
    pass


def request(
    method: str, url: str, api_key: str | None = None, body: Any = None, timeout: float = 10
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"accept": "application/json"}
    if data is not None:
        headers["content-type"] = "application/json"
    if api_key:
        headers[API_KEY_HEADER] = api_key
    req = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
            status, raw, response_headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, response_headers = error.code, error.read(), error.headers
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise SmokeFailure(f"{method} {url}: cannot connect: {error}") from error
    try:
        payload = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        payload = raw.decode(errors="replace")
    return status, {k.lower(): v for k, v in response_headers.items()}, payload


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def run(base_url: str, api_key: str, timeout: float, echo: Any = print) -> None:
    base_url = base_url.rstrip("/")

    status, _, body = request("GET", f"{base_url}/health")
    healthy = status == 200 and isinstance(body, dict) and body.get("status") == "ok"
    expect(healthy, f"GET /health: expected 200 {{'status': 'ok'}}, got {status} {body!r}")
    echo(f"ok   health (version {body.get('version')})")

    status, _, body = request("GET", f"{base_url}/v1/jobs")
    expect(status == 401, f"GET /v1/jobs without a key: expected 401, got {status} {body!r}")
    echo("ok   401 without an API key")

    payload = {"smoke": str(uuid.uuid4())}
    status, headers, job = request(
        "POST", f"{base_url}/v1/jobs", api_key, {"type": "echo", "payload": payload}
    )
    expect(status == 202, f"POST /v1/jobs: expected 202, got {status} {job!r}")
    expect(isinstance(job, dict) and "job_id" in job, f"POST /v1/jobs: no job_id in {job!r}")
    location = headers.get("location")
    expect(location == f"/v1/jobs/{job['job_id']}", f"POST /v1/jobs: bad Location {location!r}")
    expect("x-request-id" in headers, "POST /v1/jobs: response has no x-request-id")
    echo(f"ok   submitted echo job {job['job_id']}")

    deadline = time.monotonic() + timeout
    started = time.monotonic()
    last_status = job.get("status")
    while True:
        status, _, job = request("GET", f"{base_url}/v1/jobs/{job['job_id']}", api_key)
        expect(status == 200, f"GET /v1/jobs/{{id}}: expected 200, got {status} {job!r}")
        if job["status"] != last_status:
            echo(f"...  job is {job['status']} after {time.monotonic() - started:.1f}s")
            last_status = job["status"]
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        if time.monotonic() > deadline:
            raise SmokeFailure(
                f"job {job['job_id']} still {job['status']} after {timeout:.0f}s: "
                "is the worker (queue -> function) running?"
            )
        time.sleep(0.5)
    expect(job["status"] == "succeeded", f"echo job ended {job['status']}: {job.get('error')!r}")
    expect(job.get("result") == payload, f"echo result {job.get('result')!r} != {payload!r}")
    echo(f"ok   echo job succeeded in {time.monotonic() - started:.1f}s with its payload as result")


# The api-keys table (docs/architecture.md "Tables"): created by an apply only on the
# environment's first deploy. tests/terraform/test_offline_plans.py checks the address.
API_KEYS_TABLE_ADDRESS = 'module.table["api-keys"].aws_dynamodb_table.this'


def base_url_from_outputs(outputs: dict[str, Any]) -> str | None:
    """The public base URL in the Terraform outputs: the edge, else the API itself."""
    for name in ("edge_url", "api_endpoint"):
        value = outputs.get(name)
        if value:
            return str(value)
    return None


def created_api_keys_table(change_set: dict[str, Any]) -> bool:
    return any(
        rc["address"] == API_KEYS_TABLE_ADDRESS and "create" in rc["actions"]
        for rc in change_set.get("resource_changes", [])
    )


def resolve_target(args: argparse.Namespace) -> tuple[str, str | None]:
    base_url = args.base_url or os.environ.get("SMOKE_BASE_URL")
    api_key = args.api_key or os.environ.get("SMOKE_API_KEY")
    if args.terraform_outputs is not None:
        base_url = base_url or base_url_from_outputs(read_output_values(args.terraform_outputs))
        if not base_url:
            raise SystemExit(
                f"error: {args.env or 'the environment'} has no edge_url or api_endpoint output: "
                "has it been applied? (make plan/apply ENV=...)"
            )
        return base_url, api_key
    if not (base_url and api_key) and args.stack_file.exists():
        stack = json.loads(args.stack_file.read_text())
        base_url = base_url or stack["base_url"]
        api_key = api_key or stack["api_key"]
    if not base_url or not api_key:
        raise SystemExit(
            "error: no target: pass --base-url and --api-key, set SMOKE_BASE_URL and "
            f"SMOKE_API_KEY, or start the local stack (make local) to create {args.stack_file}"
        )
    return base_url, api_key


def run_without_key(base_url: str, echo: Any = print) -> None:
    """The checks that need no API key (an environment's first deploy)."""
    base_url = base_url.rstrip("/")
    status, _, body = request("GET", f"{base_url}/health")
    healthy = status == 200 and isinstance(body, dict) and body.get("status") == "ok"
    expect(healthy, f"GET /health: expected 200 {{'status': 'ok'}}, got {status} {body!r}")
    echo(f"ok   health (version {body.get('version')})")
    status, _, body = request("GET", f"{base_url}/v1/jobs")
    expect(status == 401, f"GET /v1/jobs without a key: expected 401, got {status} {body!r}")
    echo("ok   401 without an API key")


def announce_skip(env: str, message: str) -> None:
    """Say it where nobody can miss it: stderr, a GitHub warning, the job summary."""
    banner = "=" * 78
    print(f"{banner}\nSKIPPED {message}\n{banner}", file=sys.stderr)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        one_line = message.replace("\n", " ")
        print(f"::warning title=smoke ({env}): authenticated checks skipped::{one_line}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(f"### smoke ({env}): authenticated checks SKIPPED\n\n{message}\n")


def missing_key_message(env: str) -> str:
    return (
        f"SMOKE_API_KEY is not set for {env}. This is the environment's first deploy: its "
        "api-keys table was created by this apply, so no key could exist before. Mint one "
        f"with your own AWS credentials and store it as the GitHub environment's secret:\n"
        f"  make -s api-key ENV={env} KEY_ONLY=1 | gh secret set SMOKE_API_KEY --env {env}\n"
        "From the next deploy on, smoke runs the authenticated checks and fails without the key."
    )


def publish_url(base_url: str) -> None:
    """The URL for the GitHub deployment (`environment.url: steps.<id>.outputs.url`)."""
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write(f"url={base_url}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="e.g. https://api.example.com (env SMOKE_BASE_URL)")
    parser.add_argument("--api-key", help="an API key for the environment (env SMOKE_API_KEY)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the job")
    parser.add_argument("--stack-file", type=Path, default=LOCAL_STACK_FILE)
    parser.add_argument("--env", help="the environment's name (for messages)")
    parser.add_argument(
        "--terraform-outputs", type=Path, help="`terraform output -json` (a file, or - for stdin)"
    )
    parser.add_argument(
        "--applied-plan", type=Path, help="the change set just applied (dist/<env>.plan.json)"
    )
    args = parser.parse_args(argv)
    base_url, api_key = resolve_target(args)
    env = args.env or "the environment"
    publish_url(base_url)
    print(f"smoke test of {base_url}" + (f" ({args.env})" if args.env else ""))
    first_deploy = False
    if api_key is None and args.applied_plan is not None and args.applied_plan.is_file():
        first_deploy = created_api_keys_table(json.loads(args.applied_plan.read_text()))
    if api_key is None and not first_deploy:
        print(
            f"FAIL SMOKE_API_KEY is not set for {env}, and its api-keys table existed before "
            f"this run: mint a key (make -s api-key ENV={args.env or '<env>'} KEY_ONLY=1 | "
            f"gh secret set SMOKE_API_KEY --env {args.env or '<env>'}) and re-run",
            file=sys.stderr,
        )
        return 1
    try:
        if api_key is None:
            run_without_key(base_url)
        else:
            run(base_url, api_key, args.timeout)
    except SmokeFailure as failure:
        print(f"FAIL {failure}", file=sys.stderr)
        return 1
    if api_key is None:
        announce_skip(args.env or "environment", missing_key_message(args.env or "<env>"))
        print("smoke test passed WITHOUT its authenticated checks (first deploy: see above)")
        return 0
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
