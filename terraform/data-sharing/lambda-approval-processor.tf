# approval-processor (self-service portal): receives approvers' decisions from the API and returns
# them to the waiting workflow (SendTaskSuccess/Failure); as a workflow task it activates approved
# requests in the registry after checking they do not overlap existing grants (the stream then
# triggers the reconciler) or records the rejection/expiry.
#
# Who may invoke it. Two callers are legitimate: API Gateway for POST /approvals (the
# aws_lambda_permission "portal" in api-gateway.tf, limited to that route's source_arn) and the
# approval workflow's role for the three tasks. Step Functions runs a Lambda task with the state
# machine's role, which needs lambda:InvokeFunction in its own IAM policy (step-functions.tf,
# "ApplyDecision") — a function-policy statement for states.amazonaws.com would not be used
# (https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html). The function policy
# can only add Allow statements (lambda:AddPermission), and inside this account an IAM policy
# alone already lets a principal invoke the function
# (https://docs.aws.amazon.com/lambda/latest/dg/permissions-granting-access.html): so direct
# invokes by anyone else must be DENIED by IAM — an SCP on the account, or a permissions boundary
# on every role and user of the account that is not Warden's. The function itself refuses a task
# that does not come from the request's own execution, acts only on the stored pending request,
# and re-checks the approver, but a principal that may invoke it can still forge the approver of
# a pending request, and one that may call states:SendTaskSuccess with a token can answer it.
# Statements to add (replace ACCOUNT, REGION, PREFIX = "<project>-<env>"):
#
#   {"Sid": "OnlyTheApiAndTheWorkflowInvokeApprovalProcessor", "Effect": "Deny",
#    "Action": ["lambda:InvokeFunction", "lambda:InvokeAsync"],
#    "Resource": ["arn:aws:lambda:REGION:ACCOUNT:function:PREFIX-approval-processor",
#                 "arn:aws:lambda:REGION:ACCOUNT:function:PREFIX-approval-processor:*"],
#    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::ACCOUNT:role/PREFIX-approval-workflow"},
#                  "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}},
#   {"Sid": "OnlyApprovalProcessorAnswersApprovalTasks", "Effect": "Deny",
#    "Action": ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
#    "Resource": "*",
#    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::ACCOUNT:role/PREFIX-approval-processor"}}},
#   {"Sid": "TaskTokensStayInTheWorkflow", "Effect": "Deny",
#    "Action": ["states:GetExecutionHistory"],
#    "Resource": "arn:aws:states:REGION:ACCOUNT:execution:PREFIX-access-approval:*",
#    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::ACCOUNT:role/<break-glass role>"}}}
#
# (aws:PrincipalIsAWSService keeps API Gateway's service-principal invoke out of the deny; the
# SendTask* statement covers every callback workflow of the account — list their workers' roles
# too if there are others; the history holds the notify task's parameters, the token included.
# The function's role name is its function name: modules/lambda-function.)
# https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html

locals {
  # Built, not referenced: the state machine's definition references this function.
  approval_state_machine_arn = "arn:${local.partition}:states:${var.region}:${local.account_id}:stateMachine:${local.approval_state_machine_name}"
}

data "aws_iam_policy_document" "approval_processor" {
  count = var.enable_self_service_portal ? 1 : 0
  # UpdateItem: claim the pending request (its stored values come back with ReturnValues) and
  # settle it; Query: the account's items for the overlap check; ConditionCheckItem: the
  # activation is one TransactWriteItems that also checks those items are unchanged, and each
  # ConditionCheck in a transaction needs this action.
  # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
  statement {
    sid       = "ApplyDecisions"
    actions   = ["dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"]
    resources = [aws_dynamodb_table.access_control.arn]
  }
  # SendTaskSuccess/Failure take no resource ARN (the task token is what they act on), so "*" is
  # the only resource that matches them; a state-machine ARN matches nothing and every decision
  # would be denied. Naming the state machine here was also a dependency cycle (the state machine
  # names this function).
  # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html
  statement {
    sid       = "AnswerWorkflow"
    actions   = ["states:SendTaskSuccess", "states:SendTaskFailure"]
    resources = ["*"]
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
    WARDEN_ENVIRONMENT      = var.environment
    REGISTRY_TABLE          = aws_dynamodb_table.access_control.name
    STATE_MACHINE_ARN       = local.approval_state_machine_arn
    APPROVER_PRINCIPAL_ARNS = jsonencode(var.approver_principal_arns)
    MAX_GRANT_DAYS          = tostring(var.max_grant_days)
  }
}
