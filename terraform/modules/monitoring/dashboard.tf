# One dashboard per environment: API, functions, queues, pipe, tables (rows top to bottom).
locals {
  api_dims = ["ApiId", var.api.id, "Stage", var.api.stage]

  widgets = concat(
    [
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
