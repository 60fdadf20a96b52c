"""Facts that Python, Terraform and the docs each have to state: each is defined once on
the Python side, and these tests fail when a Terraform or docs copy disagrees.

- the environment variables each function reads (derived from its `from_env`) and the
  table in docs/architecture.md;
- the bounds and defaults of the settings Terraform validates (variables.tf);
- the release version (pyproject.toml) and Terraform's default `service_version`;
- the API key header: the authorizer reads it, the API's authorizer uses it as its
  identity source, the WAF redacts it from its logs;
- the log level: one knob (root `log_level` -> LOG_LEVEL, the levels `config.py` accepts),
  Lambda's own JSON log filter passing every line;
- the Lambda runtime (main.tf) and the Python and platform `make package` builds for;
- the KMS key's description and the modules the root module gives the key;
- the validations of root variables passed straight to a module and the module's own;
- the SQS visibility timeout rule (queue module) and the root variable's early check;
- names main.tf would rebuild (`<prefix>-jobs-dlq`) instead of taking a module's output;
- the region and fake credentials of every AWS that is not real (scripts/fake_aws.py):
  no script, test or benchmark states its own.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from scripts import package, smoke

from jobs_platform import config
from jobs_platform.handlers.authorizer import API_KEY_HEADER
from tests.contract.terraform_source import (
    MODULES,
    REPO_ROOT,
    module_block,
    module_locals,
    parsed,
    resource,
    validated_range,
    variable,
)
from tests.helpers import FUNCTION_SETTINGS, env_vars_read_by

ARCHITECTURE_DOC = REPO_ROOT / "docs" / "architecture.md"
_ENV_ROW = re.compile(r"^\| `([A-Z0-9_]+)` \| ([a-z, ]+) \|", re.MULTILINE)


def documented_env_vars() -> dict[str, set[str]]:
    """docs/architecture.md's environment variable table: name -> functions."""
    rows = _ENV_ROW.findall(ARCHITECTURE_DOC.read_text(encoding="utf-8"))
    assert rows, "no environment variable table in docs/architecture.md"
    return {
        name: set(FUNCTION_SETTINGS)
        if functions.strip() == "all"
        else {f.strip() for f in functions.split(",")}
        for name, functions in rows
    }


def test_docs_env_var_table_is_what_each_function_reads() -> None:
    read: dict[str, set[str]] = {}
    for function, settings in FUNCTION_SETTINGS.items():
        for name in env_vars_read_by(settings):
            read.setdefault(name, set()).add(function)

    assert documented_env_vars() == read


@pytest.mark.parametrize(
    ("variable_name", "module", "bounds"),
    [
        (
            "job_retention_days",
            None,
            (config.JOB_RETENTION_DAYS_MIN, config.JOB_RETENTION_DAYS_MAX),
        ),
        ("max_receive_count", None, (config.MAX_RECEIVE_COUNT_MIN, config.MAX_RECEIVE_COUNT_MAX)),
        (
            "max_receive_count",
            "queue",
            (config.MAX_RECEIVE_COUNT_MIN, config.MAX_RECEIVE_COUNT_MAX),
        ),
        (
            "session_default_ttl_seconds",
            None,
            (config.SESSION_TTL_MIN_SECONDS, config.SESSION_TTL_MAX_SECONDS),
        ),
    ],
)
def test_terraform_accepts_exactly_the_values_the_handlers_accept(
    variable_name: str, module: str | None, bounds: tuple[int, int]
) -> None:
    assert validated_range(variable_name, module) == bounds


@pytest.mark.parametrize(
    ("variable_name", "default"),
    [
        ("job_retention_days", config.JOB_RETENTION_DAYS_DEFAULT),
        ("session_default_ttl_seconds", config.SESSION_TTL_DEFAULT_SECONDS),
    ],
)
def test_terraform_defaults_are_the_stores_defaults(variable_name: str, default: int) -> None:
    assert variable(variable_name)["default"] == default


def test_terraform_default_service_version_is_the_release_version() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))

    assert variable("service_version")["default"] == pyproject["project"]["version"]


def test_api_authorizer_identity_source_is_the_header_the_authorizer_reads() -> None:
    authorizer = resource(MODULES / "api" / "main.tf", "aws_apigatewayv2_authorizer", "this")
    # hcl2 renders the expression with its inner quotes dropped.
    headers = re.findall(r"\$request\.header\.([A-Za-z0-9-]+)", authorizer["identity_sources"])

    assert headers == [API_KEY_HEADER]


def test_the_documents_and_the_smoke_tests_api_key_header_is_the_authorizers() -> None:
    document = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    scheme = document["components"]["securitySchemes"]["ApiKey"]

    assert (scheme["in"], scheme["name"]) == ("header", API_KEY_HEADER)
    assert smoke.API_KEY_HEADER == API_KEY_HEADER


def test_waf_logs_redact_and_the_per_key_rate_rule_counts_the_api_key_header() -> None:
    waf_locals = module_locals("edge", "waf.tf")

    assert waf_locals["api_key_header"] == API_KEY_HEADER
    assert "${local.api_key_header}" in waf_locals["redacted_headers"]
    assert (
        "name = local.api_key_header"
        in (REPO_ROOT / "terraform" / "modules" / "edge" / "waf.tf").read_text()
    )


def test_log_level_is_one_knob_with_the_levels_the_handlers_accept() -> None:
    log_level = variable("log_level")
    (validation,) = log_level["validation"]
    accepted = re.search(r"contains\(\[([^]]*)\], var\.log_level\)", validation["condition"])
    assert accepted, validation["condition"]
    assert tuple(level.strip(' "') for level in accepted.group(1).split(",")) == config.LOG_LEVELS
    assert log_level["default"] == config.DEFAULT_LOG_LEVEL
    # No second knob: Lambda's application log filter passes every line, so the handlers'
    # LOG_LEVEL alone decides (a filter above it would drop DEBUG in dev, and metric lines).
    function = resource(MODULES / "function" / "main.tf", "aws_lambda_function", "this")
    (logging_config,) = [block["logging_config"] for block in function["dynamic"]]
    assert logging_config["content"][0]["application_log_level"] == "TRACE"
    assert "application_log_level" not in (MODULES / "function" / "variables.tf").read_text()


def test_lambda_runtime_is_the_python_and_platform_the_zips_are_built_for() -> None:
    functions = module_block(REPO_ROOT / "main.tf", "function")
    assert functions["runtime"] == f"python{package.LAMBDA_PYTHON_VERSION}"
    function = resource(MODULES / "function" / "main.tf", "aws_lambda_function", "this")
    assert function["architectures"] == ["arm64"]
    assert all(platform.endswith("_aarch64") for platform in package.LAMBDA_PLATFORMS)


# What each module uses the environment's key for, as the key's description names it.
KEY_USE_BY_MODULE = {
    "table": "DynamoDB tables",
    "queue": "SQS queues",
    "outbox": "SQS queues",  # the pipe sends to the SSE-KMS queue
    "function": "CloudWatch log groups",
    "api": "CloudWatch log groups",
    "monitoring": "SNS alarm topic",
    "edge": "Secrets Manager origin-verify secret",
}


def test_the_kms_key_description_names_everything_the_key_encrypts() -> None:
    description = resource(REPO_ROOT / "main.tf", "aws_kms_key", "this")["description"]
    given_the_key = {
        name
        for block in parsed(REPO_ROOT / "main.tf")["module"]
        for name, arguments in block.items()
        if any(
            "aws_kms_key.this" in str(value) or "local.kms_alias_name" in str(value)
            for value in arguments.values()
        )
    }
    assert given_the_key <= set(KEY_USE_BY_MODULE), "a new module uses the key: name its use"
    assert {KEY_USE_BY_MODULE[name] for name in given_the_key} == {
        use.strip() for use in description.split(":", 1)[1].split(",")
    }


# AWS SDK settings a module must take from scripts/fake_aws.py when it talks to an AWS that
# is not real (a keyword of boto3.client, or an environment variable it sets).
_FAKE_AWS_KEYWORDS = {"region_name", "aws_access_key_id", "aws_secret_access_key"}
_FAKE_AWS_VARIABLES = {
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
}


def literal_aws_settings(source: str) -> list[str]:
    """`name=value` of every literal region or credential in the source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        pairs: list[tuple[str, ast.expr]] = []
        if isinstance(node, ast.keyword) and node.arg in _FAKE_AWS_KEYWORDS:
            pairs.append((node.arg, node.value))
        elif isinstance(node, ast.Dict):
            pairs += [
                (key.value, value)
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant) and key.value in _FAKE_AWS_VARIABLES
            ]
        elif isinstance(node, ast.Call) and len(node.args) >= 2:  # setenv / setdefault
            key = node.args[0]
            if isinstance(key, ast.Constant) and key.value in _FAKE_AWS_VARIABLES:
                pairs.append((key.value, node.args[1]))
        found += [
            f"{name}={value.value!r} (line {value.lineno})"
            for name, value in pairs
            if isinstance(value, ast.Constant) and value.value
        ]
    return found


def test_region_and_fake_credentials_come_from_fake_aws_only() -> None:
    stated = {
        path.relative_to(REPO_ROOT).as_posix(): literal_aws_settings(path.read_text())
        for folder in ("scripts", "tests", "benchmarks")
        for path in sorted((REPO_ROOT / folder).rglob("*.py"))
        if path.name != "fake_aws.py"
    }
    stated = {path: found for path, found in stated.items() if found}
    assert not stated, stated


def _holds(conditions: list[str], values: dict[str, Any]) -> bool:
    """Whether Terraform validation conditions hold for the given `var.*` values (the
    comparison/arithmetic subset they use: `&&`, `||`, `null`, `coalesce`)."""
    names = {
        "var": SimpleNamespace(**values),
        "coalesce": lambda *args: next(a for a in args if a is not None),
    }
    for condition in conditions:
        expression = condition.removeprefix("${").removesuffix("}")
        expression = expression.replace("&&", " and ").replace("||", " or ")
        if not eval(expression, {"__builtins__": {}}, names):  # noqa: S307 - our own .tf
            return False
    return True


def test_root_and_queue_module_accept_the_same_visibility_timeouts() -> None:
    # The rule (>= 6 x the consumer's timeout + its batching window, <= 12 h) is the queue
    # module's; the root variable repeats it for an early error: both must draw one line.
    passed = {
        argument: value.removeprefix("${var.").removesuffix("}")
        for argument, value in module_block(REPO_ROOT / "main.tf", "queue").items()
        if isinstance(value, str) and re.fullmatch(r"\$\{var\.\w+\}", value)
    }
    visibility, timeout, window = (
        passed[name]
        for name in (
            "visibility_timeout_seconds",
            "consumer_timeout_seconds",
            "consumer_batching_window_seconds",
        )
    )
    root_rule = [v["condition"] for v in variable(visibility)["validation"]]
    module_rule = [
        v["condition"] for v in variable("visibility_timeout_seconds", "queue")["validation"]
    ]
    for seconds in (1, 30, 60, 900):
        for batching in (0, 1, 20, 300):
            least = 6 * seconds + batching
            for given in (least - 1, least, 43200, 43201):
                root = {visibility: given, timeout: seconds, window: batching}
                module = {
                    "visibility_timeout_seconds": given,
                    "consumer_timeout_seconds": seconds,
                    "consumer_batching_window_seconds": batching,
                }
                assert _holds(root_rule, root) == _holds(module_rule, module), root


def _strings(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, path)
    elif isinstance(value, str):
        yield path, value


# Where main.tf may name a thing `<prefix>-<suffix>`: a module's own `name` (the module
# derives the rest: the DLQ's, the log groups', the alarms'), and the alarm topic's name,
# which the key policy needs before the topic exists.
NAMES_MADE_HERE = {("locals", "alarm_topic_name")}


def test_main_tf_takes_derived_names_from_the_modules_that_make_them() -> None:
    rebuilt = [
        f"{'.'.join(path)} = {text}"
        for kind in ("module", "resource", "data", "locals", "output")
        for block in parsed(REPO_ROOT / "main.tf").get(kind, [])
        for path, text in _strings(block, (kind,))
        if "{local.name_prefix}-" in text
        and not (path[0] == "module" and path[2:] == ("name",))
        and path not in NAMES_MADE_HERE
    ]
    assert rebuilt == [], "use the module's output instead of rebuilding the name"


def _variables(path: Path) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for block in parsed(path)["variable"]:
        merged.update(block)
    return merged


# Root variables whose check is not their module's, word for word, and why that is safe.
STRICTER_AT_THE_ROOT = {
    # 6 x timeout + batching window: evaluated against each other above.
    ("queue", "visibility_timeout_seconds"),
    # The root refuses 0 (an API that answers nothing); the module allows it.
    ("api", "throttling_burst_limit"),
    ("api", "throttling_rate_limit"),
    # The root's amount may be null when no budget is created (the module is not called).
    ("budget", "limit_amount"),
}


def test_a_root_variable_passed_to_a_module_checks_what_the_module_checks() -> None:
    # Pass-through variables repeat their module's validation, so that a wrong tfvars
    # value is refused naming the root variable; the copies must not drift apart.
    root = _variables(REPO_ROOT / "variables.tf")
    drifted = []
    for block in parsed(REPO_ROOT / "main.tf")["module"]:
        for module_name, arguments in block.items():
            module = _variables(REPO_ROOT / arguments["source"] / "variables.tf")
            for argument, value in arguments.items():
                passed = re.fullmatch(r"\$\{var\.(\w+)\}", str(value))
                if passed is None or argument not in module:
                    continue
                if (module_name, argument) in STRICTER_AT_THE_ROOT:
                    continue
                name = passed.group(1)
                at_root = {v["condition"] for v in root[name].get("validation", [])}
                in_module = {
                    v["condition"].replace(f"var.{argument}", f"var.{name}")
                    for v in module[argument].get("validation", [])
                }
                if not in_module <= at_root:
                    drifted.append(f"var.{name} -> module.{module_name}.{argument}")
    assert drifted == []
