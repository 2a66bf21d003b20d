# access-validator: the extra authorization layer. Checks the registry (account, prefix, level,
# expiry), and on allow returns STS credentials of the consumer role cut down by a session policy
# to the granted prefix and level, with session tags; at most one hour. Every decision is written
# to the access-log table.

data "aws_iam_policy_document" "access_validator" {
  statement {
    sid       = "ReadRegistry"
    actions   = ["dynamodb:Scan"]
    resources = [aws_dynamodb_table.access_control.arn]
  }
  statement {
    sid       = "ReadConsumerDirectory"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.consumer_roles.arn]
  }
  statement {
    sid       = "AuditDecisions"
    actions   = ["dynamodb:BatchWriteItem"]
    resources = [aws_dynamodb_table.audit_logs.arn]
  }
  statement {
    sid       = "VendCredentials"
    actions   = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]
    resources = ["arn:${local.partition}:iam::*:role/${var.consumer_role_name}"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = length(local.consumers) > 0 ? keys(local.consumers) : ["000000000000"]
    }
  }
}

module "access_validator" {
  source               = "./modules/lambda-function"
  function_name        = local.function_names.access_validator
  description          = "Checks the registry and vends prefix-scoped credentials"
  zip_path             = "${var.lambda_artifacts_dir}/access-validator/bootstrap.zip"
  policy_json          = data.aws_iam_policy_document.access_validator.json
  kms_key_arn          = aws_kms_key.data.arn
  log_retention_days   = var.log_retention_days
  reserved_concurrency = lookup(var.reserved_concurrency, "access-validator", null)
  timeout_seconds      = 10
  tags                 = local.tags
  environment = {
    WARDEN_ENVIRONMENT  = var.environment
    REGISTRY_TABLE      = aws_dynamodb_table.access_control.name
    AUDIT_TABLE         = aws_dynamodb_table.audit_logs.name
    SHARED_BUCKET       = module.shared_bucket.id
    KMS_KEY_ARN         = aws_kms_key.data.arn
    CONSUMER_ROLE_NAME  = var.consumer_role_name
    MAX_SESSION_SECONDS = tostring(var.max_session_seconds)
    ACCESS_LOG_TTL_DAYS = tostring(var.access_log_ttl_days)
    # Per-account external IDs for AssumeRole (SecureString).
    CONSUMER_ROLES_PARAMETER = aws_ssm_parameter.consumer_roles.name
    # The tiers, as the policy-reconciler places consumers: sessions of a consumer on the
    # access-point tier are scoped to its access point.
    SHARING_MODE           = var.sharing_mode
    ACCESS_POINT_THRESHOLD = tostring(var.access_point_threshold)
    ACCESS_POINT_PREFIX    = local.name
  }
}

# Consumers call it through the API (api-gateway.tf, POST /credentials): a direct invocation
# carries no verified caller identity and is refused by the function.
