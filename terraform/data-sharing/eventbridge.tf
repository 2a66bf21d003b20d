# Real-time security alerts for what EventBridge patterns can express (DESIGN.md, decision 7):
# unknown accounts (anything-but the known list), bucket/IAM/KMS policy changes, large transfers
# (numeric), KMS use by unexpected accounts. Business hours in a time zone, rate spikes and
# failed-auth bursts cannot be patterns: the access-logger's detectors raise those.

resource "aws_sns_topic" "alerts" {
  name              = "${local.name}-security-alerts"
  kms_master_key_id = aws_kms_key.data.arn
}

data "aws_iam_policy_document" "alerts_topic" {
  statement {
    sid       = "EventBridgeAndCloudWatchPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "cloudwatch.amazonaws.com"]
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

resource "aws_cloudwatch_event_rule" "security" {
  for_each      = local.security_rules
  name          = "${local.name}-${each.key}"
  description   = each.value.description
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
