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
