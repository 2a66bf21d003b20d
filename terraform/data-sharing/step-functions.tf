# Approval workflow (self-service portal): notify the approvers with a task token and wait
# (.waitForTaskToken); their decision comes back through the API (approval-processor calls
# SendTaskSuccess/Failure); no answer within approval_timeout_hours → rejected.
#
# The task token is what lets a decision through, so it must reach the approvers only:
# - the approvals topic takes no subscription but Terraform's (topic policy below), so nobody in
#   the account can subscribe a mailbox or queue of their own and read the tokens;
# - the workflow's logs leave execution data (inputs, outputs, the token in the notify task's
#   parameters) out (include_execution_data = false);
# - the approver is taken from the API's verified caller and checked against
#   approver_principal_arns twice (on the decision and when the grant is applied), so a leaked
#   token alone is not enough.

locals {
  approval_state_machine_name = "${local.name}-access-approval"
}

resource "aws_sns_topic" "approvals" {
  count             = var.enable_self_service_portal ? 1 : 0
  name              = "${local.name}-approvals"
  kms_master_key_id = aws_kms_key.data.arn
}

# Whoever runs Terraform, as the IAM role or user behind the session (aws:PrincipalArn is the
# role's ARN for an assumed-role session, not the session's:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn).
# The data source reads the role's path with iam:GetRole. A later apply by another principal
# first replaces this policy (the subscriptions depend on it), then subscribes.
data "aws_iam_session_context" "terraform" {
  arn = data.aws_caller_identity.current.arn
}

# An explicit Deny in the topic's own policy applies to every principal, the account's own ones
# included, whatever their IAM policies allow ("sns:Subscribe" is the action behind Subscribe;
# https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html). Publishing (the
# workflow role, same account) is still granted by that role's IAM policy.
data "aws_iam_policy_document" "approvals_topic" {
  count = var.enable_self_service_portal ? 1 : 0
  statement {
    sid       = "SubscriptionsByTerraformOnly"
    effect    = "Deny"
    actions   = ["sns:Subscribe"]
    resources = [aws_sns_topic.approvals[0].arn]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [data.aws_iam_session_context.terraform.issuer_arn]
    }
  }
}

resource "aws_sns_topic_policy" "approvals" {
  count  = var.enable_self_service_portal ? 1 : 0
  arn    = aws_sns_topic.approvals[0].arn
  policy = data.aws_iam_policy_document.approvals_topic[0].json
}

resource "aws_sns_topic_subscription" "approvers" {
  for_each  = var.enable_self_service_portal ? toset(var.approver_emails) : toset([])
  topic_arn = aws_sns_topic.approvals[0].arn
  protocol  = "email"
  endpoint  = each.value

  # Subscribed by the principal the topic policy admits, after it is in place.
  depends_on = [aws_sns_topic_policy.approvals]
}

resource "aws_cloudwatch_log_group" "approval" {
  count             = var.enable_self_service_portal ? 1 : 0
  name              = "/aws/vendedlogs/states/${local.name}-approval"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
}

data "aws_iam_policy_document" "approval_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "approval" {
  count              = var.enable_self_service_portal ? 1 : 0
  name               = "${local.name}-approval-workflow"
  assume_role_policy = data.aws_iam_policy_document.approval_trust.json
}

data "aws_iam_policy_document" "approval" {
  count = var.enable_self_service_portal ? 1 : 0
  statement {
    sid       = "NotifyApprovers"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.approvals[0].arn]
  }
  statement {
    sid       = "ApplyDecision"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.approval_processor[0].function_arn]
  }
  statement {
    sid       = "EncryptedTopic"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.data.arn]
  }
  statement {
    sid = "VendedLogDelivery"
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }
  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "approval" {
  count  = var.enable_self_service_portal ? 1 : 0
  name   = "approval-workflow"
  role   = aws_iam_role.approval[0].id
  policy = data.aws_iam_policy_document.approval[0].json
}

# The email shows what is approved: account, requester, prefixes, level, expiry and justification.
# Each Lambda task hands approval-processor the execution's ID ($$.Execution.Id, from the context
# object: https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html);
# the function acts only for the execution named after the stored request, and only on the
# stored request.
resource "aws_sfn_state_machine" "approval" {
  count    = var.enable_self_service_portal ? 1 : 0
  name     = local.approval_state_machine_name
  role_arn = aws_iam_role.approval[0].arn

  definition = jsonencode({
    Comment = "Access request approval: notify approvers, wait for their decision, apply or reject."
    StartAt = "NotifyApprovers"
    States = {
      NotifyApprovers = {
        Type           = "Task"
        Resource       = "arn:${local.partition}:states:::sns:publish.waitForTaskToken"
        TimeoutSeconds = var.approval_timeout_hours * 3600
        Parameters = {
          TopicArn    = aws_sns_topic.approvals[0].arn
          "Message.$" = "States.Format('Access request {} from account {} for {} ({}) until {}, requested by {}. Justification: {}. Approve or reject with task token: {}', $.request_id, $.account_id, $.prefixes, $.access_level, $.expiration_date, $.requester, $.justification, $$.Task.Token)"
          "Subject"   = "Warden access request awaiting approval"
        }
        ResultPath = "$.decision"
        Catch = [
          { ErrorEquals = ["States.Timeout"], ResultPath = "$.error", Next = "Expire" },
          { ErrorEquals = ["Rejected"], ResultPath = "$.error", Next = "Reject" },
        ]
        Next = "ApplyGrant"
      }
      ApplyGrant = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::lambda:invoke"
        Parameters = {
          FunctionName = module.approval_processor[0].function_arn
          Payload      = { "action" = "apply", "request.$" = "$", "execution.$" = "$$.Execution.Id" }
        }
        Retry = [{ ErrorEquals = ["Lambda.ServiceException", "Lambda.TooManyRequestsException"], MaxAttempts = 3, BackoffRate = 2, IntervalSeconds = 2 }]
        End   = true
      }
      Reject = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::lambda:invoke"
        Parameters = {
          FunctionName = module.approval_processor[0].function_arn
          Payload      = { "action" = "reject", "request.$" = "$", "execution.$" = "$$.Execution.Id" }
        }
        End = true
      }
      Expire = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::lambda:invoke"
        Parameters = {
          FunctionName = module.approval_processor[0].function_arn
          Payload      = { "action" = "expire", "request.$" = "$", "execution.$" = "$$.Execution.Id" }
        }
        End = true
      }
    }
  })

  # Execution data (state inputs and outputs, task parameters: the task token) stays out of the
  # logs; the events themselves are still logged.
  # https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html
  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.approval[0].arn}:*"
    include_execution_data = false
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  lifecycle {
    precondition {
      condition     = length(var.approver_principal_arns) > 0
      error_message = "enable_self_service_portal needs approver_principal_arns: without approvers every access request would wait and expire."
    }
  }
}
