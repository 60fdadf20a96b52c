resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  protocol_type = "HTTP"
  description   = "HTTP API of ${var.name}"

  tags = var.tags
}

resource "aws_apigatewayv2_integration" "this" {
  for_each = var.functions

  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = each.value.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = var.integration_timeout_milliseconds
}

locals {
  # With an edge in front (origin_verify_header set), every route needs that header: it
  # is an identity source of both authorizers, so API Gateway answers 401 without it
  # (no Lambda call), and a cached decision is keyed on it too (a valid API key's cached
  # allow never serves a request that bypassed CloudFront).
  origin_verify_identity_sources = var.origin_verify_header == null ? [] : ["$request.header.${var.origin_verify_header}"]
}

resource "aws_apigatewayv2_authorizer" "this" {
  api_id                            = aws_apigatewayv2_api.this.id
  name                              = "${var.name}-authorizer"
  authorizer_type                   = "REQUEST"
  authorizer_uri                    = var.authorizer.invoke_arn
  authorizer_payload_format_version = "2.0"
  enable_simple_responses           = true
  identity_sources                  = concat(["$request.header.x-api-key"], local.origin_verify_identity_sources)
  authorizer_result_ttl_in_seconds  = var.authorizer_result_ttl_seconds
}

# Same function, for the routes that need no API key (GET /health) when an edge is in
# front: its only identity source is the origin-verify header, and the function, seeing
# such a route key, checks the origin header only.
resource "aws_apigatewayv2_authorizer" "origin" {
  count = var.origin_verify_header == null ? 0 : 1

  api_id                            = aws_apigatewayv2_api.this.id
  name                              = "${var.name}-origin-authorizer"
  authorizer_type                   = "REQUEST"
  authorizer_uri                    = var.authorizer.invoke_arn
  authorizer_payload_format_version = "2.0"
  enable_simple_responses           = true
  identity_sources                  = local.origin_verify_identity_sources
  authorizer_result_ttl_in_seconds  = var.authorizer_result_ttl_seconds
}

resource "aws_apigatewayv2_route" "this" {
  # checkov:skip=CKV_AWS_309:Only GET /health is public (no API key) by design (docs/architecture.md "Routes"); with the edge on it still needs the origin-verify authorizer, every other route uses the API-key authorizer.
  for_each = var.routes

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.this[each.value.function].id}"
  authorization_type = each.value.authorized || var.origin_verify_header != null ? "CUSTOM" : "NONE"
  authorizer_id      = each.value.authorized ? aws_apigatewayv2_authorizer.this.id : one(aws_apigatewayv2_authorizer.origin[*].id)
}

resource "aws_cloudwatch_log_group" "access" {
  # checkov:skip=CKV_AWS_338:Retention is chosen per environment (log_retention_days: dev 14, staging 30, prod 90 days) and always set (CKV2_JP_1); a year of request logs is cost without a use here.
  name              = "/aws/apigateway/${var.name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      ip                 = "$context.identity.sourceIp"
      httpMethod         = "$context.httpMethod"
      path               = "$context.path"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      latency            = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      authorizerError    = "$context.authorizer.error"
      tenantId           = "$context.authorizer.tenant_id"
    })
  }

  tags = var.tags
}

resource "aws_lambda_permission" "integration" {
  for_each = var.functions

  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}

resource "aws_lambda_permission" "authorizer" {
  statement_id  = "AllowApiGatewayAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.this.id}"
}

resource "aws_lambda_permission" "origin_authorizer" {
  count = var.origin_verify_header == null ? 0 : 1

  statement_id  = "AllowApiGatewayOriginAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.origin[0].id}"
}
