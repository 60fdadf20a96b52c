output "queue_name" {
  description = "Name of the queue."
  value       = aws_sqs_queue.this.name
}

output "queue_url" {
  description = "URL of the queue."
  value       = aws_sqs_queue.this.url
}

output "queue_arn" {
  description = "ARN of the queue."
  value       = aws_sqs_queue.this.arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "alarm_names" {
  description = "Names of the queue's alarms by kind (age_of_oldest_message, dlq_visible_messages)."
  value = {
    age_of_oldest_message = aws_cloudwatch_metric_alarm.age_of_oldest_message.alarm_name
    dlq_visible_messages  = aws_cloudwatch_metric_alarm.dlq_visible_messages.alarm_name
  }
}
