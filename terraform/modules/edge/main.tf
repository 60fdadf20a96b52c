data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  origin_id = "http-api"

  # AWS managed CloudFront policies, by their documented fixed IDs (the same in every
  # account; IDs rather than name lookups keep plans free of extra API reads):
  # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html
  managed_cache_policy_caching_disabled = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" # Managed-CachingDisabled
  # All viewer headers, cookies and query strings except Host (the origin is addressed by
  # its own host name): x-api-key, Idempotency-Key, If-Match, content-type, x-request-id...
  managed_origin_request_policy_all_viewer_except_host = "b689b0a8-53d0-40ab-baf2-68738e2966ac" # Managed-AllViewerExceptHostHeader
  managed_response_headers_policy_security_headers     = "67f7725c-6f97-4210-82d7-5512b31e9d03" # Managed-SecurityHeadersPolicy (HSTS, nosniff, ...)
}

# ---------------------------------------------------------------------------------------
# Origin-verify secret. Secrets Manager generates the value (GetRandomPassword, through
# the data source: no random provider). The data source yields a new value on every
# plan; the secret version ignores that (ignore_changes), so there is no perpetual diff,
# and writes a new value only when origin_verify_secret_version changes (terraform_data
# is Terraform's built-in provider). CloudFront's origin custom header cannot be
# write-only, so the value necessarily lives in state (the distribution's and the secret
# version's): the state is in the S3 backend, SSE-KMS, readable only by the deploy roles.
# Not chosen: ephemeral "aws_secretsmanager_random_password" + secret_string_wo, because
# Terraform 1.11's mock providers cannot mock ephemeral resources, which would break every
# `terraform test` that plans an environment with the edge on (and the value would be in
# the distribution's state anyway).
# ---------------------------------------------------------------------------------------

data "aws_secretsmanager_random_password" "origin_verify" {
  password_length     = var.origin_verify_secret_length
  exclude_punctuation = true
  include_space       = false
}

resource "aws_secretsmanager_secret" "origin_verify" {
  # checkov:skip=CKV2_AWS_57:Rotation is a Terraform change (origin_verify_secret_version in the environment's tfvars): CloudFront's header must change in the same apply, which a rotation Lambda cannot do; scripts/origin_secret.py then revokes AWSPREVIOUS (docs/deploying.md).
  name                    = "${var.name}/edge/origin-verify"
  description             = "${var.name}: value of the ${var.origin_verify_header_name} header CloudFront sends to the HTTP API; the authorizer refuses requests without it."
  kms_key_id              = var.secret_kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

resource "terraform_data" "origin_verify_version" {
  input = var.origin_verify_secret_version
}

resource "aws_secretsmanager_secret_version" "origin_verify" {
  secret_id     = aws_secretsmanager_secret.origin_verify.id
  secret_string = data.aws_secretsmanager_random_password.origin_verify.random_password

  lifecycle {
    # A new value only on rotation (a new origin_verify_secret_version). Creating the new
    # version first moves AWSCURRENT to it and AWSPREVIOUS to the old one; deleting the
    # old resource then leaves the old version as AWSPREVIOUS (the authorizer accepts
    # both while CloudFront deploys the new header).
    ignore_changes        = [secret_string]
    replace_triggered_by  = [terraform_data.origin_verify_version]
    create_before_destroy = true
  }
}

# ---------------------------------------------------------------------------------------
# CloudFront distribution in front of the HTTP API.
# ---------------------------------------------------------------------------------------

resource "aws_cloudfront_distribution" "this" {
  # checkov:skip=CKV2_AWS_32:The AWS managed SecurityHeadersPolicy is attached (default_cache_behavior.response_headers_policy_id, by its fixed ID); the check only sees a reference to a policy resource or data source, and that data source would call CloudFront at plan time.
  # checkov:skip=CKV2_AWS_47:The web ACL runs AWSManagedRulesKnownBadInputsRuleSet (the Log4j AMR) through a dynamic rule block checkov cannot evaluate; terraform/modules/edge/tests/edge.tftest.hcl asserts it.
  # checkov:skip=CKV_AWS_174:The default *.cloudfront.net certificate pins the viewer minimum protocol to TLSv1 (AWS ignores minimum_protocol_version for it); TLSv1.2_2021 needs a custom domain + ACM certificate, which the blueprint cannot assume (docs/architecture.md "Edge").
  # checkov:skip=CKV2_AWS_42:No custom domain/certificate is assumed (as for CKV_AWS_174); the default CloudFront certificate is used.
  # checkov:skip=CKV_AWS_86:No CloudFront access logs: WAF logs every request at the edge (all headers, secrets redacted) and the API stage logs every request at the origin; a third copy would need an ACL-enabled S3 bucket.
  # checkov:skip=CKV_AWS_310:Single origin by design (the regional HTTP API); origin failover needs a second region's API.
  # checkov:skip=CKV_AWS_374:No geo restriction: the API serves clients wherever they are; WAF IP reputation and rate rules apply instead.
  # checkov:skip=CKV_AWS_305:An API distribution has no default root object.
  enabled         = true
  comment         = "${var.name}: edge (WAF) in front of the HTTP API"
  price_class     = var.price_class
  http_version    = "http2and3"
  is_ipv6_enabled = true
  web_acl_id      = aws_wafv2_web_acl.this.arn

  origin {
    origin_id   = local.origin_id
    domain_name = var.origin_domain_name

    custom_origin_config {
      http_port                = 80
      https_port               = 443
      origin_protocol_policy   = "https-only"
      origin_ssl_protocols     = ["TLSv1.2"]
      origin_read_timeout      = var.origin_read_timeout_seconds
      origin_keepalive_timeout = 5
    }

    # CloudFront overwrites a viewer-sent header of the same name, so a client cannot
    # forge it through the distribution.
    custom_header {
      name  = var.origin_verify_header_name
      value = aws_secretsmanager_secret_version.origin_verify.secret_string
    }
  }

  default_cache_behavior {
    target_origin_id           = local.origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    cached_methods             = ["GET", "HEAD"]
    cache_policy_id            = local.managed_cache_policy_caching_disabled
    origin_request_policy_id   = local.managed_origin_request_policy_all_viewer_except_host
    response_headers_policy_id = local.managed_response_headers_policy_security_headers
    compress                   = false
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }

  tags = var.tags
}
