variable "name" {
  description = "Budget name (`<name_prefix>-monthly-cost`)."
  type        = string

  validation {
    condition     = can(regex("^[^:\\\\]{1,100}$", var.name))
    error_message = "name must be 1-100 characters without ':' or '\\'."
  }
}

variable "limit_amount" {
  description = "Monthly cost limit in limit_unit (USD by default)."
  type        = number

  validation {
    condition     = var.limit_amount > 0 && var.limit_amount <= 1000000
    error_message = "limit_amount must be greater than 0 and at most 1000000."
  }
}

variable "limit_unit" {
  description = "Currency of limit_amount."
  type        = string
  default     = "USD"

  validation {
    condition     = can(regex("^[A-Z]{3}$", var.limit_unit))
    error_message = "limit_unit must be a currency code such as USD."
  }
}

variable "cost_allocation_tag" {
  description = "Tag that scopes the budget to one environment: key (the provider default_tags key, activated as a user-defined cost allocation tag) and value."
  type = object({
    key   = string
    value = string
  })

  validation {
    condition     = length(var.cost_allocation_tag.key) > 0 && length(var.cost_allocation_tag.value) > 0 && !strcontains(var.cost_allocation_tag.key, "$")
    error_message = "cost_allocation_tag needs a non-empty key (without '$') and value."
  }
}

variable "actual_threshold_percent" {
  description = "Notify when ACTUAL cost exceeds this percentage of the limit."
  type        = number
  default     = 80

  validation {
    condition     = var.actual_threshold_percent > 0 && var.actual_threshold_percent <= 1000
    error_message = "actual_threshold_percent must be between 0 (exclusive) and 1000."
  }
}

variable "forecasted_threshold_percent" {
  description = "Notify when FORECASTED cost exceeds this percentage of the limit."
  type        = number
  default     = 100

  validation {
    condition     = var.forecasted_threshold_percent > 0 && var.forecasted_threshold_percent <= 1000
    error_message = "forecasted_threshold_percent must be between 0 (exclusive) and 1000."
  }
}

variable "subscriber_email_addresses" {
  description = "Email recipients of both notifications (AWS Budgets allows up to 10)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.subscriber_email_addresses) <= 10 && alltrue([for e in var.subscriber_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "subscriber_email_addresses must hold at most 10 email addresses (name@example.com)."
  }
}

variable "subscriber_sns_topic_arn" {
  description = "SNS topic that also receives both notifications (its policy must let budgets.amazonaws.com publish; a KMS-encrypted topic's key policy too); null: email only."
  type        = string
  default     = null

  validation {
    condition     = var.subscriber_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:", var.subscriber_sns_topic_arn))
    error_message = "subscriber_sns_topic_arn must be an SNS topic ARN (arn:aws:sns:...) or null."
  }

  validation {
    condition     = var.subscriber_sns_topic_arn != null || length(var.subscriber_email_addresses) > 0
    error_message = "Give at least one subscriber: subscriber_email_addresses or subscriber_sns_topic_arn."
  }
}

variable "tags" {
  description = "Tags for the budget (provider default_tags come on top)."
  type        = map(string)
  default     = {}
}
