environment = "prod"
region      = "us-east-1"
owner       = "platform-team"

# Forbidden in prod by a variable validation.
enable_test_job_types = false
log_level             = "INFO"

worker_timeout_seconds           = 30
queue_visibility_timeout_seconds = 180
max_receive_count                = 5
worker_reserved_concurrency      = 50

authorizer_result_ttl_seconds = 60
api_throttling_burst_limit    = 200
api_throttling_rate_limit     = 100

# Required in prod by a variable validation.
deletion_protection      = true
log_retention_days       = 90
kms_deletion_window_days = 30
