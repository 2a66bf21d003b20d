# expiration-enforcer (hourly): query the registry's by-expiry index for active grants past
# their date, mark them revoked (conditionally, so runs never double-revoke), notify the account
# owner, log each revocation. The registry's stream then triggers the policy-reconciler, which
# drops the grant's statements and revokes its KMS grant. (Each rendered statement also carries
# DateLessThan aws:CurrentTime, so access stops on time even if this job is late.)

resource "aws_sns_topic" "owner_notifications" {
  name              = "${local.name}-owner-notifications"
  kms_master_key_id = aws_kms_key.data.arn
}

# Each owner receives only messages about their account (filter on the account_id attribute).
resource "aws_sns_topic_subscription" "owner" {
  for_each      = { for id, a in local.consumers : id => a if a.owner_email != null }
  topic_arn     = aws_sns_topic.owner_notifications.arn
  protocol      = "email"
  endpoint      = each.value.owner_email
  filter_policy = jsonencode({ account_id = [each.key] })
}

data "aws_iam_policy_document" "expiration_enforcer" {
  statement {
    sid       = "FindExpiredGrants"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.access_control.arn}/index/by-expiry"]
  }
  statement {
    sid       = "RevokeGrants"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.access_control.arn]
  }
  statement {
    sid       = "LogRevocations"
    actions   = ["dynamodb:BatchWriteItem"]
    resources = [aws_dynamodb_table.audit_logs.arn]
  }
  # Each owner notice is claimed in the alert ledger before the revoke and marked sent after, so
  # it goes out once even when SNS refuses it (the next run finds it there) or two runs overlap.
  statement {
    sid       = "SendEachNoticeOnce"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.alert_ledger.arn]
  }
  statement {
    sid       = "NotifyOwners"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.owner_notifications.arn]
  }
}

module "expiration_enforcer" {
  source               = "./modules/lambda-function"
  function_name        = local.function_names.expiration_enforcer
  description          = "Hourly revocation of expired grants"
  zip_path             = "${var.lambda_artifacts_dir}/expiration-enforcer/bootstrap.zip"
  policy_json          = data.aws_iam_policy_document.expiration_enforcer.json
  kms_key_arn          = aws_kms_key.data.arn
  log_retention_days   = var.log_retention_days
  reserved_concurrency = lookup(var.reserved_concurrency, "expiration-enforcer", null)
  timeout_seconds      = 300
  tags                 = local.tags
  environment = {
    WARDEN_ENVIRONMENT  = var.environment
    REGISTRY_TABLE      = aws_dynamodb_table.access_control.name
    AUDIT_TABLE         = aws_dynamodb_table.audit_logs.name
    OWNER_TOPIC_ARN     = aws_sns_topic.owner_notifications.arn
    ALERT_LEDGER_TABLE  = aws_dynamodb_table.alert_ledger.name
    ACCESS_LOG_TTL_DAYS = tostring(var.access_log_ttl_days)
  }
}

resource "aws_cloudwatch_event_rule" "expiration_hourly" {
  name                = "${local.name}-expiration-hourly"
  description         = "Hourly expiry enforcement."
  schedule_expression = "rate(1 hour)"
}

resource "aws_cloudwatch_event_target" "expiration_hourly" {
  rule = aws_cloudwatch_event_rule.expiration_hourly.name
  arn  = module.expiration_enforcer.function_arn
}

resource "aws_lambda_permission" "expiration_hourly" {
  statement_id  = "hourly-schedule"
  action        = "lambda:InvokeFunction"
  function_name = module.expiration_enforcer.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.expiration_hourly.arn
}
