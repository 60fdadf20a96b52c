variable "name" {
  description = "API name (`<name_prefix>`); also names the authorizer and access log group."
  type        = string
}

variable "functions" {
  description = "Integration targets: logical function key -> Lambda function name and invoke ARN."
  type = map(object({
    function_name = string
    invoke_arn    = string
  }))
}

variable "routes" {
  description = "Routes: route key (e.g. 'GET /health', '$default') -> target function key and whether it needs an API key (the authorizer). With origin_verify_header set, the other routes get the origin-only authorizer."
  type = map(object({
    function   = string
    authorized = bool
  }))

  validation {
    condition     = alltrue([for k in keys(var.routes) : k == "$default" || can(regex("^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) /", k))])
    error_message = "Route keys must be '$default' or '<METHOD> /path'."
  }

  validation {
    condition     = alltrue([for r in values(var.routes) : contains(keys(var.functions), r.function)])
    error_message = "Every route's function must be a key of var.functions."
  }
}

variable "authorizer" {
  description = "The Lambda REQUEST authorizer function (payload 2.0, simple responses, identity source x-api-key)."
  type = object({
    function_name = string
    invoke_arn    = string
  })
}

variable "origin_verify_header" {
  description = "Header (lowercase) CloudFront adds with the origin-verify secret, when an edge is in front of the API: every route then requires it (see main.tf). null: no edge, routes without an API key are open."
  type        = string
  default     = null

  validation {
    condition     = var.origin_verify_header == null || can(regex("^[a-z0-9-]{1,64}$", var.origin_verify_header))
    error_message = "origin_verify_header must be null or a lowercase header name (letters, digits, '-')."
  }
}

variable "authorizer_result_ttl_seconds" {
  description = "How long API Gateway caches an authorizer decision per x-api-key (0 disables caching; revocation takes effect after at most this long)."
  type        = number
  default     = 60

  validation {
    condition     = var.authorizer_result_ttl_seconds >= 0 && var.authorizer_result_ttl_seconds <= 3600
    error_message = "authorizer_result_ttl_seconds must be between 0 and 3600."
  }
}

variable "integration_timeout_milliseconds" {
  description = "Integration timeout (HTTP APIs allow 50-30000 ms)."
  type        = number
  default     = 29000

  validation {
    condition     = var.integration_timeout_milliseconds >= 50 && var.integration_timeout_milliseconds <= 30000
    error_message = "integration_timeout_milliseconds must be between 50 and 30000."
  }
}

variable "throttling_burst_limit" {
  description = "Stage default burst limit (requests)."
  type        = number
  default     = 100

  validation {
    condition     = var.throttling_burst_limit >= 0
    error_message = "throttling_burst_limit must be >= 0."
  }
}

variable "throttling_rate_limit" {
  description = "Stage default steady-state rate limit (requests per second)."
  type        = number
  default     = 50

  validation {
    condition     = var.throttling_rate_limit >= 0
    error_message = "throttling_rate_limit must be >= 0."
  }
}

variable "log_retention_days" {
  description = "Retention of the access log group."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting the access log group (its key policy must allow CloudWatch Logs); null: service default."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the API, stage and log group (provider default_tags come on top)."
  type        = map(string)
  default     = {}
}
