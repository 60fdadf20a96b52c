"""`make bench`: the api handler against its peers, in one run, as one table (+ JSON).

Contenders (benchmarks/peers): our api handler; a plain hand-written dispatcher +
pydantic; AWS Lambda Powertools' APIGatewayHttpResolver with Logger, Tracer and Metrics;
FastAPI + Mangum; and the floor (import boto3, create the client, import the model,
return a constant). Every contender answers the same four API Gateway events: GET /health
(200), an invalid submit (422), a non-JSON body (400) and a valid submit (202, one
DynamoDB transaction).

- cold: a fresh interpreter per sample, the clock started before the first import,
  stopped after the first response (a valid submit). Lambda's situation: our code is the
  zip exactly as `make package` ships it (dist/lambda/api.zip; on a non-arm64 machine its
  pydantic-core binary is swapped for this machine's build of the same version), unpacked
  into a read-only directory, and no bytecode may be written (PYTHONDONTWRITEBYTECODE, as
  Lambda's /var/task is read-only). The peers import the same model from the source
  tree and their frameworks and pydantic from the virtualenv, compiled as pip installs
  them (the most favourable case for them: a layer or image with bytecode).
- warm: in one process per contender, after warm-up, ROUNDS x CALLS invocations of each
  request; the median over rounds of the mean per call. AWS calls are answered in-process
  after botocore validated, serialised and signed them (benchmarks/fake_aws.py).

Absolute times are noise on a shared machine; the ratios, measured in the same run, are
the result. Targets (issue 11) are checked and printed; `--strict` makes a miss fail.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

# The events are routed with our handler's ROUTES table, which imports boto3 clients.
from scripts import fake_aws

os.environ.setdefault("AWS_DEFAULT_REGION", fake_aws.REGION)

from benchmarks.events import ORDER, REQUESTS

REPO_ROOT = Path(__file__).resolve().parents[1]
API_ZIP = REPO_ROOT / "dist" / "lambda" / "api.zip"
CONTENDERS = ("ours", "floor", "plain", "powertools", "fastapi")
PEER_LABELS = {
    "floor": "floor (boto3 client + model)",
    "plain": "plain dispatcher + pydantic",
    "powertools": "Powertools resolver",
    "fastapi": "FastAPI + Mangum",
}
COLUMNS = ("cold", *ORDER)
COLUMN_TITLES = {
    "cold": "cold, submit first",
    "health": "warm 200",
    "invalid": "warm 422",
    "non_json": "warm 400",
    "submit": "warm 202",
}
# (column(s), peer, maximum ours/peer ratio): the targets.
TARGETS: tuple[tuple[tuple[str, ...], str, float], ...] = (
    (("health", "invalid", "non_json"), "fastapi", 0.1),
    (("health", "invalid", "non_json"), "powertools", 0.2),
    (("health", "invalid", "non_json"), "plain", 3.0),
    (("submit",), "plain", 1.3),
    (("submit",), "powertools", 1.0),
    (("submit",), "fastapi", 0.5),
    (("cold",), "floor", 1.1),
    (("cold",), "fastapi", 0.6),
)


def prepare_code_dir(root: Path) -> Path:
    """dist/lambda/api.zip unpacked read-only, with this machine's pydantic-core binary."""
    if not API_ZIP.is_file():
        raise SystemExit(f"error: {API_ZIP} is missing: run 'make package' (make bench does)")
    code = root / "task"
    with zipfile.ZipFile(API_ZIP) as archive:
        archive.extractall(code)
    machine = platform.machine()
    shipped = sorted(code.glob("pydantic_core/_pydantic_core.*.so"))
    if shipped and machine not in ("aarch64", "arm64"):
        import pydantic_core  # noqa: PLC0415 - this machine's build

        local_dir = Path(pydantic_core.__file__).parent
        local = sorted(local_dir.glob("_pydantic_core.*.so"))
        shipped_version = next(code.glob("pydantic_core-*.dist-info")).name.split("-")[1]
        shipped_version = shipped_version.removesuffix(".dist")
        if not local or pydantic_core.__version__ != shipped_version:
            raise SystemExit(
                f"error: need pydantic-core {shipped_version} for {machine} in the virtualenv"
            )
        for so in shipped:
            so.unlink()
        shutil.copy2(local[0], code / "pydantic_core" / local[0].name)
    for path in sorted(code.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    code.chmod(0o555)
    return code


def _pycache_dirs(code: Path) -> set[Path]:
    return {p for p in code.rglob("__pycache__") if p.is_dir()}


class UdpSink:
    """Where X-Ray segments go (the daemon's address in Lambda): received and dropped."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.5)
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        self.datagrams = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                self.socket.recv(65536)
                self.datagrams += 1
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.socket.close()


def child_env(code: Path, xray_address: str) -> dict[str, str]:
    from jobs_platform import config  # noqa: PLC0415

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_", "_X_"))}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(code), str(REPO_ROOT)]),
            "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only: no bytecode cache
            "PYTHONHASHSEED": "0",
            "TZ": "UTC",
            **fake_aws.credentials_env(),
            "AWS_SESSION_TOKEN": "benchmark-session-token",  # a function's role: session keys
            "AWS_LAMBDA_FUNCTION_NAME": "bench-api",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_XRAY_DAEMON_ADDRESS": xray_address,
            "_X_AMZN_TRACE_ID": "Root=1-65a1b2c3-0123456789abcdef01234567;"
            "Parent=53995c3f42cd8ad8;Sampled=1",
            "POWERTOOLS_SERVICE_NAME": "bench",
            "POWERTOOLS_METRICS_NAMESPACE": "Bench",
            config.JOBS_TABLE_NAME: "bench-jobs",
            config.SESSIONS_TABLE_NAME: "bench-sessions",
            config.ENABLE_TEST_JOB_TYPES: "false",
            config.JOB_RETENTION_DAYS: "30",
            config.SESSION_DEFAULT_TTL_SECONDS: "3600",
            config.SERVICE_VERSION: "bench",
            config.LOG_LEVEL: "INFO",
            config.SERVICE_NAME: "bench",
        }
    )
    for name in getattr(config, "API_ENV_VARS", ()):
        env.setdefault(name, "bench")
    return env


def peer_env(env: dict[str, str]) -> dict[str, str]:
    """The peers: the model from the source tree, their frameworks (and pydantic) from the
    virtualenv, compiled as pip installs them (a layer or a container image ships so)."""
    env = dict(env)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "lambdas"), str(REPO_ROOT)])
    del env["PYTHONDONTWRITEBYTECODE"]
    return env


def run_child(args: list[str], env: dict[str, str], work: Path) -> dict[str, Any]:
    # Our handler runs from the shipped zip; the peers and the tracing libraries (ours
    # included: one module of the source tree) from the virtualenv, compiled.
    if args[0] == "tracer" or args[1] != "ours":
        env = peer_env(env)
    out = work / f"result-{time.monotonic_ns()}.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.child", *args[:3], str(out), *args[3:]],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"error: benchmark child {args[:2]} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return result


def measure(
    cold_runs: int, rounds: int, calls: int, work: Path, env: dict[str, str]
) -> dict[str, dict[str, float]]:
    events = work / "events.json"
    events.write_text(json.dumps({name: REQUESTS[name][0] for name in ORDER}))
    expected = {name: status for name, (_, status) in REQUESTS.items()}
    results: dict[str, dict[str, float]] = {c: {} for c in CONTENDERS}
    statuses: dict[str, Any] = {}
    cold: dict[str, list[float]] = {c: [] for c in CONTENDERS}
    print(f"cold: {cold_runs} fresh interpreters per contender (interleaved) ...", flush=True)
    for _ in range(cold_runs):
        for contender in CONTENDERS:
            result = run_child(["cold", contender, str(events)], env, work)
            if contender != "floor" and result["status"] != 202:
                raise SystemExit(f"error: {contender} answered {result['status']} to the submit")
            cold[contender].append(result["seconds"])
    for contender in CONTENDERS:
        results[contender]["cold"] = statistics.median(cold[contender])
    print(f"warm: {rounds} x {calls} calls per request per contender ...", flush=True)
    for contender in CONTENDERS:
        if contender == "floor":
            continue
        result = run_child(["warm", contender, str(events), str(rounds), str(calls)], env, work)
        statuses[contender] = result["status"]
        if contender == "ours" and result["status"] != expected:
            raise SystemExit(f"error: our handler answered {result['status']}, not {expected}")
        results[contender].update(result["seconds"])
    results["_statuses"] = statuses  # type: ignore[assignment]
    return results


def measure_tracers(runs: int, work: Path, env: dict[str, str]) -> dict[str, float]:
    """Median cold seconds of boto3 + a client + each tracing library (interleaved)."""
    from benchmarks.child import TRACERS  # noqa: PLC0415

    samples: dict[str, list[float]] = {name: [] for name in TRACERS}
    events = work / "events.json"
    print(f"tracing libraries: {runs} fresh interpreters each ...", flush=True)
    for _ in range(runs):
        for name in TRACERS:
            samples[name].append(run_child(["tracer", name, str(events)], env, work)["seconds"])
    return {name: statistics.median(values) for name, values in samples.items()}


def render_tracers(tracers: dict[str, float]) -> str:
    base = tracers["none"]
    lines = ["| tracing (cold: boto3 + client + library) | cold | added |", "|---|---|---|"]
    for name, seconds in tracers.items():
        lines.append(f"| {name} | {_fmt(seconds)} | {_fmt(max(0.0, seconds - base))} |")
    return "\n".join(lines)


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds >= 0.001 else f"{seconds * 1e6:.0f} us"


def ratios(results: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    ours = results["ours"]
    return {
        peer: {col: ours[col] / results[peer][col] for col in COLUMNS if col in results[peer]}
        for peer in CONTENDERS
        if peer != "ours"
    }


def check_targets(rel: dict[str, dict[str, float]]) -> list[tuple[str, bool]]:
    checks = []
    for columns, peer, limit in TARGETS:
        for column in columns:
            value = rel[peer][column]
            text = f"{COLUMN_TITLES[column]} vs {PEER_LABELS[peer]}: {value:.2f}x <= {limit}x"
            checks.append((text, value <= limit))
    return checks


def render(results: dict[str, dict[str, float]], rel: dict[str, dict[str, float]]) -> str:
    head = "| api handler | " + " | ".join(COLUMN_TITLES[c] for c in COLUMNS) + " |"
    lines = [head, "|---" * (len(COLUMNS) + 1) + "|"]
    labels = {"ours": "ours (jobs_platform)", **PEER_LABELS}
    for contender in CONTENDERS:
        cells = [_fmt(results[contender][c]) if c in results[contender] else "" for c in COLUMNS]
        lines.append(f"| {labels[contender]} | " + " | ".join(cells) + " |")
    for peer in CONTENDERS[1:]:
        cells = [f"{rel[peer][c]:.2f}x" if c in rel[peer] else "" for c in COLUMNS]
        lines.append(f"| ours vs {PEER_LABELS[peer]} | " + " | ".join(cells) + " |")
    statuses = results.get("_statuses", {})
    lines.append("")
    lines.append(
        "statuses answered (health, invalid, non_json, submit): "
        + "; ".join(f"{c} {list(s.values())}" for c, s in statuses.items())
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-runs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist" / "bench.json")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    sink = UdpSink()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        try:
            code = prepare_code_dir(work)
            shipped_pycache = _pycache_dirs(code)
            env = child_env(code, sink.address)
            started = time.monotonic()
            results = measure(args.cold_runs, args.rounds, args.calls, work, env)
            tracers = measure_tracers(args.cold_runs, work, env)
            if _pycache_dirs(code) != shipped_pycache:
                raise SystemExit("error: bytecode was written into the read-only code directory")
        finally:
            for path in work.rglob("*"):
                path.chmod(0o755 if path.is_dir() else 0o644)
            sink.close()
    rel = ratios(results)
    checks = check_targets(rel)
    print()
    print(render(results, rel))
    print()
    print(render_tracers(tracers))
    print()
    for text, ok in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {text}")
    print(f"\n{time.monotonic() - started:.0f} s; X-Ray datagrams received: {sink.datagrams}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "method": {
            "cold_runs": args.cold_runs,
            "warm_rounds": args.rounds,
            "warm_calls_per_round": args.calls,
            "machine": platform.machine(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "seconds": {c: results[c] for c in CONTENDERS},
        "statuses": results.get("_statuses", {}),
        "ours_over_peer": rel,
        "tracing_cold_seconds": tracers,
        "targets": [{"target": text, "met": ok} for text, ok in checks],
    }
    args.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}")
    return 1 if args.strict and not all(ok for _, ok in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
