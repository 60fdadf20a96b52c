"""schemathesis over every operation of openapi.yaml, against the local stack on loopback.

Valid, invalid and missing API keys; schema-valid and schema-violating inputs (both of
schemathesis's generation modes); seeded and bounded (max examples per operation). Every
response is checked against the document (status, content type, headers, body schema)
and by `every_error_is_a_documented_problem`: no 5xx, and every 4xx is an RFC 9457
problem whose `type` is a documented problem type and whose `status` is the HTTP status,
or one of API Gateway's own documented answers (`{"message"}` with `apigw-requestid`:
401 without a key, 403 for a refused key). A request that hangs fails the test at its
timeout. The run's counts are printed and checked at the end (>= 1,000 requests).

The fuzz paces itself below the stage's throttling rate, as a well-behaved client does:
API Gateway's own 429 (stage throttling, `{"message"}`) is not what is under test, and a
drained bucket would throttle the tests that follow.

Not checked: schemathesis's "positive data is accepted". What DynamoDB can store cannot be
said in JSON Schema (38 significant digits, no magnitude under 1e-130, so Hypothesis's
5e-324 is refused with a documented 422), nor which test job types an environment has.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
import yaml
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance
from scripts.local_stack.gateway import ApiConfig

from tests.e2e.conftest import Stack

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text(encoding="utf-8"))
PROBLEM_TYPES = {p["type"]: p["status"] for p in DOCUMENT["x-jobs-platform-problem-types"]}
GATEWAY_STATUSES = {401, 403}
# Per operation: the run sends about 1,200 requests in all (printed at the end of the
# e2e run). Seeded and derandomised: the same cases every run.
MAX_EXAMPLES = 170
SEED = 20_251_201
REQUEST_TIMEOUT_SECONDS = 30
MIN_REQUESTS = 1_000
PACE_SHARE_OF_STAGE_RATE = 0.8

COUNTS: Counter[str] = Counter()
OPERATIONS_RUN: set[str] = set()


@pytest.fixture(scope="module")
def fuzz_key(stack: Stack) -> str:
    # Its own tenant: the fuzz's jobs and sessions never mix with other tests' lists.
    return stack.mint_key("fuzz", daily_job_quota=1_000_000)


@pytest.fixture(scope="module")
def api_schema(stack: Stack) -> Any:
    # Loaded from the stack: proves the document is served at its documented path.
    served = requests.get(stack.url("/openapi.json"), timeout=REQUEST_TIMEOUT_SECONDS)
    assert served.status_code == 200 and served.json() == json.loads(json.dumps(DOCUMENT))
    return schemathesis.openapi.from_dict(served.json())


schema = schemathesis.pytest.from_fixture("api_schema")


class Pacer:
    """At most `rate` requests per second, evenly spaced."""

    def __init__(self, rate: float) -> None:
        self.interval, self.next_at, self.lock = 1 / rate, time.monotonic(), threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            self.next_at = max(self.next_at, now) + self.interval
            pause = self.next_at - self.interval - now
        if pause > 0:
            time.sleep(pause)


@pytest.fixture(scope="module")
def pacer(stack: Stack) -> Pacer:
    """Paced under the stage's throttling rate as the stack's API declares it."""
    apigw = stack.client("apigatewayv2")
    [api] = apigw.get_apis()["Items"]
    rate = ApiConfig.load(apigw, api["ApiId"]).throttle_rate
    assert rate, "the stage declares no throttling rate"
    return Pacer(rate * PACE_SHARE_OF_STAGE_RATE)


@schemathesis.check
def every_error_is_a_documented_problem(ctx: Any, response: Any, case: Case) -> bool | None:
    status = response.status_code
    if status < 400:
        return None
    assert status < 500, f"server error {status}: {response.text[:500]}"
    content_type = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    if content_type == "application/problem+json":
        problem = json.loads(response.content)
        assert problem.get("type") in PROBLEM_TYPES, f"undocumented problem type: {problem}"
        assert problem["status"] == status == PROBLEM_TYPES[problem["type"]], problem
        assert isinstance(problem.get("title"), str) and isinstance(problem.get("detail"), str)
        assert response.headers.get("x-request-id"), "a problem without x-request-id"
        return True
    assert status in GATEWAY_STATUSES, f"{status} is not a problem: {response.text[:300]}"
    assert json.loads(response.content).keys() == {"message"}, response.text[:300]
    assert response.headers.get("apigw-requestid"), "a gateway answer without its request id"
    return True


def _credentials(kind: str, fuzz_key: str) -> dict[str, str]:
    if kind == "valid":
        return {"x-api-key": fuzz_key}
    if kind == "invalid":
        return {"x-api-key": "jp_not-a-key-of-this-stack"}
    return {}


@schema.parametrize()
# Mostly valid keys (they reach the handler); invalid and missing ones reach the gateway.
@schema.given(credential=st.sampled_from(["valid", "valid", "valid", "invalid", "missing"]))
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)
@hypothesis.seed(SEED)
def test_fuzz_operation(
    case: Case, credential: str, stack: Stack, fuzz_key: str, pacer: Pacer
) -> None:
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "x-api-key"}
    case.headers = {**headers, **_credentials(credential, fuzz_key)}
    OPERATIONS_RUN.add(case.operation.label)
    pacer.wait()
    response = case.call(base_url=stack.base_url, timeout=REQUEST_TIMEOUT_SECONDS)
    COUNTS["requests"] += 1
    COUNTS[f"credential:{credential}"] += 1
    COUNTS[f"status:{response.status_code}"] += 1
    # Credentials are this test's, not schemathesis's: it checks them itself (a key is
    # needed everywhere but /health; API Gateway answers 401 without, 403 for a wrong one).
    if case.operation.label != "GET /health" and credential != "valid":
        assert response.status_code == (401 if credential == "missing" else 403), response.text
    case.validate_response(
        response,
        additional_checks=[every_error_is_a_documented_problem],
        excluded_checks=[positive_data_acceptance, ignored_auth],
    )


@pytest.mark.after_all_e2e
def test_fuzz_covered_every_operation_with_enough_requests() -> None:
    operations = {
        f"{method.upper()} {path}"
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }
    summary = ", ".join(f"{k}={v}" for k, v in sorted(COUNTS.items()))
    print(f"\nschemathesis: {len(OPERATIONS_RUN)} operations, {summary}")
    if not OPERATIONS_RUN:
        pytest.fail("the fuzz tests did not run (run tests/e2e/test_fuzz_openapi.py whole)")
    assert operations == OPERATIONS_RUN
    assert COUNTS["requests"] >= MIN_REQUESTS, summary
    assert not any(key.startswith("status:5") for key in COUNTS), summary
    for kind in ("valid", "invalid", "missing"):
        assert COUNTS[f"credential:{kind}"] > 0, summary
