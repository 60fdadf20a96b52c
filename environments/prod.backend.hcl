# S3 backend of the prod environment: `scripts/tf prod ...` passes this file to
# `terraform init -backend-config`. The bucket is created by the bootstrap stack
# (bootstrap/, one stack per environment: its StateBucketName and StateKeyArn outputs): replace
# the placeholders with them (docs/deploying.md, "State layout"). No credentials here: they come from the environment
# (OIDC role in CI, your SSO profile locally).
bucket       = "jobs-platform-prod-tfstate-<account-id>"
key          = "jobs-platform/prod/terraform.tfstate"
region       = "us-east-1"
encrypt      = true
kms_key_id   = "<StateKeyArn output of the bootstrap stack>"
use_lockfile = true
