variable "name" {
  description = "Name prefix (`<project>-<environment>`): names the distribution comment, web ACL, WAF log group, secret and key alias."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9-]{1,100}$", var.name))
    error_message = "name must be 1-100 letters, digits or '-' (it is used in WAF metric and log group names)."
  }
}

variable "origin_domain_name" {
  description = "Domain name of the origin, the HTTP API's execute-api host (no scheme, no path), e.g. abc123.execute-api.eu-west-1.amazonaws.com."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*[a-z0-9]$", var.origin_domain_name))
    error_message = "origin_domain_name must be a bare host name: strip 'https://' and any path (e.g. trimprefix(api_endpoint, \"https://\"))."
  }
}

variable "origin_verify_header_name" {
  description = "Name of the custom header CloudFront adds to every origin request with the origin-verify secret; the API's authorizer checks it."
  type        = string
  default     = "x-origin-verify"

  validation {
    condition     = can(regex("^[a-z0-9-]{1,64}$", var.origin_verify_header_name)) && !startswith(var.origin_verify_header_name, "x-amz-") && !startswith(var.origin_verify_header_name, "x-edge-")
    error_message = "origin_verify_header_name must be a lowercase header name (letters, digits, '-'), not starting with x-amz- or x-edge- (CloudFront reserves them)."
  }
}

variable "origin_verify_secret_version" {
  description = "Version of the generated origin-verify value: bump it (e.g. 1 -> 2) to rotate. Terraform writes a new random value, CloudFront gets it in the same apply, and the authorizer accepts the current and previous values meanwhile."
  type        = number
  default     = 1

  validation {
    condition     = var.origin_verify_secret_version >= 1 && floor(var.origin_verify_secret_version) == var.origin_verify_secret_version
    error_message = "origin_verify_secret_version must be a whole number >= 1; increase it to rotate the secret."
  }
}

variable "origin_verify_secret_length" {
  description = "Length of the generated origin-verify value (letters and digits only, so it is a valid header value)."
  type        = number
  default     = 64

  validation {
    condition     = var.origin_verify_secret_length >= 32 && var.origin_verify_secret_length <= 256
    error_message = "origin_verify_secret_length must be between 32 and 256."
  }
}

variable "secret_kms_key_arn" {
  description = "ARN of the customer-managed KMS key (the stack's region) that encrypts the origin-verify secret. Whoever reads the secret needs kms:Decrypt on it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.secret_kms_key_arn))
    error_message = "secret_kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "secret_recovery_window_days" {
  description = "Days Secrets Manager keeps the origin-verify secret after deletion (0: delete at once, 7-30: recoverable)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "price_class" {
  description = "CloudFront price class: PriceClass_100 (North America, Europe), PriceClass_200 or PriceClass_All."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "origin_read_timeout_seconds" {
  description = "How long CloudFront waits for the API's response (the HTTP API gives up after 30 s)."
  type        = number
  default     = 30

  validation {
    condition     = var.origin_read_timeout_seconds >= 1 && var.origin_read_timeout_seconds <= 60
    error_message = "origin_read_timeout_seconds must be between 1 and 60 (above 60 needs a CloudFront quota increase)."
  }
}

variable "rate_limit_per_5_minutes" {
  description = "WAF rate-based rule: requests per client IP in any 5-minute window before WAF answers 429 (AWS minimum 10)."
  type        = number
  default     = 2000

  validation {
    condition     = var.rate_limit_per_5_minutes >= 10 && var.rate_limit_per_5_minutes <= 2000000000 && floor(var.rate_limit_per_5_minutes) == var.rate_limit_per_5_minutes
    error_message = "rate_limit_per_5_minutes must be a whole number between 10 (the AWS WAF minimum) and 2000000000."
  }
}

variable "rate_limit_per_api_key_per_5_minutes" {
  description = "WAF rate-based rule keyed on the x-api-key header: requests per API key in any 5-minute window before WAF answers 429 (AWS minimum 10). Requests without the header are not counted by it (the per-IP rule still is)."
  type        = number
  default     = 1000

  validation {
    condition     = var.rate_limit_per_api_key_per_5_minutes >= 10 && var.rate_limit_per_api_key_per_5_minutes <= 2000000000 && floor(var.rate_limit_per_api_key_per_5_minutes) == var.rate_limit_per_api_key_per_5_minutes
    error_message = "rate_limit_per_api_key_per_5_minutes must be a whole number between 10 (the AWS WAF minimum) and 2000000000."
  }
}

variable "common_rule_set_count_rules" {
  description = "Rules of AWSManagedRulesCommonRuleSet switched from block to count. SizeRestrictions_BODY is in by default: it blocks bodies over 8 KB, and the API accepts up to 64 KiB (it answers 413 itself)."
  type        = list(string)
  default     = ["SizeRestrictions_BODY"]
}

variable "log_retention_days" {
  description = "Retention of the WAF log group."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "log_allowed_requests" {
  description = "Log every request WAF sees (true) or only those a rule blocked or counted (false: cheaper, less forensic detail)."
  type        = bool
  default     = true
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the us-east-1 key of the WAF log group is deleted after destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "tags" {
  description = "Tags for every resource (provider default_tags come on top)."
  type        = map(string)
  default     = {}
}
