output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}

output "function_invoke_arn" {
  description = "Invoke ARN of the function (for API Gateway integrations)."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "event_source_mapping_uuid" {
  description = "UUID of the SQS event source mapping (null without one)."
  value       = one(aws_lambda_event_source_mapping.sqs[*].uuid)
}

output "alarm_names" {
  description = "Names of the function's alarms by kind (errors, throttles, duration)."
  value = {
    errors    = aws_cloudwatch_metric_alarm.errors.alarm_name
    throttles = aws_cloudwatch_metric_alarm.throttles.alarm_name
    duration  = aws_cloudwatch_metric_alarm.duration.alarm_name
  }
}

output "schedule_name" {
  description = "Name of the EventBridge Scheduler schedule invoking the function (null without one)."
  value       = one(aws_scheduler_schedule.this[*].name)
}

output "schedule_role_arn" {
  description = "ARN of the role the schedule invokes the function with (null without a schedule)."
  value       = one(aws_iam_role.schedule[*].arn)
}
