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

  trail_bucket_name = "cloudtrail-logs-${local.account_id}-${local.suffix}"
  trail_bucket_arn  = "arn:${local.partition}:s3:::${local.trail_bucket_name}"

  # Built from the name rather than the resource: the key policy (kms.tf) needs the topic ARN and
  # the topic needs the key, so referencing the resource would be a cycle.
  security_alerts_topic_name = "security-alerts-${local.suffix}"
  security_alerts_topic_arn  = "arn:${local.partition}:sns:${var.primary_region}:${local.account_id}:${local.security_alerts_topic_name}"
  # Every SNS topic encrypted with the primary key.
  encrypted_topic_arns = [local.security_alerts_topic_arn]
}
