"""scripts/plan_report.py: the redacted change set reviewers approve, its digest, the
refusal when prod's plan changed after the review, and the drift summary.

The plans here are `terraform show -json` documents in miniature; the offline plans test
(tests/terraform/test_offline_plans.py) runs the same functions on real plans.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from scripts import plan_report as pr

SECRET = "s3cr3t-origin-verify-value-0123456789abcdef"


def change(
    address: str, actions: list[str], before: Any = None, after: Any = None, **kw: Any
) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": kw.get("after_unknown", {}),
            "before_sensitive": kw.get("before_sensitive", False),
            "after_sensitive": kw.get("after_sensitive", False),
        },
    }


def plan() -> dict[str, Any]:
    return {
        "resource_changes": [
            change("aws_kms_key.this", ["no-op"], {"id": "k"}, {"id": "k"}),
            change(
                "module.edge[0].aws_cloudfront_distribution.this",
                ["update"],
                {
                    "origin": [
                        {
                            "custom_header": [
                                {"name": "x-origin-verify", "value": "old-value-abcdefgh"}
                            ]
                        }
                    ]
                },
                {"origin": [{"custom_header": [{"name": "x-origin-verify", "value": SECRET}]}]},
                before_sensitive={"origin": [{"custom_header": [{"value": True}]}]},
                after_sensitive={"origin": [{"custom_header": [{"value": True}]}]},
            ),
            change(
                'module.function["api"].aws_lambda_function.this',
                ["update"],
                {"memory_size": 512},
                {"memory_size": 1024},
            ),
            change(
                'module.table["jobs"].aws_dynamodb_table.this',
                ["delete", "create"],
                {"name": "a"},
                {"name": "a"},
            ),
        ],
        "output_changes": {"edge_url": {"actions": ["no-op"], "before": "u", "after": "u"}},
    }


def test_change_set_leaves_out_no_ops_and_redacts_sensitive_values() -> None:
    changes = pr.change_set(plan())

    assert [r["address"] for r in changes["resource_changes"]] == [
        "module.edge[0].aws_cloudfront_distribution.this",
        'module.function["api"].aws_lambda_function.this',
        'module.table["jobs"].aws_dynamodb_table.this',
    ]
    text = json.dumps(changes)
    assert SECRET not in text and "old-value-abcdefgh" not in text
    header = changes["resource_changes"][0]["after"]["origin"][0]["custom_header"][0]
    assert header == {"name": "x-origin-verify", "value": pr.REDACTED}
    assert changes["output_changes"] == {}


def test_digest_is_stable_and_ignores_sensitive_values_and_order() -> None:
    other = plan()
    other["resource_changes"].reverse()
    edge = other["resource_changes"][2]
    edge["change"]["after"]["origin"][0]["custom_header"][0]["value"] = (
        "another-random-secret-value"
    )

    assert pr.digest(pr.change_set(other)) == pr.digest(pr.change_set(plan()))


def test_verify_accepts_the_reviewed_change_set() -> None:
    reviewed = pr.change_set(plan())

    assert pr.verify(reviewed, pr.change_set(plan()), pr.digest(reviewed)) == []


def test_verify_refuses_when_a_value_changed_after_the_review() -> None:
    reviewed = pr.change_set(plan())
    now = plan()
    now["resource_changes"][2]["change"]["after"]["memory_size"] = 3008

    problems = pr.verify(reviewed, pr.change_set(now), pr.digest(reviewed))

    assert problems == [
        'module.function["api"].aws_lambda_function.this: ~ update in place with other values'
    ]


def test_verify_refuses_a_new_destroy_naming_it() -> None:
    reviewed = pr.change_set(plan())
    now = plan()
    now["resource_changes"].append(change("aws_sqs_queue.dlq", ["delete"], {"name": "q"}, None))

    problems = pr.verify(reviewed, pr.change_set(now), None)

    assert problems == ["aws_sqs_queue.dlq: not in the reviewed plan, now - DESTROY"]


def test_verify_refuses_a_reviewed_file_that_is_not_the_one_the_plan_job_reported() -> None:
    reviewed = pr.change_set(plan())
    tampered = copy.deepcopy(reviewed)
    tampered["resource_changes"].pop()

    problems = pr.verify(tampered, tampered, pr.digest(reviewed))

    assert len(problems) == 1 and "is not the one the plan job reported" in problems[0]


def test_summary_calls_out_replacements_and_masks_secrets_in_the_plan_text() -> None:
    p = plan()
    text = f'+ value = "{SECRET}"\n  ~ memory_size = 512 -> 1024\n'

    masked = pr.mask(text, pr.all_sensitive_values(p))
    markdown = pr.summary_markdown("prod", pr.change_set(p), masked)

    assert SECRET not in markdown and pr.REDACTED in masked
    assert "0 to add, 2 to change in place, 1 to replace, 0 to destroy" in markdown
    assert "> **Warning:** 1 resource(s) will be destroyed or replaced:" in markdown
    assert (
        '| -/+ REPLACE (destroy first) | `module.table["jobs"].aws_dynamodb_table.this` |'
        in markdown
    )
    assert "memory_size = 512 -> 1024" in markdown


def test_summary_of_no_changes() -> None:
    assert "**No changes.**" in pr.summary_markdown(
        "prod", pr.change_set({"resource_changes": []}), None
    )


def test_cli_write_then_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "prod.plan.txt"
    text.write_text(f"value = {SECRET}\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(plan())))
    out = tmp_path / "prod.plan.json"

    assert (
        pr.main(
            [
                "write",
                "--env",
                "prod",
                "--text",
                str(text),
                "--json",
                str(out),
                "--markdown",
                str(tmp_path / "p.md"),
            ]
        )
        == 0
    )
    assert SECRET not in text.read_text() + out.read_text() + (tmp_path / "p.md").read_text()
    assert pr.main(["digest", str(out)]) == 0
    digest = capsys.readouterr().out.splitlines()[-1]
    assert digest == pr.digest(json.loads(out.read_text()))
    assert (
        pr.main(["verify", "--reviewed", str(out), "--digest", digest, "--current", str(out)]) == 0
    )

    changed = pr.change_set(plan())
    changed["resource_changes"].pop()
    current = tmp_path / "now.json"
    current.write_text(json.dumps(changed))
    assert (
        pr.main(["verify", "--reviewed", str(out), "--digest", digest, "--current", str(current)])
        == 1
    )
    err = capsys.readouterr().err
    assert "REFUSED" in err and "Nothing was applied" in err and "now no change" in err


def test_drift_names_the_resources_and_fails_only_on_terraforms_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = plan()
    p["resource_drift"] = [
        change("module.queue.aws_sqs_queue.this", ["update"], {"delay": 0}, {"delay": 5})
    ]
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(p)))
    assert (
        pr.main(
            ["drift", "--env", "prod", "--exit-code", "2", "--markdown", str(tmp_path / "d.md")]
        )
        == 2
    )
    text = summary.read_text()
    assert "**DRIFT: prod differs" in text
    assert "- `module.queue.aws_sqs_queue.this` (update)" in text
    assert '- ~ update in place `module.function["api"].aws_lambda_function.this`' in text

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"resource_changes": []})))
    assert (
        pr.main(
            ["drift", "--env", "prod", "--exit-code", "0", "--markdown", str(tmp_path / "d.md")]
        )
        == 0
    )
    assert "**No drift.**" in (tmp_path / "d.md").read_text()
