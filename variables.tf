variable "project" {
  description = "Project name: the first part of every resource name (`<project>-<environment>`)."
  type        = string
  default     = "jobs-platform"

  # The bootstrap stack's ProjectName pattern (a test ties them): at most 20 characters, so
  # its state bucket `<project>-<environment>-tfstate-<account id>` fits S3's 63.
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.project))
    error_message = "project must be 3-20 lowercase letters, digits or '-', starting with a letter and ending with a letter or digit (the bootstrap stack's state bucket name must fit in 63 characters)."
  }
}

variable "environment" {
  description = "Environment name: the environments/<environment>.tfvars file that sets it (local: the emulator; prod: production, which has minimums below)."
  type        = string

  # The same pattern as scripts/environments.py NAME_PATTERN (a test ties them): adding an
  # environment is adding its files, not editing a list here.
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.environment))
    error_message = "environment must be 2-12 lowercase letters or digits starting with a letter, and name its file: environments/<environment>.tfvars."
  }

  # Also orders the checks: the AWS providers read var.environment (default_tags), so
  # Terraform settles this variable before it configures them, and a rule that refers to
  # var.lambda_artifacts makes it settle that variable (and its "run 'make package'" rule)
  # first. Without it, a plan before `make package` would report "No valid credential
  # sources found" ahead of the error that names the fix. The second term is always true.
  validation {
    condition     = var.environment != null && (var.lambda_artifacts == null || var.lambda_artifacts != null)
    error_message = "environment must be set: -var-file=environments/<environment>.tfvars."
  }
}

variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "owner" {
  description = "Owning team, carried by every resource in the `owner` tag."
  type        = string
  default     = "platform-team"

  validation {
    condition     = length(var.owner) > 0
    error_message = "owner must not be empty: name the team that owns the stack."
  }
}

variable "lambda_artifacts" {
  description = "Deployment zips: function key -> zip path and base64 SHA-256. Null (the default): read from dist/artifacts.tfvars.json, which `make package` writes, so `terraform plan -var-file=environments/<env>.tfvars` needs no other flag."
  type = map(object({
    zip_path = string
    sha256   = string
  }))
  default = null

  validation {
    condition     = var.lambda_artifacts != null || fileexists("${path.root}/dist/artifacts.tfvars.json")
    error_message = "No Lambda artifacts: run 'make package' first. It builds dist/lambda/*.zip and writes dist/artifacts.tfvars.json, which Terraform reads by default (CI downloads them from the build job instead)."
  }

  validation {
    condition = try(
      toset(keys(var.lambda_artifacts != null ? var.lambda_artifacts : jsondecode(file("${path.root}/dist/artifacts.tfvars.json")).lambda_artifacts)) == toset(["api", "authorizer", "worker", "bookkeeper"]),
      var.lambda_artifacts == null && !fileexists("${path.root}/dist/artifacts.tfvars.json"),
    )
    error_message = "lambda_artifacts must have exactly the keys api, authorizer, worker and bookkeeper: rebuild dist/artifacts.tfvars.json with 'make package'."
  }
}

variable "enable_test_job_types" {
  description = "Enable the test job types `fail` and `sleep` (ENABLE_TEST_JOB_TYPES); never in prod."
  type        = bool
  default     = false

  validation {
    condition     = !(var.enable_test_job_types && var.environment == "prod")
    error_message = "enable_test_job_types must be false in prod: the test job types exist only in local and dev."
  }
}

variable "service_version" {
  description = "Version reported by GET /health (SERVICE_VERSION), e.g. the git commit CI deploys."
  type        = string
  default     = "0.1.0"
}

variable "log_level" {
  description = "Log level of every function: the one knob (LOG_LEVEL; the handlers filter their lines, Lambda's own JSON log filter passes them all)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "api_timeout_seconds" {
  description = "Timeout of the api function (API Gateway gives up after 30 s)."
  type        = number
  default     = 10

  validation {
    condition     = var.api_timeout_seconds >= 1 && var.api_timeout_seconds <= 29
    error_message = "api_timeout_seconds must be between 1 and 29 (the HTTP API integration timeout is 30 s)."
  }
}

variable "authorizer_timeout_seconds" {
  description = "Timeout of the authorizer function."
  type        = number
  default     = 5

  validation {
    condition     = var.authorizer_timeout_seconds >= 1 && var.authorizer_timeout_seconds <= 10
    error_message = "authorizer_timeout_seconds must be between 1 and 10 (authorizers must answer fast)."
  }
}

variable "worker_timeout_seconds" {
  description = "Timeout of the worker function; the queue's visibility timeout must be at least 6 x this."
  type        = number
  default     = 30

  validation {
    condition     = var.worker_timeout_seconds >= 1 && var.worker_timeout_seconds <= 900
    error_message = "worker_timeout_seconds must be between 1 and 900."
  }

  validation {
    # Where the tfvars meet the code: the job types' declared maximum durations
    # (openapi.yaml x-jobs-platform-job-types, checked against jobs_platform.job_types).
    condition     = var.worker_timeout_seconds >= local.longest_job_seconds + 1
    error_message = "worker_timeout_seconds must be at least the longest enabled job type's max duration (openapi.yaml x-jobs-platform-job-types) + 1 s to read, claim and finish it; raise it, or disable the test job types."
  }
}

variable "memory_mb" {
  description = "Memory of each function in MB (CPU scales with memory)."
  type = object({
    api        = optional(number, 512)
    authorizer = optional(number, 256)
    worker     = optional(number, 512)
    bookkeeper = optional(number, 128)
  })
  default = {}

  validation {
    condition     = alltrue([for m in values(var.memory_mb) : m >= 128 && m <= 10240])
    error_message = "Each memory_mb value must be between 128 and 10240."
  }
}

variable "dlq_bookkeeping_interval_minutes" {
  description = "How often the DLQ bookkeeping runs (EventBridge Scheduler): a job whose message reached the jobs DLQ without the worker marking it is marked failed (dead_lettered) at most this long after."
  type        = number
  default     = 5

  validation {
    condition     = var.dlq_bookkeeping_interval_minutes >= 1 && var.dlq_bookkeeping_interval_minutes <= 60 && floor(var.dlq_bookkeeping_interval_minutes) == var.dlq_bookkeeping_interval_minutes
    error_message = "dlq_bookkeeping_interval_minutes must be a whole number of minutes from 1 to 60."
  }
}

variable "worker_reserved_concurrency" {
  description = "Reserved concurrency of the worker: caps parallel writers on the jobs table (-1: unreserved)."
  type        = number
  default     = -1

  validation {
    condition     = var.worker_reserved_concurrency >= -1
    error_message = "worker_reserved_concurrency must be -1 (unreserved) or >= 0."
  }
}

variable "queue_visibility_timeout_seconds" {
  description = "Visibility timeout of the jobs queue: at least 6 x worker_timeout_seconds + worker_batching_window_seconds (AWS guidance for Lambda consumers)."
  type        = number
  default     = 180

  validation {
    condition     = var.queue_visibility_timeout_seconds >= 6 * var.worker_timeout_seconds + var.worker_batching_window_seconds && var.queue_visibility_timeout_seconds <= 43200
    error_message = "queue_visibility_timeout_seconds must be >= 6 x worker_timeout_seconds + worker_batching_window_seconds (and <= 43200): raise it, or lower the timeout or the batching window."
  }
}

variable "max_receive_count" {
  description = "Receives of a job message before SQS moves it to the DLQ (redrive maxReceiveCount; also the worker's MAX_RECEIVE_COUNT)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 3 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 3 and 1000: fewer would dead-letter jobs on transient errors."
  }
}

variable "create_redrive_allow_policy" {
  description = "Restrict the DLQ to the jobs queue as its only source. Keep true on AWS; only the emulator (local) turns it off."
  type        = bool
  default     = true
}

variable "worker_batch_size" {
  description = "Messages per worker invocation (SQS event source mapping batch size)."
  type        = number
  default     = 10

  validation {
    condition     = var.worker_batch_size >= 1 && var.worker_batch_size <= 10
    error_message = "worker_batch_size must be between 1 and 10 (larger batches need a batching window and risk long invocations)."
  }
}

variable "worker_batching_window_seconds" {
  description = "How long the event source mapping gathers messages before invoking the worker (0: at once)."
  type        = number
  default     = 0

  validation {
    condition     = var.worker_batching_window_seconds >= 0 && var.worker_batching_window_seconds <= 300
    error_message = "worker_batching_window_seconds must be between 0 and 300."
  }
}

variable "pipe_batch_size" {
  description = "Stream records per outbox pipe batch (1-10: one SendMessageBatch)."
  type        = number
  default     = 10

  validation {
    condition     = var.pipe_batch_size >= 1 && var.pipe_batch_size <= 10
    error_message = "pipe_batch_size must be between 1 and 10."
  }
}

variable "pipe_maximum_retry_attempts" {
  description = "Retries of a batch the outbox pipe cannot deliver before its failure record goes to the jobs DLQ (where the DLQ bookkeeping marks its jobs failed and redrive can move them back)."
  type        = number
  default     = 185

  validation {
    condition     = var.pipe_maximum_retry_attempts >= 0 && var.pipe_maximum_retry_attempts <= 10000
    error_message = "pipe_maximum_retry_attempts must be between 0 and 10000 (never -1: a record retried until it expires is lost)."
  }
}

variable "job_retention_days" {
  description = "Days after creation when a job expires (TTL; JOB_RETENTION_DAYS)."
  type        = number
  default     = 30

  validation {
    condition     = var.job_retention_days >= 1 && var.job_retention_days <= 365
    error_message = "job_retention_days must be between 1 and 365."
  }
}

variable "session_default_ttl_seconds" {
  description = "Session lifetime when a request gives none (SESSION_DEFAULT_TTL_SECONDS)."
  type        = number
  default     = 86400

  validation {
    condition     = var.session_default_ttl_seconds >= 60 && var.session_default_ttl_seconds <= 604800
    error_message = "session_default_ttl_seconds must be between 60 and 604800 (7 days, the handler's SESSION_TTL_MAX_SECONDS)."
  }
}

variable "deletion_protection" {
  description = "DynamoDB deletion protection on every table (must be true in prod)."
  type        = bool
  default     = true

  validation {
    condition     = var.deletion_protection || var.environment != "prod"
    error_message = "deletion_protection must be true in prod: set deletion_protection = true in environments/prod.tfvars."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group (functions, API access logs, WAF); prod keeps at least 90 days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }

  validation {
    condition     = var.log_retention_days >= 90 || var.environment != "prod"
    error_message = "log_retention_days must be at least 90 in prod (incident investigations look back that far): set log_retention_days = 90 (or more) in environments/prod.tfvars."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the environment's CMK is deleted after destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "authorizer_result_ttl_seconds" {
  description = "How long API Gateway caches an authorizer decision per API key (0: no cache; a revoked key works at most this long)."
  type        = number
  default     = 60

  validation {
    condition     = var.authorizer_result_ttl_seconds >= 0 && var.authorizer_result_ttl_seconds <= 3600
    error_message = "authorizer_result_ttl_seconds must be between 0 and 3600."
  }
}

variable "api_throttling_burst_limit" {
  description = "API stage burst limit (requests)."
  type        = number
  default     = 100

  validation {
    condition     = var.api_throttling_burst_limit >= 1
    error_message = "api_throttling_burst_limit must be >= 1."
  }
}

variable "api_throttling_rate_limit" {
  description = "API stage steady-state rate limit (requests per second)."
  type        = number
  default     = 50

  validation {
    condition     = var.api_throttling_rate_limit >= 1
    error_message = "api_throttling_rate_limit must be >= 1."
  }
}

variable "lambda_log_format" {
  description = "Lambda log format of every function: JSON (Lambda's structured logs with level filtering) or Text. Keep JSON on AWS; the emulator (local) does not store Lambda logging config."
  type        = string
  default     = "JSON"

  validation {
    condition     = contains(["JSON", "Text"], var.lambda_log_format)
    error_message = "lambda_log_format must be JSON or Text."
  }
}

variable "alarm_email_endpoints" {
  description = "Email addresses subscribed to the environment's alarm topic (each confirms once); empty: no subscriptions (local)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_email_endpoints : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "Each alarm_email_endpoints entry must be an email address (name@example.com)."
  }
}

variable "api_5xx_rate_alarm_threshold" {
  description = "The API alarm fires when 5xx / requests over 5 minutes exceeds this fraction (0.05 = 5%)."
  type        = number
  default     = 0.05

  validation {
    condition     = var.api_5xx_rate_alarm_threshold > 0 && var.api_5xx_rate_alarm_threshold < 1
    error_message = "api_5xx_rate_alarm_threshold must be a fraction between 0 and 1 (e.g. 0.05)."
  }
}

variable "api_p99_latency_alarm_ms" {
  description = "The API alarm fires when p99 latency stays at or above this many milliseconds for 15 minutes."
  type        = number
  default     = 2000

  validation {
    condition     = var.api_p99_latency_alarm_ms >= 1 && var.api_p99_latency_alarm_ms <= 30000
    error_message = "api_p99_latency_alarm_ms must be between 1 and 30000 (the HTTP API integration timeout is 30 s)."
  }
}

variable "create_budget" {
  description = "Create the environment's monthly AWS Budgets cost budget (the emulator has no Budgets: false in local only)."
  type        = bool
  default     = true
}

variable "budget_limit_amount" {
  description = "Monthly cost limit of the environment in USD (notifications at 80% actual and 100% forecasted)."
  type        = number
  default     = null

  validation {
    condition     = !var.create_budget || try(var.budget_limit_amount > 0 && var.budget_limit_amount <= 1000000, false)
    error_message = "budget_limit_amount must be set (greater than 0, at most 1000000) when create_budget is true."
  }
}

variable "budget_notification_emails" {
  description = "Email recipients of the budget notifications (at most 10); the alarm topic receives them too."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.budget_notification_emails) <= 10 && alltrue([for e in var.budget_notification_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "budget_notification_emails must hold at most 10 email addresses (name@example.com)."
  }
}

variable "enable_edge" {
  description = "Put CloudFront + WAFv2 in front of the HTTP API and refuse calls that bypass it (origin-verify header). Required in staging and prod; dev may turn it off to save cost; local must (the emulator has no edge)."
  type        = bool
  default     = true

  validation {
    condition     = var.enable_edge || !contains(["staging", "prod"], var.environment)
    error_message = "enable_edge must be true in staging and prod (WAF and the origin check protect the API there): set enable_edge = true in environments/<env>.tfvars."
  }
}

variable "waf_rate_limit_per_5_minutes" {
  description = "WAF rate-based rule: requests per client IP in any 5-minute window before the edge answers 429 (AWS minimum 10)."
  type        = number
  default     = 2000

  validation {
    condition     = var.waf_rate_limit_per_5_minutes >= 10 && var.waf_rate_limit_per_5_minutes <= 2000000000 && floor(var.waf_rate_limit_per_5_minutes) == var.waf_rate_limit_per_5_minutes
    error_message = "waf_rate_limit_per_5_minutes must be a whole number between 10 (the AWS WAF minimum) and 2000000000."
  }
}

variable "waf_rate_limit_per_api_key_per_5_minutes" {
  description = "WAF rate-based rule keyed on the x-api-key header: requests per API key in any 5-minute window before the edge answers 429, wherever they come from (one tenant spreading over many IPs). Requests without a key are counted per IP only. AWS minimum 10."
  type        = number
  default     = 1000

  validation {
    condition     = var.waf_rate_limit_per_api_key_per_5_minutes >= 10 && var.waf_rate_limit_per_api_key_per_5_minutes <= 2000000000 && floor(var.waf_rate_limit_per_api_key_per_5_minutes) == var.waf_rate_limit_per_api_key_per_5_minutes
    error_message = "waf_rate_limit_per_api_key_per_5_minutes must be a whole number between 10 (the AWS WAF minimum) and 2000000000."
  }
}

variable "origin_verify_secret_version" {
  description = "Version of the environment's origin-verify value: increase it (1 -> 2) in environments/<env>.tfvars to rotate that environment's secret (step 1 of docs/deploying.md \"Rotating the origin-verify secret\"; step 2 revokes the previous value)."
  type        = number
  default     = 1

  validation {
    condition     = var.origin_verify_secret_version >= 1 && floor(var.origin_verify_secret_version) == var.origin_verify_secret_version
    error_message = "origin_verify_secret_version must be a whole number >= 1; increase it to rotate the secret."
  }
}

variable "edge_price_class" {
  description = "CloudFront price class of the edge: PriceClass_100 (North America, Europe), PriceClass_200 or PriceClass_All."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.edge_price_class)
    error_message = "edge_price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}
