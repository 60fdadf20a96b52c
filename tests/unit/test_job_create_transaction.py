"""The create transaction's items (pure): their order is what the cancellation handling
reads the reasons by, and each item conditions what the docs say it does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs_platform import schema
from jobs_platform.jobs import create

NOW = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


def test_items_are_in_the_order_cancellation_reasons_are_read_by() -> None:
    job = create.new_job("t1", "echo", {"a": 1}, NOW, timedelta(days=30))
    idempotency_sk = schema.idempotency_sk("0" * 64)

    items = create.create_transaction("jobs", job, NOW, 10, idempotency_sk, "hash")

    assert len(items) == 3
    quota = items[create._QUOTA_ITEM]["Update"]
    job_put = items[create._JOB_ITEM]["Put"]
    record_put = items[create._IDEMPOTENCY_ITEM]["Put"]
    assert quota["Key"][schema.SORT_KEY] == {"S": schema.quota_sk("2025-01-31")}
    assert "#count < :quota" in quota["ConditionExpression"]
    assert job_put["Item"][schema.SORT_KEY] == {"S": schema.job_sk(job.job_id)}
    assert job_put["Item"]["request_hash"] == {"S": "hash"}
    assert record_put["Item"][schema.SORT_KEY] == {"S": idempotency_sk}
    assert record_put["Item"]["job_id"] == {"S": job.job_id}


def test_without_a_key_there_is_no_idempotency_record() -> None:
    job = create.new_job("t1", "echo", {}, NOW, timedelta(days=30))

    items = create.create_transaction("jobs", job, NOW, 10, None, None)

    assert len(items) == 2
    assert "request_hash" not in items[create._JOB_ITEM]["Put"]["Item"]
