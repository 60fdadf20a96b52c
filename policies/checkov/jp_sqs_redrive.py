"""CKV_JP_1: every SQS queue that is not itself a dead-letter queue has a redrive policy."""

from __future__ import annotations

from typing import Any

from jp_common import as_json, as_number, first, is_set

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

MIN_MAX_RECEIVE_COUNT = 3


def is_dead_letter_queue(conf: dict[str, Any]) -> bool:
    """Our naming rule: a DLQ is named `<queue>-dlq` (and/or its resource is named `dlq`)."""
    name = str(first(conf, "name") or "")
    address = str(conf.get("__address__", ""))
    local_name = address.rsplit(".", 1)[-1].split("[", 1)[0]
    return name.endswith(("-dlq", "_dlq", "-dlq.fifo")) or "dlq" in local_name


class SqsQueueHasRedrivePolicy(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure every SQS queue except a dead-letter queue has a redrive policy "
            f"(dead-letter target and maxReceiveCount >= {MIN_MAX_RECEIVE_COUNT})",
            id="CKV_JP_1",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_sqs_queue"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        if is_dead_letter_queue(conf):
            return CheckResult.PASSED
        raw = first(conf, "redrive_policy")
        if not is_set(raw):
            return CheckResult.FAILED
        policy = as_json(raw)
        if not isinstance(policy, dict):
            # Only known after apply (a plan: the DLQ's ARN is computed): present is enough.
            return CheckResult.PASSED
        if not is_set(policy.get("deadLetterTargetArn")):
            return CheckResult.FAILED
        count = as_number(policy.get("maxReceiveCount"))
        if count is not None and count < MIN_MAX_RECEIVE_COUNT:
            return CheckResult.FAILED
        return CheckResult.PASSED if "maxReceiveCount" in policy else CheckResult.FAILED


check = SqsQueueHasRedrivePolicy()
