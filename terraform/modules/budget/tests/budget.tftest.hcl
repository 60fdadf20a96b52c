# terraform test (mock provider, no AWS account): the budget module's monthly cost budget
# filtered by the environment's cost allocation tag, its two notifications, and its
# input validations. Run: terraform init -backend=false && terraform test
mock_provider "aws" {}

variables {
  name                       = "jobs-platform-test-monthly-cost"
  limit_amount               = 100
  cost_allocation_tag        = { key = "environment", value = "staging" }
  subscriber_email_addresses = ["platform-alerts@example.com"]
  subscriber_sns_topic_arn   = "arn:aws:sns:us-east-1:123456789012:jobs-platform-test-alarms"
}

run "monthly_cost_budget_filtered_by_the_environment_tag" {
  command = plan

  assert {
    condition     = aws_budgets_budget.this.budget_type == "COST" && aws_budgets_budget.this.time_unit == "MONTHLY"
    error_message = "The budget is a monthly COST budget."
  }

  assert {
    condition     = aws_budgets_budget.this.limit_amount == "100.00" && aws_budgets_budget.this.limit_unit == "USD"
    error_message = "The limit is limit_amount USD."
  }

  assert {
    condition = (
      one(aws_budgets_budget.this.cost_filter).name == "TagKeyValue" &&
      one(aws_budgets_budget.this.cost_filter).values == tolist(["user:environment$staging"])
    )
    error_message = "The budget counts only costs tagged environment=staging (TagKeyValue user:<key>$<value>)."
  }
}

run "notifies_at_80_percent_actual_and_100_percent_forecasted" {
  command = plan

  assert {
    condition = toset([for n in aws_budgets_budget.this.notification : "${n.notification_type}:${n.comparison_operator}:${n.threshold}:${n.threshold_type}"]) == toset([
      "ACTUAL:GREATER_THAN:80:PERCENTAGE", "FORECASTED:GREATER_THAN:100:PERCENTAGE",
    ])
    error_message = "Notifications: ACTUAL > 80% and FORECASTED > 100%."
  }

  assert {
    condition = alltrue([
      for n in aws_budgets_budget.this.notification :
      n.subscriber_email_addresses == toset(["platform-alerts@example.com"]) && n.subscriber_sns_topic_arns == toset([var.subscriber_sns_topic_arn])
    ])
    error_message = "Both notifications go to the emails and the alarm topic."
  }
}

run "rejects_a_zero_limit" {
  command = plan

  variables {
    limit_amount = 0
  }

  expect_failures = [var.limit_amount]
}

run "rejects_an_email_that_is_not_an_address" {
  command = plan

  variables {
    subscriber_email_addresses = ["not-an-email"]
  }

  expect_failures = [var.subscriber_email_addresses]
}

run "rejects_a_budget_without_subscribers" {
  command = plan

  variables {
    subscriber_email_addresses = []
    subscriber_sns_topic_arn   = null
  }

  expect_failures = [var.subscriber_sns_topic_arn]
}
