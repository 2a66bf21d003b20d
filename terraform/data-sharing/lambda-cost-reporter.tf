# cost-reporter (monthly): per-account requests, bytes and estimated cost from a configurable price
# table, written to the audit bucket (cost-reports/) and summarised to SNS.

data "aws_iam_policy_document" "cost_reporter" {
  statement {
    sid       = "ReadAccessRecords"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.audit_logs.arn}/index/by-account-time"]
  }
  statement {
    sid       = "ListAccounts"
    actions   = ["dynamodb:Scan"]
    resources = [aws_dynamodb_table.access_control.arn]
  }
  statement {
    sid       = "WriteReports"
    actions   = ["s3:PutObject"]
    resources = ["${module.audit_bucket.arn}/cost-reports/*"]
  }
  statement {
    sid       = "Summarise"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }
}

module "cost_reporter" {
  source               = "./modules/lambda-function"
  function_name        = local.function_names.cost_reporter
  description          = "Monthly per-account usage and cost report"
  zip_path             = "${var.lambda_artifacts_dir}/cost-reporter/bootstrap.zip"
  policy_json          = data.aws_iam_policy_document.cost_reporter.json
  kms_key_arn          = aws_kms_key.data.arn
  log_retention_days   = var.log_retention_days
  reserved_concurrency = lookup(var.reserved_concurrency, "cost-reporter", null)
  timeout_seconds      = 600
  tags                 = local.tags
  environment = {
    WARDEN_ENVIRONMENT = var.environment
    AUDIT_TABLE        = aws_dynamodb_table.audit_logs.name
    REGISTRY_TABLE     = aws_dynamodb_table.access_control.name
    AUDIT_BUCKET       = module.audit_bucket.id
    REPORT_PREFIX      = "cost-reports/"
    PRICE_TABLE = jsonencode({
      per_gb_transfer_usd   = var.price_per_gb_transfer_usd
      per_1000_requests_usd = var.price_per_1000_requests_usd
    })
    ALERT_TOPIC_ARN = aws_sns_topic.alerts.arn
  }
}

resource "aws_cloudwatch_event_rule" "cost_monthly" {
  name                = "${local.name}-cost-monthly"
  description         = "Monthly cost report (first day of the month)."
  schedule_expression = "cron(0 7 1 * ? *)"
}

resource "aws_cloudwatch_event_target" "cost_monthly" {
  rule = aws_cloudwatch_event_rule.cost_monthly.name
  arn  = module.cost_reporter.function_arn
}

resource "aws_lambda_permission" "cost_monthly" {
  statement_id  = "monthly-schedule"
  action        = "lambda:InvokeFunction"
  function_name = module.cost_reporter.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.cost_monthly.arn
}
