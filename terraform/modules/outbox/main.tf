data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # docs/architecture.md: {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "JOB#"}]}}}}
  filter_pattern = {
    eventName = var.event_names
    dynamodb  = { Keys = { sk = { S = [{ prefix = var.sort_key_prefix }] } } }
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "PipesAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["pipes.${data.aws_partition.current.dns_suffix}"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = "${var.name}-pipe"
  description          = "Role of the ${var.name} pipe (table stream -> queue)"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ReadSourceStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
    resources = [var.source_stream_arn]
  }

  statement {
    sid       = "SendToTargetQueue"
    actions   = ["sqs:SendMessage"]
    resources = [var.target_queue_arn]
  }

  statement {
    # Used only when delivery keeps failing: Pipes then sends the batch's failure record
    # (shard, sequence numbers) here instead of dropping it when the record expires.
    sid       = "DeadLetterOnFailure"
    actions   = ["sqs:SendMessage"]
    resources = [var.dead_letter_queue_arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      # Decrypt: stream records of a table encrypted with a CMK; GenerateDataKey (+Decrypt):
      # SendMessage to an SSE-KMS queue.
      sid       = "UseEncryptionKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-pipe"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_pipes_pipe" "this" {
  name          = var.name
  description   = "Outbox: new job items on the table stream -> jobs queue"
  role_arn      = aws_iam_role.this.arn
  source        = var.source_stream_arn
  target        = var.target_queue_arn
  desired_state = "RUNNING"

  source_parameters {
    dynamodb_stream_parameters {
      starting_position                  = "LATEST"
      batch_size                         = var.batch_size
      maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
      # Without a cap a failing record blocks its shard until it expires (24 h) and is
      # then lost: the job would stay queued forever. After the cap it goes to the DLQ.
      maximum_retry_attempts = var.maximum_retry_attempts

      dead_letter_config {
        arn = var.dead_letter_queue_arn
      }
    }

    filter_criteria {
      filter {
        pattern = jsonencode(local.filter_pattern)
      }
    }
  }

  tags = var.tags

  # The pipe validates its role's permissions when it starts.
  depends_on = [aws_iam_role_policy.this]
}
