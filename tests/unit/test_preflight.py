"""The config pre-flight (scripts/preflight.py): one test per mistake it must catch, each
failing with a message that names the file, the key and the fix.

Every test starts from a *deployable* copy of the configuration (the repository's files
with the placeholders filled in, fresh artifacts), which passes, and makes one mistake.
"""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest
from scripts import environments as envs
from scripts import preflight as pf

from tests.repo_config import ACCOUNT, copy_config, make_deployable

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = copy_config(tmp_path)
    make_deployable(root)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"anchor {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line + "\n")


def errors(env: str, root: Path) -> list[pf.Finding]:
    return [f for f in pf.preflight(env, root) if f.error]


def only_error(env: str, root: Path) -> pf.Finding:
    found = errors(env, root)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def line_of(path: Path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if fragment in line)


# ---------------------------------------------------------------- baseline


@pytest.mark.parametrize("env", envs.environments(REPO_ROOT))
def test_a_deployable_configuration_passes(repo: Path, env: str) -> None:
    assert pf.preflight(env, repo) == []


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_blueprint_as_shipped_is_not_deployable_but_plans_offline(env: str) -> None:
    # The repository's own files carry placeholders: a deploy stops on them, the offline
    # plans (make test/lint) only warn.
    found = pf.preflight(env, REPO_ROOT)
    assert found and all(f.error for f in found)
    assert {f.key for f in found} >= {"bucket", "kms_key_id", "alarm_email_endpoints"}
    assert not [f for f in pf.preflight(env, REPO_ROOT, offline=True) if f.error]


# ---------------------------------------------------------------- one test per mistake


def test_misspelt_tfvars_key_fails_naming_the_variable_it_meant(repo: Path) -> None:
    tfvars = repo / "environments" / "staging.tfvars"
    append(tfvars, "log_retension_days = 60")

    finding = only_error("staging", repo)

    assert (finding.path, finding.line, finding.key) == (
        "environments/staging.tfvars",
        line_of(tfvars, "log_retension_days"),
        "log_retension_days",
    )
    assert "not a variable of the root module" in finding.problem
    assert finding.fix == "rename it to log_retention_days"


def test_unknown_tfvars_key_fails(repo: Path) -> None:
    append(repo / "environments" / "prod.tfvars", "enable_magic = true")

    finding = only_error("prod", repo)

    assert finding.key == "enable_magic"
    assert "remove it" in finding.fix


def test_placeholder_in_tfvars_fails(repo: Path) -> None:
    tfvars = repo / "environments" / "staging.tfvars"
    edit(tfvars, 'owner       = "platform-team"', 'owner       = "<your team>"')

    finding = only_error("staging", repo)

    assert (finding.path, finding.key) == ("environments/staging.tfvars", "owner")
    assert finding.line == line_of(tfvars, "<your team>")
    assert "<your team>" in finding.problem and "replace <your team>" in finding.fix


def test_placeholder_in_backend_file_fails_naming_the_command_that_writes_it(repo: Path) -> None:
    backend = repo / "environments" / "prod.backend.hcl"
    edit(backend, ACCOUNT, "<account-id>")  # the first: in the bucket's name

    finding = only_error("prod", repo)

    assert (finding.path, finding.key) == ("environments/prod.backend.hcl", "bucket")
    assert "make backend-config ENV=prod STACK=" in finding.fix


@pytest.mark.parametrize(
    ("env", "key"), [("staging", "alarm_email_endpoints"), ("prod", "budget_notification_emails")]
)
def test_example_com_address_fails_outside_dev(repo: Path, env: str, key: str) -> None:
    tfvars = envs.tfvars_path(env, repo)
    text = tfvars.read_text()
    line = next(x for x in text.splitlines() if x.startswith(key))
    tfvars.write_text(text.replace(line, line.replace("alerts@team.invalid", "ops@example.com")))

    finding = only_error(env, repo)

    assert (finding.path, finding.key) == (f"environments/{env}.tfvars", key)
    assert "example.com" in finding.problem and "distribution list" in finding.fix


def test_example_com_address_is_allowed_in_dev(repo: Path) -> None:
    tfvars = repo / "environments" / "dev.tfvars"
    tfvars.write_text(
        tfvars.read_text().replace("alerts@team.invalid", "platform-alerts@example.com")
    )

    assert pf.preflight("dev", repo) == []


@pytest.mark.parametrize(
    ("key", "old", "new"),
    [
        ("log_retention_days", "log_retention_days       = 90", "log_retention_days       = 7"),
        (
            "deletion_protection",
            "deletion_protection      = true",
            "deletion_protection      = false",
        ),
        (
            "enable_edge",
            "enable_edge                  = true",
            "enable_edge                  = false",
        ),
    ],
)
def test_prod_below_a_minimum_fails(repo: Path, key: str, old: str, new: str) -> None:
    tfvars = repo / "environments" / "prod.tfvars"
    edit(tfvars, old, new)

    finding = only_error("prod", repo)

    assert (finding.path, finding.line, finding.key) == (
        "environments/prod.tfvars",
        line_of(tfvars, new),
        key,
    )
    assert finding.fix.startswith(f"set {key} = ")
    assert finding.fix.endswith("in environments/prod.tfvars")


def test_turning_point_in_time_recovery_off_in_prod_fails(repo: Path) -> None:
    # No variable turns PITR off (every table has it): such a line is refused by name.
    tfvars = repo / "environments" / "prod.tfvars"
    append(tfvars, "enable_point_in_time_recovery = false")

    finding = only_error("prod", repo)

    assert (finding.key, finding.line) == (
        "enable_point_in_time_recovery",
        line_of(tfvars, "point_in_time"),
    )
    assert "not a variable of the root module" in finding.problem
    assert "remove it" in finding.fix


def test_prod_relying_on_a_default_below_its_minimum_fails(repo: Path) -> None:
    # The default of log_retention_days (30) is fine elsewhere, not in prod.
    tfvars = repo / "environments" / "prod.tfvars"
    tfvars.write_text(
        "".join(x for x in tfvars.read_text().splitlines(True) if "log_retention_days" not in x)
    )

    finding = only_error("prod", repo)

    assert (finding.key, finding.line) == ("log_retention_days", None)
    assert "the default in variables.tf" in finding.problem


def test_staging_may_keep_shorter_logs(repo: Path) -> None:
    assert "log_retention_days       = 30" in (repo / "environments" / "staging.tfvars").read_text()
    assert pf.preflight("staging", repo) == []


def test_environment_not_named_like_its_file_fails(repo: Path) -> None:
    edit(
        repo / "environments" / "prod.tfvars", 'environment = "prod"', 'environment = "production"'
    )

    finding = only_error("prod", repo)

    assert finding.key == "environment"
    assert finding.fix.startswith('environment = "prod"')


def test_backend_state_key_outside_the_environments_prefix_fails(repo: Path) -> None:
    edit(
        repo / "environments" / "staging.backend.hcl",
        "jobs-platform/staging/",
        "jobs-platform/prod/",
    )

    finding = only_error("staging", repo)

    assert (finding.path, finding.key) == ("environments/staging.backend.hcl", "key")
    assert finding.fix == 'key = "jobs-platform/staging/terraform.tfstate"'


def test_backend_without_state_locking_fails(repo: Path) -> None:
    edit(repo / "environments" / "dev.backend.hcl", "use_lockfile = true", "use_lockfile = false")

    finding = only_error("dev", repo)

    assert (finding.key, finding.fix) == ("use_lockfile", "use_lockfile = true")


def test_missing_artifacts_fail_naming_make_package(repo: Path) -> None:
    (repo / "dist" / "artifacts.tfvars.json").unlink()

    finding = only_error("staging", repo)

    assert (finding.path, finding.key) == ("dist/artifacts.tfvars.json", "lambda_artifacts")
    assert "make package" in finding.fix


def test_artifacts_older_than_the_lambda_sources_fail(repo: Path) -> None:
    handler = repo / "lambdas" / "jobs_platform" / "handlers" / "api.py"
    handler.write_text(handler.read_text() + "\n# edited after make package\n")

    finding = only_error("prod", repo)

    assert finding.key == "lambda_artifacts"
    assert "stale" in finding.problem and "lambdas/jobs_platform/handlers/api.py" in finding.problem
    assert finding.fix == "run `make package`"


def test_lambda_artifacts_set_in_tfvars_fails(repo: Path) -> None:
    append(
        repo / "environments" / "staging.tfvars",
        'lambda_artifacts = { api = { zip_path = "x", sha256 = "y" } }',
    )

    finding = only_error("staging", repo)

    assert finding.key == "lambda_artifacts" and "make package" in finding.fix


def test_an_expression_in_tfvars_fails_with_its_line(repo: Path) -> None:
    tfvars = repo / "environments" / "staging.tfvars"
    append(tfvars, "log_level = upper(var.x)")

    finding = only_error("staging", repo)

    assert (finding.path, finding.line) == (
        "environments/staging.tfvars",
        line_of(tfvars, "upper("),
    )


def test_local_and_unknown_environments_fail() -> None:
    assert "make local" in only_error("local", REPO_ROOT).fix
    unknown = only_error("qa", REPO_ROOT)
    assert (
        unknown.path == "environments/qa.tfvars"
        and "copy environments/staging.tfvars" in unknown.fix
    )


# ---------------------------------------------------------------- ties to the Terraform


def _tftest_runs() -> list[tuple[str, dict[str, object], list[str], dict[str, object]]]:
    found = []
    for path in sorted((REPO_ROOT / "tests" / "terraform" / "root_module").glob("*.tftest.hcl")):
        doc = hcl2.load(path.open())
        file_vars = (doc.get("variables") or [{}])[0]
        for block in doc.get("run", []):
            (name, run), *_ = block.items()
            variables = {**file_vars, **(run.get("variables") or [{}])[0]}
            failures = [
                f.strip("${}").removeprefix("var.") for f in run.get("expect_failures") or []
            ]
            found.append((name, variables, failures, file_vars))
    return found


@pytest.mark.parametrize("key", sorted(pf.PROD_MINIMUMS))
def test_every_prod_minimum_is_also_a_terraform_validation(key: str) -> None:
    # The pre-flight says it before init; variables.tf enforces it on any plan (terraform
    # test runs in tests/terraform/root_module prove each validation refuses the value).
    runs = [
        name
        for name, variables, failures, _ in _tftest_runs()
        if variables.get("environment") == "prod"
        and failures == [key]
        and key in variables
        and not pf.PROD_MINIMUMS[key].holds(variables[key])
    ]
    assert runs, f"no terraform test run expects var.{key} to refuse a prod value below its minimum"


def test_environment_name_pattern_is_the_terraform_validation() -> None:
    variables = hcl2.load((REPO_ROOT / "variables.tf").open())["variable"]
    environment = next(v["environment"] for v in variables if "environment" in v)
    patterns = [re.search(r'regex\("(.+?)"', v["condition"]) for v in environment["validation"]]
    assert envs.NAME_PATTERN in [p.group(1).replace("\\\\", "\\") for p in patterns if p]


def test_cli_exit_codes(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pf, "REPO_ROOT", repo)
    monkeypatch.chdir(repo)
    assert pf.main(["staging", "--artifacts", str(repo / "dist" / "artifacts.tfvars.json")]) == 0
    append(repo / "environments" / "staging.tfvars", "log_retension_days = 60")
    assert pf.main(["staging", "--artifacts", str(repo / "dist" / "artifacts.tfvars.json")]) == 1
    err = capsys.readouterr().err
    assert "preflight staging: 1 error(s)" in err and "fix: rename it to log_retention_days" in err
