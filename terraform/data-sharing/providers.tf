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

# us-east-1, where IAM (a global service) delivers its CloudTrail events to EventBridge; used only
# to forward them to this stack's Region when `region` is another one (eventbridge.tf).
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = local.tags
  }
}
