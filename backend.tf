# Partial configuration: each environment supplies bucket/key/region/use_lockfile through
# `-backend-config=environments/<env>.backend.hcl` (see scripts/tf.py). The local stack points
# the same backend at the emulator's S3 (scripts/local_stack/terraform.py).
terraform {
  backend "s3" {}
}
