"""The project's checkov policies (policies/checkov) catch each broken guardrail.

Each case copies the Terraform (root module, modules, environments) into a temporary
directory, breaks exactly one guardrail there, runs checkov's source scan with only the
project's checks, and expects exactly that guardrail's check to fail. The baseline case
(no change) must pass every project check, and each check must have run at least once
(a policy file checkov could not load would otherwise pass silently).

checkov comes from the security tools' virtualenv (.venv-tools, created by
scripts/tools-venv, which `make test` runs first); without it these tests fail, never skip.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from scripts.terraform_cli import copy_root_module

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICIES = REPO_ROOT / "policies" / "checkov"
CHECKOV = REPO_ROOT / ".venv-tools" / "bin" / "checkov"
# prod: the edge (CloudFront + WAF) is on, as in staging.
VAR_FILE = Path("environments") / "prod.tfvars"


def project_check_ids() -> list[str]:
    """Every check id the project's policies define (Python `id=` and YAML `id:`)."""
    ids: set[str] = set()
    for path in POLICIES.iterdir():
        if path.suffix == ".py":
            ids.update(re.findall(r'\bid="(CKV2?_JP_\d+)"', path.read_text()))
        elif path.suffix in {".yaml", ".yml"}:
            ids.update(re.findall(r"^\s*id:\s*(CKV2?_JP_\d+)\s*$", path.read_text(), re.M))
    return sorted(ids)


def remove_block(text: str, header: str) -> str:
    """Remove the block that starts at the line matching ``header`` (regex, ends with
    ``{``) through its matching closing brace."""
    match = re.search(rf"^[ \t]*{header}[ \t]*\{{[ \t]*\n", text, re.M)
    assert match, f"no block {header!r}: the guardrail mutation needs updating"
    depth, i = 0, match.end() - 2
    while True:
        ch = text[i]
        depth += ch == "{"
        depth -= ch == "}"
        i += 1
        if depth == 0:
            break
    end = text.index("\n", i) + 1 if "\n" in text[i:] else len(text)
    return text[: match.start()] + text[end:]


def remove_line(text: str, pattern: str) -> str:
    new, count = re.subn(rf"^[ \t]*{pattern}.*\n", "", text, flags=re.M)
    assert count == 1, f"expected one line matching {pattern!r}, found {count}"
    return new


@dataclass(frozen=True)
class Mutation:
    file: str
    change: Callable[[str], str]
    expected_check: str
    resource: str  # substring of the failing resource's address


MUTATIONS: dict[str, Mutation] = {
    "queue_without_redrive_policy": Mutation(
        "terraform/modules/queue/main.tf",
        lambda t: remove_block(t, r"redrive_policy\s*=\s*jsonencode\("),
        "CKV_JP_1",
        "aws_sqs_queue.this",
    ),
    "table_without_ttl": Mutation(
        "terraform/modules/table/main.tf",
        lambda t: remove_block(t, "ttl"),
        "CKV_JP_2",
        "aws_dynamodb_table",
    ),
    "table_without_pitr": Mutation(
        "terraform/modules/table/main.tf",
        lambda t: remove_block(t, "point_in_time_recovery"),
        "CKV_JP_3",
        "aws_dynamodb_table",
    ),
    "table_without_cmk": Mutation(
        "terraform/modules/table/main.tf",
        lambda t: remove_line(t, r"kms_key_arn\s*=\s*var\.kms_key_arn"),
        "CKV_JP_4",
        "aws_dynamodb_table",
    ),
    "function_log_group_without_retention": Mutation(
        "terraform/modules/function/main.tf",
        lambda t: remove_line(t, r"retention_in_days\s*="),
        "CKV2_JP_1",
        "aws_lambda_function",
    ),
    "function_without_errors_alarm": Mutation(
        "terraform/modules/function/alarms.tf",
        lambda t: remove_block(t, r'resource "aws_cloudwatch_metric_alarm" "errors"'),
        "CKV2_JP_2",
        "aws_lambda_function",
    ),
    "stage_without_throttling": Mutation(
        "terraform/modules/api/main.tf",
        lambda t: remove_block(t, "default_route_settings"),
        "CKV_JP_5",
        "aws_apigatewayv2_stage",
    ),
    "stage_without_access_logs": Mutation(
        "terraform/modules/api/main.tf",
        lambda t: remove_block(t, "access_log_settings"),
        "CKV_JP_6",
        "aws_apigatewayv2_stage",
    ),
    "edge_without_waf": Mutation(
        "terraform/modules/edge/main.tf",
        lambda t: remove_line(t, r"web_acl_id\s*="),
        "CKV_JP_7",
        "aws_cloudfront_distribution",
    ),
}


def copy_terraform(dest: Path) -> Path:
    # Without the modules' terraform tests: checkov scans only the configuration.
    return copy_root_module(REPO_ROOT, dest, module_tests=False)


def run_checkov(directory: Path) -> dict[str, Any]:
    if not CHECKOV.is_file():
        pytest.fail(
            f"{CHECKOV.relative_to(REPO_ROOT)} missing: run 'make tools' (scripts/tools-venv "
            "creates .venv-tools from requirements/tools.txt); these tests never skip"
        )
    result = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(directory),
            "--framework",
            "terraform",
            "--var-file",
            str(directory / VAR_FILE),
            "--external-checks-dir",
            str(POLICIES),
            "--check",
            ",".join(project_check_ids()),
            "--skip-download",
            "--compact",
            "--output",
            "json",
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode in (0, 1), (
        f"checkov crashed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    )
    data = json.loads(result.stdout)
    reports = data if isinstance(data, list) else [data]
    return next(r for r in reports if r.get("check_type") == "terraform")


def results(report: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    return [(c["check_id"], c["resource"]) for c in report.get("results", {}).get(kind, [])]


def test_project_policies_define_the_guardrail_checks() -> None:
    assert {m.expected_check for m in MUTATIONS.values()} <= set(project_check_ids())


def test_unmodified_terraform_passes_every_project_check(tmp_path: Path) -> None:
    # Given the Terraform as it is, when checkov runs the project's checks, then none
    # fails and every check ran (checkov logs and skips a policy it cannot load).
    report = run_checkov(copy_terraform(tmp_path))

    assert results(report, "failed_checks") == []
    ran = {check_id for check_id, _ in results(report, "passed_checks")}
    assert ran == set(project_check_ids()), (
        f"checks that never ran: {set(project_check_ids()) - ran}"
    )


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_breaking_a_guardrail_fails_exactly_its_check(case: str, tmp_path: Path) -> None:
    # Given a copy of the Terraform with one guardrail broken
    mutation = MUTATIONS[case]
    copy = copy_terraform(tmp_path)
    target = copy / mutation.file
    original = target.read_text()
    changed = mutation.change(original)
    assert changed != original
    target.write_text(changed)

    # When checkov runs the project's checks
    report = run_checkov(copy)

    # Then exactly that guardrail's check fails, on the broken resource
    failed = results(report, "failed_checks")
    assert failed, f"{case}: no project check failed"
    assert {check_id for check_id, _ in failed} == {mutation.expected_check}, failed
    assert all(mutation.resource in resource for _, resource in failed), failed
