output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Base URL of the API's $default stage."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "api_execution_arn" {
  description = "Execution ARN of the API (for Lambda permissions)."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "authorizer_id" {
  description = "ID of the Lambda REQUEST authorizer."
  value       = aws_apigatewayv2_authorizer.this.id
}

output "origin_authorizer_id" {
  description = "ID of the origin-only authorizer (routes without an API key, when origin_verify_header is set); null otherwise."
  value       = one(aws_apigatewayv2_authorizer.origin[*].id)
}

output "stage_name" {
  description = "Name of the stage ($default)."
  value       = aws_apigatewayv2_stage.this.name
}

output "access_log_group_name" {
  description = "Name of the access log group."
  value       = aws_cloudwatch_log_group.access.name
}
