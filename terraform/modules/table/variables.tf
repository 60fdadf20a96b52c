variable "name" {
  description = "Table name (`<name_prefix>-<table>`)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.name))
    error_message = "name must be 3-255 characters of letters, digits, '_', '-' or '.'."
  }
}

variable "hash_key" {
  description = "Partition key attribute name; must be declared in `attributes`."
  type        = string
  default     = "pk"
}

variable "range_key" {
  description = "Sort key attribute name (null for a hash-only table); must be declared in `attributes`."
  type        = string
  default     = null
}

variable "attributes" {
  description = "Key attributes (table and index keys only): name -> type (S, N or B)."
  type        = map(string)
  default     = { pk = "S" }

  validation {
    condition     = alltrue([for t in values(var.attributes) : contains(["S", "N", "B"], t)])
    error_message = "Each attribute type must be one of S, N, B."
  }
}

variable "global_secondary_indexes" {
  description = "Global secondary indexes: index name -> keys and projection."
  type = map(object({
    hash_key        = string
    range_key       = optional(string)
    projection_type = optional(string, "ALL")
  }))
  default = {}

  validation {
    condition = alltrue([
      for i in values(var.global_secondary_indexes) : contains(["ALL", "KEYS_ONLY"], i.projection_type)
    ])
    error_message = "projection_type must be ALL or KEYS_ONLY (INCLUDE is not supported by this module)."
  }
}

variable "ttl_attribute" {
  description = "Attribute holding the expiry time in epoch seconds (DynamoDB TTL)."
  type        = string
  default     = "expires_at"
}

variable "enable_point_in_time_recovery" {
  description = "Enable point-in-time recovery (continuous backups, 35 days)."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key for server-side encryption."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "stream_view_type" {
  description = "DynamoDB stream view type, or null for no stream."
  type        = string
  default     = null

  validation {
    condition     = var.stream_view_type == null || contains(["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"], coalesce(var.stream_view_type, "NONE"))
    error_message = "stream_view_type must be null, KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES."
  }
}

variable "deletion_protection" {
  description = "Refuse DeleteTable (turn on in prod)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for the table (provider default_tags come on top)."
  type        = map(string)
  default     = {}
}

variable "alarm_topic_arn" {
  description = "SNS topic for the table's alarms (alarm and OK actions); null: alarms without actions."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN (arn:aws:sns:...) or null."
  }
}

variable "throttled_requests_alarm_threshold" {
  description = "Throttled requests in 5 minutes above which the throttled-requests alarm fires (0: any throttle)."
  type        = number
  default     = 0

  validation {
    condition     = var.throttled_requests_alarm_threshold >= 0
    error_message = "throttled_requests_alarm_threshold must be >= 0."
  }
}
