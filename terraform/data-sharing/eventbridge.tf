# Real-time security alerts for what EventBridge patterns can express (DESIGN.md, decision 7):
# unknown accounts (anything-but the known list), bucket/IAM/KMS policy changes, large transfers
# (numeric), KMS use by unexpected accounts. Business hours in a time zone, rate spikes and
# failed-auth bursts cannot be patterns: the access-logger's detectors raise those.

resource "aws_sns_topic" "alerts" {
  name              = "${local.name}-security-alerts"
  kms_master_key_id = aws_kms_key.data.arn
}

# EventBridge publishes to SNS only if the topic policy's statement for it has no Condition block
# ("You can't use Condition blocks in Amazon SNS topic policies for EventBridge"); a condition there
# drops every alert. CloudWatch alarms support aws:SourceAccount and keep it.
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html
data "aws_iam_policy_document" "alerts_topic" {
  statement {
    sid       = "EventBridgePublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts_topic.json
}

resource "aws_sns_topic_subscription" "alerts_email" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  known_accounts = concat([local.account_id], keys(local.consumers))

  security_rules = {
    unknown-account = {
      description = "S3 calls on the shared bucket from accounts not in the registry."
      read_only   = true
      pattern = {
        "detail-type" = ["AWS API Call via CloudTrail"]
        detail = {
          eventSource       = ["s3.amazonaws.com"]
          requestParameters = { bucketName = [local.shared_bucket_name] }
          userIdentity      = { accountId = [{ "anything-but" = local.known_accounts }] }
        }
      }
    }
    policy-change = {
      description = "Bucket policy, ACL, encryption, versioning, public access block, IAM role/policy and key policy changes."
      read_only   = false
      pattern = {
        "detail-type" = ["AWS API Call via CloudTrail"]
        "$or" = [
          { detail = { eventSource = ["s3.amazonaws.com"], eventName = ["PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl", "PutBucketEncryption", "DeleteBucketEncryption", "PutBucketVersioning", "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock", "PutBucketReplication", "DeleteBucketReplication"] } },
          { detail = { eventSource = ["iam.amazonaws.com"], eventName = ["CreateRole", "DeleteRole", "UpdateAssumeRolePolicy", "PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy", "CreatePolicyVersion", "SetDefaultPolicyVersion"] } },
          { detail = { eventSource = ["kms.amazonaws.com"], eventName = ["PutKeyPolicy", "ScheduleKeyDeletion", "DisableKey"] } },
        ]
      }
    }
    large-transfer = {
      description = "A single request moving more than large_transfer_bytes."
      read_only   = true
      pattern = {
        "detail-type" = ["AWS API Call via CloudTrail"]
        detail = {
          eventSource         = ["s3.amazonaws.com"]
          additionalEventData = { bytesTransferredOut = [{ numeric = [">", var.large_transfer_bytes] }] }
        }
      }
    }
    kms-unexpected-account = {
      description = "The data key used by an account that is not in the registry."
      read_only   = true
      pattern = {
        "detail-type" = ["AWS API Call via CloudTrail"]
        detail = {
          eventSource  = ["kms.amazonaws.com"]
          resources    = { ARN = [aws_kms_key.data.arn] }
          userIdentity = { accountId = [{ "anything-but" = local.known_accounts }] }
        }
      }
    }
  }
}

# Rules matching read-only management events (KMS Decrypt/GenerateDataKey, S3 Get*/List* bucket
# calls) must be in state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS, or EventBridge never
# delivers those events to them.
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail-management.html
resource "aws_cloudwatch_event_rule" "security" {
  for_each      = local.security_rules
  name          = "${local.name}-${each.key}"
  description   = each.value.description
  state         = each.value.read_only ? "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" : "ENABLED"
  event_pattern = jsonencode(each.value.pattern)
}

resource "aws_cloudwatch_event_target" "security" {
  for_each = local.security_rules
  rule     = aws_cloudwatch_event_rule.security[each.key].name
  arn      = aws_sns_topic.alerts.arn

  input_transformer {
    input_paths = {
      event   = "$.detail.eventName"
      account = "$.detail.userIdentity.accountId"
      arn     = "$.detail.userIdentity.arn"
      time    = "$.time"
    }
    input_template = "\"[${each.key}] <event> by <arn> (account <account>) at <time>\""
  }
}

# --- IAM events from us-east-1 --------------------------------------------------------------
# IAM is a global service: EventBridge receives its CloudTrail events only in us-east-1. When the
# stack runs elsewhere, a rule there forwards IAM changes to this Region's default bus, where the
# policy-change rule and the access-logger see them like any other event.
# https://www.repost.aws/knowledge-center/eventbridge-rule-triggers-iam-single-region

locals {
  forward_iam_events = var.region != "us-east-1"
}

resource "aws_cloudwatch_event_rule" "iam_forward" {
  #tfcheck:skip=failed-invocations-alarm:The rule lives in us-east-1, where this stack has no alert topic (alarm actions must be in the alarm's Region); its FailedInvocations are on the access-patterns dashboard.
  count       = local.forward_iam_events ? 1 : 0
  provider    = aws.us_east_1
  name        = "${local.name}-iam-to-${var.region}"
  description = "IAM changes (recorded in us-east-1 only) forwarded to the Warden stack in ${var.region}."
  event_pattern = jsonencode({
    source        = ["aws.iam"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail        = { eventSource = ["iam.amazonaws.com"], readOnly = [false] }
  })
}

data "aws_iam_policy_document" "iam_forward_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "iam_forward" {
  count              = local.forward_iam_events ? 1 : 0
  name               = "${local.name}-iam-events-forward"
  assume_role_policy = data.aws_iam_policy_document.iam_forward_trust.json
}

data "aws_iam_policy_document" "iam_forward" {
  statement {
    sid       = "PutOnPrimaryBus"
    actions   = ["events:PutEvents"]
    resources = ["arn:${local.partition}:events:${var.region}:${local.account_id}:event-bus/default"]
  }
}

resource "aws_iam_role_policy" "iam_forward" {
  count  = local.forward_iam_events ? 1 : 0
  name   = "put-events-${var.region}"
  role   = aws_iam_role.iam_forward[0].id
  policy = data.aws_iam_policy_document.iam_forward.json
}

resource "aws_cloudwatch_event_target" "iam_forward" {
  count    = local.forward_iam_events ? 1 : 0
  provider = aws.us_east_1
  rule     = aws_cloudwatch_event_rule.iam_forward[0].name
  arn      = "arn:${local.partition}:events:${var.region}:${local.account_id}:event-bus/default"
  role_arn = aws_iam_role.iam_forward[0].arn
}
