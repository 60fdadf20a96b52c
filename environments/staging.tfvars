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

# Alarms (SNS topic <prefix>-alarms) and the monthly cost budget. The addresses are
# placeholders: replace them with the team's distribution list before the first apply
# (each address must confirm its SNS subscription once). Never a person's address here.
alarm_email_endpoints      = ["platform-alerts@example.com"]
create_budget              = true
budget_limit_amount        = 200
budget_notification_emails = ["platform-alerts@example.com"]

# Edge: CloudFront + WAF in front of the API; direct execute-api calls are refused.
# Required here (variable validation). The public base URL is the edge_url output.
enable_edge                  = true
waf_rate_limit_per_5_minutes = 1000
# Per API key at the edge, across IPs (a tenant, or a leaked key, spread over many clients).
waf_rate_limit_per_api_key_per_5_minutes = 500

# The origin-verify secret: increase to rotate this environment's value (docs/deploying.md
# "Rotating the origin-verify secret": this apply, then revoke the previous value).
origin_verify_secret_version = 1
