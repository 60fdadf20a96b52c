terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
      # CloudFront-scoped WAF (web ACL, its log group and that log group's key) lives in
      # us-east-1 whatever the stack's region: the root module passes this alias in.
      configuration_aliases = [aws.us_east_1]
    }
  }
}
