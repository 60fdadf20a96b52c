# terraform test (mock provider, no AWS account): the HTTP API's routes and authorizers,
# stage throttling and access logs, and its input validations.
# Run: terraform init -backend=false && terraform test   (tests/terraform runs it in CI)
mock_provider "aws" {
  mock_resource "aws_apigatewayv2_api" {
    defaults = {
      execution_arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/apigateway/jobs-platform-test/access"
    }
  }
}

variables {
  name = "jobs-platform-test"
  functions = {
    api = {
      function_name = "jobs-platform-test-api"
      invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:jobs-platform-test-api/invocations"
    }
  }
  authorizer = {
    function_name = "jobs-platform-test-authorizer"
    invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:jobs-platform-test-authorizer/invocations"
  }
  routes = {
    "GET /health"   = { function = "api", authorized = false }
    "POST /v1/jobs" = { function = "api", authorized = true }
    "$default"      = { function = "api", authorized = true }
  }
  throttling_burst_limit = 100
  throttling_rate_limit  = 50
  log_retention_days     = 30
  kms_key_arn            = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "stage_has_throttling_and_access_logs" {
  assert {
    condition     = aws_apigatewayv2_api.this.protocol_type == "HTTP"
    error_message = "The API is an HTTP API (v2)."
  }

  assert {
    condition = (
      aws_apigatewayv2_stage.this.default_route_settings[0].throttling_burst_limit == 100 &&
      aws_apigatewayv2_stage.this.default_route_settings[0].throttling_rate_limit == 50
    )
    error_message = "The stage must throttle with the given burst and rate limits."
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.access_log_settings[0].destination_arn == aws_cloudwatch_log_group.access.arn
    error_message = "The stage writes access logs to the module's log group."
  }

  assert {
    condition     = jsondecode(aws_apigatewayv2_stage.this.access_log_settings[0].format).requestId == "$context.requestId"
    error_message = "Access logs are JSON with the request id."
  }

  assert {
    condition     = aws_cloudwatch_log_group.access.retention_in_days == 30 && aws_cloudwatch_log_group.access.kms_key_id == var.kms_key_arn
    error_message = "The access log group has the given retention and key."
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.name == "$default" && aws_apigatewayv2_stage.this.auto_deploy
    error_message = "One auto-deployed $default stage."
  }
}

run "routes_use_the_authorizer_unless_public" {
  assert {
    condition     = toset(keys(aws_apigatewayv2_route.this)) == toset(["GET /health", "POST /v1/jobs", "$default"])
    error_message = "Every route in var.routes is created, no other."
  }

  assert {
    condition     = aws_apigatewayv2_route.this["GET /health"].authorization_type == "NONE"
    error_message = "Without an edge, GET /health is public."
  }

  assert {
    condition = alltrue([
      for k in ["POST /v1/jobs", "$default"] :
      aws_apigatewayv2_route.this[k].authorization_type == "CUSTOM" &&
      aws_apigatewayv2_route.this[k].authorizer_id == aws_apigatewayv2_authorizer.this.id
    ])
    error_message = "Authorized routes use the API-key authorizer."
  }

  assert {
    condition = (
      aws_apigatewayv2_authorizer.this.authorizer_type == "REQUEST" &&
      aws_apigatewayv2_authorizer.this.authorizer_payload_format_version == "2.0" &&
      aws_apigatewayv2_authorizer.this.enable_simple_responses &&
      aws_apigatewayv2_authorizer.this.identity_sources == toset(["$request.header.x-api-key"])
    )
    error_message = "The authorizer is a REQUEST authorizer, payload 2.0, simple responses, on x-api-key."
  }

  assert {
    condition     = length(aws_apigatewayv2_authorizer.origin) == 0
    error_message = "No origin authorizer without an edge."
  }
}

run "with_an_edge_every_route_needs_the_origin_header" {
  variables {
    origin_verify_header = "x-origin-verify"
  }

  assert {
    condition     = aws_apigatewayv2_route.this["GET /health"].authorization_type == "CUSTOM"
    error_message = "With an edge, GET /health needs the origin authorizer."
  }

  assert {
    condition     = aws_apigatewayv2_route.this["GET /health"].authorizer_id == aws_apigatewayv2_authorizer.origin[0].id
    error_message = "GET /health uses the origin-only authorizer."
  }

  assert {
    condition     = contains(aws_apigatewayv2_authorizer.this.identity_sources, "$request.header.x-origin-verify")
    error_message = "The API-key authorizer also keys on the origin header."
  }
}

run "rejects_a_malformed_route_key" {
  command = plan

  variables {
    routes = { "/v1/jobs" = { function = "api", authorized = true } }
  }

  expect_failures = [var.routes]
}

run "rejects_a_route_to_an_unknown_function" {
  command = plan

  variables {
    routes = { "GET /v1/jobs" = { function = "worker", authorized = true } }
  }

  expect_failures = [var.routes]
}

run "rejects_an_authorizer_ttl_above_an_hour" {
  command = plan

  variables {
    authorizer_result_ttl_seconds = 3601
  }

  expect_failures = [var.authorizer_result_ttl_seconds]
}

run "rejects_an_integration_timeout_above_30s" {
  command = plan

  variables {
    integration_timeout_milliseconds = 30001
  }

  expect_failures = [var.integration_timeout_milliseconds]
}

run "rejects_negative_throttling" {
  command = plan

  variables {
    throttling_burst_limit = -1
    throttling_rate_limit  = -1
  }

  expect_failures = [var.throttling_burst_limit, var.throttling_rate_limit]
}

run "rejects_a_retention_cloudwatch_does_not_offer" {
  command = plan

  variables {
    log_retention_days = 10
  }

  expect_failures = [var.log_retention_days]
}

run "rejects_an_origin_header_that_is_not_lowercase" {
  command = plan

  variables {
    origin_verify_header = "X-Origin-Verify"
  }

  expect_failures = [var.origin_verify_header]
}
