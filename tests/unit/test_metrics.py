"""EMF documents: what CloudWatch Logs needs to extract a metric from a log line."""

from __future__ import annotations

import json

import pytest

from jobs_platform import metrics


def test_fields_make_a_valid_emf_document_with_service_and_job_type_dimensions() -> None:
    document = {
        "message": "job succeeded",
        "tenant_id": "t-1",
        **metrics.fields(
            "jobs-platform-prod",
            "echo",
            1_700_000_000_123,
            {metrics.JOBS_SUCCEEDED: 1, metrics.SUBMIT_TO_TERMINAL: 812.5},
        ),
    }
    parsed = json.loads(json.dumps(document))
    directive = parsed["_aws"]["CloudWatchMetrics"][0]
    assert parsed["_aws"]["Timestamp"] == 1_700_000_000_123
    assert directive["Namespace"] == "JobsPlatform"
    assert directive["Dimensions"] == [["Service"], ["Service", "JobType"]]
    assert directive["Metrics"] == [
        {"Name": "JobsSucceeded", "Unit": "Count"},
        {"Name": "SubmitToTerminal", "Unit": "Milliseconds"},
    ]
    # Every dimension and metric is a member of the root with a value of the right type.
    for name in ("Service", "JobType"):
        assert isinstance(parsed[name], str)
    for metric in directive["Metrics"]:
        assert isinstance(parsed[metric["Name"]], int | float)


def test_tenant_is_never_a_dimension() -> None:
    for dimensions in metrics.DIMENSION_SETS:
        assert "tenant_id" not in dimensions and "TenantId" not in dimensions


def test_unknown_metric_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.fields("s", "echo", 0, {"Nope": 1})
