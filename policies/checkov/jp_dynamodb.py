"""CKV_JP_2..4: every DynamoDB table has TTL, point-in-time recovery and SSE with a CMK."""

from __future__ import annotations

from typing import Any

from jp_common import block, is_set, is_true

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class DynamoDBTableHasTtl(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure every DynamoDB table has TTL enabled on an attribute",
            id="CKV_JP_2",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_dynamodb_table"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        ttl = block(conf, "ttl")
        if ttl and is_true(ttl.get("enabled")) and is_set(ttl.get("attribute_name")):
            return CheckResult.PASSED
        return CheckResult.FAILED


class DynamoDBTableHasPitr(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure every DynamoDB table has point-in-time recovery enabled",
            id="CKV_JP_3",
            categories=[CheckCategories.BACKUP_AND_RECOVERY],
            supported_resources=["aws_dynamodb_table"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        pitr = block(conf, "point_in_time_recovery")
        return CheckResult.PASSED if pitr and is_true(pitr.get("enabled")) else CheckResult.FAILED


class DynamoDBTableHasCmk(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure every DynamoDB table is encrypted with a customer-managed KMS key",
            id="CKV_JP_4",
            categories=[CheckCategories.ENCRYPTION],
            supported_resources=["aws_dynamodb_table"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        sse = block(conf, "server_side_encryption")
        if sse and is_true(sse.get("enabled")) and is_set(sse.get("kms_key_arn")):
            return CheckResult.PASSED
        return CheckResult.FAILED


ttl_check = DynamoDBTableHasTtl()
pitr_check = DynamoDBTableHasPitr()
cmk_check = DynamoDBTableHasCmk()
