output "security_audit_role_arn" {
  description = "Role the trusted accounts assume (with MFA) for read-only security audits."
  value       = aws_iam_role.security_audit.arn
}

output "primary_kms_key_arn" {
  description = "Multi-region primary key (primary region)."
  value       = aws_kms_key.primary.arn
  sensitive   = true
}

output "replica_kms_key_arn" {
  description = "Replica of the multi-region key (secondary region)."
  value       = aws_kms_replica_key.secondary.arn
  sensitive   = true
}

output "iam_activity_log_group" {
  description = "CloudWatch log group with all IAM activity (90-day retention)."
  value       = aws_cloudwatch_log_group.iam_activity.name
}

output "trail_arn" {
  description = "CloudTrail trail feeding the IAM activity log group."
  value       = aws_cloudtrail.iam_activity.arn
}

output "security_alerts_topic_arn" {
  description = "SNS topic for security alarms and EventBridge security events."
  value       = aws_sns_topic.security_alerts.arn
}

output "require_tags_guardrail_policy_arn" {
  description = "IAM policy denying untagged creation; attach as a permissions boundary or to deploy roles."
  value       = aws_iam_policy.require_tags_guardrail.arn
}

output "config_rule_names" {
  description = "Names of the AWS Config compliance rules."
  value       = [for r in aws_config_config_rule.this : r.name]
}

output "organization_policy_ids" {
  description = "IDs of the SCPs and tag policy (empty unless is_organization_management_account)."
  value       = concat(aws_organizations_policy.deny_root[*].id, aws_organizations_policy.require_tags[*].id, aws_organizations_policy.tag_policy[*].id)
}
