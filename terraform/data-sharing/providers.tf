# The primary account holds the shared bucket, the key, the registry, the audit trail and the
# functions. Consumer-account roles are a separate root module (consumer-role/) applied once per
# consumer account, because Terraform cannot loop over provider configurations.
provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

# Disaster-recovery replica region (used only when enable_replication).
provider "aws" {
  alias  = "replica"
  region = var.replica_region

  default_tags {
    tags = local.tags
  }
}
