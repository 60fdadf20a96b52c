from __future__ import annotations

from jobs_platform import schema


def test_jobs_table_key_attributes_include_the_status_index() -> None:
    assert schema.JOBS_TABLE.key_attributes == ("pk", "sk", "tenant_status")
    assert schema.JOBS_TABLE.indexes[0].name == "status-index"


def test_api_keys_table_has_only_a_partition_key() -> None:
    assert schema.API_KEYS_TABLE.key_attributes == ("pk",)


def test_key_builders_use_the_documented_prefixes() -> None:
    assert schema.tenant_pk("t") == "TENANT#t"
    assert schema.job_sk("J") == "JOB#J"
    assert schema.idempotency_sk("h") == "IDEMPOTENCY#h"
    assert schema.quota_sk("2025-01-31") == "QUOTA#2025-01-31"
    assert schema.session_sk("s") == "SESSION#s"
    assert schema.api_key_pk("h") == "KEY#h"
    assert schema.tenant_status("t", "queued") == "t#queued"
