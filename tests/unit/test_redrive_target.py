"""scripts/redrive's target: the queues, table and region come from the environment's
Terraform outputs (the names outputs.tf declares), never rebuilt by hand."""

from __future__ import annotations

import io
import json
from pathlib import Path

import hcl2
import pytest
from scripts import redrive

REPO_ROOT = Path(__file__).resolve().parents[2]

OUTPUTS = {
    "jobs_dlq_url": "https://sqs.eu-west-1.amazonaws.com/111122223333/x-jobs-dlq",
    "jobs_queue_url": "https://sqs.eu-west-1.amazonaws.com/111122223333/x-jobs",
    "jobs_table_name": "x-jobs-table",
    "jobs_queue_arn": "arn:aws:sqs:eu-west-1:111122223333:x-jobs",
    "api_endpoint": "https://example.execute-api.eu-west-1.amazonaws.com",
}


def test_a_deployed_target_is_what_terraform_output_says() -> None:
    target = redrive.target_from_outputs(OUTPUTS)
    assert target.dlq_url == OUTPUTS["jobs_dlq_url"]
    assert target.queue_url == OUTPUTS["jobs_queue_url"]
    assert target.table_name == "x-jobs-table"
    assert target.region == "eu-west-1"
    assert target.endpoint is None


def test_outputs_of_an_unapplied_environment_are_a_clear_error() -> None:
    partial = {k: v for k, v in OUTPUTS.items() if k != "jobs_dlq_url"}
    with pytest.raises(SystemExit, match="lack jobs_dlq_url: has the environment been applied"):
        redrive.target_from_outputs(partial)
    with pytest.raises(SystemExit, match="lack jobs_dlq_url, jobs_queue_url"):
        redrive.target_from_outputs({})


def test_the_outputs_it_reads_are_declared_by_the_root_module() -> None:
    with (REPO_ROOT / "outputs.tf").open() as handle:
        declared = {name for block in hcl2.load(handle)["output"] for name in block}
    assert set(redrive.TARGET_OUTPUTS) <= declared


def test_the_outputs_are_read_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make redrive ENV=...` pipes `terraform output -json` in (stops before any AWS call)."""
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"jobs_table_name": {"value": "t"}})))
    with pytest.raises(SystemExit, match="lack jobs_dlq_url, jobs_queue_url, jobs_queue_arn"):
        redrive.main(["--terraform-outputs", "-"])
