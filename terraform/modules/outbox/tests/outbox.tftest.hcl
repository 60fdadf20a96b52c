# terraform test (mock provider, no AWS account): the outbox pipe (jobs stream -> queue,
# INSERT of JOB# items only), its least-privilege role, and its input validations.
# Run: terraform init -backend=false && terraform test   (tests/terraform runs it in CI)
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

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/jobs-platform-test-outbox-pipe"
    }
  }
}

variables {
  name                     = "jobs-platform-test-outbox"
  source_stream_arn        = "arn:aws:dynamodb:us-east-1:123456789012:table/jobs-platform-test-jobs/stream/2024-01-01T00:00:00.000"
  target_queue_arn         = "arn:aws:sqs:us-east-1:123456789012:jobs-platform-test-jobs"
  kms_key_arn              = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  dead_letter_queue_arn    = "arn:aws:sqs:us-east-1:123456789012:jobs-platform-test-jobs-dlq"
  permissions_boundary_arn = "arn:aws:iam::123456789012:policy/bootstrap/jobs-platform-boundary-test"
}

run "failing_records_are_retried_a_bounded_number_of_times_then_dead_lettered" {
  command = plan

  assert {
    condition     = aws_pipes_pipe.this.source_parameters[0].dynamodb_stream_parameters[0].maximum_retry_attempts == 185
    error_message = "A failing record must not block its shard until it expires: retries are capped."
  }

  assert {
    condition     = aws_pipes_pipe.this.source_parameters[0].dynamodb_stream_parameters[0].dead_letter_config[0].arn == var.dead_letter_queue_arn
    error_message = "Undeliverable records go to the dead-letter queue."
  }
}

run "retrying_forever_is_refused" {
  command = plan

  variables {
    maximum_retry_attempts = -1
  }

  expect_failures = [var.maximum_retry_attempts]
}

run "pipe_forwards_new_jobs_from_the_stream_to_the_queue" {
  command = plan

  assert {
    condition     = aws_pipes_pipe.this.source == var.source_stream_arn && aws_pipes_pipe.this.target == var.target_queue_arn
    error_message = "The pipe reads the stream and sends to the queue."
  }

  assert {
    condition     = aws_pipes_pipe.this.source_parameters[0].dynamodb_stream_parameters[0].starting_position == "LATEST"
    error_message = "The pipe starts at LATEST."
  }

  assert {
    condition = jsondecode(aws_pipes_pipe.this.source_parameters[0].filter_criteria[0].filter[0].pattern) == {
      eventName = ["INSERT"]
      dynamodb  = { Keys = { sk = { S = [{ prefix = "JOB#" }] } } }
    }
    error_message = "Only INSERTs of JOB# items reach the queue (docs/architecture.md)."
  }

  assert {
    condition     = aws_pipes_pipe.this.desired_state == "RUNNING"
    error_message = "The pipe runs."
  }

  assert {
    condition     = aws_iam_role.this.name == "jobs-platform-test-outbox-pipe"
    error_message = "The pipe's role is <name>-pipe."
  }

  assert {
    condition     = aws_iam_role.this.permissions_boundary == var.permissions_boundary_arn
    error_message = "The pipe's role carries the environment's permissions boundary."
  }
}

run "rejects_an_arn_that_is_not_a_stream" {
  command = plan

  variables {
    source_stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/jobs-platform-test-jobs"
  }

  expect_failures = [var.source_stream_arn]
}

run "rejects_unknown_event_names" {
  command = plan

  variables {
    event_names = ["UPSERT"]
  }

  expect_failures = [var.event_names]
}

run "rejects_a_batch_above_ten" {
  command = plan

  variables {
    batch_size = 11
  }

  expect_failures = [var.batch_size]
}

run "rejects_a_batching_window_above_300" {
  command = plan

  variables {
    maximum_batching_window_in_seconds = 301
  }

  expect_failures = [var.maximum_batching_window_in_seconds]
}

run "rejects_a_name_too_long_for_the_role" {
  command = plan

  variables {
    name = "an-outbox-pipe-name-that-is-far-too-long-for-the-role-suffix-x"
  }

  expect_failures = [var.name]
}
