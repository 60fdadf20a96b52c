"""The local Lambda execution environment: isolation, errors, timeouts, cold starts."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest
from scripts.local_stack.runtime import (
    FunctionPool,
    FunctionRuntime,
    InvocationError,
    SourceWatcher,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def runtime(tmp_path: Path, handler: str, timeout: int = 5, **env: str) -> FunctionRuntime:
    return FunctionRuntime(
        function_name="fn",
        handler=f"tests.local_stack.fake_handlers.{handler}",
        environment={"PATH": "/usr/bin:/bin", **env},
        timeout_seconds=timeout,
        memory_mb=128,
        log_path=tmp_path / "fn.log",
    )


def test_function_sees_only_its_own_environment_and_stays_warm(tmp_path: Path) -> None:
    fn = runtime(tmp_path, "env", TABLE="jobs")
    try:
        first = fn.invoke({"name": "TABLE"})
        second = fn.invoke({"name": "HOME"})
    finally:
        fn.stop()
    assert first["value"] == "jobs"
    assert second["value"] is None  # not inherited from the parent
    assert first["pid"] == second["pid"] and fn.cold_starts == 1
    assert first["request_id"] != second["request_id"]
    assert 0 < first["remaining_ms"] <= 5000


def test_handler_exception_is_an_invocation_error_and_logged(tmp_path: Path) -> None:
    fn = runtime(tmp_path, "boom")
    try:
        with pytest.raises(InvocationError) as caught:
            fn.invoke({})
    finally:
        fn.stop()
    assert caught.value.error_type == "ValueError"
    assert "kaboom" in (tmp_path / "fn.log").read_text()


def test_timeout_kills_the_environment_and_next_call_cold_starts(tmp_path: Path) -> None:
    fn = runtime(tmp_path, "sleep", timeout=1)
    try:
        with pytest.raises(InvocationError) as caught:
            fn.invoke({"seconds": 3})
        assert caught.value.error_type == "Sandbox.Timedout"
        assert fn.invoke({"seconds": 0}) == "woke"
    finally:
        fn.stop()
    assert fn.cold_starts == 2
    assert "about to sleep" in (tmp_path / "fn.log").read_text()


def pool_of(tmp_path: Path, source: Path, handler: str, concurrency: int) -> FunctionPool:
    def new_environment() -> FunctionRuntime:
        return FunctionRuntime(
            function_name="fn",
            handler=handler,
            environment={"PATH": "/usr/bin:/bin"},
            timeout_seconds=300,  # a wave waits for its slowest cold start
            memory_mb=128,
            log_path=tmp_path / "fn.log",
            source_root=source,
        )

    return FunctionPool(new_environment, concurrency, watcher=SourceWatcher(source, interval=0))


def test_pool_runs_requests_concurrently_up_to_its_concurrency(tmp_path: Path) -> None:
    """8 requests in two waves of 4, each waiting for its whole wave to be in at once:
    only possible with 4 environments working at the same time; never more than 4 exist."""
    pool = pool_of(tmp_path, REPO_ROOT / "lambdas", "tests.local_stack.fake_handlers.rendezvous", 4)
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    results: list[Any] = []

    def call(index: int) -> None:
        results.append(pool.invoke({"dir": str(rendezvous), "name": str(index), "parties": 4}))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    finally:
        pool.stop()
    assert len(results) == 8 and all(r["met"] >= 4 for r in results), results
    assert pool.peak == 4 and len({r["pid"] for r in results}) == 4


def test_edited_handler_takes_effect_on_the_next_request(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    module = source / "hot_handler.py"
    module.write_text("def handler(event, context):\n    return 'v1'\n")
    pool = pool_of(tmp_path, source, "hot_handler.handler", 2)
    try:
        assert pool.invoke({}) == "v1"
        assert pool.invoke({}) == "v1"  # warm: same environment
        module.write_text("def handler(event, context):\n    return 'v2, edited'\n")
        os.utime(module, ns=(time.time_ns(), time.time_ns() + 1_000_000))  # coarse clocks
        assert pool.invoke({}) == "v2, edited"
    finally:
        pool.stop()
    assert pool.retired >= 1


def fixed_source(tmp_path: Path, body: str) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    (source / "init_handler.py").write_text(body)
    return source


def test_an_init_past_the_limit_is_reported_as_a_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("scripts.local_stack.runtime.INIT_TIMEOUT_SECONDS", 1.0)
    source = fixed_source(tmp_path, "import time\ntime.sleep(60)\ndef handler(e, c):\n    pass\n")
    fn = FunctionRuntime("fn", "init_handler.handler", {"PATH": "/usr/bin:/bin"}, 5, 128,
                         tmp_path / "fn.log", source_root=source)  # fmt: skip
    with pytest.raises(InvocationError) as caught:
        fn.invoke({})
    assert caught.value.error_type == "Runtime.InitError"
    assert "did not initialise within 1 s" in str(caught.value)


def test_an_import_error_is_reported_as_an_init_failure(tmp_path: Path) -> None:
    source = fixed_source(tmp_path, "raise ImportError('no such thing')\n")
    fn = FunctionRuntime("fn", "init_handler.handler", {"PATH": "/usr/bin:/bin"}, 5, 128,
                         tmp_path / "fn.log", source_root=source)  # fmt: skip
    with pytest.raises(InvocationError) as caught:
        fn.invoke({})
    assert caught.value.error_type == "Runtime.InitError"
    assert "failed to initialise" in str(caught.value)
    assert "no such thing" in (tmp_path / "fn.log").read_text()


def test_an_environment_ignores_ctrl_c_and_is_stopped_by_its_parent(tmp_path: Path) -> None:
    """Ctrl-C on `make local` signals the whole process group: the environments must not
    die mid-request with a KeyboardInterrupt (the parent stops them)."""
    fn = runtime(tmp_path, "env")
    try:
        pid = fn.invoke({"name": "PATH"})["pid"]
        os.kill(pid, signal.SIGINT)
        time.sleep(0.5)  # an absence to show: give the signal time to act (it would kill)
        again = fn.invoke({"name": "PATH"})
    finally:
        fn.stop()
    assert again["pid"] == pid and fn.cold_starts == 1
    assert "KeyboardInterrupt" not in (tmp_path / "fn.log").read_text()


class _FakeEnvironment:
    """Stands in for an execution environment: notes who invoked it, answers at once."""

    def __init__(self, callers: list[str]) -> None:
        self.callers = callers

    def invoke(self, event: dict[str, Any]) -> Any:
        self.callers.append(threading.current_thread().name)

    def stop(self) -> None:
        pass


def test_a_freed_environment_goes_to_the_oldest_waiting_request() -> None:
    """A request that arrives as an environment is freed queues behind the one already
    waiting (no barging): under load the tail would otherwise wait again and again."""
    order: list[str] = []
    pool = FunctionPool(lambda: cast(FunctionRuntime, _FakeEnvironment(order)), 1)
    held = pool._acquire()  # the one environment is busy
    waiter = threading.Thread(target=pool.invoke, args=({},), name="waiter")
    waiter.start()
    deadline = time.monotonic() + 60
    while len(pool._line) < 1:  # the waiter is in line
        assert time.monotonic() < deadline, "the waiting request never queued"
        time.sleep(0.01)

    # When the busy request ends and its client at once sends the next one
    pool._release(held)
    pool.invoke({})

    # Then the request that was waiting went first
    waiter.join(timeout=60)
    assert order == ["waiter", threading.current_thread().name]
