from __future__ import annotations

import json
import logging

import pytest

from jobs_platform import log


def test_log_lines_are_json_with_bound_context(capsys: pytest.CaptureFixture[str]) -> None:
    log.setup("worker", "INFO")
    log.clear()
    log.bind(request_id="r1", tenant_id="t1", job_id="j1")

    log.info("job started", attempts=2)
    logging.getLogger(log.LOGGER_NAME).debug("hidden at INFO")
    log.clear()

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["message"] == "job started"
    assert entry["level"] == "INFO"
    assert entry["function"] == "worker"
    assert (entry["request_id"], entry["tenant_id"], entry["job_id"]) == ("r1", "t1", "j1")
    assert entry["attempts"] == 2
    assert entry["timestamp"].endswith("Z")


def test_bind_rejects_unknown_context_fields() -> None:
    with pytest.raises(ValueError, match="api_key"):
        log.bind(api_key="jp_secret")


def test_exceptions_are_logged_with_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    log.setup("api", "INFO")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")

    entry = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert entry["level"] == "ERROR"
    assert "RuntimeError: boom" in entry["exception"]
