"""scripts/lint_terraform.py (what tflint's terraform ruleset would check): the repository
passes, and each rule reports its violation in a small module written for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts import lint_terraform

REPO_ROOT = Path(__file__).resolve().parents[2]

VERSIONS = """terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
"""
VARIABLES = """variable "name" {
  description = "Name."
  type        = string
}
"""
MAIN = """resource "aws_sqs_queue" "this" {
  name = var.name
}
"""
OUTPUTS = """output "queue_arn" {
  description = "ARN."
  value       = aws_sqs_queue.this.arn
}
"""


def write_module(root: Path, **files: str) -> Path:
    """A child module terraform/modules/m that passes every rule, with `files` replaced
    (a value of "" removes the file)."""
    module = root / "terraform" / "modules" / "m"
    module.mkdir(parents=True)
    contents = {
        "versions.tf": VERSIONS,
        "variables.tf": VARIABLES,
        "main.tf": MAIN,
        "outputs.tf": OUTPUTS,
        "README.md": "# m\n",
    }
    contents.update({name.replace("_tf", ".tf"): text for name, text in files.items()})
    for name, text in contents.items():
        if text:
            (module / name).write_text(text)
    return module


def findings(module: Path) -> list[str]:
    return [
        f"{f.path.name}:{f.line}: {f.rule}: {f.message}"
        for f in lint_terraform.lint_module(module, child=True)
    ]


def test_the_repository_follows_the_conventions() -> None:
    assert [f.show(REPO_ROOT) for f in lint_terraform.lint(REPO_ROOT)] == []


def test_a_module_following_every_rule_has_no_findings(tmp_path: Path) -> None:
    assert findings(write_module(tmp_path)) == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"main_tf": MAIN + 'resource "aws_sqs_queue" "DeadLetters" {\n  name = "x"\n}\n'},
            "main.tf:4: naming: resource 'aws_sqs_queue.DeadLetters' is not snake_case",
        ),
        (
            {
                "variables_tf": VARIABLES + 'variable "retention-days" {\n  description = "D."\n'
                "  type = number\n}\n",
                "main_tf": MAIN + "locals {\n  r = var.retention-days\n}\n",
            },
            "variables.tf:5: naming: variable 'retention-days' is not snake_case",
        ),
        (
            {"variables_tf": 'variable "name" {\n  type = string\n}\n'},
            "variables.tf:1: documented: variable 'name' has no description",
        ),
        (
            {"variables_tf": 'variable "name" {\n  description = "Name."\n}\n'},
            "variables.tf:1: typed: variable 'name' has no type",
        ),
        (
            {"outputs_tf": 'output "queue_arn" {\n  value = aws_sqs_queue.this.arn\n}\n'},
            "outputs.tf:1: documented: output 'queue_arn' has no description",
        ),
        (
            {
                "variables_tf": VARIABLES + 'variable "spare" {\n  description = "S."\n'
                "  type = string\n}\n"
            },
            "variables.tf:5: unused: variable 'spare' is never used",
        ),
        (
            # A mention in a comment is not a use.
            {
                "main_tf": MAIN + "# var.spare\n",
                "variables_tf": VARIABLES
                + 'variable "spare" {\n  description = "S."\n  type = string\n}\n',
            },
            "variables.tf:5: unused: variable 'spare' is never used",
        ),
        (
            {"main_tf": MAIN + 'locals {\n  prefix = "p"\n}\n'},
            "main.tf:5: unused: local 'prefix' is never used",
        ),
        (
            {"main_tf": MAIN + 'data "aws_partition" "current" {}\n'},
            "main.tf:4: unused: data source 'aws_partition.current' is never used",
        ),
        (
            {"versions_tf": "terraform {\n}\n"},
            "versions.tf:1: versions: no terraform required_version",
        ),
        (
            {"versions_tf": VERSIONS.replace('      version = "~> 5.100"\n', "")},
            "versions.tf:4: versions: provider 'aws' needs a source and a version",
        ),
        ({"README.md": ""}, "README.md:1: structure: module has no README.md"),
        (
            {"main_tf": MAIN + 'output "extra" {\n  description = "E."\n  value = 1\n}\n'},
            "main.tf:4: structure: output 'extra' belongs in outputs.tf",
        ),
        (
            {"main_tf": 'resource "aws_sqs_queue" "this" {\n  name = "${var.name}"\n}\n'},
            'main.tf:2: interpolation: write var.name without "${}"',
        ),
        ({"main_tf": "// a comment\n" + MAIN}, "main.tf:1: comment-syntax: use # comments, not //"),
    ],
)
def test_each_rule_reports_its_violation(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    assert expected in findings(write_module(tmp_path, **files))


def test_the_command_fails_on_a_finding(tmp_path: Path) -> None:
    write_module(tmp_path, main_tf=MAIN + 'locals {\n  prefix = "p"\n}\n')
    for name, text in (("versions.tf", VERSIONS), ("main.tf", "")):
        (tmp_path / name).write_text(text)
    assert lint_terraform.main([str(tmp_path)]) == 1
    (tmp_path / "terraform" / "modules" / "m" / "main.tf").write_text(MAIN)
    assert lint_terraform.main([str(tmp_path)]) == 0
