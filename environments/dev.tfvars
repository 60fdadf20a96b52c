environment = "dev"
region      = "us-east-1"
owner       = "platform-team"

enable_test_job_types = true
log_level             = "DEBUG"

worker_timeout_seconds           = 30
queue_visibility_timeout_seconds = 180
max_receive_count                = 3

authorizer_result_ttl_seconds = 60
api_throttling_burst_limit    = 50
api_throttling_rate_limit     = 20

deletion_protection      = false
log_retention_days       = 14
kms_deletion_window_days = 7
