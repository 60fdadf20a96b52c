"""CKV_JP_7: every CloudFront distribution (the edge) is protected by a WAFv2 web ACL."""

from __future__ import annotations

from typing import Any

from jp_common import first, is_set

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class CloudFrontHasWebAcl(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure every CloudFront distribution is associated with a WAFv2 web ACL",
            id="CKV_JP_7",
            categories=[CheckCategories.NETWORKING],
            supported_resources=["aws_cloudfront_distribution"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        return CheckResult.PASSED if is_set(first(conf, "web_acl_id")) else CheckResult.FAILED


check = CloudFrontHasWebAcl()
