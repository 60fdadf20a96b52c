# S3 backend of the prod environment: `python3 -m scripts.tf prod ...` passes this file to
# `terraform init -backend-config`. The bucket and key come from prod's bootstrap stack
# (bootstrap/template.yaml): `make backend-config ENV=prod STACK=<its stack>` rewrites this
# file from the stack's outputs (docs/deploying.md step 2, "State layout"); the pre-flight
# refuses the placeholders below. No credentials here: they come from the environment
# (OIDC role in CI, the break-glass role locally).
bucket       = "jobs-platform-prod-tfstate-<account-id>"
key          = "jobs-platform/prod/terraform.tfstate"
region       = "us-east-1"
encrypt      = true
kms_key_id   = "<StateKeyArn output of the bootstrap stack>"
use_lockfile = true
