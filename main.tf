data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name_prefix = "${var.project}-${var.environment}"

  # The zips `make package` built: the variable when given, else the file it writes.
  lambda_artifacts = var.lambda_artifacts != null ? var.lambda_artifacts : jsondecode(file("${path.root}/dist/artifacts.tfvars.json")).lambda_artifacts
  kms_alias_name   = "alias/${local.name_prefix}"

  # The permissions boundary of every role of the environment: the bootstrap stack's
  # PermissionsBoundary (bootstrap/template.yaml; its deploy role refuses to create or
  # change a role without it, and a contract test ties the two names).
  permissions_boundary_arn = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:policy/bootstrap/${var.project}-boundary-${var.environment}"

  # The alarm topic's name and ARN, stated once: the CMK's key policy scopes the SNS
  # grants to this topic, and the topic (monitoring module) is encrypted with that key.
  alarm_topic_name = "${local.name_prefix}-alarms"
  alarm_topic_arn  = "arn:${data.aws_partition.current.partition}:sns:${var.region}:${data.aws_caller_identity.current.account_id}:${local.alarm_topic_name}"

  # Extra tags on top of the provider's default_tags (project/environment/owner).
  tags = {
    stack = local.name_prefix
  }

  # The HTTP routes come from the OpenAPI document, their one statement (docs/architecture.md
  # "Routes"): each operation is a route "<METHOD> <path>" to the function its
  # `x-jobs-platform-function` names; `security: []` means no API key. The document's
  # `x-jobs-platform-default-route` is `$default`. The api handler's route table is
  # checked against the same document (tests/contract/test_openapi.py).
  openapi = yamldecode(file("${path.module}/openapi.yaml"))
  # The longest a job of an enabled type may run: the worker's timeout must cover it
  # (a validation of worker_timeout_seconds), or a slow job could never finish.
  longest_job_seconds = max([
    for name, job_type in local.openapi["x-jobs-platform-job-types"] :
    job_type.max_duration_seconds if var.enable_test_job_types || !job_type.test_only
  ]...)
  http_methods = ["get", "put", "post", "delete", "patch", "head", "options"]
  routes = merge(
    {
      for operation in flatten([
        for path, item in local.openapi.paths : [
          for method, spec in item : {
            key        = "${upper(method)} ${path}"
            function   = spec["x-jobs-platform-function"]
            authorized = length(try(spec.security, local.openapi.security)) > 0
          } if contains(local.http_methods, method)
        ]
      ]) : operation.key => { function = operation.function, authorized = operation.authorized }
    },
    {
      "$default" = {
        function   = local.openapi["x-jobs-platform-default-route"].function
        authorized = local.openapi["x-jobs-platform-default-route"].authorized
      }
    },
  )

  # docs/architecture.md "Edge": the header CloudFront adds with the origin-verify secret
  # (the authorizer's ORIGIN_VERIFY_HEADER; a contract test compares both).
  origin_verify_header = "x-origin-verify"

  # docs/architecture.md "Names" and "Environment variables": one entry per function.
  # Permissions are least privilege on the exact ARNs. No KMS statements for the tables:
  # DynamoDB encrypts and decrypts with its own grant on the CMK (created with the
  # table), so callers of the DynamoDB API need no KMS permission. The queue is SSE-KMS
  # with the same CMK, so its consumer (worker) needs kms:Decrypt, and its producer (the
  # outbox pipe) kms:GenerateDataKey + kms:Decrypt (granted in the outbox module).
  functions = {
    api = {
      handler     = "jobs_platform.handlers.api.handler"
      description = "HTTP API: jobs and sessions"
      timeout     = var.api_timeout_seconds
      memory      = var.memory_mb.api
      environment = {
        JOBS_TABLE_NAME             = module.table["jobs"].table_name
        SESSIONS_TABLE_NAME         = module.table["sessions"].table_name
        ENABLE_TEST_JOB_TYPES       = tostring(var.enable_test_job_types)
        JOB_RETENTION_DAYS          = tostring(var.job_retention_days)
        SESSION_DEFAULT_TTL_SECONDS = tostring(var.session_default_ttl_seconds)
        SERVICE_VERSION             = var.service_version
        LOG_LEVEL                   = var.log_level
        SERVICE_NAME                = local.name_prefix
      }
      policy_statements = [
        {
          # Job create is one TransactWriteItems (IAM authorises each item: PutItem for
          # the job and idempotency record, UpdateItem for the quota counter).
          sid       = "JobsTable"
          actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
          resources = [module.table["jobs"].table_arn]
        },
        {
          sid       = "JobsStatusIndex"
          actions   = ["dynamodb:Query"]
          resources = [for index in keys(local.tables.jobs.indexes) : "${module.table["jobs"].table_arn}/index/${index}"]
        },
        {
          sid       = "SessionsTable"
          actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
          resources = [module.table["sessions"].table_arn]
        },
      ]
      reserved_concurrency = -1
    }
    authorizer = {
      handler     = "jobs_platform.handlers.authorizer.handler"
      description = "HTTP API Lambda REQUEST authorizer (x-api-key)"
      timeout     = var.authorizer_timeout_seconds
      memory      = var.memory_mb.authorizer
      environment = {
        API_KEYS_TABLE_NAME = module.table["api-keys"].table_name
        # Always set (a fixed set of names): "" when the edge is off, so the authorizer
        # skips the origin check (docs/architecture.md "Edge").
        ORIGIN_VERIFY_SECRET_ARN = var.enable_edge ? module.edge[0].secretsmanager_secret_arn : ""
        LOG_LEVEL                = var.log_level
      }
      policy_statements = concat(
        [
          {
            sid       = "ApiKeysTable"
            actions   = ["dynamodb:GetItem"]
            resources = [module.table["api-keys"].table_arn]
          },
        ],
        # Only with the edge: read the origin-verify secret (SSE-KMS with the stack's CMK).
        var.enable_edge ? [
          {
            sid       = "OriginVerifySecret"
            actions   = ["secretsmanager:GetSecretValue"]
            resources = [module.edge[0].secretsmanager_secret_arn]
          },
          {
            sid       = "DecryptOriginVerifySecret"
            actions   = ["kms:Decrypt"]
            resources = [aws_kms_key.this.arn]
          },
        ] : [],
      )
      reserved_concurrency = -1
    }
    worker = {
      handler     = "jobs_platform.handlers.worker.handler"
      description = "Runs queued jobs (SQS batches, partial batch failures)"
      timeout     = var.worker_timeout_seconds
      memory      = var.memory_mb.worker
      environment = {
        JOBS_TABLE_NAME       = module.table["jobs"].table_name
        ENABLE_TEST_JOB_TYPES = tostring(var.enable_test_job_types)
        MAX_RECEIVE_COUNT     = tostring(var.max_receive_count)
        LOG_LEVEL             = var.log_level
        SERVICE_NAME          = local.name_prefix
      }
      policy_statements = [
        {
          sid       = "JobsTable"
          actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
          resources = [module.table["jobs"].table_arn]
        },
        {
          # sqs:ReceiveMessage/DeleteMessage/GetQueueAttributes/ChangeMessageVisibility on
          # the jobs queue come with the event source mapping (function module).
          sid       = "DecryptJobsQueueMessages"
          actions   = ["kms:Decrypt"]
          resources = [aws_kms_key.this.arn]
        },
      ]
      reserved_concurrency = var.worker_reserved_concurrency
    }
    # DLQ bookkeeping (docs/architecture.md "Outbox and worker"): on a schedule, marks
    # every job whose message reached the jobs DLQ `failed` (dead_lettered) and never
    # deletes what redrive needs. One run at a time.
    bookkeeper = {
      handler     = "jobs_platform.handlers.bookkeeper.handler"
      description = "DLQ bookkeeping: jobs whose message reached the DLQ end failed"
      timeout     = local.bookkeeper_timeout_seconds
      memory      = var.memory_mb.bookkeeper
      environment = {
        JOBS_TABLE_NAME = module.table["jobs"].table_name
        JOBS_DLQ_URL    = module.queue.dlq_url
        LOG_LEVEL       = var.log_level
        SERVICE_NAME    = local.name_prefix
      }
      policy_statements = [
        {
          # Reads a job; marks it failed and counts it in its tenant's usage (one
          # TransactWriteItems of two updates, authorised as UpdateItem each).
          sid       = "JobsTable"
          actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
          resources = [module.table["jobs"].table_arn]
        },
        {
          # A pipe failure record names stream sequence numbers: read them back.
          sid       = "JobsStream"
          actions   = ["dynamodb:GetShardIterator", "dynamodb:GetRecords"]
          resources = [module.table["jobs"].table_stream_arn]
        },
        {
          # Peeks (receive, then visible again) and never deletes a job's message; a pipe
          # failure record is replaced by one message per job it stood for.
          sid       = "JobsDeadLetterQueue"
          actions   = ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:SendMessage", "sqs:DeleteMessage"]
          resources = [module.queue.dlq_arn]
        },
        {
          # SSE-KMS: reading the DLQ and the stream (Decrypt), sending to the DLQ
          # (GenerateDataKey).
          sid       = "UseEncryptionKey"
          actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
          resources = [aws_kms_key.this.arn]
        },
      ]
      reserved_concurrency = 1
    }
  }

  # The bookkeeping's timeout: a run stops taking messages well before it (handler).
  bookkeeper_timeout_seconds = 60
  # EventBridge Scheduler's rate grammar: "rate(1 minute)", "rate(5 minutes)".
  bookkeeping_schedule = var.dlq_bookkeeping_interval_minutes == 1 ? "rate(1 minute)" : "rate(${var.dlq_bookkeeping_interval_minutes} minutes)"

  # docs/architecture.md "Tables".
  tables = {
    jobs = {
      range_key  = "sk"
      attributes = { pk = "S", sk = "S", tenant_status = "S" }
      indexes    = { "status-index" = { hash_key = "tenant_status", range_key = "sk" } }
      # Keys only: the pipe filters on eventName + keys and the worker reads the job by
      # key, so stream records (and queue messages) stay small whatever the payload.
      stream_view_type = "KEYS_ONLY"
    }
    sessions = {
      range_key        = "sk"
      attributes       = { pk = "S", sk = "S" }
      indexes          = {}
      stream_view_type = null
    }
    api-keys = {
      range_key        = null
      attributes       = { pk = "S" }
      indexes          = {}
      stream_view_type = null
    }
  }
}

# One customer-managed key per environment (rotated yearly): tables, queues, log groups,
# the alarm topic and the origin-verify secret (its description names each; a contract
# test compares it with the modules given the key).
data "aws_iam_policy_document" "kms" {
  # checkov:skip=CKV_AWS_109:A KMS key policy's Resource "*" is this key only; the account-root statement is AWS's default key policy (IAM policies then grant use), without it the key becomes unmanageable.
  # checkov:skip=CKV_AWS_111:Same key policy: Resource "*" means this key; the service statements are scoped by aws:SourceAccount and encryption-context conditions.
  # checkov:skip=CKV_AWS_356:Same key policy: in a key policy Resource must be "*" (it can only refer to the key itself).
  statement {
    # The account's IAM policies decide who uses the key (the default key policy).
    sid       = "AccountAdministersKeyViaIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    # CloudWatch Logs encrypts this environment's log groups only.
    sid       = "CloudWatchLogsEncryptsLogGroups"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:*"]
    }
  }

  statement {
    # CloudWatch alarms and AWS Budgets publish to the SSE-KMS alarm topic: SNS uses the
    # key on the publisher's behalf, so the publishing services need the data key. Only
    # for this account and only under the alarm topic's encryption context.
    sid       = "AlarmPublishersUseKeyForAlarmTopic"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:sns:topicArn"
      values   = [local.alarm_topic_arn]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${local.name_prefix}: DynamoDB tables, SQS queues, CloudWatch log groups, SNS alarm topic, Secrets Manager origin-verify secret"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json

  tags = local.tags
}

resource "aws_kms_alias" "this" {
  name          = local.kms_alias_name
  target_key_id = aws_kms_key.this.key_id
}

module "table" {
  source   = "./terraform/modules/table"
  for_each = local.tables

  name                     = "${local.name_prefix}-${each.key}"
  hash_key                 = "pk"
  range_key                = each.value.range_key
  attributes               = each.value.attributes
  global_secondary_indexes = each.value.indexes
  ttl_attribute            = "expires_at"
  stream_view_type         = each.value.stream_view_type
  kms_key_arn              = aws_kms_key.this.arn
  deletion_protection      = var.deletion_protection
  alarm_topic_arn          = module.monitoring.sns_topic_arn
  tags                     = local.tags
}

# SSE-KMS with the environment's CMK (not SSE-SQS): key use is auditable in CloudTrail,
# revocable, and the same key policy governs data at rest in tables, queues and logs.
# The queues name the key by its alias (SQS resolves it when messages are sent and
# received): the queues then need not wait for the key's creation (KMS waits ~12 s for
# propagation, SQS ~25 s per queue), which shortens every apply from scratch. The alias
# exists long before the first message: the pipe and the worker wait for the key.
# The rule "visibility >= 6 x the worker's timeout + its batching window" is the queue
# module's; queue_visibility_timeout_seconds states it again for an early error naming the
# root variables (tests/contract/test_stated_once.py ties the two).
module "queue" {
  source = "./terraform/modules/queue"

  name                             = "${local.name_prefix}-jobs"
  visibility_timeout_seconds       = var.queue_visibility_timeout_seconds
  consumer_timeout_seconds         = var.worker_timeout_seconds
  consumer_batching_window_seconds = var.worker_batching_window_seconds
  max_receive_count                = var.max_receive_count
  kms_key_id                       = local.kms_alias_name
  create_redrive_allow_policy      = var.create_redrive_allow_policy
  alarm_topic_arn                  = module.monitoring.sns_topic_arn
  tags                             = local.tags
}

module "function" {
  source   = "./terraform/modules/function"
  for_each = local.functions

  name             = "${local.name_prefix}-${each.key}"
  description      = each.value.description
  zip_path         = local.lambda_artifacts[each.key].zip_path
  source_code_hash = local.lambda_artifacts[each.key].sha256
  handler          = each.value.handler
  # The Lambda runtime, stated once (scripts/package.py builds the zips for its Python:
  # a contract test compares).
  runtime               = "python3.12"
  timeout_seconds       = each.value.timeout
  memory_mb             = each.value.memory
  reserved_concurrency  = each.value.reserved_concurrency
  environment_variables = each.value.environment
  policy_statements     = each.value.policy_statements
  log_format            = var.lambda_log_format
  # Set here, not in local.functions, so that only the event source mapping (and the
  # worker's role policy) wait for the queue, not the three functions.
  sqs_event_source = each.key != "worker" ? null : {
    queue_arn                          = module.queue.queue_arn
    batch_size                         = var.worker_batch_size
    maximum_batching_window_in_seconds = var.worker_batching_window_seconds
    # With reserved concurrency, the mapping must not poll faster than the function may
    # run: throttled batches still use up receives and would land in the DLQ unrun.
    maximum_concurrency = var.worker_reserved_concurrency >= 2 ? min(var.worker_reserved_concurrency, 1000) : null
  }
  schedule = each.key != "bookkeeper" ? null : {
    expression  = local.bookkeeping_schedule
    description = "DLQ bookkeeping of ${local.name_prefix}: jobs whose message reached the DLQ end failed"
  }
  log_retention_days       = var.log_retention_days
  kms_key_arn              = aws_kms_key.this.arn
  alarm_topic_arn          = module.monitoring.sns_topic_arn
  permissions_boundary_arn = local.permissions_boundary_arn
  tags                     = local.tags
}

module "api" {
  source = "./terraform/modules/api"

  name = local.name_prefix
  functions = {
    for key in distinct([for r in values(local.routes) : r.function]) : key => {
      function_name = module.function[key].function_name
      invoke_arn    = module.function[key].function_invoke_arn
    }
  }
  routes = local.routes
  authorizer = {
    function_name = module.function["authorizer"].function_name
    invoke_arn    = module.function["authorizer"].function_invoke_arn
  }
  authorizer_result_ttl_seconds = var.authorizer_result_ttl_seconds
  # With the edge on, every route (GET /health too) requires CloudFront's origin header.
  origin_verify_header   = var.enable_edge ? local.origin_verify_header : null
  throttling_burst_limit = var.api_throttling_burst_limit
  throttling_rate_limit  = var.api_throttling_rate_limit
  log_retention_days     = var.log_retention_days
  kms_key_arn            = aws_kms_key.this.arn
  tags                   = local.tags
}

module "outbox" {
  source = "./terraform/modules/outbox"

  name              = "${local.name_prefix}-outbox"
  source_stream_arn = module.table["jobs"].table_stream_arn
  target_queue_arn  = module.queue.queue_arn
  # The jobs DLQ: its depth > 0 alarm covers undeliverable outbox records too.
  dead_letter_queue_arn    = module.queue.dlq_arn
  batch_size               = var.pipe_batch_size
  maximum_retry_attempts   = var.pipe_maximum_retry_attempts
  kms_key_arn              = aws_kms_key.this.arn
  permissions_boundary_arn = local.permissions_boundary_arn
  tags                     = local.tags
}

# Alarm topic (SSE-KMS), the API and pipe alarms, and the environment's dashboard. The
# table, queue and function modules create their own alarms on this topic.
module "monitoring" {
  source = "./terraform/modules/monitoring"

  name                         = local.name_prefix
  region                       = var.region
  sns_topic_name               = local.alarm_topic_name
  kms_key_arn                  = aws_kms_key.this.arn
  alarm_email_endpoints        = var.alarm_email_endpoints
  api                          = { id = module.api.api_id, stage = module.api.stage_name }
  api_5xx_rate_alarm_threshold = var.api_5xx_rate_alarm_threshold
  api_p99_latency_alarm_ms     = var.api_p99_latency_alarm_ms
  # Names from the modules that made them (each module's name outputs): never rebuilt here.
  pipe_name      = module.outbox.pipe_name
  function_names = { for key, function in module.function : key => function.function_name }
  queues = {
    jobs = { queue_name = module.queue.queue_name, dlq_name = module.queue.dlq_name }
  }
  table_names = { for key, table in module.table : key => table.table_name }
  tags        = local.tags
}

# Monthly cost budget of the environment, scoped by the `environment` cost allocation tag
# (the provider's default_tags key). Off in the local stack: the emulator has no Budgets.
module "budget" {
  source = "./terraform/modules/budget"
  count  = var.create_budget ? 1 : 0

  name                       = "${local.name_prefix}-monthly-cost"
  limit_amount               = var.budget_limit_amount
  cost_allocation_tag        = { key = "environment", value = var.environment }
  subscriber_email_addresses = var.budget_notification_emails
  subscriber_sns_topic_arn   = module.monitoring.sns_topic_arn
  tags                       = local.tags
}

# CloudFront + WAFv2 (CLOUDFRONT scope, us-east-1) in front of the HTTP API, and the
# origin-verify secret the authorizer checks (docs/architecture.md "Edge"). A variable
# validation keeps it on in staging and prod; local (the emulator) and dev turn it off.
module "edge" {
  source = "./terraform/modules/edge"
  count  = var.enable_edge ? 1 : 0

  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  name                      = local.name_prefix
  origin_domain_name        = trimprefix(module.api.api_endpoint, "https://")
  origin_verify_header_name = local.origin_verify_header
  secret_kms_key_arn        = aws_kms_key.this.arn
  price_class               = var.edge_price_class
  rate_limit_per_5_minutes  = var.waf_rate_limit_per_5_minutes

  rate_limit_per_api_key_per_5_minutes = var.waf_rate_limit_per_api_key_per_5_minutes
  origin_verify_secret_version         = var.origin_verify_secret_version
  log_retention_days                   = var.log_retention_days
  kms_deletion_window_days             = var.kms_deletion_window_days
  tags                                 = local.tags
}
