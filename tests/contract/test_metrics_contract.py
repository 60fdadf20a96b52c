"""The functions' EMF metrics (jobs_platform.metrics) and what Terraform watches: the
monitoring module's alarms and dashboard name the same namespace, dimension and metrics."""

from __future__ import annotations

import re
from pathlib import Path

import hcl2

from jobs_platform import metrics

MODULE = Path(__file__).resolve().parents[2] / "terraform" / "modules" / "monitoring"


def _variable_default(name: str) -> object:
    with (MODULE / "variables.tf").open() as handle:
        blocks = hcl2.load(handle)["variable"]
    return next(block[name]["default"] for block in blocks if name in block)


def test_namespace_is_the_one_the_functions_publish_to() -> None:
    assert _variable_default("job_metrics_namespace") == metrics.NAMESPACE


def test_every_job_metric_terraform_reads_is_one_the_functions_publish() -> None:
    source = (MODULE / "alarms.tf").read_text() + (MODULE / "dashboard.tf").read_text()
    named = set(re.findall(r'"((?:Jobs|Job|QueueWait|Submit)[A-Za-z]*)"', source))
    named |= set(re.findall(r'MetricName=\\"([A-Za-z]+)\\"', source))
    assert named, "no job metric found in the monitoring module"
    assert named <= set(metrics.METRIC_NAMES), sorted(named - set(metrics.METRIC_NAMES))
    # The alarms and widgets select the service's series by its Service dimension.
    assert "Service = var.name" in source and metrics.SERVICE_DIMENSION == "Service"
    assert f"{{${{local.ns}},{metrics.SERVICE_DIMENSION},{metrics.JOB_TYPE_DIMENSION}}}" in source


def test_the_service_dimension_the_functions_use_is_the_one_the_alarms_select() -> None:
    from tests.contract.terraform_source import module_block, root_locals

    root = Path(__file__).resolve().parents[2]
    functions = root_locals()["functions"]
    for name in ("api", "worker"):
        assert functions[name]["environment"]["SERVICE_NAME"] == "${local.name_prefix}"
    monitoring = module_block(root / "main.tf", "monitoring")
    assert monitoring["name"] == "${local.name_prefix}"
