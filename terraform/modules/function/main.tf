data "aws_partition" "current" {}

locals {
  log_group_name = "/aws/lambda/${var.name}"
}

resource "aws_cloudwatch_log_group" "this" {
  # checkov:skip=CKV_AWS_338:Retention is chosen per environment (log_retention_days: dev 14, staging 30, prod 90 days) and always set (CKV2_JP_1); a year of function logs is cost without a use here.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.${data.aws_partition.current.dns_suffix}"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  description          = "Execution role of the ${var.name} Lambda function"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    # X-Ray trace ingestion has no resource-level permissions: AWS requires "*".
    sid       = "WriteTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.policy_statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }

  dynamic "statement" {
    for_each = var.sqs_event_source == null ? [] : [var.sqs_event_source]
    content {
      sid       = "ConsumeEventSourceQueue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
      resources = [statement.value.queue_arn]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-permissions"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116:No async invocations: the api and authorizer are called synchronously by API Gateway and the worker by an SQS event source mapping, whose failures go to the queue's redrive DLQ (CKV_JP_1).
  # checkov:skip=CKV_AWS_117:The functions call only AWS APIs (DynamoDB, SQS, KMS, Secrets Manager) and reach no private network; a VPC would add NAT/endpoint cost and cold-start time for no isolation gain.
  # checkov:skip=CKV_AWS_272:Integrity comes from the build: CI builds deterministic zips once and promotes the same sha256 (source_code_hash) to staging and prod; AWS Signer code signing is not set up yet.
  # checkov:skip=CKV_AWS_173:The environment variables hold no secrets (resource names, flags, levels; the origin secret is read from Secrets Manager) and Lambda encrypts them at rest with its AWS-managed key.
  function_name                  = var.name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  filename                       = var.zip_path
  source_code_hash               = var.source_code_hash
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = ["arm64"]
  timeout                        = var.timeout_seconds
  memory_size                    = var.memory_mb
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = var.environment_variables
  }

  tracing_config {
    mode = "Active"
  }

  dynamic "logging_config" {
    for_each = var.log_format == "JSON" ? [1] : []
    content {
      log_format = "JSON"
      log_group  = aws_cloudwatch_log_group.this.name
      # Lambda passes every application line (TRACE): the handlers filter by their own
      # LOG_LEVEL (the root module's log_level, the one knob), and a Lambda filter above it
      # would drop their DEBUG lines and the metric lines they write at any level.
      application_log_level = "TRACE"
      system_log_level      = "WARN"
    }
  }

  tags = var.tags

  # The log group must exist first, else Lambda creates one without retention or KMS.
  depends_on = [aws_cloudwatch_log_group.this]
}

resource "aws_lambda_event_source_mapping" "sqs" {
  count = var.sqs_event_source == null ? 0 : 1

  event_source_arn                   = var.sqs_event_source.queue_arn
  function_name                      = aws_lambda_function.this.arn
  batch_size                         = var.sqs_event_source.batch_size
  maximum_batching_window_in_seconds = var.sqs_event_source.maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  # Lambda checks the role's SQS permissions when the mapping is created.
  depends_on = [aws_iam_role_policy.this]

  dynamic "scaling_config" {
    for_each = var.sqs_event_source.maximum_concurrency == null ? [] : [var.sqs_event_source.maximum_concurrency]
    content {
      maximum_concurrency = scaling_config.value
    }
  }
}
