variable "name" {
  description = "Queue name; the dead-letter queue is `<name>-dlq`."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,76}$", var.name))
    error_message = "name must be 1-76 characters of letters, digits, '_' or '-' (the DLQ adds '-dlq')."
  }
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the queue; at least 6 x the consumer's timeout + its batching window (AWS guidance for Lambda consumers)."
  type        = number
  default     = 180

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200 (12 hours)."
  }

  validation {
    condition     = var.consumer_timeout_seconds == null || var.visibility_timeout_seconds >= 6 * coalesce(var.consumer_timeout_seconds, 0) + var.consumer_batching_window_seconds
    error_message = "visibility_timeout_seconds must be >= 6 x consumer_timeout_seconds + consumer_batching_window_seconds: raise it, or lower the consumer's timeout or batching window."
  }
}

variable "consumer_batching_window_seconds" {
  description = "Batching window of the consumer's event source mapping (MaximumBatchingWindowInSeconds), part of the visibility timeout rule."
  type        = number
  default     = 0

  validation {
    condition     = var.consumer_batching_window_seconds >= 0 && var.consumer_batching_window_seconds <= 300
    error_message = "consumer_batching_window_seconds must be between 0 and 300."
  }
}

variable "consumer_timeout_seconds" {
  description = "Timeout of the Lambda function that consumes the queue, used to validate the visibility timeout (null: not checked)."
  type        = number
  default     = null
}

variable "message_retention_seconds" {
  description = "How long the queue keeps a message (the DLQ always keeps 14 days)."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "receive_wait_time_seconds" {
  description = "Default long-poll wait for ReceiveMessage (Lambda's poller long-polls regardless)."
  type        = number
  default     = 0

  validation {
    condition     = var.receive_wait_time_seconds >= 0 && var.receive_wait_time_seconds <= 20
    error_message = "receive_wait_time_seconds must be between 0 and 20."
  }
}

variable "max_receive_count" {
  description = "Receives before SQS moves a message to the DLQ (the redrive policy's maxReceiveCount)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 3 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 3 and 1000: fewer sends transient failures to the DLQ."
  }
}

variable "kms_key_id" {
  description = "Customer-managed KMS key for SSE-KMS (key ARN, key id, alias name `alias/...` or alias ARN); null uses SQS-managed SSE (SSE-SQS)."
  type        = string
  default     = null
}

variable "kms_data_key_reuse_period_seconds" {
  description = "How long SQS reuses a data key before calling KMS again (SSE-KMS only)."
  type        = number
  default     = 300

  validation {
    condition     = var.kms_data_key_reuse_period_seconds >= 60 && var.kms_data_key_reuse_period_seconds <= 86400
    error_message = "kms_data_key_reuse_period_seconds must be between 60 and 86400."
  }
}

variable "create_redrive_allow_policy" {
  description = "Restrict the DLQ to this queue as its only source (turn off only for emulators that cannot converge it)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for both queues (provider default_tags come on top)."
  type        = map(string)
  default     = {}
}

variable "alarm_topic_arn" {
  description = "SNS topic for the queue's alarms (alarm and OK actions); null: alarms without actions."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN (arn:aws:sns:...) or null."
  }
}

variable "age_of_oldest_message_alarm_seconds" {
  description = "The age alarm fires when the queue's oldest message is older than this for 5 minutes."
  type        = number
  default     = 300

  validation {
    condition     = var.age_of_oldest_message_alarm_seconds >= 60 && var.age_of_oldest_message_alarm_seconds <= 1209600
    error_message = "age_of_oldest_message_alarm_seconds must be between 60 and 1209600 (14 days)."
  }
}
