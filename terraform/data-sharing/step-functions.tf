# Approval workflow (self-service portal): notify the approvers with a task token and wait
# (.waitForTaskToken); their decision comes back through the API (approval-processor calls
# SendTaskSuccess/Failure); no answer within approval_timeout_hours → rejected.

resource "aws_sns_topic" "approvals" {
  count             = var.enable_self_service_portal ? 1 : 0
  name              = "${local.name}-approvals"
  kms_master_key_id = aws_kms_key.data.arn
}

resource "aws_sns_topic_subscription" "approvers" {
  for_each  = var.enable_self_service_portal ? toset(var.approver_emails) : toset([])
  topic_arn = aws_sns_topic.approvals[0].arn
  protocol  = "email"
  endpoint  = each.value
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

resource "aws_sfn_state_machine" "approval" {
  count    = var.enable_self_service_portal ? 1 : 0
  name     = "${local.name}-access-approval"
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
          "Message.$" = "States.Format('Access request {} from account {} for {} ({}). Approve or reject with task token: {}', $.request_id, $.account_id, $.prefixes, $.access_level, $$.Task.Token)"
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
          Payload      = { "action" = "apply", "request.$" = "$" }
        }
        Retry = [{ ErrorEquals = ["Lambda.ServiceException", "Lambda.TooManyRequestsException"], MaxAttempts = 3, BackoffRate = 2, IntervalSeconds = 2 }]
        End   = true
      }
      Reject = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::lambda:invoke"
        Parameters = {
          FunctionName = module.approval_processor[0].function_arn
          Payload      = { "action" = "reject", "request.$" = "$" }
        }
        End = true
      }
      Expire = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::lambda:invoke"
        Parameters = {
          FunctionName = module.approval_processor[0].function_arn
          Payload      = { "action" = "expire", "request.$" = "$" }
        }
        End = true
      }
    }
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.approval[0].arn}:*"
    include_execution_data = true
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }
}
