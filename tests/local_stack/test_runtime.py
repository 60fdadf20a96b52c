"""The local Lambda execution environment: isolation, errors, timeouts, cold starts."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

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
            timeout_seconds=30,
            memory_mb=128,
            log_path=tmp_path / "fn.log",
            source_root=source,
        )

    return FunctionPool(new_environment, concurrency, watcher=SourceWatcher(source, interval=0))


def test_pool_runs_requests_concurrently_up_to_its_concurrency(tmp_path: Path) -> None:
    """8 requests that each wait for all 4 to be in at once: only possible with 4
    environments working at the same time; never more than 4 exist."""
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
            thread.join(timeout=120)
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
