"""Environments are data (scripts/environments.py): the list comes from environments/*.tfvars,
and the stdlib parser reads those files exactly as python-hcl2 (Terraform's grammar) does."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest
from scripts import environments as envs

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_FILES = sorted((REPO_ROOT / "environments").iterdir())


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_parser_reads_every_environment_file_as_hcl2_does(path: Path) -> None:
    mine = {k: a.value for k, a in envs.parse_attributes(path.read_text(), path.name).items()}
    assert mine == hcl2.loads(path.read_text())


def test_parser_reads_hcl_literals_with_lines() -> None:
    # Terraform's semantics (python-hcl2 leaves escapes and negative numbers unevaluated).
    text = (
        "# a comment\n"
        "a = <<-EOT\n    hello\n      world\n    EOT\n"
        'b = { "x y" = [1, 2.5, -3e2,\n  ], z: null }  // trailing\n'
        'c = "q\\"\\u00e9$${x}"\n'
        "/* block\n comment */ d = true\n"
    )
    attrs = envs.parse_attributes(text)
    assert {k: a.value for k, a in attrs.items()} == {
        "a": "hello\n  world\n",
        "b": {"x y": [1, 2.5, -300.0], "z": None},
        "c": 'q"é${x}',
        "d": True,
    }
    assert [a.line for a in attrs.values()] == [2, 6, 8, 10]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a = var.x\n", "not a literal"),
        ('a = "${var.x}"\n', "templates are not allowed"),
        ("a = 1\na = 2\n", "set twice"),
        ("a {\n}\n", "blocks are not allowed"),
        ("a = [1 2]\n", "expected `,` or `]`"),
    ],
)
def test_parser_refuses_what_is_not_a_literal_attribute(text: str, message: str) -> None:
    with pytest.raises(envs.HclError, match=message):
        envs.parse_attributes(text, "x.tfvars")


def test_variable_defaults_are_read_from_the_root_module() -> None:
    defaults = envs.variable_defaults(REPO_ROOT)
    declared = {
        name
        for tf in REPO_ROOT.glob("*.tf")
        for block in hcl2.load(tf.open()).get("variable", [])
        for name in block
    }
    assert set(defaults) == declared
    assert defaults["log_retention_days"] == 30
    assert defaults["memory_mb"] == {}
    assert defaults["environment"] is envs.REQUIRED
    assert envs.effective_value("prod", "log_retention_days", REPO_ROOT) == 90
    assert envs.effective_value("dev", "region", REPO_ROOT) == "us-east-1"


def test_object_attributes_take_their_optional_defaults_as_in_terraform(tmp_path: Path) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "variables.tf").write_text(
        'variable "memory_mb" {\n'
        '  description = "x = optional(number, 1) in a description is no attribute"\n'
        "  type = object({\n"
        "    api    = optional(number, 512)\n"
        '    name   = optional(string, "w")\n'
        "    worker = optional(number)\n"
        "  })\n"
        "  default = {}\n"
        "}\n"
    )
    (tmp_path / "environments" / "a.tfvars").write_text("memory_mb = { worker = 1024 }\n")
    (tmp_path / "environments" / "b.tfvars").write_text("\n")

    assert envs.attribute_defaults(tmp_path) == {"memory_mb": {"api": 512, "name": "w"}}
    assert envs.effective_value("a", "memory_mb", tmp_path) == {
        "api": 512,
        "name": "w",
        "worker": 1024,
    }
    assert envs.effective_value("b", "memory_mb", tmp_path) == {"api": 512, "name": "w"}
    # The root module's own: hcl2 reads the same defaults out of the type expression.
    assert envs.attribute_defaults(REPO_ROOT)["memory_mb"] == {
        "api": 512,
        "authorizer": 256,
        "worker": 512,
        "bookkeeper": 128,
    }


def test_lists_come_from_the_files() -> None:
    assert envs.environments(REPO_ROOT) == ["dev", "prod", "staging"]
    assert envs.pipeline_environments(REPO_ROOT) == ["staging", "prod"]
    assert envs.pre_production_environments(REPO_ROOT) == ["staging"]


def test_adding_an_environment_is_adding_its_files(tmp_path: Path) -> None:
    # Given a copy of the repository's environments plus a throwaway `qa`
    shutil.copytree(REPO_ROOT / "environments", tmp_path / "environments")
    for tf in REPO_ROOT.glob("*.tf"):
        shutil.copy2(tf, tmp_path / tf.name)
    staging = (tmp_path / "environments" / "staging.tfvars").read_text()
    (tmp_path / "environments" / "qa.tfvars").write_text(
        staging.replace('environment = "staging"', 'environment = "qa"')
    )

    # Then every list and the workflows' matrices include it, before prod
    assert envs.pipeline_environments(tmp_path) == ["qa", "staging", "prod"]
    assert envs.github_entry("qa", tmp_path) == {
        "env": "qa",
        "plan_role_var": "AWS_PLAN_ROLE_ARN_QA",
        "region": "us-east-1",
    }


def test_cli_prints_the_matrices_and_values() -> None:
    def run(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "scripts.environments", *args],
            cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip

    outputs = dict(line.split("=", 1) for line in run("github-outputs").splitlines())
    assert json.loads(outputs["prod"]) == {
        "env": "prod",
        "plan_role_var": "AWS_PLAN_ROLE_ARN_PROD",
        "region": "us-east-1",
    }
    assert [e["env"] for e in json.loads(outputs["pre_prod"])["include"]] == ["staging"]
    assert run("list", "--pipeline").split() == ["staging", "prod"]
    assert run("get", "prod", "log_retention_days").strip() == "90"
