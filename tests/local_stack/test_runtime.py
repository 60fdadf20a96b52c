"""The local Lambda execution environment: isolation, errors, timeouts, cold starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts.local_stack.runtime import FunctionRuntime, InvocationError


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
