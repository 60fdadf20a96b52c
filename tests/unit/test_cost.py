"""`make cost`: the price file, the profiles, DynamoDB's billing rules and the estimate."""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace

import pytest
from scripts import cost


@pytest.fixture(scope="module")
def prices() -> cost.Prices:
    return cost.Prices.load()


@pytest.fixture(scope="module")
def measured() -> cost.Measured:
    return cost.Measured.load()


@pytest.fixture(scope="module")
def profiles() -> dict[str, cost.Profile]:
    return cost.load_profiles()[0]


def test_price_file_states_region_date_unit_and_source_for_every_price() -> None:
    data = tomllib.loads(cost.PRICES_FILE.read_text())
    assert data["region"] == "us-east-1"
    assert len(data["as_of"]) == 10 and data["as_of"][4] == "-"
    for section, entries in data.items():
        if isinstance(entries, dict):
            assert entries["source"].startswith("aws.amazon.com/"), section
            for name, entry in entries.items():
                if name != "source":
                    assert entry["price"] > 0 and entry["unit"].startswith("USD per"), name


def test_every_price_the_model_uses_is_in_the_price_file(
    prices: cost.Prices, measured: cost.Measured, profiles: dict[str, cost.Profile]
) -> None:
    used: set[str] = set()

    class Recording(cost.Prices):
        def __getitem__(self, key: str) -> float:
            used.add(key)
            return super().__getitem__(key)

    recording = Recording(prices.region, prices.as_of, prices.values)
    for env in ("dev", "prod"):
        cost.estimate(cost.load_environment(env), profiles["steady"], recording, measured)
    assert used == set(prices.values), "unused or missing prices: keep one place, all used"


def test_a_missing_price_is_an_error(prices: cost.Prices) -> None:
    with pytest.raises(cost.CostError, match=r"price lambda\.nope is missing"):
        _ = prices["lambda.nope"]


def test_environment_comes_from_tfvars_and_variable_defaults() -> None:
    prod = cost.load_environment("prod")
    dev = cost.load_environment("dev")
    assert prod.enable_edge and not dev.enable_edge
    assert prod.memory_mb == {"api": 512, "authorizer": 256, "worker": 512}  # defaults
    assert prod.log_retention_days == 90 and dev.log_retention_days == 14
    with pytest.raises(cost.CostError, match="unknown environment 'nope'"):
        cost.load_environment("nope")


def test_profile_must_carry_its_own_submits() -> None:
    with pytest.raises(cost.CostError, match="at least jobs_per_day"):
        replace(cost.IDLE, name="x", jobs_per_day=86_400 * 2, requests_per_second=1)


def test_dynamodb_item_sizes_follow_the_developer_guide() -> None:
    assert cost.attribute_size({"S": "héllo"}) == 6
    assert cost.attribute_size({"N": "12345"}) == 4  # (5 significant digits + 1) // 2 + 1
    assert cost.attribute_size({"BOOL": True}) == 1
    assert cost.attribute_size({"M": {"a": {"S": "xy"}}}) == 3 + (1 + 2 + 1)
    assert cost.item_bytes({"pk": {"S": "TENANT#a"}, "n": {"N": "1"}}) == 2 + 8 + 1 + 2


def test_write_units_double_in_transactions_and_index_key_changes_cost_two(
    measured: cost.Measured,
) -> None:
    phase = cost.Phase(
        calls={},
        writes=(
            cost.Write(
                "JOB", transactional=True, index_key_write=True, new_item=True, writes_result=False
            ),
            cost.Write(
                "JOB", transactional=False, index_key_write=True, new_item=False, writes_result=True
            ),
        ),
    )
    overhead = measured.item_overhead_bytes["JOB"]
    payload = 2000
    put_units = math.ceil((overhead + payload) / 1024)
    update_units = math.ceil((overhead + 2 * payload) / 1024)
    table, index = cost.write_units(measured, phase, payload)
    assert table == 2 * put_units + update_units
    assert index == put_units + 2 * update_units


def test_floor_is_the_cost_with_no_traffic_and_marginal_adds_a_million_jobs(
    prices: cost.Prices, measured: cost.Measured, profiles: dict[str, cost.Profile]
) -> None:
    env = cost.load_environment("prod")
    result = cost.run(env, profiles["steady"], prices, measured)
    idle = cost.run(env, profiles["idle"], prices, measured)
    assert result.floor == pytest.approx(idle.total)
    assert idle.total == pytest.approx(result.floor)
    # Fixed items only: WAF, keys, alarms, dashboard, the pipe's stream polling, idle polls.
    assert 10 < result.floor < 60
    # One more million jobs at the profile's polls per job costs the marginal amount.
    more = cost.run(env, profiles["steady"].with_more_jobs(1e6), prices, measured)
    assert more.total - result.total == pytest.approx(result.marginal_per_million_jobs, rel=0.02)
    assert result.marginal_per_million_jobs > 0


def test_edge_costs_show_only_where_the_edge_is_on(
    prices: cost.Prices, measured: cost.Measured, profiles: dict[str, cost.Profile]
) -> None:
    dev = cost.run(cost.load_environment("dev"), profiles["small"], prices, measured)
    staging = cost.run(cost.load_environment("staging"), profiles["small"], prices, measured)
    assert "WAF" not in dev.by_service() and "CloudFront" not in dev.by_service()
    assert staging.by_service()["WAF"] >= 9  # web ACL + 4 rules
    assert staging.floor > dev.floor


def test_dynamodb_writes_scale_with_the_measured_writes_per_job(
    prices: cost.Prices, measured: cost.Measured, profiles: dict[str, cost.Profile]
) -> None:
    env = cost.load_environment("prod")
    profile = profiles["steady"]
    doubled_job = replace(measured, job=replace(measured.job, writes=measured.job.writes * 2))
    base = {i.item: i.quantity for i in cost.estimate(env, profile, prices, measured)}
    more = {i.item: i.quantity for i in cost.estimate(env, profile, prices, doubled_job)}
    assert more["write request units"] > base["write request units"]


def test_make_cost_prints_the_itemised_table_floor_and_marginal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cost.main(["--env", "prod", "--profile", "busy"]) == 0
    out = capsys.readouterr().out
    expected = [
        *("API Gateway", "Lambda", "DynamoDB", "SQS", "EventBridge Pipes", "CloudFront"),
        *("WAF", "KMS", "CloudWatch", "Secrets Manager", "X-Ray", "as of 2025-"),
        *("Fixed monthly floor", "Marginal cost per million jobs"),
    ]
    for text in expected:
        assert text in out


def test_unknown_profile_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.main(["--env", "prod", "--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err
