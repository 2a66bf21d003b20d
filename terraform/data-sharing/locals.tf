data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  name       = "${var.project_name}-${var.environment}"

  tags = merge(var.tags, {
    Project     = var.project_name
    Environment = var.environment
    ManagedBy   = "Terraform"
  })

  # for_each key = account ID everywhere the accounts appear.
  consumers = { for a in var.consumer_accounts : a.account_id => a }

  shared_bucket_name = "${local.name}-shared-${local.account_id}"
  audit_bucket_name  = "${local.name}-audit-${local.account_id}"
  shared_bucket_arn  = "arn:${local.partition}:s3:::${local.shared_bucket_name}"
  trail_name         = "${local.name}-trail"
  trail_arn          = "arn:${local.partition}:cloudtrail:${var.region}:${local.account_id}:trail/${local.trail_name}"

  # Role ARNs in consumer accounts are deterministic (consumer-role/ creates them first).
  consumer_role_arns   = { for id, a in local.consumers : id => "arn:${local.partition}:iam::${id}:role/${var.consumer_role_name}" }
  governance_role_arns = { for id, a in local.consumers : id => "arn:${local.partition}:iam::${id}:role/${var.governance_role_name}" }
  read_role_arns       = [for id, a in local.consumers : local.consumer_role_arns[id] if a.access_level == "read"]
  write_role_arns      = [for id, a in local.consumers : local.consumer_role_arns[id] if a.access_level == "read-write"]

  function_names = {
    access_validator    = "${local.name}-access-validator"
    access_logger       = "${local.name}-access-logger"
    governance_check    = "${local.name}-governance-check"
    expiration_enforcer = "${local.name}-expiration-enforcer"
    access_request      = "${local.name}-access-request"
    approval_processor  = "${local.name}-approval-processor"
    cost_reporter       = "${local.name}-cost-reporter"
    policy_reconciler   = "${local.name}-policy-reconciler"
    audit_replay        = "${local.name}-audit-replay"
  }

  # Detector settings shared by the access-logger (live) and `warden audit replay` (offline).
  detect_config = jsonencode({
    shared_bucket                = local.shared_bucket_name
    trusted_accounts             = [local.account_id]
    large_transfer_bytes         = var.large_transfer_bytes
    business_hours_start         = var.business_hours_start
    business_hours_end           = var.business_hours_end
    time_zone                    = var.business_time_zone
    business_days                = var.business_days
    request_spike_threshold      = var.request_spike_threshold
    request_spike_window_seconds = 300
    failed_auth_threshold        = var.failed_auth_threshold
    failed_auth_window_seconds   = 300
    egress_threshold_bytes       = var.egress_threshold_bytes
    egress_window_seconds        = 3600
    disabled                     = []
  })
}
