output "table_name" {
  description = "Name of the table."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the table."
  value       = aws_dynamodb_table.this.arn
}

output "table_stream_arn" {
  description = "ARN of the table's stream (null when the stream is off)."
  value       = var.stream_view_type == null ? null : aws_dynamodb_table.this.stream_arn
}

output "alarm_names" {
  description = "Names of the table's alarms by kind (throttled-requests, system-errors)."
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.alarm_name }
}
