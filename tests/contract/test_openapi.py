"""The OpenAPI document (openapi.yaml) is the one statement of the HTTP API: Terraform
builds its routes from it, and the handler's route table, problem types, bounds and id
grammars must be what it says. Each test fails when one side drifts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate
from scripts.terraform_workspace import copy_root_module, terraform_cli_env

from jobs_platform import config, errors, ids, jobs, models, sessions
from jobs_platform.http_api import MAX_BODY_BYTES
from jobs_platform.jobs import create, cursor, query_params, usage
from tests.repo_config import write_placeholder_artifacts

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENAPI = REPO_ROOT / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    return loaded


def operations() -> dict[str, dict[str, Any]]:
    """Route key ("GET /v1/jobs") -> operation."""
    return {
        f"{method.upper()} {path}": spec
        for path, item in document()["paths"].items()
        for method, spec in item.items()
        if method in HTTP_METHODS
    }


def schema(name: str) -> dict[str, Any]:
    found: dict[str, Any] = document()["components"]["schemas"][name]
    return found


def test_document_is_valid_openapi_3_1() -> None:
    assert document()["openapi"].startswith("3.1")
    validate(document())


def terraform_console(tmp_root: Path, expression: str, *var_args: str) -> tuple[int, str]:
    """Evaluate `expression` with `terraform console` on a copy of the root module without
    its backend (no state, no account) and local.tfvars; (exit code, output)."""
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.fail("terraform is not on PATH: install Terraform >= 1.10 (never skipped)")
    root = tmp_root / "root"
    env = terraform_cli_env(tmp_root / "data", tmp_root)

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [terraform, *args], cwd=root, env=env, input=stdin, capture_output=True,
            text=True, timeout=600, check=False,
        )  # fmt: skip

    if not root.exists():
        copy_root_module(REPO_ROOT, root, module_tests=False)
        (root / "backend.tf").unlink()
        write_placeholder_artifacts(root)
        init = run("init", "-input=false", "-no-color")
        assert init.returncode == 0, f"terraform init:\n{init.stdout}{init.stderr}"
    result = run(
        "console", "-no-color", "-var-file=environments/local.tfvars", *var_args,
        stdin=f"{expression}\n",
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


def terraform_routes(tmp_root: Path) -> dict[str, Any]:
    """`local.routes` as Terraform evaluates it."""
    code, out = terraform_console(tmp_root, "jsonencode(local.routes)")
    assert code == 0, out
    routes: dict[str, Any] = json.loads(json.loads(out.strip().splitlines()[-1]))
    return routes


@pytest.mark.terraform
def test_terraform_routes_are_the_documents_operations(tmp_path: Path) -> None:
    routes = terraform_routes(tmp_path)
    expected = {
        key: {
            "function": spec["x-jobs-platform-function"],
            "authorized": bool(spec.get("security", document()["security"])),
        }
        for key, spec in operations().items()
    }
    default = document()["x-jobs-platform-default-route"]
    expected["$default"] = {"function": default["function"], "authorized": default["authorized"]}
    assert routes == expected
    # Unknown routes must reach the api, which answers 404/405 problems.
    assert routes["$default"] == {"function": "api", "authorized": True}


def test_handler_routes_are_the_documents_operations() -> None:
    from jobs_platform.handlers import api

    assert set(api.ROUTES) - {"$default"} == set(operations())
    assert "$default" in api.ROUTES
    functions = {spec["x-jobs-platform-function"] for spec in operations().values()}
    assert functions == {"api"}, "only the api function serves routes"


def test_public_operations_are_the_authorizers_public_routes() -> None:
    # With the edge on, the origin-only authorizer guards these; it allows exactly these
    # without an API key.
    from jobs_platform.handlers import authorizer

    public = {key for key, spec in operations().items() if spec.get("security") == []}
    assert public == set(authorizer.PUBLIC_ROUTES) == {"GET /health"}


def test_problem_types_are_the_handlers() -> None:
    documented = {
        (p["type"], p["title"], p["status"]) for p in document()["x-jobs-platform-problem-types"]
    }
    code = {
        (p.uri, p.title, p.status) for p in [*errors.PROBLEM_TYPES.values(), errors.INTERNAL_ERROR]
    }
    assert documented == code


def test_every_problem_status_is_documented_where_it_can_happen() -> None:
    """Each documented error response of an operation is a status some problem type (or API
    Gateway) has, and every operation documents the gateway's 401/403 when it needs a key."""
    problem_statuses = {p["status"] for p in document()["x-jobs-platform-problem-types"]}
    gateway_statuses = {401, 403, 413, 429, 500}
    for key, spec in operations().items():
        statuses = {int(s) for s in spec["responses"] if int(s) >= 400}
        assert statuses <= problem_statuses | gateway_statuses, key
        assert 500 in statuses, key
        if spec.get("security") != []:
            assert {401, 403} <= statuses, key


def test_bounds_and_grammars_are_the_codes() -> None:
    params = {
        p["name"]: p
        for op in operations().values()
        for p in op.get("parameters", [])
        if "name" in p
    }
    components = document()["components"]["parameters"]
    limit = params["limit"]["schema"]["anyOf"][0]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (
        1, query_params.MAX_LIST_LIMIT, query_params.DEFAULT_LIST_LIMIT,
    )  # fmt: skip
    assert params["cursor"]["schema"]["maxLength"] == cursor.MAX_CURSOR_LENGTH
    assert components["IdempotencyKey"]["schema"]["maxLength"] == create.MAX_IDEMPOTENCY_KEY_LENGTH
    # The document anchors (JSON Schema searches); the code matches whole strings.
    assert schema("JobId")["pattern"] == f"^{ids.ULID_PATTERN.pattern}$"
    assert schema("SessionId")["pattern"] == f"^{sessions.SESSION_ID_PATTERN.pattern}$"
    assert schema("DayParameter")["anyOf"][0]["pattern"] == f"^{ids.DAY_PATTERN.pattern}$"
    assert schema("JobStatus")["enum"] == [status.value for status in jobs.JobStatus]
    assert schema("JobRequest")["properties"]["type"]["maxLength"] == models.MAX_JOB_TYPE_LENGTH
    ttl = schema("SessionPut")["properties"]["ttl_seconds"]["oneOf"][0]
    assert (ttl["minimum"], ttl["maximum"]) == (
        config.SESSION_TTL_MIN_SECONDS, config.SESSION_TTL_MAX_SECONDS,
    )  # fmt: skip
    assert (
        f"{MAX_BODY_BYTES:,}"
        in document()["components"]["responses"]["PayloadTooLarge"]["description"]
    )


def test_usage_range_limit_is_the_codes() -> None:
    """The usage range bound and the counters' retention are stated by usage.py; the
    document and the architecture doc repeat them for readers."""
    limit = f"at most {usage.MAX_RANGE_DAYS} days"
    to = next(p for p in operations()["GET /v1/usage"]["parameters"] if p.get("name") == "to")
    assert limit in " ".join(to["description"].split())
    architecture = (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert limit in " ".join(architecture.split())
    assert len(re.findall(r"at most (\d+) days", " ".join(architecture.split()))) == 1
    # The counters' retention, as the key table states it.
    assert f"`expires_at` (+{usage.USAGE_RETENTION.days} days)" in architecture


def test_documented_patterns_match_exactly_what_the_code_accepts() -> None:
    """The document's grammars, applied as JSON Schema does (search anywhere, so anchored),
    accept and refuse the same strings as the code's, end of string included."""
    ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    samples = ["s1", "s1\n", "a" * 128, "a" * 129, "-a", ulid, f"{ulid}\n", "8" + ulid[1:], "",
               "a.b:c-d_e"]  # fmt: skip
    for name, accepts in (("SessionId", sessions.SESSION_ID_PATTERN), ("JobId", ids.ULID_PATTERN)):
        documented = re.compile(schema(name)["pattern"])
        for sample in samples:
            # JSON Schema's "$" is end of input (ECMA-262): model it with \Z.
            doc_ok = bool(re.search(documented.pattern.replace("$", r"\Z"), sample))
            assert doc_ok == ids.is_whole_match(accepts, sample), (name, sample)


def test_job_types_and_their_max_durations_are_the_codes() -> None:
    from jobs_platform import job_types

    documented = document()["x-jobs-platform-job-types"]
    code = {
        name: {"max_duration_seconds": t.max_duration_seconds, "test_only": t.test_only}
        for name, t in job_types.JOB_TYPES.items()
    }
    assert documented == code
    # The worker keeps less than Terraform's 1 s margin for finishing a job.
    from jobs_platform.handlers.worker import FINISH_MARGIN_MS

    assert FINISH_MARGIN_MS < 1000


@pytest.mark.terraform
def test_terraform_refuses_a_worker_timeout_shorter_than_the_longest_job(tmp_path: Path) -> None:
    longest = max(
        t["max_duration_seconds"] for t in document()["x-jobs-platform-job-types"].values()
    )
    _code, out = terraform_console(
        tmp_path, "var.worker_timeout_seconds", f"-var=worker_timeout_seconds={longest}"
    )
    # (terraform console reports a failed variable validation without failing itself)
    said = " ".join(out.split())
    assert "Invalid value for variable" in said and "longest enabled job type" in said, out
    # Enough time (the local environment's), and without the test types less is enough.
    ok, out = terraform_console(tmp_path, "local.longest_job_seconds")
    assert ok == 0 and float(out.strip().splitlines()[-1]) == longest, out
    ok, out = terraform_console(
        tmp_path, "local.longest_job_seconds", "-var=enable_test_job_types=false"
    )
    assert ok == 0 and float(out.strip().splitlines()[-1]) == 0.25, out
