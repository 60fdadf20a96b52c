"""`make bench`: the api handler against its peers, in one run, as one table (+ JSON).

Contenders (benchmarks/peers): our api handler; a plain hand-written dispatcher +
pydantic; AWS Lambda Powertools' APIGatewayHttpResolver with Logger, Tracer and Metrics;
FastAPI + Mangum; and the floor (import boto3, create the client, import the model,
return a constant). Every contender answers the same four API Gateway events: GET /health
(200), an invalid submit (422), a non-JSON body (400) and a valid submit (202, one
DynamoDB transaction), and writes one JSON log line per request.

- cold: a fresh interpreter per sample, the clock started before the first import,
  stopped after the first response (a valid submit). Lambda's situation: our code is the
  zip exactly as `make package` ships it (dist/lambda/api.zip; on a non-arm64 machine its
  pydantic-core binary is swapped for this machine's build of the same version), unpacked
  into a read-only directory, and no bytecode may be written (PYTHONDONTWRITEBYTECODE, as
  Lambda's /var/task is read-only). The peers import the same model from the source
  tree and their frameworks and pydantic from the virtualenv, compiled as pip installs
  them (the most favourable case for them: a layer or image with bytecode). Each round
  starts one interpreter per contender, in an order rotated from round to round.
- warm: one process per contender, warmed up; then each round times one batch (about
  --batch-ms of calls) of each request in each contender, the contenders back to back in
  an order rotated from round to round. AWS calls are answered in-process after botocore
  validated, serialised and signed them (benchmarks/fake_aws.py).

This machine is shared and loaded: a load spike between two measurements would skew
their ratio. So the ratios are paired: ours over a peer in each round (the two measured
seconds apart, or back to back), and the table shows the median of those per-round
ratios with their interquartile range; absolute times (medians) are noise here. Targets
(issue 11) are checked against the median ratio and printed with their margin;
`--strict` makes a miss fail. dist/bench.json keeps every sample.
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
# A warm batch is at least this many calls (and about --batch-ms long).
MIN_BATCH_CALLS = 20


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


class WarmChild:
    """One contender kept warm in its own process, timing batches on command (child.serve)."""

    def __init__(self, contender: str, events: Path, env: dict[str, str], work: Path) -> None:
        self.contender = contender
        read_fd, write_fd = os.pipe()
        self._stderr = (work / f"warm-{contender}.stderr").open("w+", encoding="utf-8")
        command = [sys.executable, "-m", "benchmarks.child", "serve", contender, str(events)]
        self._process = subprocess.Popen(
            [*command, str(write_fd)],
            env=env if contender == "ours" else peer_env(env),
            cwd=work,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,  # the contenders' log lines
            stderr=self._stderr,
            pass_fds=(write_fd,),
            text=True,
        )
        os.close(write_fd)
        self._results = os.fdopen(read_fd, encoding="utf-8")
        hello = json.loads(self._readline())
        self.status: dict[str, int] = hello["status"]
        self.estimate: dict[str, float] = hello["per_call_estimate"]

    def _readline(self) -> str:
        line = self._results.readline()
        if not line:
            self._process.wait(timeout=60)
            self._stderr.seek(0)
            raise SystemExit(
                f"error: warm benchmark child {self.contender} stopped:\n"
                + self._stderr.read()[-3000:]
            )
        return line

    def run(self, request: str, calls: int) -> tuple[float, float]:
        """Wall and CPU seconds per call of `request` over `calls` invocations."""
        assert self._process.stdin is not None
        self._process.stdin.write(f"{request} {calls}\n")
        self._process.stdin.flush()
        wall, cpu = self._readline().split()
        return float(wall), float(cpu)

    def close(self) -> int:
        """Stop the process; the AWS calls it answered."""
        assert self._process.stdin is not None
        self._process.stdin.write("quit\n")
        self._process.stdin.flush()
        answered = int(json.loads(self._readline())["aws_calls_answered"])
        self._process.stdin.close()
        self._process.wait(timeout=60)
        self._results.close()
        self._stderr.close()
        return answered


def _rotated[T](items: tuple[T, ...], by: int) -> tuple[T, ...]:
    by %= len(items)
    return items[by:] + items[:by]


def summary(values: list[float]) -> dict[str, float]:
    """Median and quartiles of samples (the spread printed with every ratio)."""
    if len(values) < 2:
        return {"median": values[0], "p25": values[0], "p75": values[0]}
    p25, median, p75 = statistics.quantiles(values, n=4, method="inclusive")
    return {"median": median, "p25": p25, "p75": p75}


def measure_cold(runs: int, events: Path, work: Path, env: dict[str, str]) -> dict[str, Any]:
    """`runs` rounds, each one fresh interpreter per contender in a rotated order."""
    samples: dict[str, list[float]] = {c: [] for c in CONTENDERS}
    print(f"cold: {runs} rounds of one fresh interpreter per contender ...", flush=True)
    for round_ in range(runs):
        for contender in _rotated(CONTENDERS, round_):
            result = run_child(["cold", contender, str(events)], env, work)
            if contender != "floor" and result["status"] != 202:
                raise SystemExit(f"error: {contender} answered {result['status']} to the submit")
            samples[contender].append(result["seconds"])
    return samples


def measure_warm(
    rounds: int, batch_seconds: float, events: Path, work: Path, env: dict[str, str]
) -> dict[str, Any]:
    """One warm process per contender; each round times one batch of each request per
    contender, back to back in a rotated order, so a load spike hits them alike."""
    contenders = tuple(c for c in CONTENDERS if c != "floor")
    expected = {name: status for name, (_, status) in REQUESTS.items()}
    children: dict[str, WarmChild] = {}
    try:
        for contender in contenders:  # one at a time: their warm-ups do not overlap
            children[contender] = WarmChild(contender, events, env, work)
        if children["ours"].status != expected:
            raise SystemExit(f"error: ours answered {children['ours'].status}, not {expected}")
        calls = {
            c: {q: max(MIN_BATCH_CALLS, round(batch_seconds / child.estimate[q])) for q in ORDER}
            for c, child in children.items()
        }
        print(
            f"warm: {rounds} rounds of a ~{batch_seconds * 1000:.0f} ms batch per request per "
            "contender (interleaved) ...",
            flush=True,
        )
        wall: dict[str, dict[str, list[float]]] = {c: {q: [] for q in ORDER} for c in contenders}
        cpu: dict[str, dict[str, list[float]]] = {c: {q: [] for q in ORDER} for c in contenders}
        for round_ in range(rounds):
            for shift, request in enumerate(ORDER):
                for contender in _rotated(contenders, round_ + shift):
                    w, c = children[contender].run(request, calls[contender][request])
                    wall[contender][request].append(w)
                    cpu[contender][request].append(c)
        statuses = {c: child.status for c, child in children.items()}
        answered = {c: children.pop(c).close() for c in contenders}
    finally:
        for child in children.values():
            child._process.kill()
    return {"wall": wall, "cpu": cpu, "calls": calls, "statuses": statuses, "answered": answered}


def measure_tracers(runs: int, work: Path, env: dict[str, str]) -> dict[str, float]:
    """Median cold seconds of boto3 + a client + each tracing library (interleaved)."""
    from benchmarks.child import TRACERS  # noqa: PLC0415

    samples: dict[str, list[float]] = {name: [] for name in TRACERS}
    events = work / "events.json"
    print(f"tracing libraries: {runs} fresh interpreters each ...", flush=True)
    for round_ in range(runs):
        for name in _rotated(tuple(TRACERS), round_):
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


def ratios(samples: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Ours over each peer, per column: the ratio in each round (the two measured back to
    back), summarised over the rounds."""
    ours = samples["ours"]
    return {
        peer: {
            col: summary([a / b for a, b in zip(ours[col], samples[peer][col], strict=True)])
            for col in COLUMNS
            if col in samples[peer]
        }
        for peer in CONTENDERS
        if peer != "ours"
    }


def _fmt_ratio(ratio: dict[str, float]) -> str:
    return f"{ratio['median']:.2f}x ({ratio['p25']:.2f}-{ratio['p75']:.2f})"


def check_targets(rel: dict[str, dict[str, dict[str, float]]]) -> list[dict[str, Any]]:
    """Each target: met when the median ratio is within it; `margin` = limit / median, and
    `upper_quartile_met` whether three rounds in four were within it too."""
    checks = []
    for columns, peer, limit in TARGETS:
        for column in columns:
            ratio = rel[peer][column]
            checks.append(
                {
                    "target": f"{COLUMN_TITLES[column]} vs {PEER_LABELS[peer]}: <= {limit}x",
                    "ratio": ratio,
                    "limit": limit,
                    "met": ratio["median"] <= limit,
                    "upper_quartile_met": ratio["p75"] <= limit,
                    "margin": limit / ratio["median"],
                }
            )
    return checks


def render(
    samples: dict[str, dict[str, list[float]]],
    rel: dict[str, dict[str, dict[str, float]]],
    statuses: dict[str, dict[str, int]],
) -> str:
    head = "| api handler | " + " | ".join(COLUMN_TITLES[c] for c in COLUMNS) + " |"
    lines = [head, "|---" * (len(COLUMNS) + 1) + "|"]
    labels = {"ours": "ours (jobs_platform)", **PEER_LABELS}
    for contender in CONTENDERS:
        cells = [
            _fmt(statistics.median(samples[contender][c])) if c in samples[contender] else ""
            for c in COLUMNS
        ]
        lines.append(f"| {labels[contender]} | " + " | ".join(cells) + " |")
    for peer in CONTENDERS[1:]:
        cells = [_fmt_ratio(rel[peer][c]) if c in rel[peer] else "" for c in COLUMNS]
        lines.append(f"| ours vs {PEER_LABELS[peer]} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "times: medians over the rounds; ratios: median of the per-round ratios "
        "(interquartile range)"
    )
    lines.append(
        "statuses answered (health, invalid, non_json, submit): "
        + "; ".join(f"{c} {list(s.values())}" for c, s in statuses.items())
    )
    return "\n".join(lines)


def _load_average() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-runs", type=int, default=30, help="cold rounds (default 30)")
    parser.add_argument("--rounds", type=int, default=40, help="warm rounds (default 40)")
    parser.add_argument(
        "--batch-ms", type=float, default=50.0, help="warm batch length (default 50 ms)"
    )
    parser.add_argument("--tracer-runs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist" / "bench.json")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    sink = UdpSink()
    load_before = _load_average()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        try:
            code = prepare_code_dir(work)
            shipped_pycache = _pycache_dirs(code)
            env = child_env(code, sink.address)
            events = work / "events.json"
            events.write_text(json.dumps({name: REQUESTS[name][0] for name in ORDER}))
            started = time.monotonic()
            warm = measure_warm(args.rounds, args.batch_ms / 1000, events, work, env)
            cold = measure_cold(args.cold_runs, events, work, env)
            tracers = measure_tracers(args.tracer_runs, work, env)
            if _pycache_dirs(code) != shipped_pycache:
                raise SystemExit("error: bytecode was written into the read-only code directory")
        finally:
            for path in work.rglob("*"):
                path.chmod(0o755 if path.is_dir() else 0o644)
            sink.close()
    if warm["answered"]["ours"] < 1:
        raise SystemExit("error: our handler's submits never reached (in-process) DynamoDB")
    samples: dict[str, dict[str, list[float]]] = {
        c: {"cold": cold[c], **warm["wall"].get(c, {})} for c in CONTENDERS
    }
    cpu = {c: {"cold": cold[c], **warm["cpu"].get(c, {})} for c in CONTENDERS}
    rel = ratios(samples)
    checks = check_targets(rel)
    elapsed = time.monotonic() - started
    load_after = _load_average()
    print()
    print(render(samples, rel, warm["statuses"]))
    print()
    print(render_tracers(tracers))
    print()
    for check in checks:
        mark = "met" if check["met"] else "MISSED"
        if check["met"] and not check["upper_quartile_met"]:
            mark = "met, not in 1 round of 4"
        print(
            f"  [{mark}] {check['target']}: {_fmt_ratio(check['ratio'])}, "
            f"margin {check['margin']:.2f}"
        )
    print(
        f"\n{elapsed:.0f} s; load average {load_before} before, {load_after} after; "
        f"X-Ray datagrams received: {sink.datagrams}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "method": {
            "cold_rounds": args.cold_runs,
            "warm_rounds": args.rounds,
            "warm_batch_seconds": args.batch_ms / 1000,
            "warm_calls_per_batch": warm["calls"],
            "tracer_runs": args.tracer_runs,
            "machine": platform.machine(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "seconds": round(elapsed, 1),
        },
        "median_seconds": {
            c: {col: statistics.median(v) for col, v in cols.items()} for c, cols in samples.items()
        },
        "ours_over_peer": rel,
        "ours_over_peer_cpu": ratios(cpu),
        "samples_seconds": samples,
        "statuses": warm["statuses"],
        "tracing_cold_seconds": tracers,
        "targets": checks,
    }
    args.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}")
    return 1 if args.strict and not all(check["met"] for check in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
