# terraform test (mock provider, no AWS account): the table module's guardrails (TTL,
# PITR, SSE with the CMK, stream, keys, deletion protection) and its input validations.
# Run: terraform init -backend=false && terraform test   (tests/terraform runs it in CI)
mock_provider "aws" {}

variables {
  name        = "jobs-platform-test-jobs"
  range_key   = "sk"
  attributes  = { pk = "S", sk = "S", tenant_status = "S" }
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  global_secondary_indexes = {
    "status-index" = { hash_key = "tenant_status", range_key = "sk" }
  }
  stream_view_type = "KEYS_ONLY"
}

run "table_has_ttl_pitr_cmk_and_stream" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.this.billing_mode == "PAY_PER_REQUEST"
    error_message = "Tables are on-demand (PAY_PER_REQUEST) by default."
  }

  assert {
    condition     = aws_dynamodb_table.this.ttl[0].enabled && aws_dynamodb_table.this.ttl[0].attribute_name == "expires_at"
    error_message = "TTL must be enabled on expires_at."
  }

  assert {
    condition     = aws_dynamodb_table.this.point_in_time_recovery[0].enabled
    error_message = "Point-in-time recovery must be enabled."
  }

  assert {
    condition = (
      aws_dynamodb_table.this.server_side_encryption[0].enabled &&
      aws_dynamodb_table.this.server_side_encryption[0].kms_key_arn == var.kms_key_arn
    )
    error_message = "SSE must use the customer-managed key passed in kms_key_arn."
  }

  assert {
    condition     = aws_dynamodb_table.this.stream_enabled && aws_dynamodb_table.this.stream_view_type == "KEYS_ONLY"
    error_message = "The jobs table streams KEYS_ONLY (the outbox's source)."
  }

  assert {
    condition     = aws_dynamodb_table.this.hash_key == "pk" && aws_dynamodb_table.this.range_key == "sk"
    error_message = "Keys must be pk (hash) and sk (range)."
  }

  assert {
    condition     = [for i in aws_dynamodb_table.this.global_secondary_index : i.name] == ["status-index"]
    error_message = "The status-index GSI must exist."
  }

  assert {
    condition     = !aws_dynamodb_table.this.deletion_protection_enabled
    error_message = "Deletion protection is off unless asked for (the root turns it on in prod)."
  }
}

run "table_without_stream_has_no_stream" {
  command = plan

  variables {
    name                     = "jobs-platform-test-api-keys"
    range_key                = null
    attributes               = { pk = "S" }
    global_secondary_indexes = {}
    stream_view_type         = null
    deletion_protection      = true
  }

  assert {
    condition     = !aws_dynamodb_table.this.stream_enabled
    error_message = "A table without stream_view_type has no stream."
  }

  assert {
    condition     = aws_dynamodb_table.this.deletion_protection_enabled
    error_message = "deletion_protection = true must reach the table."
  }
}

run "rejects_a_kms_key_that_is_not_an_arn" {
  command = plan

  variables {
    kms_key_arn = "alias/jobs-platform-test"
  }

  expect_failures = [var.kms_key_arn]
}

run "rejects_an_unknown_attribute_type" {
  command = plan

  variables {
    attributes = { pk = "S", sk = "BOOL" }
  }

  expect_failures = [var.attributes]
}

run "rejects_an_include_projection" {
  command = plan

  variables {
    global_secondary_indexes = {
      "status-index" = { hash_key = "tenant_status", range_key = "sk", projection_type = "INCLUDE" }
    }
  }

  expect_failures = [var.global_secondary_indexes]
}

run "rejects_an_unknown_stream_view_type" {
  command = plan

  variables {
    stream_view_type = "NEW"
  }

  expect_failures = [var.stream_view_type]
}

run "rejects_a_bad_table_name" {
  command = plan

  variables {
    name = "x"
  }

  expect_failures = [var.name]
}

run "rejects_an_alarm_topic_that_is_not_an_sns_arn" {
  command = plan

  variables {
    alarm_topic_arn = "jobs-alarms"
  }

  expect_failures = [var.alarm_topic_arn]
}
