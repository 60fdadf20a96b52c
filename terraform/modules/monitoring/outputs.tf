output "sns_topic_arn" {
  description = "ARN of the environment's alarm topic (pass it to every module's alarm_topic_arn)."
  value       = aws_sns_topic.alarms.arn
}

output "dashboard_name" {
  description = "Name of the environment's CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_names" {
  description = "Names of the alarms this module creates by kind (api_5xx_rate, api_latency_p99, pipe_failures, jobs_failure_rate, jobs_submit_to_terminal_p99)."
  value = {
    api_5xx_rate                = aws_cloudwatch_metric_alarm.api_5xx_rate.alarm_name
    api_latency_p99             = aws_cloudwatch_metric_alarm.api_latency_p99.alarm_name
    pipe_failures               = one(aws_cloudwatch_metric_alarm.pipe_failures[*].alarm_name)
    jobs_failure_rate           = aws_cloudwatch_metric_alarm.jobs_failure_rate.alarm_name
    jobs_submit_to_terminal_p99 = aws_cloudwatch_metric_alarm.jobs_submit_to_terminal_p99.alarm_name
  }
}
