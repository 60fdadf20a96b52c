# terraform test of the root module (mock providers, no AWS account): a prod-like plan
# wires the guardrails (edge + WAF, budget, alarms), and the root variable validations
# refuse what a user can get wrong. Run from the repo root:
#   terraform init -backend=false && terraform test -test-directory=tests/terraform/root_module
# (tests/terraform/test_terraform_modules.py runs it in CI.)
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
      partition  = "aws"
      dns_suffix = "amazonaws.com"
    }
  }

  mock_resource "aws_kms_key" {
    defaults = {
      arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-8444-555555555555"
    }
  }

  mock_resource "aws_dynamodb_table" {
    defaults = {
      arn        = "arn:aws:dynamodb:us-east-1:123456789012:table/jobs-platform-prod-jobs"
      stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/jobs-platform-prod-jobs/stream/2024-01-01T00:00:00.000"
    }
  }

  mock_resource "aws_sns_topic" {
    defaults = {
      arn = "arn:aws:sns:us-east-1:123456789012:jobs-platform-prod-alarms"
    }
  }

  mock_resource "aws_apigatewayv2_api" {
    defaults = {
      api_endpoint  = "https://abcdef1234.execute-api.us-east-1.amazonaws.com"
      execution_arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234"
    }
  }

  mock_resource "aws_secretsmanager_secret" {
    defaults = {
      arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:jobs-platform-prod-origin-verify-AbCdEf"
    }
  }
}

mock_provider "aws" {
  alias = "us_east_1"

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
      partition  = "aws"
      dns_suffix = "amazonaws.com"
    }
  }

  mock_resource "aws_kms_key" {
    defaults = {
      arn = "arn:aws:kms:us-east-1:123456789012:key/66666666-2222-3333-4444-555555555555"
    }
  }
}

variables {
  environment                = "prod"
  log_retention_days         = 90
  enable_edge                = true
  create_budget              = true
  budget_limit_amount        = 1000
  budget_notification_emails = ["platform-alerts@example.com"]
  alarm_email_endpoints      = ["platform-alerts@example.com"]
  lambda_artifacts = {
    api        = { zip_path = "dist/lambda/api.zip", sha256 = "99dOOBfMpGJeBJpg8S1Ow7GOijH1L+GN5G6jx5qr1KQ=" }
    authorizer = { zip_path = "dist/lambda/authorizer.zip", sha256 = "qfT+3MiA4b+bBnAB3R4P7avqc/S/2Fy0kZs15cZKqSU=" }
    worker     = { zip_path = "dist/lambda/worker.zip", sha256 = "iEFVO3YgQwXKXbP95iNSihy0Wvop+8NSiTFx84q4AXE=" }
    bookkeeper = { zip_path = "dist/lambda/bookkeeper.zip", sha256 = "iEFVO3YgQwXKXbP95iNSihy0Wvop+8NSiTFx84q4AXE=" }
  }
}

run "prod_plan_has_edge_budget_and_guardrails" {
  command = plan

  assert {
    condition     = length(module.edge) == 1 && length(module.budget) == 1
    error_message = "prod has the edge (CloudFront + WAF) and a budget."
  }

  assert {
    condition     = toset(keys(module.table)) == toset(["jobs", "sessions", "api-keys"])
    error_message = "The three tables of docs/architecture.md."
  }

  assert {
    condition     = toset(keys(module.function)) == toset(["api", "authorizer", "worker", "bookkeeper"])
    error_message = "The four functions of docs/architecture.md."
  }

  assert {
    condition     = aws_kms_key.this.enable_key_rotation
    error_message = "The environment's CMK rotates."
  }
}

run "rejects_test_job_types_in_prod" {
  command = plan

  variables {
    enable_test_job_types = true
  }

  expect_failures = [var.enable_test_job_types]
}

run "rejects_prod_without_deletion_protection" {
  command = plan

  variables {
    deletion_protection = false
  }

  expect_failures = [var.deletion_protection]
}

run "rejects_visibility_below_six_times_the_worker_timeout" {
  command = plan

  variables {
    worker_timeout_seconds           = 60
    queue_visibility_timeout_seconds = 180
  }

  expect_failures = [var.queue_visibility_timeout_seconds]
}

run "rejects_prod_without_the_edge" {
  command = plan

  variables {
    enable_edge = false
  }

  expect_failures = [var.enable_edge]
}


run "rejects_prod_with_log_retention_below_90_days" {
  command = plan

  variables {
    log_retention_days = 30
  }

  expect_failures = [var.log_retention_days]
}

run "staging_may_keep_logs_30_days" {
  command = plan

  variables {
    environment        = "staging"
    log_retention_days = 30
  }
}

run "an_environment_named_like_a_file_is_accepted" {
  command = plan

  variables {
    environment = "qa"
  }
}

run "rejects_an_environment_name_that_cannot_name_a_file" {
  command = plan

  variables {
    environment = "QA env"
  }

  expect_failures = [var.environment]
}
