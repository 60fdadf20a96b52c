"""The security review as a reviewer runs it, and where the repository is cloned.

- `checkov -d .` at the root (.checkov.yaml) loads the project's policies, skips build
  output and gives the same counts as `scripts/lint-security`'s own scan of it (the line
  `make lint` prints): on a fresh copy of the repository, and again after build output a
  `make lint` leaves behind (offline plans with findings, zips) is there. 0 failed.
- The plan scan does not depend on the clone's path: checkov puts the plan file's
  absolute path into a Lambda function's environment (as `__file__`) and its secret
  detector flags a run of 40 [A-Za-z0-9/+=] characters, which a directory name such as
  `mktemp -d` makes can complete. The scan from such a path passes; checkov run on the file
  in place fails (the control: the test would see the bug).
- The IAM review (parliament, cloudsplaining) passes on the template and fails on a
  new risky grant or a stale acceptance.

The tools come from .venv-tools (`make test` creates it): these tests fail without it,
never skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from scripts import bootstrap_policies as bp

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO_ROOT / ".venv-tools" / "bin"
LINT = REPO_ROOT / "scripts" / "lint-security"

pytestmark = pytest.mark.xdist_group("checkov")


def tools_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{env['PATH']}"
    return env


def fresh_copy(target: Path) -> Path:
    """The tracked files (and the uncommitted edits to them), as a fresh clone has them."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def plain_checkov_counts(root: Path) -> tuple[dict[str, int], set[str]]:
    """(summed counts, check ids that ran) of a reviewer's `checkov -d . -o json`."""
    result = subprocess.run(
        [str(TOOLS_BIN / "checkov"), "-d", ".", "-o", "json"],
        cwd=root,
        capture_output=True,
        text=True,
        env=tools_env(),
        check=False,
    )
    data = json.loads(result.stdout)
    reports = data if isinstance(data, list) else [data]
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    ran = set()
    for report in reports:
        for key in counts:
            counts[key] += int(report["summary"][key])
        for kind in ("passed_checks", "failed_checks"):
            ran |= {c["check_id"] for c in report["results"][kind]}
    return counts, ran


def lint_reviewer_counts(root: Path) -> dict[str, int]:
    """The counts `scripts/lint-security` prints for its `checkov -d .` scan."""
    lint = root / "scripts" / "lint-security"
    result = subprocess.run(
        [str(lint), "checkov-reviewer"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**tools_env(), "TOOLS_VENV": str(REPO_ROOT / ".venv-tools")},
        check=False,
    )
    line = next(row for row in result.stdout.splitlines() if "checkov -d ." in row)
    cells = [c.strip() for c in line.strip("|").split("|")]
    passed, failed, skipped = (int(c) for c in cells[3:6])
    assert result.returncode == (1 if failed else 0), result.stdout + result.stderr
    return {"passed": passed, "failed": failed, "skipped": skipped}


# A plan with one function; its environment holds nothing secret.
PLAN: dict[str, Any] = {
    "format_version": "1.2",
    "terraform_version": "1.11.4",
    "planned_values": {
        "root_module": {
            "resources": [
                {
                    "address": "aws_lambda_function.api",
                    "mode": "managed",
                    "type": "aws_lambda_function",
                    "name": "api",
                    "provider_name": "registry.terraform.io/hashicorp/aws",
                    "schema_version": 0,
                    "values": {
                        "function_name": "jobs-platform-staging-api",
                        "environment": [{"variables": {"LOG_LEVEL": "INFO"}}],
                    },
                }
            ]
        }
    },
    "resource_changes": [],
    "configuration": {"root_module": {"resources": []}},
}
# After the last character that breaks a run (`-`), exactly 40 - len("/dist/plans/staging")
# characters: the path's run `<21>/dist/plans/staging` is 40 long, as `mktemp -d` and a
# clone directory can make by chance.
WORST_CASE_DIR = "x-" + "Qz7Rk2Lp9Wm4Tv6Yb1Nc3"


def test_plain_checkov_matches_the_security_review_before_and_after_build_output(
    tmp_path: Path,
) -> None:
    root = fresh_copy(tmp_path / "clone")
    fresh, ran = plain_checkov_counts(root)
    assert fresh["failed"] == 0, fresh
    assert {"CKV_JP_1", "CKV_JP_4", "CKV2_JP_2"} <= ran, "the project's policies did not load"
    assert lint_reviewer_counts(root) == fresh

    # What `make package` and `make lint` leave behind: zips, offline plans (which hold
    # findings a plan scan judges differently) and a tool virtualenv with Terraform in it.
    (root / "dist" / "plans").mkdir(parents=True)
    leaky = json.loads(json.dumps(PLAN))
    leaky["planned_values"]["root_module"]["resources"][0]["values"]["environment"][0]["variables"][
        "AWS_SECRET_ACCESS_KEY"
    ] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    for env in ("dev", "staging", "prod"):
        (root / "dist" / "plans" / f"{env}.json").write_text(json.dumps(leaky))
    (root / "dist" / "lambda").mkdir()
    (root / "dist" / "lambda" / "api.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (root / ".venv-x" / "lib").mkdir(parents=True)
    (root / ".venv-x" / "lib" / "bad.tf").write_text('resource "aws_s3_bucket" "x" {}\n')
    after, _ = plain_checkov_counts(root)
    assert after == fresh


def test_plan_scan_passes_from_a_high_entropy_clone_path(tmp_path: Path) -> None:
    plans = tmp_path / WORST_CASE_DIR / "dist" / "plans"
    plans.mkdir(parents=True)
    plan = plans / "staging.json"
    plan.write_text(json.dumps(PLAN))
    assert re.search(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])", str(plan))

    # Control: the plan scan's checkov run on the file where it is flags the path.
    in_place = subprocess.run(
        [
            str(TOOLS_BIN / "checkov"),
            "-f",
            str(plan),
            "--framework",
            "terraform_plan",
            "--external-checks-dir",
            "policies/checkov",
            "--skip-check",
            "CKV2_JP_1",
            "--repo-root-for-plan-enrichment",
            ".",
            "--skip-download",
            "-o",
            "json",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**tools_env(), "EVAL_TF_PLAN_AFTER_UNKNOWN": "true"},
    )
    failed_in_place = {
        c["check_id"] for c in json.loads(in_place.stdout)["results"]["failed_checks"]
    }
    assert "CKV_AWS_45" in failed_in_place, failed_in_place

    result = subprocess.run(
        [str(LINT), "plan-scan", str(plan)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**tools_env(), "TOOLS_VENV": str(REPO_ROOT / ".venv-tools")},
        check=False,
    )
    row = re.search(
        r"\| checkov terraform_plan \| .*staging\.json \| (\d+) \| (\d+) \|", result.stdout
    )
    assert row, result.stdout + result.stderr[-3000:]
    failed = set(re.findall(r"FAILED (CKV\w+) ", result.stderr))
    # The same findings (a one-function plan fails checks a real one passes), but the path.
    assert failed == failed_in_place - {"CKV_AWS_45"}, (failed, failed_in_place)
    assert int(row.group(2)) == len(failed)


def _iam_review(tmp_path: Path, template: dict[str, Any], accepted: Path | None = None) -> str:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    args = [str(TOOLS_BIN / "python"), "-m", "scripts.iam_review", "--template", str(path)]
    if accepted:
        args += ["--accepted", str(accepted)]
    result = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    return f"rc={result.returncode}\n{result.stdout}{result.stderr}"


def test_iam_review_passes_on_the_template(tmp_path: Path) -> None:
    assert _iam_review(tmp_path, bp.load_template()).startswith("rc=0")


def test_iam_review_fails_on_a_new_risky_grant(tmp_path: Path) -> None:
    template = bp.load_template()
    policy = template["Resources"]["DeployEdgePolicy"]["Properties"]["PolicyDocument"]
    policy["Statement"].append(
        {"Sid": "Oops", "Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": "*"}
    )
    out = _iam_review(tmp_path, template)
    assert out.startswith("rc=1") and "privilege_escalation: CreateNewPolicyVersion" in out, out


def test_iam_review_fails_on_a_stale_acceptance(tmp_path: Path) -> None:
    accepted = (REPO_ROOT / "policies" / "iam-review.yaml").read_text()
    stale = tmp_path / "accepted.yaml"
    stale.write_text(
        accepted.replace(
            "    data_exfiltration:\n      s3:GetObject: The environment's own state (terraform",
            "    data_exfiltration:\n"
            "      s3:GetObjectAcl: Not granted any more, still listed here.\n"
            "      s3:GetObject: The environment's own state (terraform",
        )
    )
    assert stale.read_text() != accepted
    out = _iam_review(tmp_path, bp.load_template(), stale)
    assert out.startswith("rc=1") and "stale acceptance" in out and "s3:GetObjectAcl" in out, out
