variable "name" {
  description = "Function name (`<name_prefix>-<function>`); also names its role and log group."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1-64 characters of letters, digits, '_' or '-' (IAM role name limit)."
  }
}

variable "description" {
  description = "Function description."
  type        = string
  default     = ""
}

variable "zip_path" {
  description = "Path of the deployment zip built by `make package` (`dist/lambda/<function>.zip`)."
  type        = string
}

variable "source_code_hash" {
  description = "Base64 SHA-256 of the zip, from dist/artifacts.tfvars.json (changes trigger a code update)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.source_code_hash))
    error_message = "source_code_hash must be a base64-encoded SHA-256 (44 characters): run 'make package'."
  }
}

variable "handler" {
  description = "Python handler, e.g. jobs_platform.handlers.api.handler."
  type        = string
}

variable "runtime" {
  description = "Lambda runtime, e.g. python3.12 (the root module states it once; `make package` builds for the same Python)."
  type        = string

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.12 or python3.13."
  }
}

variable "timeout_seconds" {
  description = "Function timeout in seconds."
  type        = number
  default     = 10

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 1 and 900."
  }
}

variable "memory_mb" {
  description = "Memory in MB (CPU scales with it)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb must be between 128 and 10240."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions (-1: unreserved; 0 throttles the function)."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrency >= -1
    error_message = "reserved_concurrency must be -1 (unreserved) or a non-negative number."
  }
}

variable "environment_variables" {
  description = "Environment variables of the function (the names the handlers read, see docs/architecture.md)."
  type        = map(string)
  default     = {}
}

variable "policy_statements" {
  description = "Least-privilege IAM statements for the function's role (log and X-Ray writes are added by the module)."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.policy_statements : !contains(s.actions, "*") && length(s.resources) > 0])
    error_message = "Each policy statement needs explicit actions (no '*') and at least one resource."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "log_format" {
  description = "Lambda log format: JSON (structured; Lambda filters nothing, the code filters by its own level) or Text."
  type        = string
  default     = "JSON"

  validation {
    condition     = contains(["JSON", "Text"], var.log_format)
    error_message = "log_format must be JSON or Text."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting the log group (its key policy must allow CloudWatch Logs); null: service default."
  type        = string
  default     = null
}

variable "sqs_event_source" {
  description = "Optional SQS event source mapping (partial batch responses are always on); also grants the consume actions on the queue."
  type = object({
    queue_arn                          = string
    batch_size                         = optional(number, 10)
    maximum_batching_window_in_seconds = optional(number, 0)
    maximum_concurrency                = optional(number)
  })
  default = null

  validation {
    condition     = var.sqs_event_source == null || try(var.sqs_event_source.batch_size >= 1 && var.sqs_event_source.batch_size <= 10000, false)
    error_message = "sqs_event_source.batch_size must be between 1 and 10000 (above 10 needs a batching window)."
  }

  validation {
    condition     = var.sqs_event_source == null || try(var.sqs_event_source.batch_size <= 10 || var.sqs_event_source.maximum_batching_window_in_seconds >= 1, false)
    error_message = "A batch_size above 10 needs maximum_batching_window_in_seconds >= 1."
  }

  validation {
    condition     = var.sqs_event_source == null || try(var.sqs_event_source.maximum_batching_window_in_seconds >= 0 && var.sqs_event_source.maximum_batching_window_in_seconds <= 300, false)
    error_message = "sqs_event_source.maximum_batching_window_in_seconds must be between 0 and 300."
  }
}

variable "schedule" {
  description = "Optional EventBridge Scheduler schedule invoking the function (an `expression` such as rate(5 minutes)); creates the schedule and the role it invokes the function with (permissions_boundary_arn applies to it too)."
  type = object({
    expression  = string
    description = optional(string, "")
  })
  default = null

  validation {
    condition     = var.schedule == null || can(regex("^(rate\\(1 minute\\)|rate\\([1-9][0-9]* minutes\\)|rate\\([1-9][0-9]* hours?\\)|cron\\(.+\\))$", var.schedule.expression))
    error_message = "schedule.expression must be rate(1 minute), rate(N minutes), rate(N hours) or cron(...)."
  }
}

variable "tags" {
  description = "Tags for the function, role and log group (provider default_tags come on top)."
  type        = map(string)
  default     = {}
}

variable "alarm_topic_arn" {
  description = "SNS topic for the function's alarms (alarm and OK actions); null: alarms without actions."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN (arn:aws:sns:...) or null."
  }
}

variable "throttles_alarm_threshold" {
  description = "Throttled invocations in 5 minutes above which the throttles alarm fires (0: any throttle)."
  type        = number
  default     = 0

  validation {
    condition     = var.throttles_alarm_threshold >= 0
    error_message = "throttles_alarm_threshold must be >= 0."
  }
}

variable "duration_alarm_timeout_ratio" {
  description = "The duration alarm fires when p99 duration reaches this fraction of the timeout (e.g. 0.8 = 80%)."
  type        = number
  default     = 0.8

  validation {
    condition     = var.duration_alarm_timeout_ratio > 0 && var.duration_alarm_timeout_ratio <= 1
    error_message = "duration_alarm_timeout_ratio must be in (0, 1]: a fraction of timeout_seconds."
  }
}

variable "permissions_boundary_arn" {
  description = "ARN of the permissions boundary the role carries (the bootstrap stack's PermissionsBoundary: the deploy role may create no role without it); null: none (a caller without the bootstrap guardrails)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM policy ARN (arn:aws:iam::<account>:policy/...) or null."
  }
}
