# access-request (self-service portal): validates a request from the API (expiry at most
# max_grant_days away), records it and starts the approval workflow with an execution named after
# the recorded request (approval-processor accepts tasks only from that execution).

data "aws_iam_policy_document" "access_request" {
  count = var.enable_self_service_portal ? 1 : 0
  statement {
    sid       = "RecordRequests"
    actions   = ["dynamodb:PutItem"]
    resources = [aws_dynamodb_table.access_control.arn]
  }
  statement {
    sid       = "StartApproval"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.approval[0].arn]
  }
}

module "access_request" {
  count                = var.enable_self_service_portal ? 1 : 0
  source               = "./modules/lambda-function"
  function_name        = local.function_names.access_request
  description          = "Self-service access requests"
  zip_path             = "${var.lambda_artifacts_dir}/access-request/bootstrap.zip"
  policy_json          = data.aws_iam_policy_document.access_request[0].json
  kms_key_arn          = aws_kms_key.data.arn
  log_retention_days   = var.log_retention_days
  reserved_concurrency = lookup(var.reserved_concurrency, "access-request", null)
  timeout_seconds      = 10
  tags                 = local.tags
  environment = {
    WARDEN_ENVIRONMENT = var.environment
    REGISTRY_TABLE     = aws_dynamodb_table.access_control.name
    STATE_MACHINE_ARN  = aws_sfn_state_machine.approval[0].arn
    MAX_GRANT_DAYS     = tostring(var.max_grant_days)
  }
}
