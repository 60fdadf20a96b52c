from __future__ import annotations

import json

import pytest

from jobs_platform import log


def test_log_lines_are_json_with_bound_context(capsys: pytest.CaptureFixture[str]) -> None:
    log.setup("worker", "INFO")
    log.clear()
    log.bind(request_id="r1", tenant_id="t1", job_id="j1")

    log.info("job started", attempts=2)
    log.debug("hidden at INFO")
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


class _Context:
    aws_request_id = "lambda-req-1"


def test_every_line_carries_the_lambda_request_id_and_the_cold_start_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log.setup("api", "INFO")
    log.reset_process()
    log.start_invocation(_Context())
    log.info("first")
    log.start_invocation(_Context())
    log.bind(request_id="r2", trace_id="1-abc-def")
    log.warning("second")
    log.clear()

    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (first["lambda_request_id"], first["cold_start"]) == ("lambda-req-1", True)
    assert (second["cold_start"], second["trace_id"]) == (False, "1-abc-def")
    assert second["level"] == "WARNING" and second["function"] == "api"


def test_timestamps_are_rfc3339_utc_with_milliseconds() -> None:
    assert log._timestamp(1_700_000_000.0456) == "2023-11-14T22:13:20.045Z"
    assert log._timestamp(1_700_000_001.9999) == "2023-11-14T22:13:21.999Z"


def test_a_field_named_like_a_bound_one_replaces_it(capsys: pytest.CaptureFixture[str]) -> None:
    log.setup("api", "INFO")
    log.start_invocation(_Context())
    log.clear(request_id="r1", tenant_id="t1")
    log.info("override", tenant_id="t2", function="other", route="GET /health")
    log.info("plain", route="GET /health")
    log.info("no fields")
    log.clear()

    out = capsys.readouterr().out.splitlines()
    override, plain, bare = (json.loads(line) for line in out)
    assert (override["tenant_id"], override["function"], override["request_id"]) == (
        "t2",
        "other",
        "r1",
    )
    assert list(override) == list(plain)  # the same fields in the same order
    assert (plain["tenant_id"], plain["function"], plain["route"]) == ("t1", "api", "GET /health")
    assert bare["message"] == "no fields" and "route" not in bare
    assert all(line.count('"tenant_id"') == 1 for line in out)


def test_clear_binds_the_request_fields_and_rejects_unknown_ones() -> None:
    with pytest.raises(ValueError, match="api_key"):
        log.clear(request_id="r1", api_key="jp_secret")


@pytest.mark.parametrize("tenant_id", ["t1", "", None])
def test_start_request_binds_as_clear_does(
    tenant_id: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    log.setup("api", "INFO")
    log.bind(job_id="j0")
    log.clear(request_id="r1", tenant_id=tenant_id)
    log.info("x")
    log.bind(job_id="j0")
    log.start_request("r1", tenant_id)
    log.info("x")

    cleared, started = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    del cleared["timestamp"], started["timestamp"]
    assert started == cleared and "job_id" not in started


def test_messages_and_fields_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    log.setup("api", "INFO")
    log.clear(request_id='r"1')
    log.info('quote " and \\ and \n newline', path="/v1/\u00e9")
    log.clear()

    entry = json.loads(capsys.readouterr().out)
    assert entry["message"] == 'quote " and \\ and \n newline'
    assert (entry["request_id"], entry["path"]) == ('r"1', "/v1/\u00e9")
