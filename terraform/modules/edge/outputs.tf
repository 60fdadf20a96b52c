output "cloudfront_distribution_id" {
  description = "ID of the CloudFront distribution (for invalidations and metrics)."
  value       = aws_cloudfront_distribution.this.id
}

output "cloudfront_distribution_arn" {
  description = "ARN of the CloudFront distribution."
  value       = aws_cloudfront_distribution.this.arn
}

output "cloudfront_distribution_domain_name" {
  description = "Domain name of the distribution (`<id>.cloudfront.net`): the public base URL is `https://<this>`."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "cloudfront_distribution_hosted_zone_id" {
  description = "Route 53 hosted zone ID of CloudFront, for an alias record if a custom domain is added later."
  value       = aws_cloudfront_distribution.this.hosted_zone_id
}

output "wafv2_web_acl_arn" {
  description = "ARN of the WAFv2 web ACL (scope CLOUDFRONT, us-east-1)."
  value       = aws_wafv2_web_acl.this.arn
}

output "wafv2_web_acl_name" {
  description = "Name of the WAFv2 web ACL (the WebACL dimension of its CloudWatch metrics, region us-east-1)."
  value       = aws_wafv2_web_acl.this.name
}

output "cloudwatch_log_group_name" {
  description = "Name of the WAF log group (us-east-1)."
  value       = aws_cloudwatch_log_group.waf.name
}

output "kms_key_arn" {
  description = "ARN of the us-east-1 KMS key encrypting the WAF log group."
  value       = aws_kms_key.waf_logs.arn
}

output "secretsmanager_secret_arn" {
  description = "ARN of the origin-verify secret (the authorizer's ORIGIN_VERIFY_SECRET_ARN); its value is never output."
  value       = aws_secretsmanager_secret.origin_verify.arn
}

output "origin_verify_header_name" {
  description = "Name of the header CloudFront sends with the origin-verify secret."
  value       = var.origin_verify_header_name
}
