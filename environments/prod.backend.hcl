# S3 backend of the prod environment: `scripts/tf prod ...` passes this file to
# `terraform init -backend-config`. The bucket is created by the bootstrap stack
# (bootstrap/, one per account: jobs-platform-tfstate-<account-id>): replace the
# placeholder with your account id. No credentials here: they come from the environment
# (OIDC role in CI, your SSO profile locally).
bucket       = "jobs-platform-tfstate-<account-id>"
key          = "jobs-platform/prod/terraform.tfstate"
region       = "us-east-1"
encrypt      = true
use_lockfile = true
