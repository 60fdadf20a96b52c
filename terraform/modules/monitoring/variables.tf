variable "name" {
  description = "Name prefix of the environment (`<project>-<environment>`): names the dashboard and the API and pipe alarms; every alarm allowed to publish to the topic starts with it."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,200}$", var.name))
    error_message = "name must be 1-200 characters of letters, digits, '_' or '-' (a dashboard name)."
  }
}

variable "region" {
  description = "AWS region of the metrics shown on the dashboard (the stack's region)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "sns_topic_name" {
  description = "Name of the alarm topic (the root module computes it once: the CMK's key policy names the topic's ARN)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,256}$", var.sns_topic_name))
    error_message = "sns_topic_name must be 1-256 characters of letters, digits, '_' or '-'."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key encrypting the topic; its key policy must let cloudwatch.amazonaws.com and budgets.amazonaws.com use it (kms:GenerateDataKey*, kms:Decrypt)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "alarm_email_endpoints" {
  description = "Email addresses subscribed to the alarm topic (each must confirm the subscription); empty: no subscriptions."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_email_endpoints : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "Each alarm_email_endpoints entry must be an email address (name@example.com)."
  }
}

variable "api" {
  description = "The HTTP API to watch: its id and stage name (the AWS/ApiGateway dimensions ApiId and Stage)."
  type = object({
    id    = string
    stage = string
  })
}

variable "api_5xx_rate_alarm_threshold" {
  description = "The API 5xx alarm fires when 5xx / requests over 5 minutes exceeds this fraction (0.05 = 5%)."
  type        = number
  default     = 0.05

  validation {
    condition     = var.api_5xx_rate_alarm_threshold > 0 && var.api_5xx_rate_alarm_threshold < 1
    error_message = "api_5xx_rate_alarm_threshold must be a fraction between 0 and 1 (e.g. 0.05)."
  }
}

variable "api_p99_latency_alarm_ms" {
  description = "The API latency alarm fires when p99 latency stays at or above this many milliseconds for 15 minutes."
  type        = number
  default     = 2000

  validation {
    condition     = var.api_p99_latency_alarm_ms >= 1 && var.api_p99_latency_alarm_ms <= 30000
    error_message = "api_p99_latency_alarm_ms must be between 1 and 30000 (the HTTP API integration timeout is 30 s)."
  }
}

variable "pipe_name" {
  description = "Name of the EventBridge pipe to watch (the outbox); null: no pipe alarm or widget."
  type        = string
  default     = null
}

variable "function_names" {
  description = "Lambda functions shown on the dashboard: logical key -> function name (their alarms live in the function module)."
  type        = map(string)
  default     = {}
}

variable "queues" {
  description = "SQS queues shown on the dashboard: logical key -> queue and dead-letter queue names (their alarms live in the queue module)."
  type = map(object({
    queue_name = string
    dlq_name   = string
  }))
  default = {}
}

variable "table_names" {
  description = "DynamoDB tables shown on the dashboard: logical key -> table name (their alarms live in the table module)."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags for the topic and the alarms (provider default_tags come on top)."
  type        = map(string)
  default     = {}
}

variable "job_metrics_namespace" {
  description = "CloudWatch namespace of the functions' EMF business metrics (jobs_platform.metrics.NAMESPACE); their dimension Service is var.name."
  type        = string
  default     = "JobsPlatform"

  validation {
    condition     = can(regex("^[A-Za-z0-9_./#:-]{1,255}$", var.job_metrics_namespace)) && !startswith(var.job_metrics_namespace, "AWS/")
    error_message = "job_metrics_namespace must be 1-255 characters of letters, digits and . - _ / # : and must not start with AWS/."
  }
}

variable "job_failure_rate_alarm_threshold" {
  description = "The jobs failure-rate alarm fires when failed / (succeeded + failed) over 5 minutes exceeds this fraction (0.05 = 5%)."
  type        = number
  default     = 0.05

  validation {
    condition     = var.job_failure_rate_alarm_threshold > 0 && var.job_failure_rate_alarm_threshold < 1
    error_message = "job_failure_rate_alarm_threshold must be a fraction between 0 and 1 (e.g. 0.05)."
  }
}

variable "job_submit_to_terminal_p99_alarm_ms" {
  description = "The submit-to-terminal alarm fires when the p99 time from a job's submit to its final status stays at or above this many milliseconds for 15 minutes."
  type        = number
  default     = 120000

  validation {
    condition     = var.job_submit_to_terminal_p99_alarm_ms >= 1000 && var.job_submit_to_terminal_p99_alarm_ms <= 86400000
    error_message = "job_submit_to_terminal_p99_alarm_ms must be between 1000 (1 s) and 86400000 (1 day)."
  }
}
