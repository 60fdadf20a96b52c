# terraform test (mock providers, no AWS account): the edge module's shape and its
# input validations. Run: terraform init -backend=false && terraform test
mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
}

mock_provider "aws" {
  alias = "us_east_1"
}

variables {
  name                     = "jobs-platform-test"
  origin_domain_name       = "abc123.execute-api.eu-west-1.amazonaws.com"
  secret_kms_key_arn       = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  rate_limit_per_5_minutes = 500

  rate_limit_per_api_key_per_5_minutes = 300
}

run "web_acl_is_cloudfront_scoped_with_managed_groups_and_rate_rule" {
  command = plan

  assert {
    condition     = aws_wafv2_web_acl.this.scope == "CLOUDFRONT"
    error_message = "The web ACL must have scope CLOUDFRONT."
  }

  assert {
    condition = toset([for r in aws_wafv2_web_acl.this.rule : r.name]) == toset([
      "rate-limit-per-ip", "rate-limit-per-api-key", "ip-reputation", "common-rule-set", "known-bad-inputs",
    ])
    error_message = "The web ACL must have the two rate rules and the three AWS managed rule groups."
  }

  assert {
    condition = toset(flatten([
      for r in aws_wafv2_web_acl.this.rule : [
        for s in r.statement : [for m in s.managed_rule_group_statement : m.name]
      ]
      ])) == toset([
      "AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
    ])
    error_message = "Managed rule groups must be IP reputation, common rule set and known bad inputs."
  }

  assert {
    condition = flatten([
      for r in aws_wafv2_web_acl.this.rule : [
        for s in r.statement : [for b in s.rate_based_statement : [b.limit, b.aggregate_key_type]]
      ] if r.name == "rate-limit-per-ip"
    ]) == [500, "IP"]
    error_message = "The per-IP rule must aggregate by client IP with rate_limit_per_5_minutes."
  }

  assert {
    condition = flatten([
      for r in aws_wafv2_web_acl.this.rule : [
        for s in r.statement : [
          for b in s.rate_based_statement : [
            b.limit, b.aggregate_key_type, [for k in b.custom_key : [for h in k.header : h.name]],
          ]
        ]
      ] if r.name == "rate-limit-per-api-key"
    ]) == [300, "CUSTOM_KEYS", "x-api-key"]
    error_message = "The per-key rule must aggregate on the x-api-key header with rate_limit_per_api_key_per_5_minutes."
  }

  assert {
    condition = alltrue(flatten([
      for r in aws_wafv2_web_acl.this.rule : [
        for a in r.action : [for b in a.block : [for c in b.custom_response : c.response_code == 429]]
      ] if startswith(r.name, "rate-limit-")
    ]))
    error_message = "Both rate rules answer 429."
  }

  assert {
    condition = alltrue(concat(
      [for r in aws_wafv2_web_acl.this.rule : r.visibility_config[0].cloudwatch_metrics_enabled && r.visibility_config[0].sampled_requests_enabled],
      [aws_wafv2_web_acl.this.visibility_config[0].cloudwatch_metrics_enabled],
    ))
    error_message = "Every rule and the web ACL must have CloudWatch metrics and sampled requests on."
  }
}

run "waf_logs_go_to_an_encrypted_log_group_with_secrets_redacted" {
  command = plan

  assert {
    condition     = aws_cloudwatch_log_group.waf.name == "aws-waf-logs-jobs-platform-test"
    error_message = "The WAF log group must be named aws-waf-logs-<name>."
  }

  assert {
    condition     = aws_cloudwatch_log_group.waf.retention_in_days == 30
    error_message = "The WAF log group must have a retention."
  }

  assert {
    condition     = aws_kms_key.waf_logs.enable_key_rotation
    error_message = "The WAF log group's key must rotate."
  }

  assert {
    condition = toset([
      for f in aws_wafv2_web_acl_logging_configuration.this.redacted_fields : f.single_header[0].name
    ]) == toset(["x-api-key", "x-origin-verify"])
    error_message = "WAF logs must redact x-api-key and x-origin-verify."
  }

  assert {
    condition     = length(aws_wafv2_web_acl_logging_configuration.this.logging_filter) == 0
    error_message = "By default every request is logged (no logging filter)."
  }
}

run "distribution_forwards_to_the_api_over_tls12_without_caching" {
  command = plan

  assert {
    condition     = one(aws_cloudfront_distribution.this.origin).domain_name == "abc123.execute-api.eu-west-1.amazonaws.com"
    error_message = "The origin must be the HTTP API's host."
  }

  assert {
    condition     = one(one(aws_cloudfront_distribution.this.origin).custom_origin_config).origin_protocol_policy == "https-only"
    error_message = "CloudFront must reach the API over HTTPS only."
  }

  assert {
    condition     = one(one(aws_cloudfront_distribution.this.origin).custom_origin_config).origin_ssl_protocols == toset(["TLSv1.2"])
    error_message = "CloudFront must reach the API with TLSv1.2."
  }

  assert {
    condition     = [for h in one(aws_cloudfront_distribution.this.origin).custom_header : h.name] == ["x-origin-verify"]
    error_message = "CloudFront must send the x-origin-verify header."
  }

  assert {
    condition     = aws_cloudfront_distribution.this.default_cache_behavior[0].cache_policy_id == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    error_message = "Caching must be disabled (Managed-CachingDisabled)."
  }

  assert {
    condition     = aws_cloudfront_distribution.this.default_cache_behavior[0].origin_request_policy_id == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    error_message = "All viewer headers except Host must reach the API (Managed-AllViewerExceptHostHeader)."
  }

  assert {
    condition     = length(aws_cloudfront_distribution.this.default_cache_behavior[0].allowed_methods) == 7
    error_message = "All HTTP methods must be allowed."
  }

  assert {
    condition     = aws_cloudfront_distribution.this.default_cache_behavior[0].viewer_protocol_policy == "redirect-to-https"
    error_message = "Viewers must be redirected to HTTPS."
  }

  assert {
    condition     = aws_secretsmanager_secret.origin_verify.kms_key_id == var.secret_kms_key_arn
    error_message = "The origin-verify secret must be encrypted with the given CMK."
  }

  assert {
    condition     = terraform_data.origin_verify_version.input == 1
    error_message = "The secret value's version (rotation trigger) is origin_verify_secret_version."
  }
}

run "blocked_only_logging_adds_a_filter" {
  command = plan

  variables {
    log_allowed_requests = false
  }

  assert {
    condition     = one(aws_wafv2_web_acl_logging_configuration.this.logging_filter).default_behavior == "DROP"
    error_message = "With log_allowed_requests = false, only blocked and counted requests are kept."
  }
}

run "rate_limit_below_the_aws_minimum_is_rejected" {
  command = plan

  variables {
    rate_limit_per_5_minutes = 9
  }

  expect_failures = [var.rate_limit_per_5_minutes]
}

run "per_key_rate_limit_below_the_aws_minimum_is_rejected" {
  command = plan

  variables {
    rate_limit_per_api_key_per_5_minutes = 9
  }

  expect_failures = [var.rate_limit_per_api_key_per_5_minutes]
}

run "origin_with_a_scheme_is_rejected" {
  command = plan

  variables {
    origin_domain_name = "https://abc123.execute-api.eu-west-1.amazonaws.com"
  }

  expect_failures = [var.origin_domain_name]
}

run "unknown_price_class_is_rejected" {
  command = plan

  variables {
    price_class = "PriceClass_Cheap"
  }

  expect_failures = [var.price_class]
}
