# Alarms of the table, named `<table name>-<metric>`. Actions go to the environment's
# alarm topic (none when alarm_topic_arn is null).
#
# ThrottledRequests and SystemErrors are published per (TableName, Operation) only, so
# each alarm sums every operation of the table with a CloudWatch Metrics Insights query
# (no list of operations to keep in step with the handlers). ThrottledRequests also
# counts writes throttled by a GSI. DynamoDB publishes these metrics only when they are
# non-zero: missing data is "not breaching".
locals {
  alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
  table_alarms = {
    throttled-requests = {
      metric      = "ThrottledRequests"
      threshold   = var.throttled_requests_alarm_threshold
      description = "requests throttled (on-demand burst above the table's or GSI's limits)"
    }
    system-errors = {
      metric      = "SystemErrors"
      threshold   = 0
      description = "DynamoDB answered HTTP 500 (service-side errors; the SDK retries, callers may still fail)"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.table_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${var.name}: ${each.value.description}."
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "m"
    label       = "${each.value.metric} (all operations)"
    period      = 300
    return_data = true
    expression  = "SELECT SUM(${each.value.metric}) FROM SCHEMA(\"AWS/DynamoDB\", Operation, TableName) WHERE TableName = '${aws_dynamodb_table.this.name}'"
  }

  tags = var.tags
}
