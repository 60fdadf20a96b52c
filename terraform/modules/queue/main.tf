locals {
  dlq_name = "${var.name}-dlq"
  # With a customer-managed key the queue is SSE-KMS; without one, SQS-managed SSE.
  use_kms = var.kms_key_id != null
}

resource "aws_sqs_queue" "dlq" {
  name                              = local.dlq_name
  message_retention_seconds         = 1209600 # 14 days, the SQS maximum: time to inspect and redrive
  kms_master_key_id                 = var.kms_key_id
  kms_data_key_reuse_period_seconds = local.use_kms ? var.kms_data_key_reuse_period_seconds : null
  sqs_managed_sse_enabled           = local.use_kms ? null : true

  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  name                              = var.name
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  receive_wait_time_seconds         = var.receive_wait_time_seconds
  kms_master_key_id                 = var.kms_key_id
  kms_data_key_reuse_period_seconds = local.use_kms ? var.kms_data_key_reuse_period_seconds : null
  sqs_managed_sse_enabled           = local.use_kms ? null : true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

# Only the jobs queue may use the DLQ as its dead-letter target. Off in the local stack:
# the emulator never reports it converged, and the provider would wait 20 minutes.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  count = var.create_redrive_allow_policy ? 1 : 0

  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this.arn]
  })
}
