# terraform test (mock provider, no AWS account): the function module's shape (arm64,
# X-Ray, JSON logs into its own log group with retention and the CMK, errors alarm,
# least-privilege role, SQS event source with partial batch responses) and its input
# validations. Run: terraform init -backend=false && terraform test
mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition  = "aws"
      dns_suffix = "amazonaws.com"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/jobs-platform-test-worker"
    }
  }

  mock_resource "aws_lambda_function" {
    defaults = {
      arn = "arn:aws:lambda:us-east-1:123456789012:function:jobs-platform-test-worker"
    }
  }
}

variables {
  name               = "jobs-platform-test-worker"
  zip_path           = "dist/lambda/worker.zip"
  source_code_hash   = "iEFVO3YgQwXKXbP95iNSihy0Wvop+8NSiTFx84q4AXE="
  handler            = "jobs_platform.handlers.worker.handler"
  runtime            = "python3.12"
  timeout_seconds    = 30
  log_retention_days = 14
  kms_key_arn        = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  environment_variables = {
    LOG_LEVEL = "INFO"
  }
  policy_statements = [
    {
      sid       = "JobsTable"
      actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
      resources = ["arn:aws:dynamodb:us-east-1:123456789012:table/jobs-platform-test-jobs"]
    },
  ]
  sqs_event_source = {
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:jobs-platform-test-jobs"
  }
  permissions_boundary_arn = "arn:aws:iam::123456789012:policy/bootstrap/jobs-platform-boundary-test"
}

run "function_is_arm64_traced_and_logs_to_its_own_group" {
  command = plan

  assert {
    condition     = aws_lambda_function.this.architectures == tolist(["arm64"])
    error_message = "Functions run on arm64."
  }

  assert {
    condition     = aws_lambda_function.this.runtime == "python3.12"
    error_message = "The function runs on the given runtime."
  }

  assert {
    condition     = aws_lambda_function.this.tracing_config[0].mode == "Active"
    error_message = "X-Ray tracing must be active."
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables == tomap({ LOG_LEVEL = "INFO" })
    error_message = "environment_variables must reach the function unchanged."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/jobs-platform-test-worker"
    error_message = "The log group is /aws/lambda/<name> (created before the function)."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.retention_in_days == 14
    error_message = "The log group must have the given retention."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.kms_key_id == var.kms_key_arn
    error_message = "The log group is encrypted with the given key."
  }

  assert {
    condition = (
      aws_lambda_function.this.logging_config[0].log_format == "JSON" &&
      aws_lambda_function.this.logging_config[0].log_group == "/aws/lambda/jobs-platform-test-worker" &&
      aws_lambda_function.this.logging_config[0].application_log_level == "TRACE"
    )
    error_message = "JSON logs go to the module's log group, and Lambda drops none of the code's lines (it filters by LOG_LEVEL itself)."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.errors.metric_name == "Errors" && aws_cloudwatch_metric_alarm.errors.namespace == "AWS/Lambda"
    error_message = "The function has an Errors alarm."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.errors.dimensions.FunctionName == "jobs-platform-test-worker"
    error_message = "The errors alarm watches this function."
  }

  assert {
    condition     = aws_iam_role.this.name == "jobs-platform-test-worker"
    error_message = "One role per function, named after it."
  }

  assert {
    condition     = aws_iam_role.this.permissions_boundary == var.permissions_boundary_arn
    error_message = "The role carries the environment's permissions boundary (the deploy role creates no role without it)."
  }
}

run "rejects_a_boundary_that_is_not_a_policy_arn" {
  command = plan

  variables {
    permissions_boundary_arn = "jobs-platform-boundary-test"
  }

  expect_failures = [var.permissions_boundary_arn]
}

run "sqs_event_source_reports_batch_item_failures" {
  command = plan

  assert {
    condition     = length(aws_lambda_event_source_mapping.sqs) == 1
    error_message = "sqs_event_source creates one event source mapping."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.sqs[0].function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "The mapping must report partial batch failures."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.sqs[0].batch_size == 10
    error_message = "The default batch size is 10."
  }
}

run "text_logs_and_no_event_source" {
  command = plan

  variables {
    log_format       = "Text"
    sqs_event_source = null
  }

  assert {
    condition     = length(aws_lambda_function.this.logging_config) == 0
    error_message = "log_format = Text sets no JSON logging config."
  }

  assert {
    condition     = length(aws_lambda_event_source_mapping.sqs) == 0
    error_message = "No sqs_event_source, no mapping."
  }
}

run "rejects_an_unsupported_runtime" {
  command = plan

  variables {
    runtime = "python3.11"
  }

  expect_failures = [var.runtime]
}

run "rejects_a_source_code_hash_that_is_not_base64_sha256" {
  command = plan

  variables {
    source_code_hash = "not-a-hash"
  }

  expect_failures = [var.source_code_hash]
}

run "rejects_a_function_name_longer_than_64" {
  command = plan

  variables {
    name = "a-function-name-that-is-much-longer-than-the-sixty-four-characters-iam-allows"
  }

  expect_failures = [var.name]
}

run "rejects_a_timeout_above_900" {
  command = plan

  variables {
    timeout_seconds = 901
  }

  expect_failures = [var.timeout_seconds]
}

run "rejects_memory_out_of_range" {
  command = plan

  variables {
    memory_mb = 64
  }

  expect_failures = [var.memory_mb]
}

run "rejects_reserved_concurrency_below_minus_one" {
  command = plan

  variables {
    reserved_concurrency = -2
  }

  expect_failures = [var.reserved_concurrency]
}

run "rejects_a_wildcard_action" {
  command = plan

  variables {
    policy_statements = [{ sid = "Everything", actions = ["*"], resources = ["*"] }]
  }

  expect_failures = [var.policy_statements]
}

run "rejects_a_retention_cloudwatch_does_not_offer" {
  command = plan

  variables {
    log_retention_days = 10
  }

  expect_failures = [var.log_retention_days]
}

run "rejects_an_unknown_log_format" {
  command = plan

  variables {
    log_format = "XML"
  }

  expect_failures = [var.log_format]
}


run "rejects_a_batch_above_ten_without_a_batching_window" {
  command = plan

  variables {
    sqs_event_source = {
      queue_arn  = "arn:aws:sqs:us-east-1:123456789012:jobs-platform-test-jobs"
      batch_size = 100
    }
  }

  expect_failures = [var.sqs_event_source]
}

run "rejects_an_alarm_topic_that_is_not_an_sns_arn" {
  command = plan

  variables {
    alarm_topic_arn = "jobs-alarms"
  }

  expect_failures = [var.alarm_topic_arn]
}
