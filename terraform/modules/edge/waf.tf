# WAFv2 web ACL for CloudFront (scope CLOUDFRONT: must be created in us-east-1), its
# logging to CloudWatch Logs in us-east-1, and a us-east-1 KMS key for that log group
# (KMS keys are regional: the stack's key cannot encrypt a us-east-1 log group unless
# the stack itself is in us-east-1, and a module that works in any region gets its own).

locals {
  waf_log_group_name = "aws-waf-logs-${var.name}" # WAF requires the aws-waf-logs- prefix
  waf_log_group_arn  = "arn:${data.aws_partition.current.partition}:logs:us-east-1:${data.aws_caller_identity.current.account_id}:log-group:${local.waf_log_group_name}"

  # Managed rule groups (vendor AWS), in evaluation order after the rate rule.
  managed_rule_groups = {
    "ip-reputation"    = { priority = 10, rule_group = "AWSManagedRulesAmazonIpReputationList", count_rules = [] }
    "common-rule-set"  = { priority = 30, rule_group = "AWSManagedRulesCommonRuleSet", count_rules = var.common_rule_set_count_rules }
    "known-bad-inputs" = { priority = 40, rule_group = "AWSManagedRulesKnownBadInputsRuleSet", count_rules = [] }
  }

  # The header clients send their API key in (the authorizer's API_KEY_HEADER).
  api_key_header = "x-api-key"

  # Never logged: the client's API key and the origin-verify secret.
  redacted_headers = [local.api_key_header, var.origin_verify_header_name]
}

data "aws_iam_policy_document" "waf_logs_kms" {
  # checkov:skip=CKV_AWS_109:A KMS key policy's Resource "*" is this key only; the account-root statement is AWS's default key policy, without it the key becomes unmanageable.
  # checkov:skip=CKV_AWS_111:Same key policy: Resource "*" means this key; the CloudWatch Logs statement is scoped by an encryption-context condition.
  # checkov:skip=CKV_AWS_356:Same key policy: in a key policy Resource must be "*" (it can only refer to the key itself).
  statement {
    # The account's IAM policies decide who uses the key (the default key policy).
    sid       = "AccountAdministersKeyViaIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    # CloudWatch Logs (us-east-1) encrypts the WAF log group only.
    sid       = "CloudWatchLogsEncryptsWafLogGroup"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.us-east-1.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = [local.waf_log_group_arn]
    }
  }
}

resource "aws_kms_key" "waf_logs" {
  provider = aws.us_east_1

  description             = "${var.name}: WAF log group (us-east-1)"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.waf_logs_kms.json

  tags = var.tags
}

resource "aws_kms_alias" "waf_logs" {
  provider = aws.us_east_1

  name          = "alias/${var.name}-waf-logs"
  target_key_id = aws_kms_key.waf_logs.key_id
}

resource "aws_cloudwatch_log_group" "waf" {
  # checkov:skip=CKV_AWS_338:Retention is chosen per environment (log_retention_days: dev 14, staging 30, prod 90 days), like every log group of the stack.
  provider = aws.us_east_1

  name              = local.waf_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.waf_logs.arn

  tags = var.tags
}

# WAF delivers logs through the log delivery service: allow it on this log group only.
data "aws_iam_policy_document" "waf_logs_delivery" {
  statement {
    sid       = "WafLogDelivery"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.waf.arn}:*"]

    principals {
      type        = "Service"
      identifiers = ["delivery.logs.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:us-east-1:${data.aws_caller_identity.current.account_id}:*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "waf" {
  provider = aws.us_east_1

  policy_name     = "${var.name}-waf-logs"
  policy_document = data.aws_iam_policy_document.waf_logs_delivery.json
}

resource "aws_wafv2_web_acl" "this" {
  # checkov:skip=CKV_AWS_192:The ACL runs AWSManagedRulesKnownBadInputsRuleSet (Log4JRCE included, not overridden) through a dynamic rule block checkov cannot evaluate; terraform/modules/edge/tests/edge.tftest.hcl asserts it.
  provider = aws.us_east_1

  name        = "${var.name}-edge"
  description = "${var.name}: CloudFront in front of the HTTP API"
  scope       = "CLOUDFRONT"

  default_action {
    allow {}
  }

  # Answer rate-limited clients like the API answers errors (RFC 9457 problem JSON).
  custom_response_body {
    key          = "rate-limited"
    content_type = "APPLICATION_JSON"
    content = jsonencode({
      type   = "about:blank"
      title  = "Too Many Requests"
      status = 429
      detail = "Request rate limit exceeded for this client IP; retry later."
    })
  }

  custom_response_body {
    key          = "rate-limited-per-key"
    content_type = "APPLICATION_JSON"
    content = jsonencode({
      type   = "about:blank"
      title  = "Too Many Requests"
      status = 429
      detail = "Request rate limit exceeded for this API key; retry later."
    })
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 20

    action {
      block {
        custom_response {
          response_code            = 429
          custom_response_body_key = "rate-limited"

          response_header {
            name  = "retry-after"
            value = "60"
          }
        }
      }
    }

    statement {
      rate_based_statement {
        limit                 = var.rate_limit_per_5_minutes
        aggregate_key_type    = "IP"
        evaluation_window_sec = 300
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-limit-per-ip"
      sampled_requests_enabled   = true
    }
  }

  # Per API key, wherever the requests come from: one tenant (or one leaked key) spread
  # over many IPs is still one key. WAF aggregates on the raw header value and never logs
  # it (x-api-key is redacted in the logging configuration). Requests without the header
  # are not counted here; the per-IP rule above counts them.
  rule {
    name     = "rate-limit-per-api-key"
    priority = 25

    action {
      block {
        custom_response {
          response_code            = 429
          custom_response_body_key = "rate-limited-per-key"

          response_header {
            name  = "retry-after"
            value = "60"
          }
        }
      }
    }

    statement {
      rate_based_statement {
        limit                 = var.rate_limit_per_api_key_per_5_minutes
        aggregate_key_type    = "CUSTOM_KEYS"
        evaluation_window_sec = 300

        custom_key {
          header {
            name = local.api_key_header

            text_transformation {
              priority = 0
              type     = "NONE"
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-limit-per-api-key"
      sampled_requests_enabled   = true
    }
  }

  dynamic "rule" {
    for_each = local.managed_rule_groups

    content {
      name     = rule.key
      priority = rule.value.priority

      override_action {
        none {}
      }

      statement {
        managed_rule_group_statement {
          vendor_name = "AWS"
          name        = rule.value.rule_group

          dynamic "rule_action_override" {
            for_each = toset(rule.value.count_rules)

            content {
              name = rule_action_override.value

              action_to_use {
                count {}
              }
            }
          }
        }
      }

      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = "${var.name}-${rule.key}"
        sampled_requests_enabled   = true
      }
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-edge"
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  provider = aws.us_east_1

  resource_arn            = aws_wafv2_web_acl.this.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  dynamic "redacted_fields" {
    for_each = toset(local.redacted_headers)

    content {
      single_header {
        name = redacted_fields.value
      }
    }
  }

  # Only when log_allowed_requests is false: keep what a rule blocked or counted.
  dynamic "logging_filter" {
    for_each = var.log_allowed_requests ? [] : ["blocked-and-counted"]

    content {
      default_behavior = "DROP"

      filter {
        behavior    = "KEEP"
        requirement = "MEETS_ANY"

        condition {
          action_condition {
            action = "BLOCK"
          }
        }

        condition {
          action_condition {
            action = "COUNT"
          }
        }
      }
    }
  }

  depends_on = [aws_cloudwatch_log_resource_policy.waf]
}
