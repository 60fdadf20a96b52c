"""`make local`: the whole platform on this machine, no AWS account needed.

1. starts the AWS emulator (moto server) on loopback;
2. applies the root module with `environments/local.tfvars` and the packaged artifacts;
3. reads back what Terraform declared (routes, integrations, authorizer, stage
   throttling, the pipe, the queue -> function mapping, each function's handler,
   environment, timeout, the schedules) and runs it: HTTP on 127.0.0.1, up to
   `--concurrency` execution environments per function, the stream -> pipe -> queue ->
   worker path, each schedule's function (every `--schedule-period` seconds);
4. mints a local API key, prints the base URL and key, writes `<state>/stack.json`;
5. serves until SIGINT/SIGTERM, then stops every process it started.

While it serves, an edited `.py` file under the source directory takes effect on the next
request (see runtime.FunctionPool); an edited Terraform file (or local.tfvars, or the
OpenAPI document's routes) is reported on the console: that needs a restart.

State lives in the emulator's memory: nothing survives a restart (each start applies the
Terraform into a fresh emulator and mints a new key).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import boto3

from scripts import fake_aws
from scripts.api_keys import create_api_key
from scripts.local_stack.emulator import EmulatorProcess
from scripts.local_stack.gateway import ApiConfig, Gateway, serve
from scripts.local_stack.pollers import PipePoller, QueuePoller, Recorder, ScheduleRunner
from scripts.local_stack.runtime import (
    SOURCE_ROOT,
    FunctionPool,
    FunctionRuntime,
    SourceWatcher,
)
from scripts.local_stack.terraform import LocalTerraform, local_env

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import FunctionConfigurationResponseTypeDef

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_TENANT = "local"
OPENAPI_PATH = REPO_ROOT / "openapi.yaml"
# Execution environments per function (Lambda scales a function out to its reserved
# concurrency, or the account's; the local stack stops at this, and queues beyond it).
DEFAULT_CONCURRENCY = 8
# Every schedule fires this often locally (a deployed one at its own rate, minutes apart),
# so that what it does shows within seconds. 0: at the declared rate.
DEFAULT_SCHEDULE_PERIOD_SECONDS = 5.0


def terraform_inputs(repo_root: Path = REPO_ROOT) -> list[Path]:
    """The files `make local` applies: a change to any of them needs a restart."""
    files = sorted(repo_root.glob("*.tf")) + sorted((repo_root / "terraform").rglob("*.tf"))
    return [*files, repo_root / "environments" / "local.tfvars", repo_root / "openapi.yaml"]


class TerraformWatcher(threading.Thread):
    """Says on the console when the applied Terraform changed (it is not re-applied live)."""

    def __init__(
        self, files: list[Path], say: Callable[[str], None], interval: float = 2.0
    ) -> None:
        super().__init__(name="terraform-watch", daemon=True)
        self.files, self.say, self.interval = files, say, interval
        self.stopping = threading.Event()
        self.snapshot = self._stat()
        self.reported: set[str] = set()

    def _stat(self) -> dict[str, int]:
        out = {}
        for path in self.files:
            try:
                out[str(path)] = path.stat().st_mtime_ns
            except OSError:
                out[str(path)] = -1
        return out

    def check(self) -> list[str]:
        """Files changed since start that were not reported yet (and report them)."""
        now = self._stat()
        changed = sorted(p for p, m in now.items() if m != self.snapshot.get(p))
        new = [p for p in changed if p not in self.reported]
        if new:
            self.reported.update(new)
            names = ", ".join(Path(p).name for p in new)
            self.say(
                f"Terraform input changed ({names}): restart `make local` to apply it "
                "(handler code reloads by itself; Terraform does not)"
            )
        return new

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            self.check()

    def stop(self) -> None:
        self.stopping.set()


def log(message: str) -> None:
    print(f"[local] {message}", flush=True)


class LocalStack:
    def __init__(
        self,
        state_dir: Path,
        port: int,
        artifacts: Path,
        concurrency: int = DEFAULT_CONCURRENCY,
        source_dir: Path = SOURCE_ROOT,
        schedule_period: float = DEFAULT_SCHEDULE_PERIOD_SECONDS,
    ) -> None:
        self.state_dir = state_dir
        self.schedule_period = schedule_period
        self.port = port
        self.artifacts = artifacts
        self.concurrency = concurrency
        self.source_dir = source_dir
        self.source_watcher = SourceWatcher(source_dir)
        self.terraform_watcher = TerraformWatcher(terraform_inputs(), log)
        self.logs = state_dir / "logs"
        self.pools: dict[str, FunctionPool] = {}
        self.pools_lock = threading.Lock()
        self.pollers: list[PipePoller | QueuePoller | ScheduleRunner] = []
        self.emulator: EmulatorProcess | None = None
        self.server: ThreadingHTTPServer | None = None
        self.base_url = ""
        self.api_key = ""
        # `terraform output`: JSON values (strings, maps of names) by output name.
        self.outputs: dict[str, Any] = {}

    @property
    def endpoint(self) -> str:
        """The running emulator's URL."""
        if self.emulator is None:
            raise RuntimeError("the emulator is not running")
        return self.emulator.endpoint

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        started = time.monotonic()
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "calls").mkdir(exist_ok=True)
        self.emulator = EmulatorProcess(log_path=self.logs / "emulator.log")
        self.emulator.__enter__()
        log(f"emulator ready at {self.endpoint} ({time.monotonic() - started:.1f}s)")

        env = local_env(self.endpoint, data_dir=self.state_dir / "terraform")
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        terraform = LocalTerraform(self.endpoint, REPO_ROOT, data_dir=self.state_dir / "terraform")
        terraform.init()
        var_files = [str(REPO_ROOT / "environments" / "local.tfvars"), str(self.artifacts)]
        terraform.apply(var_files)
        self.outputs = terraform.output()
        log(f"terraform applied ({time.monotonic() - started:.1f}s)")

        self.server = self._run_declared_platform()
        self.api_key = self._mint_api_key()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._write_state_files()
        self.terraform_watcher.start()
        log(f"ready in {time.monotonic() - started:.1f}s")

    def stop(self) -> None:
        self.terraform_watcher.stop()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        for poller in self.pollers:
            poller.stop()
        for pool in self.pools.values():
            pool.stop()
        if self.emulator is not None:
            self.emulator.stop()
        (self.state_dir / "stack.pid").unlink(missing_ok=True)

    # -- what Terraform declared -------------------------------------------------------
    def _lambda(self) -> LambdaClient:
        return boto3.client("lambda", region_name=fake_aws.REGION, endpoint_url=self.endpoint)

    def _run_declared_platform(self) -> ThreadingHTTPServer:
        """Serve the API, start the pollers; returns the HTTP server."""
        gateway_log = (self.logs / "gateway.log").open("a", encoding="utf-8", buffering=1)

        def log_gateway(message: str) -> None:
            gateway_log.write(f"{time.strftime('%H:%M:%S')} {message}\n")

        region, endpoint = fake_aws.REGION, self.endpoint
        config = ApiConfig.load(
            boto3.client("apigatewayv2", region_name=region, endpoint_url=endpoint),
            self.outputs["api_id"],
        )
        gateway = Gateway(config, self.invoke, log=log_gateway)
        server = serve(gateway, self.port, documents=openapi_documents)

        lambda_client = self._lambda()
        sqs = boto3.client("sqs", region_name=region, endpoint_url=endpoint)
        self.pollers.append(
            PipePoller(
                boto3.client("pipes", region_name=region, endpoint_url=endpoint),
                boto3.client("dynamodbstreams", region_name=region, endpoint_url=endpoint),
                sqs,
                self.outputs["pipe_name"],
                log_gateway,
                record=self.call_recorder(f"pipe:{self.outputs['pipe_name']}"),
                fault_file=self.state_dir / "faults" / "pipe-target",
            )
        )
        # Every queue -> function mapping of this stack's functions (moto ignores the
        # FunctionName filter, so match the ARNs here).
        functions = set(self.outputs["function_names"].values())
        for page in lambda_client.get_paginator("list_event_source_mappings").paginate():
            for mapping in page["EventSourceMappings"]:
                function_name = mapping["FunctionArn"].rsplit(":", 1)[1]
                if function_name in functions:
                    record = self.call_recorder(function_name)
                    # Lambda polls a queue with several concurrent batches (up to the
                    # mapping's maximum concurrency, and the function's).
                    limit = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
                    pollers = min(int(limit or self.concurrency), self._concurrency(function_name))
                    for _ in range(pollers):
                        self.pollers.append(
                            QueuePoller(
                                sqs,
                                mapping,
                                self.invoke,
                                log_gateway,
                                record=record,
                                lambda_client=self._lambda(),
                            )
                        )
        self.pollers += self._schedules(functions, log_gateway)
        for poller in self.pollers:
            poller.start()
        routes = ", ".join(sorted(r.route_key for r in config.routes))
        log(f"routes: {routes}")
        log(f"pollers: {', '.join(p.name for p in self.pollers)}")
        return server

    def _schedules(self, functions: set[str], log_gateway: Any) -> list[ScheduleRunner]:
        """A runner for every EventBridge Scheduler schedule targeting this stack's
        functions (each recorded as `schedule:<name>`, the principal of its role)."""
        scheduler = boto3.client(
            "scheduler", region_name=fake_aws.REGION, endpoint_url=self.endpoint
        )
        runners = []
        for page in scheduler.get_paginator("list_schedules").paginate():
            for summary in page["Schedules"]:
                schedule = scheduler.get_schedule(
                    Name=summary["Name"], GroupName=summary.get("GroupName", "default")
                )
                if schedule["Target"]["Arn"].rsplit(":", 1)[1] not in functions:
                    continue
                runners.append(
                    ScheduleRunner(
                        schedule,
                        self.invoke,
                        log_gateway,
                        record=self.call_recorder(f"schedule:{schedule['Name']}"),
                        period=self.schedule_period or None,
                    )
                )
        return runners

    def call_log(self, principal: str) -> Path:
        """Where the AWS calls made with a principal's role are recorded (the IAM audit)."""
        return self.state_dir / "calls" / f"{principal.replace(':', '-')}.jsonl"

    def call_recorder(self, principal: str) -> Recorder:
        path = self.call_log(principal)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = threading.Lock()

        def record(action: str, resource: str) -> None:
            with lock, path.open("a", encoding="utf-8") as log:
                log.write(json.dumps({"action": action, "resource": resource}) + "\n")

        return record

    def invoke(self, function_name: str, event: dict[str, Any]) -> Any:
        """The function's result (JSON), or InvocationError."""
        return self._pool(function_name).invoke(event)

    def _concurrency(self, function_name: str) -> int:
        """The function's reserved concurrency, capped at the stack's --concurrency."""
        reserved = self._lambda().get_function_concurrency(FunctionName=function_name)
        limit = reserved.get("ReservedConcurrentExecutions")
        return max(1, min(self.concurrency, int(limit))) if limit is not None else self.concurrency

    def _pool(self, function_name: str) -> FunctionPool:
        with self.pools_lock:
            pool = self.pools.get(function_name)
            if pool is None:
                configuration = self._lambda().get_function_configuration(
                    FunctionName=function_name
                )
                environment = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "LANG": "C.UTF-8",
                    "TZ": ":UTC",
                    **fake_aws.endpoint_env(self.endpoint),
                    **configuration.get("Environment", {}).get("Variables", {}),
                }

                def new_environment(
                    configuration: FunctionConfigurationResponseTypeDef = configuration,
                    environment: dict[str, str] = environment,
                ) -> FunctionRuntime:
                    return FunctionRuntime(
                        function_name=function_name,
                        handler=configuration["Handler"],
                        environment=environment,
                        timeout_seconds=int(configuration.get("Timeout", 3)),
                        memory_mb=int(configuration.get("MemorySize", 128)),
                        log_path=self.logs / f"{function_name}.log",
                        call_log_path=self.call_log(function_name),
                        source_root=self.source_dir,
                    )

                pool = FunctionPool(
                    new_environment,
                    self._concurrency(function_name),
                    watcher=self.source_watcher,
                    on_reload=_prefixed_log(function_name),
                )
                self.pools[function_name] = pool
            return pool

    def _mint_api_key(self) -> str:
        plain_key, _key_id = create_api_key(
            self.outputs["api_keys_table_name"], LOCAL_TENANT, "local stack", 10_000
        )
        return plain_key

    def _write_state_files(self) -> None:
        stack = {"base_url": self.base_url, "api_key": self.api_key}
        (self.state_dir / "stack.json").write_text(json.dumps(stack, indent=2) + "\n")
        # For tests and operators: where the emulator is and what Terraform produced.
        details = {"emulator_endpoint": self.endpoint, "outputs": self.outputs}
        (self.state_dir / "emulator.json").write_text(json.dumps(details, indent=2) + "\n")


def _prefixed_log(name: str) -> Callable[[str], None]:
    def say(message: str) -> None:
        log(f"{name}: {message}")

    return say


_openapi_cache: dict[tuple[int, int], dict[str, tuple[str, bytes]]] = {}


def openapi_documents() -> dict[str, tuple[str, bytes]]:
    """The OpenAPI document, served by the local stack at /openapi.yaml and /openapi.json
    (the gateway asks on every GET: parsed again only when the file changed, so an edit
    shows at once and a GET of anything else costs a stat)."""
    try:
        stat = OPENAPI_PATH.stat()
    except OSError:
        return {}
    version = (stat.st_mtime_ns, stat.st_size)
    if version not in _openapi_cache:
        import yaml  # noqa: PLC0415 - only when the document is asked for

        try:
            text = OPENAPI_PATH.read_bytes()
        except OSError:
            return {}
        as_json = json.dumps(yaml.safe_load(text), indent=2).encode()
        _openapi_cache.clear()
        _openapi_cache[version] = {
            "/openapi.yaml": ("application/yaml", text),
            "/openapi.json": ("application/json", as_json),
        }
    return _openapi_cache[version]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether the gateway could not listen on `port` (probed before the minutes of
    emulator and Terraform start-up, with the server's own SO_REUSEADDR)."""
    if port == 0:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def claim_state_dir(state_dir: Path) -> None:
    """Refuse to run twice on one state dir; clear what a crashed run left behind."""
    state_dir.mkdir(parents=True, exist_ok=True)
    pid_file = state_dir / "stack.pid"
    if pid_file.exists():
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            log(f"clearing state left by a stopped run (pid file {pid_file})")
        except PermissionError:
            raise SystemExit(
                f"error: a local stack owned by another user uses {state_dir}"
            ) from None
        else:
            raise SystemExit(
                f"error: a local stack is already running (pid {pid}, state {state_dir}); "
                "stop it (Ctrl-C, or kill that pid) or use another --state-dir"
            )
    for stale in ("stack.json", "emulator.json"):
        (state_dir / stale).unlink(missing_ok=True)
    for call_log in (state_dir / "calls").glob("*.jsonl"):
        call_log.unlink()  # the IAM audit describes one run
    pid_file.write_text(f"{os.getpid()}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8080")),
        help="HTTP port on 127.0.0.1 (0 picks a free one; default $PORT or 8080)",
    )
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".local")
    parser.add_argument(
        "--artifacts", type=Path, default=REPO_ROOT / "dist" / "artifacts.tfvars.json"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=int(os.environ.get("LOCAL_CONCURRENCY", DEFAULT_CONCURRENCY)),
        help="execution environments per function at most (and concurrent queue pollers); "
        f"default $LOCAL_CONCURRENCY or {DEFAULT_CONCURRENCY}",
    )
    parser.add_argument(
        "--schedule-period",
        type=float,
        default=float(os.environ.get("LOCAL_SCHEDULE_PERIOD", DEFAULT_SCHEDULE_PERIOD_SECONDS)),
        help="seconds between runs of every scheduled function (0: the schedule's own rate); "
        f"default $LOCAL_SCHEDULE_PERIOD or {DEFAULT_SCHEDULE_PERIOD_SECONDS:g}",
    )
    parser.add_argument(
        "--source-dir",
        type=Path,
        default=SOURCE_ROOT,
        help="where the functions' Python package is read from (edits reload live)",
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.schedule_period < 0:
        parser.error("--schedule-period must not be negative")
    if not args.artifacts.exists():
        print(f"error: {args.artifacts} is missing: run 'make package' first", file=sys.stderr)
        return 2

    if not 0 <= args.port <= 65535:
        parser.error("--port must be 0..65535")
    state_dir = args.state_dir.resolve()
    claim_state_dir(state_dir)
    if port_in_use(args.port):
        (state_dir / "stack.pid").unlink(missing_ok=True)
        print(f"error: port {args.port} on 127.0.0.1 is in use (another make local, or "
              "another server): stop it, or choose another port: make local PORT=<port>",
              file=sys.stderr)  # fmt: skip
        return 2
    stack = LocalStack(
        state_dir,
        args.port,
        args.artifacts.resolve(),
        concurrency=args.concurrency,
        source_dir=args.source_dir.resolve(),
        schedule_period=args.schedule_period,
    )
    stopping = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log(f"received {signal.Signals(signum).name}, stopping")
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        print(f"\n  base URL: {stack.base_url}\n  API key:  {stack.api_key}\n", flush=True)
        print(f"  try: curl -s {stack.base_url}/health", flush=True)
        print(f"  state:   {state_dir / 'stack.json'}  logs: {stack.logs}/", flush=True)
        print(f"READY {stack.base_url}", flush=True)
        while not stopping.is_set():
            stopping.wait(1)
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001 - any start-up failure: say so, point at the logs
        print(f"error: the local stack failed to start: {exc}", file=sys.stderr)
        print(f"       see the logs in {stack.logs}/", file=sys.stderr)
        return 1
    finally:
        stack.stop()
        log("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
