output "name_prefix" {
  description = "Prefix of every resource name (`<project>-<environment>`)."
  value       = local.name_prefix
}

output "api_id" {
  description = "ID of the HTTP API."
  value       = module.api.api_id
}

output "api_endpoint" {
  description = "Base URL of the HTTP API ($default stage)."
  value       = module.api.api_endpoint
}

output "jobs_table_name" {
  description = "Name of the jobs table."
  value       = module.table["jobs"].table_name
}

output "sessions_table_name" {
  description = "Name of the sessions table."
  value       = module.table["sessions"].table_name
}

output "api_keys_table_name" {
  description = "Name of the API keys table."
  value       = module.table["api-keys"].table_name
}

output "jobs_table_stream_arn" {
  description = "ARN of the jobs table's stream (the outbox pipe's source)."
  value       = module.table["jobs"].table_stream_arn
}

output "jobs_queue_url" {
  description = "URL of the jobs queue."
  value       = module.queue.queue_url
}

output "jobs_queue_arn" {
  description = "ARN of the jobs queue."
  value       = module.queue.queue_arn
}

output "jobs_dlq_url" {
  description = "URL of the jobs dead-letter queue."
  value       = module.queue.dlq_url
}

output "jobs_dlq_arn" {
  description = "ARN of the jobs dead-letter queue."
  value       = module.queue.dlq_arn
}

output "pipe_name" {
  description = "Name of the outbox pipe (jobs stream -> jobs queue)."
  value       = module.outbox.pipe_name
}

output "function_names" {
  description = "Lambda function names by logical key (api, authorizer, worker)."
  value       = { for key, f in module.function : key => f.function_name }
}

output "kms_key_arn" {
  description = "ARN of the environment's customer-managed KMS key."
  value       = aws_kms_key.this.arn
}
