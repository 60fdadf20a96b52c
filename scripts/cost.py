"""`make cost ENV=<env> [PROFILE=<name>]`: a monthly cost estimate of one environment.

Inputs, each stated once:
- `cost/prices.toml`: list prices with their date and region (the only place they live);
- `cost/profiles.toml`: traffic profiles (requests/s, jobs/day, payload size, durations);
- `cost/measured.json`: the AWS calls, DynamoDB item writes and log bytes per submit, per
  poll and per job, MEASURED on the local stack by `tests/e2e/test_cost_measurements.py`
  (which fails when the code drifts from this file);
- `environments/<env>.tfvars` (+ the root module's variable defaults), read by
  scripts/environments.py like every other tfvars reader: memory sizes, retention, edge
  on/off, authorizer cache.

Prints the estimate itemised by service, the environment's fixed monthly floor (the cost
with no traffic at all) and the marginal cost per million jobs (what one million more
jobs, with their submits and polls, add). The model applies no free tier and is linear in
traffic except X-Ray's sampling reservoir (the first trace each second) and the custom
metrics, billed once they receive data; the marginal cost is the slope at the profile.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from scripts import environments as envs

REPO_ROOT = Path(__file__).resolve().parent.parent
COST_DIR = REPO_ROOT / "cost"
PRICES_FILE = COST_DIR / "prices.toml"
PROFILES_FILE = COST_DIR / "profiles.toml"
MEASURED_FILE = COST_DIR / "measured.json"

HOURS_PER_MONTH = 730  # AWS's convention for monthly prices
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
GB = 1024**3
KB = 1024

# Stated assumptions the model cannot measure on the local stack (each printed with
# the estimate so nobody mistakes it for a measurement).
ASSUMPTIONS: dict[str, float] = {
    # Lambda platform log lines (START/END/REPORT, JSON format) per invocation.
    "platform_log_bytes_per_invocation": 400,
    # HTTP API access log line per request (terraform/modules/api access_log_settings).
    "access_log_bytes_per_request": 450,
    # WAF log record per request (all fields; headers redacted).
    "waf_log_bytes_per_request": 1500,
    # EventBridge Pipes polls each stream shard about 4 times a second; the jobs table's
    # stream has one shard per table partition (1 below ~1,000 writes/s).
    "stream_shards": 1,
    "stream_polls_per_second_per_shard": 4,
    # The SQS event source mapping long-polls with 5 pollers (20 s waits) while idle.
    "sqs_idle_pollers": 5,
    "sqs_long_poll_seconds": 20,
    # KMS: SQS and DynamoDB reuse data keys (5 minutes): requests per month per
    # principal and resource pair (api, worker, pipe x tables/queue).
    "kms_principal_resource_pairs": 6,
    "kms_requests_per_pair_per_5_minutes": 1,
    # X-Ray default sampling: the first request each second, then 5 %.
    "xray_reservoir_per_second": 1,
    "xray_sampling_rate": 0.05,
    # Secrets Manager: the authorizer reads the origin secret once per execution
    # environment; about one environment start per hour per concurrent environment.
    "secret_reads_per_hour": 1,
    # Worker: one job per invocation (light load; batches make heavier loads cheaper).
    "jobs_per_worker_invocation": 1,
    # Worker invocation overhead around the job's own code (reads and writes).
    "worker_overhead_ms": 25,
    # CloudWatch log storage: billed compressed; assume no compression (upper bound).
    "log_storage_compression": 1.0,
}

# Alarms per environment and how many metrics each is billed for (metric math and
# Metrics Insights alarms count each metric they read). A contract test compares the
# count with the alarms in the offline Terraform plans.
FUNCTION_ALARMS = {"errors": 1, "throttles": 1, "duration-p99": 1}
QUEUE_ALARMS = {"age-of-oldest-message": 1, "dlq-visible-messages": 1}
TABLE_ALARMS = {"throttled-requests": 10, "system-errors": 10}  # Metrics Insights
MONITORING_ALARMS = {
    "api-5xx-rate": 2,
    "api-latency-p99": 1,
    "outbox-failures": 3,
    "jobs-failure-rate": 2,
    "jobs-submit-to-terminal-p99": 1,
}
FUNCTIONS = ("api", "authorizer", "worker")
# Every function has its alarms; the DLQ bookkeeping's compute (one short run a schedule
# period, a few cents a month) is not priced.
ALARMED_FUNCTIONS = (*FUNCTIONS, "bookkeeper")
TABLES = ("jobs", "sessions", "api-keys")
# Rate limits per IP and per API key + IP reputation + common rule set + known bad inputs.
WAF_RULES = 5


class CostError(ValueError):
    """Bad input: an unknown environment or profile, a missing price, a bad profile."""


# -- inputs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prices:
    region: str
    as_of: str
    values: Mapping[str, float]  # "<section>.<name>" -> price

    def __getitem__(self, key: str) -> float:
        try:
            return self.values[key]
        except KeyError:
            raise CostError(f"price {key} is missing from {PRICES_FILE.name}") from None

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> Prices:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        values: dict[str, float] = {}
        for section, entries in data.items():
            if not isinstance(entries, dict):
                continue
            if not entries.get("source"):
                raise CostError(f"[{section}] in {path.name} has no source")
            for name, entry in entries.items():
                if name == "source":
                    continue
                if not isinstance(entry, dict) or set(entry) != {"price", "unit"}:
                    raise CostError(f"{section}.{name} in {path.name} needs price and unit")
                values[f"{section}.{name}"] = float(entry["price"])
        return cls(region=str(data["region"]), as_of=str(data["as_of"]), values=values)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    requests_per_second: float
    jobs_per_day: float
    payload_bytes: int
    job_duration_ms: float
    api_duration_ms: float
    authorizer_duration_ms: float
    active_api_keys: int
    response_bytes: int

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, int | float) and value < 0:
                raise CostError(f"profile {self.name}: {name} must not be negative")
        if self.requests_per_second * 86_400 < self.jobs_per_day - 1e-6:
            raise CostError(
                f"profile {self.name}: requests_per_second x 86,400 must be at least "
                "jobs_per_day (every submit is an API request)"
            )

    @property
    def requests_per_month(self) -> float:
        return self.requests_per_second * SECONDS_PER_MONTH

    @property
    def jobs_per_month(self) -> float:
        return self.jobs_per_day * DAYS_PER_MONTH

    @property
    def polls_per_job(self) -> float:
        """The non-submit requests per job (polls, lists...); 0 without jobs."""
        if self.jobs_per_month == 0:
            return 0.0
        return (self.requests_per_month - self.jobs_per_month) / self.jobs_per_month

    def with_more_jobs(self, jobs_per_month: float) -> Profile:
        """The same traffic plus `jobs_per_month` jobs with their submits and polls."""
        requests = jobs_per_month * (1 + self.polls_per_job)
        return replace(
            self,
            jobs_per_day=self.jobs_per_day + jobs_per_month / DAYS_PER_MONTH,
            requests_per_second=self.requests_per_second + requests / SECONDS_PER_MONTH,
        )


def load_profiles(path: Path = PROFILES_FILE) -> tuple[dict[str, Profile], dict[str, str]]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    profiles = {}
    for name, values in data["profiles"].items():
        try:
            profiles[name] = Profile(name=name, **values)
        except TypeError as exc:
            raise CostError(f"profile {name} in {path.name}: {exc}") from None
    defaults = dict(data["defaults"])
    unknown = sorted(set(defaults.values()) - set(profiles))
    if unknown:
        raise CostError(f"[defaults] names unknown profiles: {unknown}")
    return profiles, defaults


@dataclass(frozen=True)
class Write:
    """One DynamoDB item write recorded on the local stack."""

    kind: str  # the item kind: the sort key's prefix (JOB, QUOTA, USAGE, IDEMPOTENCY)
    transactional: bool
    index_key_write: bool  # sets the status-index key (a GSI put, or delete + put)
    new_item: bool  # a Put of a new item (its index entry is one write, not two)
    writes_result: bool  # stores the job's result (the item grows by the result)


@dataclass(frozen=True)
class Phase:
    """What one submit, poll, job or authorization makes AWS do (measured)."""

    calls: Mapping[str, Mapping[str, float]]  # principal -> "service:Operation" -> count
    writes: tuple[Write, ...] = ()
    consistent_reads: Mapping[str, float] = field(default_factory=dict)  # kind -> count
    log_bytes: float = 0.0

    def count(self, principal: str, operation: str) -> float:
        return float(self.calls.get(principal, {}).get(operation, 0))


@dataclass(frozen=True)
class Measured:
    submit: Phase
    poll: Phase
    job: Phase
    authorization: Phase
    item_overhead_bytes: Mapping[str, int]  # kind -> item size without payload/result
    source: str

    @classmethod
    def load(cls, path: Path = MEASURED_FILE) -> Measured:
        data = json.loads(path.read_text(encoding="utf-8"))

        def phase(raw: Mapping[str, Any]) -> Phase:
            return Phase(
                calls=raw["calls"],
                writes=tuple(Write(**w) for w in raw.get("writes", [])),
                consistent_reads=raw.get("consistent_reads", {}),
                log_bytes=float(raw.get("log_bytes", 0)),
            )

        return cls(
            submit=phase(data["per_submit"]),
            poll=phase(data["per_poll"]),
            job=phase(data["per_job"]),
            authorization=phase(data["per_authorization"]),
            item_overhead_bytes=data["item_overhead_bytes"],
            source=data["source"],
        )


@dataclass(frozen=True)
class Environment:
    name: str
    enable_edge: bool
    memory_mb: Mapping[str, int]
    log_retention_days: int
    job_retention_days: int
    authorizer_result_ttl_seconds: int
    enable_test_job_types: bool


def load_environment(name: str, root: Path = REPO_ROOT) -> Environment:
    """The environment's settings as Terraform sees them: its tfvars over the root module's
    defaults, read by the one tfvars parser (scripts/environments.py)."""
    known = envs.all_environments(root)
    if name not in known:
        raise CostError(f"unknown environment {name!r}; known: {', '.join(known)}")
    try:
        value = functools.partial(envs.effective_value, name, repo_root=root)
        memory = value("memory_mb")
        return Environment(
            name=name,
            enable_edge=bool(value("enable_edge")),
            memory_mb={fn: int(memory[fn]) for fn in FUNCTIONS},
            log_retention_days=int(value("log_retention_days")),
            job_retention_days=int(value("job_retention_days")),
            authorizer_result_ttl_seconds=int(value("authorizer_result_ttl_seconds")),
            enable_test_job_types=bool(value("enable_test_job_types")),
        )
    except (envs.HclError, KeyError) as exc:
        raise CostError(f"environments/{name}.tfvars: {exc}") from exc


# -- measuring (tests/e2e/test_cost_measurements.py) ---------------------------------


def attribute_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB bills for one AttributeValue (developer guide, "item sizes")."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode("utf-8"))
    if kind == "N":
        digits = str(raw).lstrip("-").replace(".", "").split("e")[0].split("E")[0]
        significant = digits.strip("0") or "0"
        return (len(significant) + 1) // 2 + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + attribute_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in raw)
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: v}) for v in raw)
    raise ValueError(f"unknown attribute type {kind}")


def item_bytes(item: Mapping[str, Mapping[str, Any]]) -> int:
    """An item's billed size: attribute names plus values."""
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in item.items())


def phase_from_records(
    records: list[dict[str, Any]], tenant_pk: str, count: int, *, principal: str
) -> dict[str, Any]:
    """One principal's share of a phase, per event (submit, poll, job): the operations it
    made on `tenant_pk`'s items (or on no tenant's, e.g. the api-keys table), with every
    item write and strongly consistent read."""
    calls: dict[str, float] = {}
    writes: list[dict[str, Any]] = []
    reads: dict[str, float] = {}
    for record in records:
        tenants = {w["pk"] for w in record.get("writes", [])} | {
            r["pk"] for r in record.get("reads", [])
        }
        if "pk" in record:
            tenants.add(record["pk"])
        if any(t.startswith("TENANT#") and t != tenant_pk for t in tenants):
            continue  # another tenant's work, from another test
        calls[record["op"]] = calls.get(record["op"], 0) + 1
        writes += [{k: v for k, v in w.items() if k != "pk"} for w in record.get("writes", [])]
        for read in record.get("reads", []):
            if read["consistent"]:
                reads[read["kind"]] = reads.get(read["kind"], 0) + 1
    if count <= 0:
        raise ValueError("count must be positive")
    tally = Counter(json.dumps(w, sort_keys=True) for w in writes)
    uneven = {w: n for w, n in tally.items() if n % count}
    if uneven:
        raise ValueError(f"{principal}: the {count} events did not write the same items: {uneven}")
    per_event_writes = [json.loads(w) for w, n in sorted(tally.items()) for _ in range(n // count)]
    return {
        "calls": {principal: {op: n / count for op, n in sorted(calls.items())}},
        "writes": per_event_writes,
        "consistent_reads": {kind: n / count for kind, n in sorted(reads.items())},
    }


# -- the model -------------------------------------------------------------------------


@dataclass(frozen=True)
class LineItem:
    service: str
    item: str
    quantity: float
    unit: str
    usd: float


def _units(size_bytes: float, unit_bytes: int) -> int:
    return max(1, math.ceil(size_bytes / unit_bytes))


def item_size(measured: Measured, kind: str, payload_bytes: int, *, with_result: bool) -> float:
    """An item's size at the profile's payload (a job's result is assumed payload-sized)."""
    overhead = measured.item_overhead_bytes.get(kind, 100)
    if kind != "JOB":
        return overhead
    return overhead + payload_bytes * (2 if with_result else 1)


def write_units(measured: Measured, phase: Phase, payload_bytes: int) -> tuple[float, float]:
    """(table write units, status-index write units) of one phase, by DynamoDB's rules:
    1 per KB (rounded up) per item, x2 in a transaction; an index key change is a delete
    plus a put in the index (one put for a new item), each per KB of the projection (ALL)."""
    table = index = 0.0
    for write in phase.writes:
        size = item_size(measured, write.kind, payload_bytes, with_result=write.writes_result)
        units = _units(size, KB)
        table += units * (2 if write.transactional else 1)
        if write.index_key_write:
            index += units * (1 if write.new_item else 2)
    return table, index


def read_units(measured: Measured, phase: Phase, payload_bytes: int, *, with_result: bool) -> float:
    return sum(
        count * _units(item_size(measured, kind, payload_bytes, with_result=with_result), 4 * KB)
        for kind, count in phase.consistent_reads.items()
    )


def estimate(
    env: Environment, profile: Profile, prices: Prices, measured: Measured
) -> list[LineItem]:
    """The month's cost of `env` under `profile`, one line per billed dimension."""
    a = ASSUMPTIONS
    p = prices
    items: list[LineItem] = []

    def add(service: str, item: str, quantity: float, unit: str, unit_price: float) -> None:
        items.append(LineItem(service, item, quantity, unit, quantity * unit_price))

    requests = profile.requests_per_month
    jobs = profile.jobs_per_month
    polls = requests - jobs
    active = requests > 0

    # API Gateway, and the edge in front of it.
    add("API Gateway", "HTTP API requests", requests / 1e6, "M requests",
        p["api_gateway.http_api_per_million_requests"])  # fmt: skip
    if env.enable_edge:
        add("CloudFront", "HTTPS requests", requests / 1e4, "10k requests",
            p["cloudfront.https_per_10k_requests"])  # fmt: skip
        add("CloudFront", "data transfer out", requests * profile.response_bytes / GB, "GB",
            p["cloudfront.data_transfer_out_per_gb"])  # fmt: skip
        add("WAF", "web ACL", 1, "web ACL-month", p["waf.web_acl_per_month"])
        add("WAF", "rules and managed rule groups", WAF_RULES, "rule-month",
            p["waf.rule_per_month"])  # fmt: skip
        add("WAF", "requests inspected", requests / 1e6, "M requests",
            p["waf.per_million_requests"])  # fmt: skip

    # Lambda.
    if env.authorizer_result_ttl_seconds > 0:
        authorizations = min(
            requests,
            profile.active_api_keys * SECONDS_PER_MONTH / env.authorizer_result_ttl_seconds,
        )
    else:
        authorizations = requests
    worker_invocations = jobs / a["jobs_per_worker_invocation"]
    invocations = {"api": requests, "authorizer": authorizations, "worker": worker_invocations}
    durations_ms = {
        "api": profile.api_duration_ms,
        "authorizer": profile.authorizer_duration_ms,
        "worker": a["jobs_per_worker_invocation"] * profile.job_duration_ms
        + a["worker_overhead_ms"],
    }
    add("Lambda", "requests (api + authorizer + worker)", sum(invocations.values()) / 1e6,
        "M requests", p["lambda.per_million_requests"])  # fmt: skip
    for fn in FUNCTIONS:
        gb_seconds = invocations[fn] * durations_ms[fn] / 1000 * env.memory_mb[fn] / 1024
        add("Lambda", f"{fn} compute ({env.memory_mb[fn]} MB, arm64)", gb_seconds, "GB-s",
            p["lambda.arm64_per_gb_second"])  # fmt: skip

    # DynamoDB (on demand).
    payload = profile.payload_bytes
    submit_table, submit_index = write_units(measured, measured.submit, payload)
    job_table, job_index = write_units(measured, measured.job, payload)
    wru = jobs * (submit_table + submit_index + job_table + job_index)
    rru = (
        jobs * read_units(measured, measured.job, payload, with_result=False)
        + polls * read_units(measured, measured.poll, payload, with_result=True)
        + authorizations * read_units(measured, measured.authorization, payload, with_result=False)
    )
    add("DynamoDB", "write request units", wru / 1e6, "M WRU",
        p["dynamodb.write_request_unit_per_million"])  # fmt: skip
    add("DynamoDB", "read request units", rru / 1e6, "M RRU",
        p["dynamodb.read_request_unit_per_million"])  # fmt: skip
    job_bytes = item_size(measured, "JOB", payload, with_result=True)
    # Jobs live job_retention_days; the status index (projection ALL) holds a copy.
    stored_gb = profile.jobs_per_day * env.job_retention_days * job_bytes * 2 / GB
    add("DynamoDB", f"storage ({env.job_retention_days} days of jobs, table + index)",
        stored_gb, "GB-month", p["dynamodb.storage_per_gb_month"])  # fmt: skip
    add("DynamoDB", "point-in-time recovery", stored_gb / 2, "GB-month",
        p["dynamodb.pitr_per_gb_month"])  # fmt: skip
    stream_reads = a["stream_shards"] * a["stream_polls_per_second_per_shard"] * SECONDS_PER_MONTH
    add("DynamoDB", "stream reads (the pipe's GetRecords polling)", stream_reads / 1e5,
        "100k reads", p["dynamodb.streams_read_request_per_100k"])  # fmt: skip

    # SQS and the outbox pipe.
    per_job_sqs = sum(
        count
        for principal in measured.job.calls.values()
        for operation, count in principal.items()
        if operation.startswith("sqs:")
    )
    idle_polls = a["sqs_idle_pollers"] * SECONDS_PER_MONTH / a["sqs_long_poll_seconds"]
    # The measured sends and deletes, plus the event source mapping's receive per batch.
    per_job_sqs += 1 / a["jobs_per_worker_invocation"]
    add("SQS", "requests (send, receive, delete per job)", jobs * per_job_sqs / 1e6,
        "M requests", p["sqs.standard_per_million_requests"])  # fmt: skip
    add("SQS", "idle long polls of the event source mapping", idle_polls / 1e6, "M requests",
        p["sqs.standard_per_million_requests"])  # fmt: skip
    add("EventBridge Pipes", "requests (one per new job)", jobs / 1e6, "M requests",
        p["pipes.per_million_requests"])  # fmt: skip

    # KMS.
    keys = 1 + (1 if env.enable_edge else 0)  # the environment's CMK (+ the WAF logs' key)
    add("KMS", "customer-managed keys", keys, "key-month", p["kms.key_per_month"])
    kms_requests = (
        a["kms_principal_resource_pairs"] * a["kms_requests_per_pair_per_5_minutes"]
        * SECONDS_PER_MONTH / 300
    )  # fmt: skip
    add("KMS", "requests (data keys reused for 5 minutes)", kms_requests / 1e4,
        "10k requests", p["kms.per_10k_requests"])  # fmt: skip

    # CloudWatch.
    log_bytes = (
        jobs * (measured.submit.log_bytes + measured.job.log_bytes)
        + polls * measured.poll.log_bytes
        + authorizations * measured.authorization.log_bytes
        + sum(invocations.values()) * a["platform_log_bytes_per_invocation"]
        + requests * a["access_log_bytes_per_request"]
        + (requests * a["waf_log_bytes_per_request"] if env.enable_edge else 0)
    )
    add("CloudWatch", "log ingestion (functions, access, WAF)", log_bytes / GB, "GB",
        p["cloudwatch.logs_ingestion_per_gb"])  # fmt: skip
    stored_logs = log_bytes / GB * env.log_retention_days / DAYS_PER_MONTH
    add("CloudWatch", f"log storage ({env.log_retention_days} days retention)",
        stored_logs * a["log_storage_compression"], "GB-month",
        p["cloudwatch.logs_storage_per_gb_month"])  # fmt: skip
    custom_metrics = custom_metric_count(env) if active else 0
    add("CloudWatch", "custom metrics (EMF, while receiving data)", custom_metrics,
        "metric-month", p["cloudwatch.metric_per_month"])  # fmt: skip
    add("CloudWatch", f"alarms ({len(alarm_names(env))})", alarm_metric_count(env),
        "alarm metric-month", p["cloudwatch.alarm_metric_per_month"])  # fmt: skip
    add("CloudWatch", "dashboard", 1, "dashboard-month", p["cloudwatch.dashboard_per_month"])

    # X-Ray (active tracing on every function).
    reservoir = a["xray_reservoir_per_second"] * SECONDS_PER_MONTH
    traces = sum(
        min(n, reservoir) + a["xray_sampling_rate"] * max(0.0, n - reservoir)
        for n in invocations.values()
    )
    add("X-Ray", "traces recorded (default sampling)", traces / 1e6, "M traces",
        p["xray.per_million_traces_recorded"])  # fmt: skip

    # Secrets Manager (the origin-verify secret, with the edge only).
    if env.enable_edge:
        add("Secrets Manager", "origin-verify secret", 1, "secret-month",
            p["secrets_manager.secret_per_month"])  # fmt: skip
        environments = max(
            1.0 if active else 0.0,
            authorizations / SECONDS_PER_MONTH * profile.authorizer_duration_ms / 1000,
        )
        reads = environments * a["secret_reads_per_hour"] * HOURS_PER_MONTH
        add("Secrets Manager", "API calls (a read per authorizer environment)",
            reads / 1e4, "10k calls", p["secrets_manager.per_10k_api_calls"])  # fmt: skip
    return items


def custom_metric_count(env: Environment) -> int:
    """EMF metrics the functions publish: each name for the service and per job type."""
    from jobs_platform import job_types, metrics  # noqa: PLC0415 - the one source

    job_type_count = len(job_types.available(env.enable_test_job_types))
    return len(metrics.METRIC_NAMES) * (1 + job_type_count)


def alarm_names(env: Environment) -> list[str]:
    names = [f"{fn}-{alarm}" for fn in ALARMED_FUNCTIONS for alarm in FUNCTION_ALARMS]
    names += [f"jobs-{alarm}" for alarm in QUEUE_ALARMS]
    names += [f"{table}-{alarm}" for table in TABLES for alarm in TABLE_ALARMS]
    names += list(MONITORING_ALARMS)
    return names


def alarm_metric_count(env: Environment) -> int:
    return (
        len(ALARMED_FUNCTIONS) * sum(FUNCTION_ALARMS.values())
        + sum(QUEUE_ALARMS.values())
        + len(TABLES) * sum(TABLE_ALARMS.values())
        + sum(MONITORING_ALARMS.values())
    )


@dataclass(frozen=True)
class Estimate:
    environment: Environment
    profile: Profile
    items: list[LineItem]
    floor: float
    marginal_per_million_jobs: float
    prices_as_of: str
    region: str

    @property
    def total(self) -> float:
        return sum(item.usd for item in self.items)

    def by_service(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for item in self.items:
            totals[item.service] = totals.get(item.service, 0.0) + item.usd
        return totals


IDLE = Profile(
    name="idle",
    description="no traffic",
    requests_per_second=0,
    jobs_per_day=0,
    payload_bytes=0,
    job_duration_ms=0,
    api_duration_ms=0,
    authorizer_duration_ms=0,
    active_api_keys=0,
    response_bytes=0,
)


def run(env: Environment, profile: Profile, prices: Prices, measured: Measured) -> Estimate:
    items = estimate(env, profile, prices, measured)
    floor = sum(item.usd for item in estimate(env, IDLE, prices, measured))
    # A profile without jobs still prices a million jobs at its other settings.
    base = profile if profile.jobs_per_day > 0 else replace(profile, requests_per_second=0)
    more = base.with_more_jobs(1e6)
    if base.jobs_per_day == 0:
        more = replace(more, active_api_keys=max(1, base.active_api_keys))
    base_cost = sum(item.usd for item in estimate(env, base, prices, measured))
    more_cost = sum(item.usd for item in estimate(env, more, prices, measured))
    if base.requests_per_second == 0:
        # From zero traffic the step cost of metrics becoming active is not marginal.
        base_cost += custom_metric_count(env) * prices["cloudwatch.metric_per_month"]
    return Estimate(
        environment=env,
        profile=profile,
        items=items,
        floor=floor,
        marginal_per_million_jobs=more_cost - base_cost,
        prices_as_of=prices.as_of,
        region=prices.region,
    )


# -- output ----------------------------------------------------------------------------


def _money(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.005 or value == 0 else f"${value:.4f}"


def render(result: Estimate) -> str:
    env, profile = result.environment, result.profile
    lines = [
        f"Monthly estimate: {env.name}, profile {profile.name!r} ({profile.description})",
        f"  {profile.requests_per_second:g} requests/s, {profile.jobs_per_day:,.0f} jobs/day, "
        f"{profile.payload_bytes} B payloads, {profile.job_duration_ms:g} ms jobs, "
        f"{profile.polls_per_job:.1f} other requests per job",
        f"  list prices {result.region}, as of {result.prices_as_of} (cost/prices.toml); "
        f"calls per job measured on the local stack (cost/measured.json)",
        "",
        f"{'service':<18} {'item':<52} {'quantity':>14} {'unit':<20} {'USD/month':>11}",
        "-" * 119,
    ]
    for item in result.items:
        lines.append(
            f"{item.service:<18} {item.item:<52} {item.quantity:>14,.3f} {item.unit:<20} "
            f"{_money(item.usd):>11}"
        )
    lines.append("-" * 119)
    for service, usd in sorted(result.by_service().items(), key=lambda kv: -kv[1]):
        lines.append(f"  {service:<24} {_money(usd):>11}")
    lines += [
        "",
        f"Total:                                {_money(result.total):>12} per month",
        f"Fixed monthly floor (no traffic):     {_money(result.floor):>12}",
        f"Marginal cost per million jobs:       {_money(result.marginal_per_million_jobs):>12}"
        f"  (with {profile.polls_per_job:.1f} polls each)",
        "",
        "Assumptions (not measurable on the local stack): "
        + ", ".join(f"{k}={v:g}" for k, v in ASSUMPTIONS.items()),
    ]
    return "\n".join(lines)


def to_json(result: Estimate) -> dict[str, Any]:
    return {
        "environment": result.environment.name,
        "profile": asdict(result.profile),
        "region": result.region,
        "prices_as_of": result.prices_as_of,
        "items": [asdict(item) for item in result.items],
        "by_service": result.by_service(),
        "total": result.total,
        "floor": result.floor,
        "marginal_per_million_jobs": result.marginal_per_million_jobs,
        "assumptions": ASSUMPTIONS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="prod", help="environment (environments/<env>.tfvars)")
    parser.add_argument("--profile", default="", help="traffic profile (cost/profiles.toml)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    try:
        profiles, defaults = load_profiles()
        name = args.profile or defaults.get(args.env, "steady")
        if name not in profiles:
            raise CostError(f"unknown profile {name!r}; known: {', '.join(sorted(profiles))}")
        result = run(load_environment(args.env), profiles[name], Prices.load(), Measured.load())
    except CostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(to_json(result), indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
