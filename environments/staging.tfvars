environment = "staging"
region      = "us-east-1"
owner       = "platform-team"

enable_test_job_types = false
log_level             = "INFO"

worker_timeout_seconds           = 30
queue_visibility_timeout_seconds = 180
max_receive_count                = 5

authorizer_result_ttl_seconds = 60
api_throttling_burst_limit    = 100
api_throttling_rate_limit     = 50

deletion_protection      = true
log_retention_days       = 30
kms_deletion_window_days = 30
