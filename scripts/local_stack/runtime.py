"""A Lambda execution environment for the local stack: one function, one process.

The child (`python -m scripts.local_stack.runtime <handler>`) imports the handler once
(a cold start), then answers invocations: one JSON line per request on stdin, one JSON
line per response on the original stdout. Everything the handler prints goes to stderr,
which the parent copies to the function's log file, as CloudWatch Logs would hold it.

The parent side (`FunctionRuntime`) starts the child with exactly the environment the
function has in the emulator (read back from the Lambda configuration), invokes it one
request at a time (Lambda runs one request per execution environment), and, like Lambda,
kills and restarts the environment when an invocation exceeds the function's timeout.

`FunctionPool` scales one function as Lambda does: a request takes an idle environment,
or starts a new one (a cold start) while fewer than the function's concurrency exist;
beyond that it waits for one to be free (Lambda would throttle; the local stack queues,
so a burst from a load test slows down instead of failing). The pool also gives the fast
edit loop: when a `.py` file under the source directory changes, environments started
before the change are retired (idle ones at once, busy ones when their request ends), so
the next request runs the edited code, as `sam local` does, without a restart.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from scripts import fake_aws

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOT = REPO_ROOT / "lambdas"


CALL_LOG_ENV = "LOCAL_STACK_CALL_LOG"
# Lambda's init phase (importing the handler) has its own limit (10 s) and does not count
# against the invocation's timeout. Locally, on a small shared machine, cold starts compete
# for the cores (Lambda gives each its own): the local limit is longer, an init past
# Lambda's is logged, and only a few environments initialise at once (the others wait,
# before their init clock starts).
LAMBDA_INIT_LIMIT_SECONDS = 10.0
INIT_TIMEOUT_SECONDS = 30.0
COLD_STARTS_AT_ONCE = max(2, os.cpu_count() or 2)
_cold_starts = threading.BoundedSemaphore(COLD_STARTS_AT_ONCE)
_READY = {"ready": True}


def resource_arn(service: str, params: dict[str, Any], region: str) -> str:
    """The ARN an API call acts on, as IAM evaluates it (for the services we call)."""
    account = "123456789012"
    if service == "dynamodb" and "StreamArn" in params:  # DynamoDB Streams
        return str(params["StreamArn"])
    if service == "dynamodb" and "ShardIterator" in params:  # an iterator starts with its ARN
        return str(params["ShardIterator"]).split("|", 1)[0]
    if service == "dynamodb" and "TableName" in params:
        arn = f"arn:aws:dynamodb:{region}:{account}:table/{params['TableName']}"
        return f"{arn}/index/{params['IndexName']}" if params.get("IndexName") else arn
    if service == "sqs" and "QueueUrl" in params:
        return f"arn:aws:sqs:{region}:{account}:{params['QueueUrl'].rstrip('/').rsplit('/', 1)[1]}"
    if service == "secretsmanager" and "SecretId" in params:
        return str(params["SecretId"])
    return "*"


# TransactWriteItems / TransactGetItems are authorised per item, as these actions.
_TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def iam_calls(
    service: str, operation: str, params: dict[str, Any], region: str
) -> list[dict[str, str]]:
    """The (IAM action, resource) pairs one API call needs."""
    if service == "dynamodb" and operation in ("TransactWriteItems", "TransactGetItems"):
        return [
            {
                "action": f"dynamodb:{_TRANSACT_ITEM_ACTIONS[kind]}",
                "resource": resource_arn(service, body, region),
            }
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
        ]
    if service == "sqs" and operation.endswith("Batch"):
        operation = operation.removesuffix("Batch")
    return [{"action": f"{service}:{operation}", "resource": resource_arn(service, params, region)}]


def _pk(values: dict[str, Any]) -> str:
    value = values.get("pk", {})
    return str(value.get("S", "")) if isinstance(value, dict) else ""


def _key_kind(values: dict[str, Any]) -> str:
    """The item kind of a jobs-platform key or item: its sort key's (else partition
    key's) prefix before `#` (JOB, QUOTA, USAGE, IDEMPOTENCY, SESSION, KEY)."""
    for name in ("sk", "pk"):
        value = values.get(name, {})
        if isinstance(value, dict) and isinstance(value.get("S"), str):
            return str(value["S"]).split("#", 1)[0]
    return "?"


def _names(body: dict[str, Any]) -> set[str]:
    """Attribute names an item write sets: the item's, or the expression's."""
    if "Item" in body:
        return set(body["Item"])
    return set((body.get("ExpressionAttributeNames") or {}).values())


def operation_record(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """One API call as the cost model counts it (cost/measured.json): the operation, and
    for DynamoDB each item written or read, with what decides its capacity units."""
    record: dict[str, Any] = {"op": f"{service}:{operation}"}
    if service != "dynamodb":
        return record
    transactional = operation == "TransactWriteItems"
    bodies: list[tuple[str, dict[str, Any]]] = []
    if transactional:
        bodies = [
            (kind, body) for item in params.get("TransactItems", []) for kind, body in item.items()
        ]
    elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
        bodies = [(operation.removesuffix("Item"), params)]
    writes = []
    for action, body in bodies:
        names = _names(body)
        key = body.get("Item") or body.get("Key") or {}
        writes.append(
            {
                "pk": _pk(key),
                "kind": _key_kind(key),
                "transactional": transactional,
                "index_key_write": "tenant_status" in names,
                "new_item": action == "Put",
                "writes_result": "result" in names,
            }
        )
    if writes:
        record["writes"] = writes
    if operation == "Query":
        values = params.get("ExpressionAttributeValues") or {}
        record["pk"] = next(
            (v["S"] for v in values.values() if str(v.get("S", "")).startswith("TENANT#")), ""
        )
    if operation == "GetItem":
        record["reads"] = [
            {
                "pk": _pk(params.get("Key", {})),
                "kind": _key_kind(params.get("Key", {})),
                "consistent": bool(params.get("ConsistentRead")),
            }
        ]
    return record


def install_call_recorder(path: Path) -> None:
    """Record every AWS API call the function makes (botocore event hook), one JSON line
    each: the IAM (action, resource) pairs in `path` (the least-privilege audit), and the
    operation with its item writes and reads in `<path stem>.ops.jsonl` (the cost model)."""
    import boto3  # noqa: PLC0415 - only in the function's process, only when recording

    region = os.environ.get("AWS_REGION", fake_aws.REGION)
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    log = path.open("a", encoding="utf-8", buffering=1)
    ops = ops_log_path(path).open("a", encoding="utf-8", buffering=1)

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.signing_name
        for call in iam_calls(service, model.name, params, region):
            log.write(json.dumps(call) + "\n")
        ops.write(json.dumps(operation_record(service, model.name, params)) + "\n")

    boto3.DEFAULT_SESSION.events.register("before-parameter-build", record)


def ops_log_path(call_log: Path) -> Path:
    return call_log.with_name(call_log.name.removesuffix(".jsonl") + ".ops.jsonl")


class InvocationError(Exception):
    """The function raised, timed out or its environment died (Lambda's 'Unhandled')."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


def init_failure(line: str | None, *, still_running: bool) -> str:
    """Why an environment's init failed, judged before it is killed: no answer from a
    live process is a timeout; an exit, or anything but the ready line, a failure."""
    if line is None and still_running:
        return f"the handler did not initialise within {INIT_TIMEOUT_SECONDS:.0f} s"
    return "the handler failed to initialise (see the function's log)"


class FunctionRuntime:
    """Parent side: one warm execution environment for one function."""

    def __init__(
        self,
        function_name: str,
        handler: str,
        environment: dict[str, str],
        timeout_seconds: int,
        memory_mb: int,
        log_path: Path,
        call_log_path: Path | None = None,
        source_root: Path = SOURCE_ROOT,
    ) -> None:
        self.source_root = source_root
        self.call_log_path = call_log_path
        self.function_name = function_name
        self.handler = handler
        self.environment = environment
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self.log_path = log_path
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._responses: list[str] = []
        self._ready = threading.Condition()
        self.cold_starts = 0

    def _start(self) -> subprocess.Popen[str]:
        with _cold_starts:
            return self._cold_start()

    def _cold_start(self) -> subprocess.Popen[str]:
        env = dict(self.environment)
        env.update(
            PYTHONPATH=os.pathsep.join([str(self.source_root), str(REPO_ROOT)]),
            PYTHONDONTWRITEBYTECODE="1",  # an edited file is always read again
            PYTHONUNBUFFERED="1",
            AWS_LAMBDA_FUNCTION_NAME=self.function_name,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(self.memory_mb),
            AWS_LAMBDA_FUNCTION_TIMEOUT=str(self.timeout_seconds),
            LOCAL_STACK_PARENT_PID=str(os.getpid()),
        )
        if self.call_log_path is not None:
            env[CALL_LOG_ENV] = str(self.call_log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("a", encoding="utf-8")
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.local_stack.runtime", self.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
            cwd=REPO_ROOT,
        )
        log.close()
        self.cold_starts += 1
        self._responses = []
        assert process.stdout is not None
        threading.Thread(target=self._read_responses, args=(process.stdout,), daemon=True).start()
        # The init phase: wait for the handler's import, outside the invocation's clock.
        began = time.monotonic()
        deadline = began + INIT_TIMEOUT_SECONDS
        with self._ready:
            while not self._responses and process.poll() is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._ready.wait(timeout=min(remaining, 0.5))
            line = self._responses.pop(0) if self._responses else None
        if line is None or json.loads(line) != _READY:
            reason = init_failure(line, still_running=process.poll() is None)
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)
            raise InvocationError("Runtime.InitError", reason)
        took = time.monotonic() - began
        if took > LAMBDA_INIT_LIMIT_SECONDS:
            limit = f"{LAMBDA_INIT_LIMIT_SECONDS:.0f} s"
            with self.log_path.open("a", encoding="utf-8") as log_file:
                log_file.write(f"[local] init took {took:.1f} s: over Lambda's {limit} limit\n")
        return process

    def _read_responses(self, stream: IO[str]) -> None:
        for line in stream:
            with self._ready:
                self._responses.append(line)
                self._ready.notify_all()
        with self._ready:
            self._ready.notify_all()

    def invoke(self, event: dict[str, Any]) -> Any:
        """Invoke synchronously; returns the handler's result or raises InvocationError."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = self._start()
            process = self._process
            request_id = str(uuid.uuid4())
            deadline = time.monotonic() + self.timeout_seconds
            assert process.stdin is not None
            try:
                process.stdin.write(
                    json.dumps(
                        {
                            "request_id": request_id,
                            "deadline_epoch_ms": int((time.time() + self.timeout_seconds) * 1000),
                            "event": event,
                        }
                    )
                    + "\n"
                )
                process.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                self._kill()
                raise InvocationError("Runtime.ExitError", f"environment died: {exc}") from exc
            with self._ready:
                while not self._responses:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or process.poll() is not None:
                        break
                    self._ready.wait(timeout=min(remaining, 0.5))
                line = self._responses.pop(0) if self._responses else None
            if line is None:
                timed_out = process.poll() is None
                self._kill()
                if timed_out:
                    raise InvocationError(
                        "Sandbox.Timedout",
                        f"Task timed out after {self.timeout_seconds:.2f} seconds",
                    )
                raise InvocationError("Runtime.ExitError", "the function's process exited")
            reply = json.loads(line)
            if "error" in reply:
                raise InvocationError(reply["error"]["errorType"], reply["error"]["errorMessage"])
            return reply["result"]

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=5)
        self._process = None

    def stop(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                assert self._process.stdin is not None
                self._process.stdin.close()  # EOF: the child exits by itself
                try:
                    self._process.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    self._kill()
            self._process = None


def source_fingerprint(root: Path) -> tuple[int, int]:
    """(file count, newest mtime in ns) of the `.py` files under `root`: changes when a
    handler file is edited, added or removed."""
    count, newest = 0, 0
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if d != "__pycache__" and not d.startswith(".")]
        for name in files:
            if name.endswith(".py"):
                count += 1
                with contextlib.suppress(OSError):
                    newest = max(newest, os.stat(os.path.join(directory, name)).st_mtime_ns)
    return count, newest


class SourceWatcher:
    """Tells when the source tree changed since the last look (checked at most every
    `interval` seconds, so a burst of requests costs one directory walk)."""

    def __init__(self, root: Path, interval: float = 0.3) -> None:
        self.root = root
        self.interval = interval
        self.generation = 0
        self._fingerprint = source_fingerprint(root)
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def current(self) -> int:
        """The source generation: +1 each time a change is seen."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self.interval:
                self._checked = now
                fingerprint = source_fingerprint(self.root)
                if fingerprint != self._fingerprint:
                    self._fingerprint = fingerprint
                    self.generation += 1
            return self.generation


class FunctionPool:
    """Up to `concurrency` execution environments of one function (see module docstring)."""

    def __init__(
        self,
        new_environment: Callable[[], FunctionRuntime],
        concurrency: int,
        watcher: SourceWatcher | None = None,
        on_reload: Callable[[str], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self._new_environment = new_environment
        self.concurrency = concurrency
        self._watcher = watcher
        self._on_reload = on_reload
        self._idle: list[tuple[int, FunctionRuntime]] = []
        self._line: deque[object] = deque()  # requests waiting, oldest first
        self._size = 0
        self._generation = watcher.current() if watcher else 0
        self._available = threading.Condition()
        self._stopped = False
        self.peak = 0  # most environments busy at once (for load reports)
        self._busy = 0
        self.retired = 0

    @property
    def size(self) -> int:
        return self._size

    def _acquire(self) -> tuple[int, FunctionRuntime]:
        generation = self._watcher.current() if self._watcher else 0
        stale: list[FunctionRuntime] = []
        with self._available:
            if generation != self._generation:
                self._generation = generation
                stale = [env for gen, env in self._idle if gen != generation]
                self._idle = [(gen, env) for gen, env in self._idle if gen == generation]
                self._size -= len(stale)
                self.retired += len(stale)
            # First come, first served: only the oldest waiting request may take a free
            # environment. Without the line, a request arriving just as an environment
            # was freed took it from one woken to take it, which waited again (a p99
            # several times the median under load).
            ticket = object()
            self._line.append(ticket)
            try:
                while True:
                    if self._stopped:
                        raise InvocationError("Runtime.Stopped", "the local stack is stopping")
                    if self._line[0] is ticket and self._idle:
                        entry = self._idle.pop()
                        break
                    if self._line[0] is ticket and self._size < self.concurrency:
                        self._size += 1
                        entry = (generation, self._new_environment())
                        break
                    self._available.wait(timeout=1)
            finally:
                self._line.remove(ticket)
                self._available.notify_all()  # the next in line looks again
            self._busy += 1
            self.peak = max(self.peak, self._busy)
        for env in stale:
            env.stop()
        if stale and self._on_reload is not None:
            self._on_reload(f"source changed: retired {len(stale)} idle environment(s)")
        return entry

    def _release(self, entry: tuple[int, FunctionRuntime]) -> None:
        generation, env = entry
        retire = False
        with self._available:
            self._busy -= 1
            if self._stopped or generation != self._generation:
                self._size -= 1
                self.retired += 1
                retire = True
            else:
                self._idle.append(entry)
            self._available.notify_all()
        if retire:
            env.stop()

    def invoke(self, event: dict[str, Any]) -> Any:
        entry = self._acquire()
        try:
            return entry[1].invoke(event)
        finally:
            self._release(entry)

    def stop(self) -> None:
        with self._available:
            self._stopped = True
            idle, self._idle = self._idle, []
            self._size -= len(idle)
            self._available.notify_all()
        for _gen, env in idle:
            env.stop()


class LambdaContext:
    """The attributes of the Lambda context object that handlers use."""

    def __init__(self, request_id: str, deadline_epoch_ms: int) -> None:
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        region = os.environ.get("AWS_REGION", fake_aws.REGION)
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{name}"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline_epoch_ms = deadline_epoch_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_epoch_ms - int(time.time() * 1000))


def _watch_parent(parent_pid: int) -> None:
    """Exit if the local stack dies without stopping us (no orphans after a crash)."""
    while True:
        time.sleep(1)
        if os.getppid() != parent_pid:
            os._exit(0)


def child_main(handler_path: str) -> int:
    # Ctrl-C on `make local` reaches the whole foreground process group: the parent stops
    # the environments itself (stdin EOF), so a Ctrl-C here would only kill a request in
    # flight and print a KeyboardInterrupt traceback into the function's log.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The protocol owns the real stdout; the handler's prints and logs go to stderr.
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    parent_pid = int(os.environ.get("LOCAL_STACK_PARENT_PID", os.getppid()))
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()

    if os.environ.get(CALL_LOG_ENV):
        install_call_recorder(Path(os.environ[CALL_LOG_ENV]))
    module_name, _, function_name = handler_path.rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
    protocol.write(json.dumps(_READY) + "\n")
    protocol.flush()
    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(request["request_id"], request["deadline_epoch_ms"])
        try:
            reply: dict[str, Any] = {"result": handler(request["event"], context)}
        except Exception as exc:  # noqa: BLE001 - reported to the caller, as Lambda does
            traceback.print_exc()
            reply = {"error": {"errorType": type(exc).__name__, "errorMessage": str(exc)}}
        protocol.write(json.dumps(reply, default=str) + "\n")
        protocol.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1]))
