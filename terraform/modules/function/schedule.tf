# Optional: an EventBridge Scheduler schedule that invokes the function (var.schedule).
# Scheduler invokes the function with its own role (assumed by scheduler.amazonaws.com for
# this account only), which may invoke this one function and nothing else. No Lambda
# resource policy is involved (the bootstrap's guardrails allow those for API Gateway only).
data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "schedule_assume" {
  count = var.schedule == null ? 0 : 1

  statement {
    sid     = "SchedulerAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.${data.aws_partition.current.dns_suffix}"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "schedule" {
  count = var.schedule == null ? 0 : 1

  name                 = "${var.name}-schedule"
  description          = "EventBridge Scheduler invokes the ${var.name} function with this role"
  assume_role_policy   = data.aws_iam_policy_document.schedule_assume[0].json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

data "aws_iam_policy_document" "schedule" {
  count = var.schedule == null ? 0 : 1

  statement {
    sid       = "InvokeTheFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this.arn]
  }
}

resource "aws_iam_role_policy" "schedule" {
  count = var.schedule == null ? 0 : 1

  name   = "${var.name}-schedule"
  role   = aws_iam_role.schedule[0].id
  policy = data.aws_iam_policy_document.schedule[0].json
}

resource "aws_scheduler_schedule" "this" {
  # checkov:skip=CKV_AWS_297:The schedule's only data is its target's empty input ({}): nothing for a customer-managed key to protect, and the CMK would need a Scheduler grant in the key policy.
  count = var.schedule == null ? 0 : 1

  name                = var.name
  group_name          = "default"
  description         = var.schedule.description
  schedule_expression = var.schedule.expression
  state               = "ENABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this.arn
    role_arn = aws_iam_role.schedule[0].arn
    input    = "{}"

    # The next run comes soon enough: a failed delivery is not retried (a function error
    # is Lambda's to retry, asynchronously, and the errors alarm says so).
    retry_policy {
      maximum_event_age_in_seconds = 60
      maximum_retry_attempts       = 0
    }
  }

  # Scheduler checks that it may assume the role when the schedule is created.
  depends_on = [aws_iam_role_policy.schedule]
}
