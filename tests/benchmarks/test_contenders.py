"""`make bench` stays honest: every contender answers the four requests it is timed on,
from the code the benchmark runs (ours: the packaged zip, read-only), and each of their
submits really reaches (in-process) DynamoDB. Timing is never asserted here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks.events import ORDER, REQUESTS

from benchmarks import __main__ as bench


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    work = tmp_path_factory.mktemp("bench")
    code = bench.prepare_code_dir(work)
    events = work / "events.json"
    events.write_text(json.dumps({name: REQUESTS[name][0] for name in ORDER}))
    yield work, bench.child_env(code, "127.0.0.1:9"), events
    for path in work.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.mark.parametrize("contender", [c for c in bench.CONTENDERS if c != "floor"])
def test_contender_answers_every_request(
    harness: tuple[Path, dict[str, str], Path], contender: str
) -> None:
    work, env, events = harness
    result = bench.run_child(["check", contender, str(events)], env, work)
    statuses = result["status"]
    assert statuses["health"] == 200
    assert statuses["submit"] == 202
    assert statuses["invalid"] == 422
    # Powertools and FastAPI answer a body that is not JSON with their 422; ours and the
    # plain dispatcher with 400 (RFC 9457 / plain): the same request either way.
    assert statuses["non_json"] in (400, 422)
    assert result["aws_calls_answered"] == 1  # the submit's one transaction


def test_our_cold_start_runs_the_shipped_zip_without_writing_bytecode(
    harness: tuple[Path, dict[str, str], Path],
) -> None:
    work, env, events = harness
    code = Path(env["PYTHONPATH"].split(":")[0])
    before = bench._pycache_dirs(code)
    result = bench.run_child(["cold", "ours", str(events)], env, work)
    assert result["status"] == 202
    assert bench._pycache_dirs(code) == before
    assert (code / "jobs_platform" / "__pycache__").is_dir()  # shipped by make package
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_warm_rounds_pair_every_contender_on_every_request(
    harness: tuple[Path, dict[str, str], Path],
) -> None:
    """The warm measurement's rounds: one batch per request per contender in each round
    (so the per-round ratios pair samples taken back to back), every submit reaching
    (in-process) DynamoDB."""
    work, env, events = harness
    warm = bench.measure_warm(2, 0.001, events, work, env)
    contenders = [c for c in bench.CONTENDERS if c != "floor"]
    assert set(warm["wall"]) == set(contenders)
    for contender in contenders:
        for request in ORDER:
            assert len(warm["wall"][contender][request]) == 2
            assert all(seconds > 0 for seconds in warm["wall"][contender][request])
            assert warm["calls"][contender][request] >= bench.MIN_BATCH_CALLS
        # warm-up + 2 batches of submits: every one a transaction answered in-process
        assert warm["answered"][contender] >= 1
    assert warm["statuses"]["ours"] == {name: status for name, (_, status) in REQUESTS.items()}


def test_rotation_puts_each_contender_in_each_position() -> None:
    rounds = [bench._rotated(bench.CONTENDERS, r) for r in range(len(bench.CONTENDERS))]
    for position in range(len(bench.CONTENDERS)):
        assert {order[position] for order in rounds} == set(bench.CONTENDERS)
