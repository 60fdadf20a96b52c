# terraform test of the root module's edge wiring (mock providers, no AWS account).
# Run from the repo root: terraform test -test-directory=tests/terraform/root_module
# (the edge module's own tests are in terraform/modules/edge/tests/).
mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
}

mock_provider "aws" {
  alias = "us_east_1"
}

variables {
  lambda_artifacts = {
    api        = { zip_path = "dist/lambda/api.zip", sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" }
    authorizer = { zip_path = "dist/lambda/authorizer.zip", sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" }
    worker     = { zip_path = "dist/lambda/worker.zip", sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" }
    bookkeeper = { zip_path = "dist/lambda/bookkeeper.zip", sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" }
  }
  # Not under test here (the budget module's own validation wants a limit when on; prod
  # wants 90 days of logs).
  create_budget      = false
  log_retention_days = 90
}

run "staging_cannot_disable_the_edge" {
  command = plan

  variables {
    environment = "staging"
    enable_edge = false
  }

  expect_failures = [var.enable_edge]
}

run "prod_cannot_disable_the_edge" {
  command = plan

  variables {
    environment = "prod"
    enable_edge = false
  }

  expect_failures = [var.enable_edge]
}

run "waf_rate_limit_below_the_aws_minimum_is_rejected" {
  command = plan

  variables {
    environment                  = "staging"
    waf_rate_limit_per_5_minutes = 9
  }

  expect_failures = [var.waf_rate_limit_per_5_minutes]
}

run "per_key_rate_limit_below_the_aws_minimum_is_rejected" {
  command = plan

  variables {
    environment                              = "staging"
    waf_rate_limit_per_api_key_per_5_minutes = 9
  }

  expect_failures = [var.waf_rate_limit_per_api_key_per_5_minutes]
}

run "origin_verify_secret_version_must_be_a_whole_number" {
  command = plan

  variables {
    environment                  = "staging"
    origin_verify_secret_version = 1.5
  }

  expect_failures = [var.origin_verify_secret_version]
}

run "staging_with_the_edge_guards_every_route_and_reads_the_secret" {
  command = plan

  # Values AWS would assign at apply, made known at plan for the assertions.
  override_resource {
    target          = module.edge[0].aws_secretsmanager_secret.origin_verify
    override_during = plan
    values = {
      arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:jobs-platform-staging/edge/origin-verify-AbCdEf"
    }
  }

  override_resource {
    target          = module.edge[0].aws_cloudfront_distribution.this
    override_during = plan
    values = {
      domain_name = "d111111abcdef8.cloudfront.net"
    }
  }

  override_resource {
    target          = module.api.aws_apigatewayv2_authorizer.origin
    override_during = plan
    values = {
      id = "orig123"
    }
  }

  variables {
    environment = "staging"
    enable_edge = true
  }

  assert {
    condition     = length(module.edge) == 1
    error_message = "The edge module must be created when enable_edge is true."
  }

  assert {
    condition     = local.functions.authorizer.environment.ORIGIN_VERIFY_SECRET_ARN != ""
    error_message = "The authorizer must get the origin-verify secret's ARN when the edge is on."
  }

  assert {
    condition = toset([for s in local.functions.authorizer.policy_statements : s.sid]) == toset([
      "ApiKeysTable", "OriginVerifySecret", "DecryptOriginVerifySecret",
    ])
    error_message = "With the edge on, the authorizer may read the secret and decrypt it, nothing more."
  }

  assert {
    condition     = output.edge_url == "https://d111111abcdef8.cloudfront.net"
    error_message = "edge_url must be https://<distribution domain> when the edge is on."
  }

  assert {
    condition     = module.api.origin_authorizer_id != null
    error_message = "With the edge on, the routes without an API key (GET /health) get the origin-only authorizer."
  }
}

run "dev_without_the_edge_keeps_the_api_open_to_direct_calls" {
  command = plan

  variables {
    environment = "dev"
    enable_edge = false
  }

  assert {
    condition     = length(module.edge) == 0 && output.edge_url == null
    error_message = "No edge (and edge_url null) when enable_edge is false."
  }

  assert {
    condition     = local.functions.authorizer.environment.ORIGIN_VERIFY_SECRET_ARN == ""
    error_message = "Without the edge the authorizer's ORIGIN_VERIFY_SECRET_ARN is the empty string."
  }

  assert {
    condition     = toset([for s in local.functions.authorizer.policy_statements : s.sid]) == toset(["ApiKeysTable"])
    error_message = "Without the edge the authorizer gets no Secrets Manager or KMS permission."
  }
}
