# terraform test (mock provider, no AWS account): the queue module's redrive to its DLQ,
# encryption, the DLQ's allow policy, and its input validations (visibility >= 6 x the
# consumer's timeout + its batching window, maxReceiveCount >= 3).
# Run: terraform init -backend=false && terraform test   (tests/terraform runs it in CI)
mock_provider "aws" {
  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:us-east-1:123456789012:jobs-platform-test-jobs-dlq"
    }
  }
}

variables {
  name                       = "jobs-platform-test-jobs"
  visibility_timeout_seconds = 180
  consumer_timeout_seconds   = 30
  max_receive_count          = 5
  kms_key_id                 = "alias/jobs-platform-test"
}

run "queue_redrives_to_its_dlq" {
  assert {
    condition     = aws_sqs_queue.this.name == "jobs-platform-test-jobs" && aws_sqs_queue.dlq.name == "jobs-platform-test-jobs-dlq"
    error_message = "The DLQ is named <name>-dlq."
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this.redrive_policy).maxReceiveCount == 5
    error_message = "The redrive policy must carry maxReceiveCount = max_receive_count."
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dlq.arn
    error_message = "The redrive policy must target the module's DLQ."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.dlq_visible_messages.dimensions.QueueName == "jobs-platform-test-jobs-dlq"
    error_message = "The DLQ has a depth alarm."
  }

  assert {
    condition     = aws_sqs_queue.this.visibility_timeout_seconds == 180
    error_message = "visibility_timeout_seconds must reach the queue."
  }

  assert {
    condition     = aws_sqs_queue.dlq.message_retention_seconds == 1209600
    error_message = "The DLQ keeps messages 14 days (the SQS maximum)."
  }

  assert {
    condition = (
      aws_sqs_queue.this.kms_master_key_id == "alias/jobs-platform-test" &&
      aws_sqs_queue.dlq.kms_master_key_id == "alias/jobs-platform-test"
    )
    error_message = "Both queues are SSE-KMS with the given key."
  }

  assert {
    condition     = jsondecode(aws_sqs_queue_redrive_allow_policy.dlq[0].redrive_allow_policy).sourceQueueArns == [aws_sqs_queue.this.arn]
    error_message = "Only the queue may use the DLQ (redrive allow policy byQueue)."
  }
}

run "without_a_key_queues_use_sqs_managed_sse" {
  command = plan

  variables {
    kms_key_id                  = null
    create_redrive_allow_policy = false
  }

  assert {
    condition     = aws_sqs_queue.this.sqs_managed_sse_enabled && aws_sqs_queue.dlq.sqs_managed_sse_enabled
    error_message = "Without a CMK both queues use SSE-SQS."
  }

  assert {
    condition     = length(aws_sqs_queue_redrive_allow_policy.dlq) == 0
    error_message = "create_redrive_allow_policy = false creates no allow policy."
  }
}

run "rejects_visibility_below_six_times_the_consumer_timeout" {
  command = plan

  variables {
    visibility_timeout_seconds = 179
    consumer_timeout_seconds   = 30
  }

  expect_failures = [var.visibility_timeout_seconds]
}

run "rejects_visibility_below_six_times_the_timeout_plus_the_batching_window" {
  command = plan

  variables {
    visibility_timeout_seconds       = 180
    consumer_timeout_seconds         = 30
    consumer_batching_window_seconds = 1
  }

  expect_failures = [var.visibility_timeout_seconds]
}

run "rejects_visibility_above_twelve_hours" {
  command = plan

  variables {
    visibility_timeout_seconds = 43201
    consumer_timeout_seconds   = null
  }

  expect_failures = [var.visibility_timeout_seconds]
}

run "rejects_max_receive_count_below_three" {
  command = plan

  variables {
    max_receive_count = 2
  }

  expect_failures = [var.max_receive_count]
}

run "rejects_a_bad_queue_name" {
  command = plan

  variables {
    name = "jobs queue"
  }

  expect_failures = [var.name]
}

run "rejects_message_retention_out_of_range" {
  command = plan

  variables {
    message_retention_seconds = 30
  }

  expect_failures = [var.message_retention_seconds]
}

run "rejects_receive_wait_above_twenty_seconds" {
  command = plan

  variables {
    receive_wait_time_seconds = 21
  }

  expect_failures = [var.receive_wait_time_seconds]
}

run "rejects_a_short_kms_data_key_reuse_period" {
  command = plan

  variables {
    kms_data_key_reuse_period_seconds = 30
  }

  expect_failures = [var.kms_data_key_reuse_period_seconds]
}

run "rejects_an_alarm_topic_that_is_not_an_sns_arn" {
  command = plan

  variables {
    alarm_topic_arn = "jobs-alarms"
  }

  expect_failures = [var.alarm_topic_arn]
}
