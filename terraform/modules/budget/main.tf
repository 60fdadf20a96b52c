locals {
  notifications = {
    ACTUAL     = var.actual_threshold_percent
    FORECASTED = var.forecasted_threshold_percent
  }
}

# Monthly cost budget of one environment. The cost filter uses the Budgets API's
# `TagKeyValue` filter, whose values are `user:<tag key>$<tag value>` for a user-defined
# cost allocation tag ("user:" prefix, "$" between key and value). The tag key must be
# activated once per payer account (Billing -> Cost allocation tags) before the budget
# sees any cost. (Provider 5.x has only cost_filter; filter_expression arrived in 6.x.)
resource "aws_budgets_budget" "this" {
  name         = var.name
  budget_type  = "COST"
  time_unit    = "MONTHLY"
  limit_amount = format("%.2f", var.limit_amount)
  limit_unit   = var.limit_unit

  cost_filter {
    name   = "TagKeyValue"
    values = [format("user:%s$%s", var.cost_allocation_tag.key, var.cost_allocation_tag.value)]
  }

  dynamic "notification" {
    for_each = local.notifications
    content {
      notification_type          = notification.key
      comparison_operator        = "GREATER_THAN"
      threshold                  = notification.value
      threshold_type             = "PERCENTAGE"
      subscriber_email_addresses = var.subscriber_email_addresses
      subscriber_sns_topic_arns  = var.subscriber_sns_topic_arn == null ? [] : [var.subscriber_sns_topic_arn]
    }
  }

  tags = var.tags
}
