# governance-check (daily): consumer roles exist with the expected permissions (read through the
# governance role in each consumer account), the live bucket policy equals the render of the
# registry, KMS grants match, the registry is consistent. Drift → SNS + metric.

data "aws_iam_policy_document" "governance_check" {
  statement {
    sid       = "ReadRegistry"
    actions   = ["dynamodb:Scan"]
    resources = [aws_dynamodb_table.access_control.arn]
  }
  statement {
    sid       = "ReadLivePolicies"
    actions   = ["s3:GetBucketPolicy"]
    resources = [module.shared_bucket.arn]
  }
  # The access-point tier's policies, diffed like the bucket policy. ListAccessPoints takes no
  # resource ARN (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
  statement {
    sid       = "ListAccessPoints"
    actions   = ["s3:ListAccessPoints"]
    resources = ["*"]
  }
  statement {
    sid       = "ReadAccessPointPolicies"
    actions   = ["s3:GetAccessPointPolicy"]
    resources = ["arn:${local.partition}:s3:${var.region}:${local.account_id}:accesspoint/${local.name}-*"]
  }
  statement {
    sid       = "ReadKeyAndGrants"
    actions   = ["kms:ListGrants", "kms:GetKeyPolicy"]
    resources = [aws_kms_key.data.arn]
  }
  statement {
    sid       = "ReadSettings"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.bucket_baseline.arn, aws_ssm_parameter.consumer_roles.arn]
  }
  statement {
    sid       = "InspectConsumerAccounts"
    actions   = ["sts:AssumeRole"]
    resources = ["arn:${local.partition}:iam::*:role/${var.governance_role_name}"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceAccount"
      values   = length(local.consumers) > 0 ? keys(local.consumers) : ["000000000000"]
    }
  }
  statement {
    sid       = "ReportDrift"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }
}

module "governance_check" {
  source               = "./modules/lambda-function"
  function_name        = local.function_names.governance_check
  description          = "Daily drift check of roles, bucket policy, KMS grants and registry"
  zip_path             = "${var.lambda_artifacts_dir}/governance-check/bootstrap.zip"
  policy_json          = data.aws_iam_policy_document.governance_check.json
  kms_key_arn          = aws_kms_key.data.arn
  log_retention_days   = var.log_retention_days
  reserved_concurrency = lookup(var.reserved_concurrency, "governance-check", null)
  timeout_seconds      = 300
  tags                 = local.tags
  environment = {
    WARDEN_ENVIRONMENT       = var.environment
    REGISTRY_TABLE           = aws_dynamodb_table.access_control.name
    SHARED_BUCKET            = module.shared_bucket.id
    KMS_KEY_ARN              = aws_kms_key.data.arn
    BASELINE_PARAMETER       = aws_ssm_parameter.bucket_baseline.name
    CONSUMER_ROLES_PARAMETER = aws_ssm_parameter.consumer_roles.name
    VALIDATOR_ROLE_ARN       = module.access_validator.role_arn
    DATA_KEY_ALIAS           = aws_kms_alias.data.name
    CONSUMER_ROLE_NAME       = var.consumer_role_name
    GOVERNANCE_ROLE_NAME     = var.governance_role_name
    ALERT_TOPIC_ARN          = aws_sns_topic.alerts.arn
    METRICS_NAMESPACE        = "Warden/${var.environment}"
    SHARING_MODE             = var.sharing_mode
    ACCESS_POINT_THRESHOLD   = tostring(var.access_point_threshold)
    ACCESS_POINT_PREFIX      = local.name
  }
}

resource "aws_cloudwatch_event_rule" "governance_daily" {
  name                = "${local.name}-governance-daily"
  description         = "Daily governance check."
  schedule_expression = "cron(0 6 * * ? *)"
}

resource "aws_cloudwatch_event_target" "governance_daily" {
  rule = aws_cloudwatch_event_rule.governance_daily.name
  arn  = module.governance_check.function_arn
}

resource "aws_lambda_permission" "governance_daily" {
  statement_id  = "daily-schedule"
  action        = "lambda:InvokeFunction"
  function_name = module.governance_check.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.governance_daily.arn
}
