# The local stack (`make local`): applied into the embedded emulator by
# scripts/local_stack/terraform.py, never into an AWS account.
environment = "local"
region      = "us-east-1"
owner       = "local-developer"

enable_test_job_types = true
log_level             = "DEBUG"
service_version       = "local"

# Small timeouts keep redelivery snappy (visibility >= 6 x worker timeout still holds).
api_timeout_seconds              = 10
authorizer_timeout_seconds       = 5
worker_timeout_seconds           = 3
queue_visibility_timeout_seconds = 18
max_receive_count                = 3
# A batch shares the worker's 3 s here: under load (moto answers a write in 0.1-0.5 s
# on two shared cores) a batch of 10 returned its tail unrun so often that some jobs
# used up their receives and ended failed. Deployed: 10 in a 30 s timeout.
worker_batch_size = 4
pipe_batch_size   = 10
# A failing outbox delivery reaches the DLQ within seconds (AWS: after 185 retries).
pipe_maximum_retry_attempts = 10
# The DLQ bookkeeping's schedule (the local stack runs it every few seconds anyway).
dlq_bookkeeping_interval_minutes = 1

# As deployed: API Gateway caches an authorizer's answer per key for this long (a revoked
# key works until its cached answer expires), and the local gateway does the same.
authorizer_result_ttl_seconds = 60

# The emulator never reports a redrive allow policy as converged (the provider would
# wait 20 minutes): the one AWS-only setting turned off here.
create_redrive_allow_policy = false

# moto does not store a function's LoggingConfig: JSON would show as a change on every
# plan. The handlers log structured JSON themselves either way.
lambda_log_format = "Text"

deletion_protection      = false
log_retention_days       = 1
kms_deletion_window_days = 7

# No alarm subscribers, and no budget: the emulator has no AWS Budgets API.
alarm_email_endpoints = []
create_budget         = false

# No edge: the emulator has no working CloudFront/WAF path (docs/architecture.md "Edge");
# the local gateway is the origin and nothing can bypass anything on loopback.
enable_edge = false
