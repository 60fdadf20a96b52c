"""scripts/smoke.py against a deployed environment: the base URL from its Terraform outputs,
and the first deploy, when no API key can exist yet (real HTTP on loopback)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from scripts import smoke


class _Api(BaseHTTPRequestHandler):
    """What a freshly deployed API answers without a key."""

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, {"status": "ok", "version": "abc123"})
        else:
            self._send(401, {"title": "Unauthorized", "status": 401})

    def _send(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    files = {"summary": tmp_path / "summary.md", "output": tmp_path / "output"}
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(files["summary"]))
    monkeypatch.setenv("GITHUB_OUTPUT", str(files["output"]))
    monkeypatch.delenv("SMOKE_API_KEY", raising=False)
    monkeypatch.delenv("SMOKE_BASE_URL", raising=False)
    return files


def outputs_file(tmp_path: Path, **values: str | None) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({k: {"value": v, "sensitive": False} for k, v in values.items()}))
    return path


def applied(tmp_path: Path, created_table: bool) -> Path:
    path = tmp_path / "staging.plan.json"
    address = smoke.API_KEYS_TABLE_ADDRESS if created_table else "aws_kms_key.this"
    path.write_text(
        json.dumps({"format": 1, "resource_changes": [{"address": address, "actions": ["create"]}]})
    )
    return path


def test_first_deploy_without_a_key_checks_what_it_can_and_says_so_loudly(
    api: str, tmp_path: Path, github: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = outputs_file(tmp_path, edge_url=api, api_endpoint="https://direct.invalid")

    code = smoke.main(
        [
            "--env",
            "staging",
            "--terraform-outputs",
            str(outputs),
            "--applied-plan",
            str(applied(tmp_path, True)),
        ]
    )

    out = capsys.readouterr()
    assert code == 0
    assert f"smoke test of {api} (staging)" in out.out
    assert "ok   health (version abc123)" in out.out and "ok   401 without an API key" in out.out
    assert "passed WITHOUT its authenticated checks" in out.out
    assert "::warning title=smoke (staging): authenticated checks skipped::" in out.out
    assert "SKIPPED SMOKE_API_KEY is not set for staging" in out.err
    assert (
        "make -s api-key ENV=staging KEY_ONLY=1 | gh secret set SMOKE_API_KEY --env staging"
        in out.err
    )
    assert "authenticated checks SKIPPED" in github["summary"].read_text()
    assert github["output"].read_text() == f"url={api}\n"


def test_a_missing_key_fails_once_the_environment_existed_before(
    api: str, tmp_path: Path, github: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = outputs_file(tmp_path, edge_url=api)

    code = smoke.main(
        [
            "--env",
            "prod",
            "--terraform-outputs",
            str(outputs),
            "--applied-plan",
            str(applied(tmp_path, False)),
        ]
    )

    assert code == 1
    assert "FAIL SMOKE_API_KEY is not set for prod" in capsys.readouterr().err


def test_a_missing_key_fails_without_the_applied_plan(
    api: str, tmp_path: Path, github: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = smoke.main(
        ["--env", "prod", "--terraform-outputs", str(outputs_file(tmp_path, edge_url=api))]
    )

    assert code == 1
    assert "make -s api-key ENV=prod" in capsys.readouterr().err


def test_without_the_edge_the_api_endpoint_is_the_base_url(
    api: str, tmp_path: Path, github: dict[str, Path]
) -> None:
    outputs = outputs_file(tmp_path, edge_url=None, api_endpoint=api)

    assert (
        smoke.main(
            [
                "--env",
                "dev",
                "--terraform-outputs",
                str(outputs),
                "--applied-plan",
                str(applied(tmp_path, True)),
            ]
        )
        == 0
    )
    assert github["output"].read_text() == f"url={api}\n"


def test_an_environment_never_applied_has_no_url(tmp_path: Path, github: dict[str, Path]) -> None:
    with pytest.raises(SystemExit, match="has no edge_url or api_endpoint output"):
        smoke.main(["--env", "qa", "--terraform-outputs", str(outputs_file(tmp_path))])
