# Alarms of the queue and its DLQ, named `<queue name>-<metric>`. Actions go to the
# environment's alarm topic (none when alarm_topic_arn is null). SQS stops publishing
# metrics for an empty, idle queue: missing data is "not breaching".
# The dimensions use the names, not the queues' attributes: an alarm may name a queue
# that does not exist yet, so the alarms need not wait for SQS's ~25 s creation wait.
locals {
  alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "age_of_oldest_message" {
  alarm_name        = "${var.name}-age-of-oldest-message"
  alarm_description = "${var.name}: the oldest message has waited more than ${var.age_of_oldest_message_alarm_seconds} s (consumers are stuck or too slow)."
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateAgeOfOldestMessage"
  dimensions = {
    QueueName = var.name
  }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.age_of_oldest_message_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_visible_messages" {
  alarm_name        = "${local.dlq_name}-visible-messages"
  alarm_description = "${local.dlq_name}: dead-lettered messages are waiting (inspect, fix, redrive)."
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateNumberOfMessagesVisible"
  dimensions = {
    QueueName = local.dlq_name
  }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}
