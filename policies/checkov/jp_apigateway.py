"""CKV_JP_5..6: every HTTP API stage has default throttling and JSON access logs."""

from __future__ import annotations

from typing import Any

from jp_common import as_number, block, is_set

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class ApiStageHasThrottling(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure every API Gateway v2 stage sets default route throttling "
            "(burst and rate limits > 0)",
            id="CKV_JP_5",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_apigatewayv2_stage"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        settings = block(conf, "default_route_settings") or {}
        for key in ("throttling_burst_limit", "throttling_rate_limit"):
            value = settings.get(key)
            if not is_set(value):
                return CheckResult.FAILED
            number = as_number(value)
            if number is not None and number <= 0:
                return CheckResult.FAILED
        return CheckResult.PASSED


class ApiStageHasAccessLogs(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure every API Gateway v2 stage writes access logs to a log group",
            id="CKV_JP_6",
            categories=[CheckCategories.LOGGING],
            supported_resources=["aws_apigatewayv2_stage"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        logs = block(conf, "access_log_settings") or {}
        if is_set(logs.get("destination_arn")) and is_set(logs.get("format")):
            return CheckResult.PASSED
        return CheckResult.FAILED


throttling_check = ApiStageHasThrottling()
access_logs_check = ApiStageHasAccessLogs()
