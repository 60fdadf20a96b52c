from __future__ import annotations

import pytest

from jobs_platform import config
from jobs_platform.config import ApiSettings, AuthorizerSettings, ConfigError, WorkerSettings
from tests.helpers import FUNCTION_SETTINGS, env_vars_read_by
from tests.helpers import SETTINGS_ENVIRON as FULL


def test_settings_parse_a_full_environment() -> None:
    api = ApiSettings.from_env(FULL)
    worker = WorkerSettings.from_env(FULL)

    assert api.enable_test_job_types is True
    assert api.job_retention_days == 30
    assert api.log_level == "WARNING"
    assert worker.max_receive_count == 5
    assert AuthorizerSettings.from_env(FULL).api_keys_table_name == "keys"


@pytest.mark.parametrize("settings", FUNCTION_SETTINGS.values())
def test_each_function_reads_only_its_listed_variables(settings: type) -> None:
    names = env_vars_read_by(settings)
    only_listed = {name: value for name, value in FULL.items() if name in names}

    parsed = settings.from_env(only_listed)

    assert len(parsed._fields) == len(names)


@pytest.mark.parametrize(
    "name",
    [
        config.JOBS_TABLE_NAME,
        config.SESSIONS_TABLE_NAME,
        config.JOB_RETENTION_DAYS,
        config.SESSION_DEFAULT_TTL_SECONDS,
        config.SERVICE_VERSION,
    ],
)
def test_missing_required_variable_is_named(name: str) -> None:
    environ = {key: value for key, value in FULL.items() if key != name}

    with pytest.raises(ConfigError, match=name):
        ApiSettings.from_env(environ)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (config.MAX_RECEIVE_COUNT, "three"),
        (config.MAX_RECEIVE_COUNT, "0"),
        (config.ENABLE_TEST_JOB_TYPES, "yes"),
        (config.LOG_LEVEL, "TRACE"),
    ],
)
def test_invalid_variable_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        WorkerSettings.from_env({**FULL, name: value})


def test_optional_variables_have_safe_defaults() -> None:
    environ = {
        key: value
        for key, value in FULL.items()
        if key not in (config.ENABLE_TEST_JOB_TYPES, config.LOG_LEVEL)
    }

    worker = WorkerSettings.from_env(environ)

    assert worker.enable_test_job_types is False
    assert worker.log_level == "INFO"


def test_origin_verify_secret_arn_empty_or_unset_means_no_edge() -> None:
    assert AuthorizerSettings.from_env(FULL).origin_verify_secret_arn is None
    empty = {**FULL, config.ORIGIN_VERIFY_SECRET_ARN: ""}
    assert AuthorizerSettings.from_env(empty).origin_verify_secret_arn is None


def test_origin_verify_secret_arn_is_parsed_when_set() -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:jp-dev/edge/origin-verify-AbCdEf"
    parsed = AuthorizerSettings.from_env({**FULL, config.ORIGIN_VERIFY_SECRET_ARN: arn})
    assert parsed.origin_verify_secret_arn == arn


@pytest.mark.parametrize("raw", ["not-an-arn", "arn:aws:s3:::bucket", "x-origin-verify"])
def test_invalid_origin_verify_secret_arn_is_named(raw: str) -> None:
    with pytest.raises(ConfigError, match=config.ORIGIN_VERIFY_SECRET_ARN):
        AuthorizerSettings.from_env({**FULL, config.ORIGIN_VERIFY_SECRET_ARN: raw})
