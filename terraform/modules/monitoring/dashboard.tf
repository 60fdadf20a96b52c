# One dashboard per environment: jobs (the functions' EMF metrics), API, functions,
# queues, pipe, tables (rows top to bottom).
locals {
  api_dims = ["ApiId", var.api.id, "Stage", var.api.stage]
  ns       = var.job_metrics_namespace
  job_dims = ["Service", var.name]

  widgets = concat(
    [
      {
        title = "Jobs by outcome"
        stat  = "Sum"
        metrics = [
          for m in ["JobsSubmitted", "JobsSucceeded", "JobsFailed", "JobsCancelled", "JobsRejected", "JobsReplayed", "JobAttemptsFailed"] :
          concat([local.ns, m], local.job_dims)
        ]
      },
      {
        title = "Job failure rate (failed / finished)"
        stat  = "Sum"
        metrics = [
          [{ expression = "FILL(failed, 0) / (FILL(succeeded, 0) + FILL(failed, 0))", label = "failure rate", id = "rate" }],
          concat([local.ns, "JobsFailed"], local.job_dims, [{ id = "failed", visible = false }]),
          concat([local.ns, "JobsSucceeded"], local.job_dims, [{ id = "succeeded", visible = false }]),
        ]
      },
      {
        title = "Failed jobs by type"
        stat  = "Sum"
        metrics = [
          [{ expression = "SEARCH('{${local.ns},Service,JobType} MetricName=\"JobsFailed\" Service=\"${var.name}\"', 'Sum', 60)", id = "bytype" }],
        ]
      },
      {
        title = "Submit to terminal (ms: p50, p99)"
        stat  = "p99"
        metrics = [
          concat([local.ns, "SubmitToTerminal"], local.job_dims, [{ stat = "p50" }]),
          concat([local.ns, "SubmitToTerminal"], local.job_dims, [{ stat = "p99" }]),
        ]
      },
      {
        title = "Queue wait and job duration (ms: p50, p99)"
        stat  = "p99"
        metrics = [
          concat([local.ns, "QueueWait"], local.job_dims, [{ stat = "p50" }]),
          concat([local.ns, "QueueWait"], local.job_dims, [{ stat = "p99" }]),
          concat([local.ns, "JobDuration"], local.job_dims, [{ stat = "p50" }]),
          concat([local.ns, "JobDuration"], local.job_dims, [{ stat = "p99" }]),
        ]
      },
      {
        title = "Submit to terminal by type (ms: p99)"
        stat  = "p99"
        metrics = [
          [{ expression = "SEARCH('{${local.ns},Service,JobType} MetricName=\"SubmitToTerminal\" Service=\"${var.name}\"', 'p99', 60)", id = "bytype" }],
        ]
      },

      {
        title   = "API requests"
        stat    = "Sum"
        metrics = [concat(["AWS/ApiGateway", "Count"], local.api_dims)]
      },
      {
        title = "API errors (4xx, 5xx)"
        stat  = "Sum"
        metrics = [
          concat(["AWS/ApiGateway", "5xx"], local.api_dims),
          concat(["AWS/ApiGateway", "4xx"], local.api_dims),
        ]
      },
      {
        title = "API latency (p50, p99)"
        stat  = "p99"
        metrics = [
          concat(["AWS/ApiGateway", "Latency"], local.api_dims, [{ stat = "p50" }]),
          concat(["AWS/ApiGateway", "Latency"], local.api_dims, [{ stat = "p99" }]),
        ]
      },
      {
        title   = "Function errors"
        stat    = "Sum"
        metrics = [for f in values(var.function_names) : ["AWS/Lambda", "Errors", "FunctionName", f]]
      },
      {
        title   = "Function duration (p99)"
        stat    = "p99"
        metrics = [for f in values(var.function_names) : ["AWS/Lambda", "Duration", "FunctionName", f]]
      },
      {
        title   = "Function throttles"
        stat    = "Sum"
        metrics = [for f in values(var.function_names) : ["AWS/Lambda", "Throttles", "FunctionName", f]]
      },
      {
        title   = "Queue depth (visible)"
        stat    = "Maximum"
        metrics = [for q in values(var.queues) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q.queue_name]]
      },
      {
        title   = "Queue age of oldest message (s)"
        stat    = "Maximum"
        metrics = [for q in values(var.queues) : ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q.queue_name]]
      },
      {
        title   = "DLQ depth (visible)"
        stat    = "Maximum"
        metrics = [for q in values(var.queues) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q.dlq_name]]
      },
    ],
    var.pipe_name == null ? [] : [
      {
        title = "Outbox pipe executions"
        stat  = "Sum"
        metrics = [
          for m in ["Invocations", "ExecutionFailed", "ExecutionTimeout", "TargetStageFailed"] :
          ["AWS/EventBridge/Pipes", m, "PipeName", var.pipe_name]
        ]
      },
    ],
    [
      {
        title = "Table throttle events (read, write)"
        stat  = "Sum"
        metrics = concat(
          [for t in values(var.table_names) : ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", t]],
          [for t in values(var.table_names) : ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", t]],
        )
      },
    ],
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      for i, w in local.widgets : {
        type   = "metric"
        x      = (i % 3) * 8
        y      = floor(i / 3) * 6
        width  = 8
        height = 6
        properties = {
          title   = w.title
          region  = var.region
          view    = "timeSeries"
          stacked = false
          stat    = w.stat
          period  = 60
          metrics = w.metrics
        }
      }
    ]
  })
}
