# terraform test (mock provider, no AWS account): the monitoring module's topic (CMK,
# publishers limited to this account's CloudWatch alarms and Budgets), email
# subscriptions, API and pipe alarms, dashboard, and its input validations.
# Run: terraform init -backend=false && terraform test
mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_resource "aws_sns_topic" {
    override_during = plan
    defaults = {
      arn = "arn:aws:sns:us-east-1:123456789012:jobs-platform-test-alarms"
    }
  }
}

variables {
  name           = "jobs-platform-test"
  region         = "us-east-1"
  sns_topic_name = "jobs-platform-test-alarms"
  kms_key_arn    = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  api            = { id = "abc123", stage = "$default" }
  pipe_name      = "jobs-platform-test-outbox"
  function_names = { api = "jobs-platform-test-api", worker = "jobs-platform-test-worker" }
  queues         = { jobs = { queue_name = "jobs-platform-test-jobs", dlq_name = "jobs-platform-test-jobs-dlq" } }
  table_names    = { jobs = "jobs-platform-test-jobs" }
}

run "topic_is_encrypted_with_the_cmk_and_only_alarms_and_budgets_publish" {
  command = plan

  override_data {
    target = data.aws_iam_policy_document.topic
    values = { json = "{}" }
  }

  assert {
    condition     = aws_sns_topic.alarms.name == "jobs-platform-test-alarms"
    error_message = "The topic takes the name the root module computed (the key policy names it)."
  }

  assert {
    condition     = aws_sns_topic.alarms.kms_master_key_id == var.kms_key_arn
    error_message = "The alarm topic is SSE-KMS with the environment's CMK."
  }

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.topic.statement : [for p in s.principals : p.identifiers]])) == toset([
      "cloudwatch.amazonaws.com", "budgets.amazonaws.com",
    ])
    error_message = "Only CloudWatch and Budgets are granted sns:Publish by the topic policy."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.topic.statement :
      contains([for c in s.condition : c.variable], "aws:SourceAccount") && contains([for c in s.condition : c.variable], "aws:SourceArn")
    ])
    error_message = "Every publish grant is scoped with aws:SourceAccount and aws:SourceArn."
  }

  assert {
    condition     = length(aws_sns_topic_subscription.email) == 0
    error_message = "No email subscription without alarm_email_endpoints."
  }
}

run "email_endpoints_subscribe_to_the_topic" {
  command = plan

  variables {
    alarm_email_endpoints = ["platform-alerts@example.com"]
  }

  assert {
    condition     = aws_sns_topic_subscription.email["platform-alerts@example.com"].protocol == "email"
    error_message = "Each alarm_email_endpoints entry gets an email subscription."
  }
}

run "api_and_pipe_alarms_notify_the_topic" {
  command = plan

  assert {
    condition     = aws_cloudwatch_metric_alarm.api_5xx_rate.alarm_name == "jobs-platform-test-api-5xx-rate"
    error_message = "The 5xx alarm is named <prefix>-api-5xx-rate."
  }

  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.api_5xx_rate.metric_query : q.expression if q.return_data == true]) == "FILL(errors, 0) / requests"
    error_message = "The 5xx alarm divides 5xx by the request count."
  }

  assert {
    condition = alltrue([
      for q in aws_cloudwatch_metric_alarm.api_5xx_rate.metric_query :
      q.metric[0].dimensions == tomap({ ApiId = "abc123", Stage = "$default" }) if length(q.metric) > 0
    ])
    error_message = "The 5xx alarm's metrics are the API's, for its stage."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.api_latency_p99.extended_statistic == "p99" && aws_cloudwatch_metric_alarm.api_latency_p99.threshold == 2000
    error_message = "The latency alarm watches p99 against api_p99_latency_alarm_ms."
  }

  assert {
    condition = toset(flatten([
      for q in aws_cloudwatch_metric_alarm.pipe_failures[0].metric_query : [for m in q.metric : m.metric_name]
    ])) == toset(["ExecutionFailed", "ExecutionTimeout", "TargetStageFailed"])
    error_message = "The pipe alarm sums ExecutionFailed, ExecutionTimeout and TargetStageFailed."
  }

  assert {
    condition = alltrue([
      for a in [aws_cloudwatch_metric_alarm.api_5xx_rate, aws_cloudwatch_metric_alarm.api_latency_p99, aws_cloudwatch_metric_alarm.pipe_failures[0]] :
      a.alarm_actions == toset([aws_sns_topic.alarms.arn]) && a.ok_actions == toset([aws_sns_topic.alarms.arn])
    ])
    error_message = "Every alarm notifies the topic on ALARM and on OK."
  }
}

run "no_pipe_no_pipe_alarm" {
  command = plan

  variables {
    pipe_name = null
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.pipe_failures) == 0
    error_message = "Without a pipe there is no pipe alarm."
  }
}

run "dashboard_covers_api_functions_queues_pipe_and_tables" {
  command = plan

  assert {
    condition     = aws_cloudwatch_dashboard.this.dashboard_name == "jobs-platform-test"
    error_message = "One dashboard per environment, named <prefix>."
  }

  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets) == 17
    error_message = "The dashboard has 17 widgets (jobs x6, API x3, functions x3, queues x3, pipe, tables)."
  }
}

run "rejects_an_email_that_is_not_an_address" {
  command = plan

  variables {
    alarm_email_endpoints = ["platform-alerts"]
  }

  expect_failures = [var.alarm_email_endpoints]
}

run "rejects_a_5xx_threshold_that_is_not_a_fraction" {
  command = plan

  variables {
    api_5xx_rate_alarm_threshold = 5
  }

  expect_failures = [var.api_5xx_rate_alarm_threshold]
}

run "job_alarms_watch_the_functions_emf_metrics_of_this_service" {
  command = plan

  assert {
    condition     = aws_cloudwatch_metric_alarm.jobs_failure_rate.alarm_name == "jobs-platform-test-jobs-failure-rate"
    error_message = "The failure-rate alarm is named <prefix>-jobs-failure-rate."
  }

  assert {
    condition = alltrue([
      for q in aws_cloudwatch_metric_alarm.jobs_failure_rate.metric_query :
      q.metric[0].namespace == "JobsPlatform" && q.metric[0].dimensions == tomap({ Service = "jobs-platform-test" }) if length(q.metric) > 0
    ])
    error_message = "The failure-rate alarm reads JobsPlatform metrics of this service (Service = name), never per tenant."
  }

  assert {
    condition = toset(flatten([
      for q in aws_cloudwatch_metric_alarm.jobs_failure_rate.metric_query : [for m in q.metric : m.metric_name]
    ])) == toset(["JobsFailed", "JobsSucceeded"])
    error_message = "The failure rate is JobsFailed over JobsSucceeded + JobsFailed."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.jobs_failure_rate.threshold == 0.05
    error_message = "The failure-rate alarm fires above job_failure_rate_alarm_threshold (0.05)."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.jobs_submit_to_terminal_p99.metric_name == "SubmitToTerminal" &&
      aws_cloudwatch_metric_alarm.jobs_submit_to_terminal_p99.extended_statistic == "p99" &&
      aws_cloudwatch_metric_alarm.jobs_submit_to_terminal_p99.threshold == 120000 &&
      aws_cloudwatch_metric_alarm.jobs_submit_to_terminal_p99.dimensions == tomap({ Service = "jobs-platform-test" })
    )
    error_message = "The submit-to-terminal alarm watches p99 of SubmitToTerminal against job_submit_to_terminal_p99_alarm_ms."
  }

  assert {
    condition = alltrue([
      for a in [aws_cloudwatch_metric_alarm.jobs_failure_rate, aws_cloudwatch_metric_alarm.jobs_submit_to_terminal_p99] :
      a.alarm_actions == toset([aws_sns_topic.alarms.arn]) && a.ok_actions == toset([aws_sns_topic.alarms.arn]) && a.treat_missing_data == "notBreaching"
    ])
    error_message = "The job alarms notify the topic on ALARM and OK; no jobs is not breaching."
  }

  assert {
    condition     = strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "\"SubmitToTerminal\"") && strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "\"JobsFailed\"")
    error_message = "The dashboard shows the job metrics."
  }
}

run "rejects_a_job_failure_rate_threshold_that_is_not_a_fraction" {
  command = plan

  variables {
    job_failure_rate_alarm_threshold = 5
  }

  expect_failures = [var.job_failure_rate_alarm_threshold]
}
