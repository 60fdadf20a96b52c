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
  description = "Lambda function names by logical key (api, authorizer, worker, bookkeeper)."
  value       = { for key, f in module.function : key => f.function_name }
}

output "kms_key_arn" {
  description = "ARN of the environment's customer-managed KMS key."
  value       = aws_kms_key.this.arn
}

output "alarm_topic_arn" {
  description = "ARN of the environment's alarm topic (SSE-KMS): every alarm and the budget notify it."
  value       = module.monitoring.sns_topic_arn
}

output "dashboard_name" {
  description = "Name of the environment's CloudWatch dashboard."
  value       = module.monitoring.dashboard_name
}

output "budget_name" {
  description = "Name of the environment's monthly cost budget (null when create_budget is false)."
  value       = one(module.budget[*].budget_name)
}

output "edge_url" {
  description = "Public base URL of the API through CloudFront + WAF (https://<distribution domain>); null when enable_edge is false (then api_endpoint is the base URL)."
  value       = var.enable_edge ? "https://${module.edge[0].cloudfront_distribution_domain_name}" : null
}

output "edge_web_acl_arn" {
  description = "ARN of the edge's WAFv2 web ACL (us-east-1); null when enable_edge is false."
  value       = var.enable_edge ? module.edge[0].wafv2_web_acl_arn : null
}
