"""The Python and the Terraform state the same facts; these tests fail when they drift.

Static: read the root module with python-hcl2 (no terraform run needed). The e2e suite
checks the same facts once more on what the apply actually created.
"""

from __future__ import annotations

import importlib

import pytest
from scripts import package

from jobs_platform import config, schema
from tests.contract.terraform_source import (
    REPO_ROOT,
    module_block,
    root_locals,
    validated_range,
    variable_default,
)
from tests.helpers import FUNCTION_SETTINGS, env_vars_read_by


def test_every_route_targets_a_declared_function() -> None:
    # Routes come from openapi.yaml (tests/contract/test_openapi.py ties the rest).
    import yaml

    document = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    functions = set(root_locals()["functions"])
    named = {
        spec["x-jobs-platform-function"]
        for item in document["paths"].values()
        for method, spec in item.items()
        if isinstance(spec, dict) and "x-jobs-platform-function" in spec
    }
    assert named | {document["x-jobs-platform-default-route"]["function"]} <= functions
    assert "openapi.yaml" in root_locals()["openapi"]


def test_terraform_functions_are_the_packaged_handler_modules() -> None:
    functions = root_locals()["functions"]
    assert set(functions) == set(package.handler_functions())
    for name, function in functions.items():
        module_name, _, attribute = function["handler"].rpartition(".")
        assert module_name == f"jobs_platform.handlers.{name}"
        assert callable(getattr(importlib.import_module(module_name), attribute))


@pytest.mark.parametrize("function", sorted(FUNCTION_SETTINGS))
def test_env_vars_terraform_sets_are_those_the_handler_reads(function: str) -> None:
    environment = root_locals()["functions"][function]["environment"]
    assert set(environment) == env_vars_read_by(FUNCTION_SETTINGS[function])


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("jobs", schema.JOBS_TABLE),
        ("sessions", schema.SESSIONS_TABLE),
        ("api-keys", schema.API_KEYS_TABLE),
    ],
)
def test_table_key_schema_matches_the_code(table: str, expected: schema.TableSchema) -> None:
    declared = root_locals()["tables"][table]
    table_module = module_block(REPO_ROOT / "main.tf", "table")
    assert table_module["hash_key"] == expected.partition_key
    assert table_module["ttl_attribute"] == expected.ttl_attribute
    assert declared["range_key"] == expected.sort_key
    assert declared["attributes"] == {name: "S" for name in expected.key_attributes}
    assert declared["stream_view_type"] == expected.stream_view_type
    assert declared["indexes"] == {
        index.name: {"hash_key": index.partition_key, "range_key": index.sort_key}
        for index in expected.indexes
    }


def test_outbox_filter_passes_the_items_the_code_writes_as_jobs() -> None:
    # ... and is the filter the DLQ bookkeeping applies when it reads a failed pipe batch
    # back from the stream (jobs/messages.py).
    from jobs_platform.jobs import messages

    outbox = module_block(REPO_ROOT / "main.tf", "outbox")
    prefix = outbox.get("sort_key_prefix", variable_default("outbox", "sort_key_prefix"))
    events = outbox.get("event_names", variable_default("outbox", "event_names"))
    assert prefix == schema.JOB_PREFIX == messages.OUTBOX_SORT_KEY_PREFIX
    assert events == ["INSERT"] == list(messages.OUTBOX_EVENT_NAMES)


def test_the_bookkeeping_reads_the_dead_letter_queue_the_pipe_and_the_queue_use() -> None:
    functions = root_locals()["functions"]
    outbox = module_block(REPO_ROOT / "main.tf", "outbox")
    assert functions["bookkeeper"]["environment"][config.JOBS_DLQ_URL] == (
        "${module.queue.dlq_url}"
    )
    assert outbox["dead_letter_queue_arn"] == "${module.queue.dlq_arn}"
    assert functions["bookkeeper"]["reserved_concurrency"] == 1


def test_worker_max_receive_count_is_the_queues() -> None:
    worker_env = root_locals()["functions"]["worker"]["environment"]
    queue = module_block(REPO_ROOT / "main.tf", "queue")
    assert queue["max_receive_count"] == "${var.max_receive_count}"
    assert worker_env[config.MAX_RECEIVE_COUNT] == "${tostring(var.max_receive_count)}"


def test_origin_verify_header_is_the_one_the_authorizer_checks() -> None:
    from jobs_platform.origin_verify import ORIGIN_VERIFY_HEADER

    edge = module_block(REPO_ROOT / "main.tf", "edge")
    api = module_block(REPO_ROOT / "main.tf", "api")
    assert root_locals()["origin_verify_header"] == ORIGIN_VERIFY_HEADER
    assert edge["origin_verify_header_name"] == "${local.origin_verify_header}"
    assert "local.origin_verify_header" in api["origin_verify_header"]
    authorizer_env = root_locals()["functions"]["authorizer"]["environment"]
    assert (
        "module.edge[0].secretsmanager_secret_arn"
        in authorizer_env[config.ORIGIN_VERIFY_SECRET_ARN]
    )


def test_session_ttl_bounds_terraform_accepts_are_those_the_handler_accepts() -> None:
    assert validated_range("session_default_ttl_seconds") == (
        config.SESSION_TTL_MIN_SECONDS,
        config.SESSION_TTL_MAX_SECONDS,
    )
