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

# Alarms (SNS topic <prefix>-alarms) and the monthly cost budget. The addresses are
# placeholders: replace them with the team's distribution list before the first apply
# (each address must confirm its SNS subscription once). Never a person's address here.
alarm_email_endpoints      = ["platform-alerts@example.com"]
create_budget              = true
budget_limit_amount        = 100
budget_notification_emails = ["platform-alerts@example.com"]

# Edge (CloudFront + WAF + origin check) off in dev to save its fixed cost (web ACL
# $5/month + $1/month per rule + a KMS key and a secret, before requests); dev is then
# reached at the api_endpoint output directly. Turn it on to try WAF rules before
# staging. staging and prod cannot turn it off (variable validation).
enable_edge = false
