variable "name" {
  description = "Pipe name (`<name_prefix>-outbox`); also names its role."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{1,59}$", var.name))
    error_message = "name must be 1-59 characters of letters, digits, '_', '-' or '.' (the role adds '-pipe')."
  }
}

variable "source_stream_arn" {
  description = "ARN of the DynamoDB stream to read (the jobs table's)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:.+/stream/", var.source_stream_arn))
    error_message = "source_stream_arn must be a DynamoDB stream ARN (the table needs a stream)."
  }
}

variable "target_queue_arn" {
  description = "ARN of the SQS queue the pipe sends to."
  type        = string
}

variable "event_names" {
  description = "Stream event names that reach the queue (the outbox forwards new jobs only)."
  type        = list(string)
  default     = ["INSERT"]

  validation {
    condition     = length(var.event_names) > 0 && alltrue([for e in var.event_names : contains(["INSERT", "MODIFY", "REMOVE"], e)])
    error_message = "event_names must be a non-empty subset of INSERT, MODIFY, REMOVE."
  }
}

variable "sort_key_prefix" {
  description = "Only items whose sort key `sk` (S) starts with this prefix reach the queue (job items, not idempotency or quota items)."
  type        = string
  default     = "JOB#"
}

variable "batch_size" {
  description = "Stream records per pipe batch (1-10 for an SQS target: one SendMessageBatch)."
  type        = number
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10
    error_message = "batch_size must be between 1 and 10 for an SQS target."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "How long the pipe gathers records before sending a batch (0: send at once)."
  type        = number
  default     = 0

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300
    error_message = "maximum_batching_window_in_seconds must be between 0 and 300."
  }
}

variable "kms_key_arn" {
  description = "CMK of the table and/or queue; grants the pipe kms:Decrypt and kms:GenerateDataKey on it (null: none)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the pipe and its role (provider default_tags come on top)."
  type        = map(string)
  default     = {}
}

variable "dead_letter_queue_arn" {
  description = "SQS queue that receives the failure record of a batch the pipe could not deliver after maximum_retry_attempts (alarmed on depth > 0)."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:sqs:", var.dead_letter_queue_arn))
    error_message = "dead_letter_queue_arn must be an SQS queue ARN."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before its failure record goes to the dead-letter queue (Pipes allows -1 = forever, or 0..10000; forever is refused here)."
  type        = number
  default     = 185

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 10000
    error_message = "maximum_retry_attempts must be between 0 and 10000 (-1, retry forever, would let a record expire unseen)."
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
