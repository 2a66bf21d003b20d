data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  suffix     = var.environment_suffix
  tags = merge(var.tags, {
    Environment = var.environment_suffix
    ManagedBy   = "Terraform"
    Component   = "security-baseline"
  })
  trail_name = "iam-activity-trail-${local.suffix}"
  trail_arn  = "arn:${local.partition}:cloudtrail:${var.primary_region}:${local.account_id}:trail/${local.trail_name}"
}
