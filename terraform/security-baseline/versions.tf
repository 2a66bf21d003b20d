terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.27: aws_cloudwatch_event_rule.state (ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS).
      version = ">= 5.27, < 7.0"
    }
  }
}

# Primary region: IAM (global) activity, the audit trail, Config, the primary multi-region key.
provider "aws" {
  region = var.primary_region

  default_tags {
    tags = local.tags
  }
}

# Secondary region: the replica of the multi-region key.
provider "aws" {
  alias  = "secondary"
  region = var.secondary_region

  default_tags {
    tags = local.tags
  }
}
