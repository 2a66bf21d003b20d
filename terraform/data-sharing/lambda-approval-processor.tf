# approval-processor (self-service portal): receives approvers' decisions from the API and returns
# them to the waiting workflow (SendTaskSuccess/Failure); as a workflow task it activates approved
# requests in the registry after checking they do not overlap existing grants (the stream then
# triggers the reconciler) or records the rejection/expiry.

data "aws_iam_policy_document" "approval_processor" {
  count = var.enable_self_service_portal ? 1 : 0
  statement {
    sid       = "ApplyDecisions"
    actions   = ["dynamodb:UpdateItem", "dynamodb:Scan"]
    resources = [aws_dynamodb_table.access_control.arn]
  }
  statement {
    sid       = "AnswerWorkflow"
    actions   = ["states:SendTaskSuccess", "states:SendTaskFailure"]
    resources = [aws_sfn_state_machine.approval[0].arn]
  }
}

module "approval_processor" {
  count                = var.enable_self_service_portal ? 1 : 0
  source               = "./modules/lambda-function"
  function_name        = local.function_names.approval_processor
  description          = "Approval decisions for self-service access requests"
  zip_path             = "${var.lambda_artifacts_dir}/approval-processor/bootstrap.zip"
  policy_json          = data.aws_iam_policy_document.approval_processor[0].json
  kms_key_arn          = aws_kms_key.data.arn
  log_retention_days   = var.log_retention_days
  reserved_concurrency = lookup(var.reserved_concurrency, "approval-processor", null)
  timeout_seconds      = 30
  tags                 = local.tags
  environment = {
    WARDEN_ENVIRONMENT = var.environment
    REGISTRY_TABLE     = aws_dynamodb_table.access_control.name
  }
}
