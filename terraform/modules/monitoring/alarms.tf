# Alarms on the API and the outbox pipe, named `<name>-<thing>-<metric>`. The tables,
# queues and functions carry their own alarms (their modules' alarms.tf).

resource "aws_cloudwatch_metric_alarm" "api_5xx_rate" {
  alarm_name          = "${var.name}-api-5xx-rate"
  alarm_description   = "${var.name}: more than ${var.api_5xx_rate_alarm_threshold * 100}% of API requests answered 5xx over 5 minutes."
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_5xx_rate_alarm_threshold
  # No requests, no datapoint: nothing is failing.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions

  metric_query {
    id          = "rate"
    label       = "5xx / requests"
    expression  = "FILL(errors, 0) / requests"
    return_data = true
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "5xx"
      dimensions  = { ApiId = var.api.id, Stage = var.api.stage }
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "Count"
      dimensions  = { ApiId = var.api.id, Stage = var.api.stage }
      stat        = "Sum"
      period      = 300
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_latency_p99" {
  alarm_name          = "${var.name}-api-latency-p99"
  alarm_description   = "${var.name}: API p99 latency >= ${var.api_p99_latency_alarm_ms} ms for 15 minutes."
  namespace           = "AWS/ApiGateway"
  metric_name         = "Latency"
  dimensions          = { ApiId = var.api.id, Stage = var.api.stage }
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.api_p99_latency_alarm_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

# EventBridge Pipes publishes ExecutionFailed, ExecutionTimeout and TargetStageFailed
# (dimension PipeName; 0 when nothing failed). Any of them > 0 means stream records did
# not reach the queue yet (the pipe retries a DynamoDB stream batch until it succeeds or
# the records expire after 24 h): jobs recorded but not queued.
resource "aws_cloudwatch_metric_alarm" "pipe_failures" {
  count = var.pipe_name == null ? 0 : 1

  alarm_name          = "${var.pipe_name}-failures"
  alarm_description   = "${var.pipe_name}: pipe executions failed or timed out (new jobs are not reaching the queue)."
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "failures"
    label       = "Failed + timed out + target stage failed"
    expression  = "FILL(failed, 0) + FILL(timedout, 0) + FILL(target, 0)"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = {
      failed   = "ExecutionFailed"
      timedout = "ExecutionTimeout"
      target   = "TargetStageFailed"
    }
    content {
      id = metric_query.key

      metric {
        namespace   = "AWS/EventBridge/Pipes"
        metric_name = metric_query.value
        dimensions  = { PipeName = var.pipe_name }
        stat        = "Sum"
        period      = 300
      }
    }
  }

  tags = var.tags
}

# Business alarms on the functions' EMF metrics (jobs_platform/metrics.py: namespace
# var.job_metrics_namespace, dimension Service = var.name). No jobs, no datapoints: not
# breaching.
resource "aws_cloudwatch_metric_alarm" "jobs_failure_rate" {
  alarm_name          = "${var.name}-jobs-failure-rate"
  alarm_description   = "${var.name}: more than ${var.job_failure_rate_alarm_threshold * 100}% of the jobs that finished in 5 minutes failed (after their retries)."
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.job_failure_rate_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "rate"
    label       = "failed / (succeeded + failed)"
    expression  = "FILL(failed, 0) / (FILL(succeeded, 0) + FILL(failed, 0))"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { failed = "JobsFailed", succeeded = "JobsSucceeded" }
    content {
      id = metric_query.key

      metric {
        namespace   = var.job_metrics_namespace
        metric_name = metric_query.value
        dimensions  = { Service = var.name }
        stat        = "Sum"
        period      = 300
      }
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "jobs_submit_to_terminal_p99" {
  alarm_name          = "${var.name}-jobs-submit-to-terminal-p99"
  alarm_description   = "${var.name}: p99 time from submit to a final status >= ${var.job_submit_to_terminal_p99_alarm_ms} ms for 15 minutes (jobs wait or retry too long)."
  namespace           = var.job_metrics_namespace
  metric_name         = "SubmitToTerminal"
  dimensions          = { Service = var.name }
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.job_submit_to_terminal_p99_alarm_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}
