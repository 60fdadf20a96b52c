# The root module owns every provider configuration; child modules declare only
# required_providers. Local-only settings (emulator endpoint, fake credentials, retries)
# come from environment variables set by scripts/local_stack/terraform.py, never from here.
provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project     = var.project
      environment = var.environment
      owner       = var.owner
    }
  }
}

# CloudFront-scoped WAF (and its log group and key) must live in us-east-1, whatever
# var.region is: the edge module takes this alias (configuration_aliases).
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = {
      project     = var.project
      environment = var.environment
      owner       = var.owner
    }
  }
}
