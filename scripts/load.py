"""A bounded load run against the local stack: `make load` (`python -m scripts.load`).

`--clients` threads submit `echo` jobs for `--warmup` + `--duration` seconds over
keep-alive connections on loopback (the warm-up lets the function environments start:
its submissions count for correctness, not for the latency and throughput figures).
Every `--repeat-every`-th submission of a client resends its previous one with the same
Idempotency-Key (it must replay the same job). A client answered 429 (the stage's
throttling) backs off a jittered 0.1-0.2 s, as an AWS SDK does, before its next request.
Then it waits (at most `--drain-timeout` seconds) until every accepted job is terminal,
reading the tenant's job list, and reports:

- accepted (distinct jobs answered 202), replays, terminal, lost (accepted but absent),
  stuck (accepted, not terminal when the drain ends), failed (terminal but not succeeded:
  an `echo` job always succeeds, so each one is a job the stack dropped), duplicates (jobs
  the tenant has that no submission was answered with, or a replay naming another job),
  re-runs (jobs a worker started more than once);
- connection errors (resets, refusals, timeouts) and answers by status;
- throughput: submits/s, terminal jobs/s;
- latency: submit p50/p99 (client side) and submit-to-terminal p50/p99 (the job's
  created_at -> updated_at), and the submit p99 of each 10 s window with the ratio of the
  last to the first (flat under load means close to 1).

It runs as its own tenant (a key minted in the stack's emulator), so it counts exactly
its own jobs. Exit status: 0 when nothing was lost, stuck, failed, duplicated, refused at the
connection level or answered with a 5xx; 1 otherwise; 2 on bad usage. Only loopback
targets are accepted.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import random
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import requests

from scripts import fake_aws
from scripts.api_keys import create_api_key

REPO_ROOT = Path(__file__).resolve().parent.parent
TERMINAL = {"succeeded", "failed", "cancelled"}
WINDOW_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 30.0
# After a 429 a client waits a jittered pause of up to this before its next request.
THROTTLE_BACKOFF_SECONDS = 0.2


@dataclass
class Submission:
    started: float  # seconds since the run started
    latency: float
    status: int | None  # None: no HTTP answer
    job_id: str | None
    key: str
    replay_of: str | None = None  # the job id the first submission with this key got
    error: str | None = None


@dataclass
class Report:
    duration_seconds: float
    warmup_seconds: float
    clients: int
    submissions: int
    accepted: int
    replays: int
    terminal: int
    lost: int
    stuck: int
    duplicates: int
    reruns: int
    connection_errors: dict[str, int]
    statuses: dict[str, int]
    submits_per_second: float
    terminal_per_second: float
    submit_p50_ms: float
    submit_p99_ms: float
    terminal_p50_ms: float
    terminal_p99_ms: float
    server_errors: int = 0  # answers with a 5xx status: never acceptable
    failed: int = 0  # terminal but not succeeded (echo jobs always succeed)
    window_p99_ms: list[float] = field(default_factory=list)
    window_submits: list[int] = field(default_factory=list)
    p99_last_to_first: float = 0.0
    drain_seconds: float = 0.0

    @property
    def correct(self) -> bool:
        return (
            self.lost == 0
            and self.stuck == 0
            and self.failed == 0
            and self.duplicates == 0
            and not self.connection_errors
            and self.server_errors == 0
            and self.accepted > 0
        )


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def is_loopback(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def mint_tenant_key(state_dir: Path, tenant: str) -> str:
    details = json.loads((state_dir / "emulator.json").read_text())
    client = boto3.client(
        "dynamodb",
        region_name=fake_aws.REGION,
        endpoint_url=details["emulator_endpoint"],
        aws_access_key_id=fake_aws.ACCESS_KEY_ID,
        aws_secret_access_key=fake_aws.SECRET_ACCESS_KEY,
    )
    key, _ = create_api_key(
        details["outputs"]["api_keys_table_name"], tenant, "load run", 10_000_000, client=client
    )
    return key


class LoadRun:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        clients: int,
        duration: float,
        repeat_every: int,
        warmup: float = 0.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.clients = clients
        self.duration = duration
        self.warmup = warmup
        self.repeat_every = repeat_every
        self.submissions: list[Submission] = []
        self.lock = threading.Lock()
        self.start = 0.0

    def _connection(self) -> http.client.HTTPConnection:
        parts = urlsplit(self.base_url)
        return http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port or 80, timeout=REQUEST_TIMEOUT_SECONDS
        )

    def _client(self, index: int) -> None:
        # http.client on one keep-alive connection per client: the load generator shares
        # the machine with the stack, so it should cost as little CPU as it can.
        connection = self._connection()
        headers = {"x-api-key": self.api_key, "content-type": "application/json"}
        deadline = self.start + self.warmup + self.duration
        previous: tuple[str, bytes, str | None] | None = None
        sent = 0
        while time.monotonic() < deadline:
            sent += 1
            if previous is not None and self.repeat_every and sent % self.repeat_every == 0:
                key, body, replay_of = previous
            else:
                key = str(uuid.uuid4())
                payload = {"type": "echo", "payload": {"client": index, "n": sent}}
                body = json.dumps(payload).encode()
                replay_of = None
            began = time.monotonic()
            status, job_id, error = None, None, None
            try:
                connection.request(
                    "POST", "/v1/jobs", body=body, headers={**headers, "idempotency-key": key}
                )
                response = connection.getresponse()
                data = response.read()
                status = response.status
                if status in (200, 202):
                    job_id = json.loads(data)["job_id"]
                if response.getheader("connection", "").lower() == "close":
                    connection.close()
                    connection = self._connection()
            except (OSError, http.client.HTTPException, ValueError) as exc:
                error = type(exc).__name__
                connection.close()
                connection = self._connection()  # a broken connection is not reused
            ended = time.monotonic()
            submission = Submission(
                started=began - self.start,
                latency=ended - began,
                status=status,
                job_id=job_id,
                key=key,
                replay_of=replay_of,
                error=error,
            )
            with self.lock:
                self.submissions.append(submission)
            if replay_of is None and status == 202:
                previous = (key, body, job_id)
            if status == 429:  # throttled by the stage: back off, as an AWS SDK would
                pause = random.uniform(THROTTLE_BACKOFF_SECONDS / 2, THROTTLE_BACKOFF_SECONDS)  # noqa: S311
                time.sleep(pause)
        connection.close()

    def submit_phase(self) -> None:
        self.start = time.monotonic()
        threads = [
            threading.Thread(target=self._client, args=(i,), daemon=True, name=f"client-{i}")
            for i in range(self.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.warmup + self.duration + REQUEST_TIMEOUT_SECONDS + 30)

    def list_jobs(self) -> dict[str, dict[str, Any]]:
        """Every job of this run's tenant (newest first, 100 a page)."""
        jobs: dict[str, dict[str, Any]] = {}
        cursor = None
        with requests.Session() as session:
            session.headers["x-api-key"] = self.api_key
            for _ in range(10_000):
                params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
                response = session.get(
                    f"{self.base_url}/v1/jobs", params=params, timeout=REQUEST_TIMEOUT_SECONDS
                )
                response.raise_for_status()
                page = response.json()
                jobs.update({job["job_id"]: job for job in page["items"]})
                cursor = page["next_cursor"]
                if not cursor:
                    break
        return jobs

    def drain(self, accepted: set[str], timeout: float) -> tuple[dict[str, dict[str, Any]], float]:
        began = time.monotonic()
        while True:
            jobs = self.list_jobs()
            pending = [j for j in accepted if jobs.get(j, {}).get("status") not in TERMINAL]
            if not pending or time.monotonic() - began > timeout:
                return jobs, time.monotonic() - began
            time.sleep(1.0)


def summarise(run: LoadRun, jobs: dict[str, dict[str, Any]], drain_seconds: float) -> Report:
    subs = run.submissions
    accepted = {s.job_id for s in subs if s.status == 202 and s.job_id}
    replays = [s for s in subs if s.status == 200]
    replay_mismatch = sum(1 for s in replays if s.replay_of and s.job_id != s.replay_of)
    answered = accepted | {s.job_id for s in replays if s.job_id}
    extra = [job_id for job_id in jobs if job_id not in answered]
    terminal = [j for j in accepted if jobs.get(j, {}).get("status") in TERMINAL]
    lost = [j for j in accepted if j not in jobs]
    stuck = [j for j in accepted if j in jobs and jobs[j]["status"] not in TERMINAL]
    failed = [j for j in terminal if jobs[j]["status"] != "succeeded"]
    reruns = sum(1 for j in accepted if int(jobs.get(j, {}).get("attempts", 0)) > 1)

    def millis(job: dict[str, Any]) -> float:
        created = datetime.fromisoformat(job["created_at"].replace("Z", "+00:00"))
        updated = datetime.fromisoformat(job["updated_at"].replace("Z", "+00:00"))
        return (updated - created).total_seconds() * 1000

    # Latency and throughput: the measured period only (after the warm-up).
    measured = [s for s in subs if s.started >= run.warmup]
    measured_jobs = {s.job_id for s in measured if s.status == 202}
    to_terminal = [millis(jobs[j]) for j in terminal if j in measured_jobs]
    ok_latencies = [s.latency * 1000 for s in measured if s.status in (200, 202)]
    windows: list[list[float]] = []
    for s in measured:
        if s.status in (200, 202):
            index = int((s.started - run.warmup) // WINDOW_SECONDS)
            while len(windows) <= index:
                windows.append([])
            windows[index].append(s.latency * 1000)
    full = [w for w in windows[: int(run.duration // WINDOW_SECONDS)] if w]
    window_p99 = [round(percentile(w, 0.99), 1) for w in full]
    last_finish = max(
        (datetime.fromisoformat(jobs[j]["updated_at"].replace("Z", "+00:00")) for j in terminal),
        default=None,
    )
    first_create = min(
        (datetime.fromisoformat(jobs[j]["created_at"].replace("Z", "+00:00")) for j in terminal),
        default=None,
    )
    span = (last_finish - first_create).total_seconds() if last_finish and first_create else 0
    errors = Counter(s.error for s in subs if s.error)
    return Report(
        duration_seconds=run.duration,
        warmup_seconds=run.warmup,
        clients=run.clients,
        submissions=len(subs),
        accepted=len(accepted),
        replays=len(replays),
        terminal=len(terminal),
        lost=len(lost),
        stuck=len(stuck),
        failed=len(failed),
        duplicates=len(extra) + replay_mismatch,
        reruns=reruns,
        connection_errors=dict(errors),
        server_errors=sum(1 for s in subs if s.status is not None and s.status >= 500),
        statuses={
            str(k): v for k, v in sorted(Counter(s.status for s in subs if s.status).items())
        },
        submits_per_second=round(len(ok_latencies) / run.duration, 2),
        terminal_per_second=round(len(terminal) / span, 2) if span > 0 else 0.0,
        submit_p50_ms=round(percentile(ok_latencies, 0.50), 1),
        submit_p99_ms=round(percentile(ok_latencies, 0.99), 1),
        terminal_p50_ms=round(percentile(to_terminal, 0.50), 1),
        terminal_p99_ms=round(percentile(to_terminal, 0.99), 1),
        window_p99_ms=window_p99,
        window_submits=[len(w) for w in full],
        p99_last_to_first=round(window_p99[-1] / window_p99[0], 2)
        if len(window_p99) >= 2 and window_p99[0] > 0
        else 1.0,
        drain_seconds=round(drain_seconds, 1),
    )


def render(report: Report) -> str:
    rows = [
        (
            "duration / clients",
            f"{report.duration_seconds:.0f} s (+ {report.warmup_seconds:.0f} s warm-up) "
            f"/ {report.clients}",
        ),
        ("submissions", f"{report.submissions} ({report.replays} idempotent replays)"),
        ("accepted", str(report.accepted)),
        ("terminal", str(report.terminal)),
        ("lost", str(report.lost)),
        ("stuck", str(report.stuck)),
        ("failed (not succeeded)", str(report.failed)),
        ("duplicates", str(report.duplicates)),
        ("re-runs (attempts > 1)", str(report.reruns)),
        ("connection errors", json.dumps(report.connection_errors) or "0"),
        ("answers by status", json.dumps(report.statuses)),
        ("5xx answers", str(report.server_errors)),
        (
            "throughput",
            f"{report.submits_per_second} submits/s, {report.terminal_per_second} terminal jobs/s",
        ),
        ("submit p50 / p99", f"{report.submit_p50_ms} ms / {report.submit_p99_ms} ms"),
        (
            "submit-to-terminal p50 / p99",
            f"{report.terminal_p50_ms} ms / {report.terminal_p99_ms} ms",
        ),
        ("submit p99 per 10 s window", ", ".join(f"{v:g}" for v in report.window_p99_ms) + " ms"),
        ("p99 last / first window", f"{report.p99_last_to_first}x"),
        ("drain", f"{report.drain_seconds} s"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name.ljust(width)}  {value}" for name, value in rows]
    verdict = "OK" if report.correct else "FAILED (lost, stuck, failed, duplicated, refused or 5xx)"
    return "load run:\n" + "\n".join(lines) + f"\n  result: {verdict}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds of load before the measured period"
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument(
        "--repeat-every",
        type=int,
        default=5,
        help="every Nth submission of a client replays the previous one (0: never)",
    )
    parser.add_argument("--drain-timeout", type=float, default=120.0,
                        help="seconds to wait for accepted jobs to finish")  # fmt: skip
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=REPO_ROOT / ".local",
        help="the running local stack's state dir (make local's .local/)",
    )
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 512 or not 1 <= args.duration <= 3600:
        parser.error("--clients must be 1..512 and --duration 1..3600 seconds")
    stack_file = args.state_dir / "stack.json"
    if not stack_file.exists():
        print(f"error: {stack_file} is missing: start the local stack first (make local)",
              file=sys.stderr)  # fmt: skip
        return 2
    base_url = json.loads(stack_file.read_text())["base_url"]
    if not is_loopback(base_url):
        print(f"error: {base_url} is not a loopback address; load runs stay on this machine",
              file=sys.stderr)  # fmt: skip
        return 2
    api_key = mint_tenant_key(args.state_dir, f"load-{uuid.uuid4().hex[:8]}")
    run = LoadRun(
        base_url, api_key, args.clients, args.duration, args.repeat_every, warmup=args.warmup
    )
    print(f"load: {args.clients} clients for {args.warmup:.0f} + {args.duration:.0f} s "
          f"against {base_url} ...",
          flush=True)  # fmt: skip
    run.submit_phase()
    accepted = {s.job_id for s in run.submissions if s.status == 202 and s.job_id}
    print(f"load: {len(accepted)} jobs accepted; waiting for them to finish ...", flush=True)
    jobs, drain_seconds = run.drain(accepted, args.drain_timeout)
    report = summarise(run, jobs, drain_seconds)
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 0 if report.correct else 1


if __name__ == "__main__":
    raise SystemExit(main())
