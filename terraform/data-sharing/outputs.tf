output "shared_bucket_name" {
  description = "Name of the shared data bucket."
  value       = module.shared_bucket.id
}

output "shared_bucket_arn" {
  description = "ARN of the shared data bucket."
  value       = module.shared_bucket.arn
}

output "audit_bucket_name" {
  description = "Bucket with CloudTrail logs (cloudtrail/), S3 access logs (s3-access-logs/) and cost reports (cost-reports/)."
  value       = module.audit_bucket.id
}

output "kms_key_arn" {
  description = "ARN of the customer-managed key of the shared bucket (sensitive: it embeds the key ID)."
  value       = aws_kms_key.data.arn
  sensitive   = true
}

output "kms_key_alias" {
  description = "Alias of the data key (what consumer-role/ refers to)."
  value       = aws_kms_alias.data.name
}

output "access_control_table_name" {
  description = "DynamoDB registry of grants (account_id, grant_id; GSI by-expiry)."
  value       = aws_dynamodb_table.access_control.name
}

output "access_logs_table_name" {
  description = "DynamoDB access-log table (event_id; GSIs by-account-time and by-object-time; TTL expires_at)."
  value       = aws_dynamodb_table.audit_logs.name
}

output "function_arns" {
  description = "ARN of every Warden function, by name."
  value = merge(
    {
      access-validator    = module.access_validator.function_arn
      access-logger       = module.access_logger.function_arn
      governance-check    = module.governance_check.function_arn
      expiration-enforcer = module.expiration_enforcer.function_arn
      cost-reporter       = module.cost_reporter.function_arn
      policy-reconciler   = module.policy_reconciler.function_arn
    },
    var.enable_self_service_portal ? {
      access-request     = module.access_request[0].function_arn
      approval-processor = module.approval_processor[0].function_arn
    } : {},
  )
}

output "access_validator_function_name" {
  description = "Function behind POST /credentials of the Warden API (prefix-scoped credentials; direct invocations are refused)."
  value       = module.access_validator.function_name
}

output "consumer_role_arns" {
  description = "Role ARN expected in each consumer account (created by consumer-role/)."
  value       = local.consumer_role_arns
}

output "consumer_access_points" {
  description = "Access point of each declared consumer (sharing_mode access-points or auto): ARN and alias. Consumers on that tier read s3://<alias>/<prefix>… or pass the ARN as the bucket; the policy-reconciler decides which consumers are on it (warden access check names the tier)."
  value = {
    for id, ap in aws_s3_access_point.consumer : id => {
      arn   = ap.arn
      alias = ap.alias
    }
  }
}

output "alerts_topic_arn" {
  description = "SNS topic for security alerts."
  value       = aws_sns_topic.alerts.arn
}

output "owner_notifications_topic_arn" {
  description = "SNS topic for expiry and revocation notices to account owners."
  value       = aws_sns_topic.owner_notifications.arn
}

output "cloudtrail_arn" {
  description = "ARN of the audit trail."
  value       = aws_cloudtrail.this.arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of access patterns."
  value       = aws_cloudwatch_dashboard.access.dashboard_name
}

output "api_url" {
  description = "Invoke URL of the Warden API (POST /credentials; /requests and /approvals with the self-service portal)."
  value       = aws_api_gateway_stage.portal.invoke_url
}

output "approval_state_machine_arn" {
  description = "ARN of the approval workflow (null unless enable_self_service_portal)."
  value       = var.enable_self_service_portal ? aws_sfn_state_machine.approval[0].arn : null
}

output "cloudtrail_events_queue_url" {
  description = "Queue between EventBridge and the access-logger."
  value       = aws_sqs_queue.cloudtrail_events.url
}

output "archive_replay_state_machine_arn" {
  description = "The archive replay's state machine (enable_archive_replay): start it with {\"source\": \"s3://…/AWSLogs/\", \"since\": \"YYYY-MM-DD\", \"until\": \"YYYY-MM-DD\"}; results under replay/<execution name>/ in the audit bucket."
  value       = var.enable_archive_replay ? aws_sfn_state_machine.replay[0].arn : null
}

output "consumer_directory_parameter" {
  description = "SSM parameter with each consumer account's external ID and governance role (warden doctor reads it to inspect a consumer role)."
  value       = aws_ssm_parameter.consumer_roles.name
}

output "access_validator_role_arn" {
  description = "Role of the access-validator, which consumer roles trust (with the external ID) to vend prefix-scoped sessions; warden doctor checks the trust names it."
  value       = module.access_validator.role_arn
}
