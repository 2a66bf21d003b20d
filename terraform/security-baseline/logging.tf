# CloudWatch Logs for all IAM activity (IAM is global: its events are recorded in us-east-1),
# with 90-day retention, metric filters and alarms; the trail also lands in an encrypted bucket.

resource "aws_s3_bucket" "trail" {
  #checkov:skip=CKV_AWS_18:This is the audit log bucket; access to it is recorded by the trail's own management events.
  #checkov:skip=CKV_AWS_144:Audit logs stay in the primary region; log file validation protects their integrity.
  #checkov:skip=CKV2_AWS_62:The CloudWatch Logs integration is the live feed; nothing consumes delivery notifications.
  bucket        = "cloudtrail-logs-${local.account_id}-${local.suffix}"
  force_destroy = true
}

resource "aws_s3_bucket_versioning" "trail" {
  bucket = aws_s3_bucket.trail.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "trail" {
  bucket = aws_s3_bucket.trail.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.primary.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "trail" {
  bucket                  = aws_s3_bucket.trail.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "trail" {
  bucket = aws_s3_bucket.trail.id
  rule {
    id     = "retain-then-expire"
    status = "Enabled"
    filter {}
    transition {
      days          = 90
      storage_class = "GLACIER_IR"
    }
    expiration {
      days = 400
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "trail_bucket" {
  statement {
    sid       = "CloudTrailAclCheck"
    actions   = ["s3:GetBucketAcl"]
    resources = [aws_s3_bucket.trail.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }

  statement {
    sid       = "CloudTrailWrite"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.trail.arn}/AWSLogs/${local.account_id}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }

  statement {
    sid       = "ConfigAclCheck"
    actions   = ["s3:GetBucketAcl", "s3:ListBucket"]
    resources = [aws_s3_bucket.trail.arn]
    principals {
      type        = "Service"
      identifiers = ["config.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "ConfigWrite"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.trail.arn}/config/AWSLogs/${local.account_id}/Config/*"]
    principals {
      type        = "Service"
      identifiers = ["config.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.trail.arn, "${aws_s3_bucket.trail.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "trail" {
  bucket = aws_s3_bucket.trail.id
  policy = data.aws_iam_policy_document.trail_bucket.json
}

resource "aws_cloudwatch_log_group" "iam_activity" {
  #checkov:skip=CKV_AWS_338:Spec 002 sets 90 days for the searchable audit log; the S3 trail bucket keeps 400 days.
  name              = "/aws/cloudtrail/iam-activity-${local.suffix}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.primary.arn
}

data "aws_iam_policy_document" "trail_logs_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "trail_logs" {
  name               = "cloudtrail-logs-role-${local.suffix}"
  assume_role_policy = data.aws_iam_policy_document.trail_logs_trust.json
}

data "aws_iam_policy_document" "trail_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.iam_activity.arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "trail_logs" {
  name   = "cloudtrail-logs-${local.suffix}"
  role   = aws_iam_role.trail_logs.id
  policy = data.aws_iam_policy_document.trail_logs.json
}

resource "aws_cloudtrail" "iam_activity" {
  #checkov:skip=CKV_AWS_252:Per-file delivery notifications would flood the alert topic; metric filters and EventBridge raise alerts.
  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.trail.id
  is_multi_region_trail         = true
  include_global_service_events = true
  enable_log_file_validation    = true
  kms_key_id                    = aws_kms_key.primary.arn
  cloud_watch_logs_group_arn    = "${aws_cloudwatch_log_group.iam_activity.arn}:*"
  cloud_watch_logs_role_arn     = aws_iam_role.trail_logs.arn

  depends_on = [aws_s3_bucket_policy.trail, aws_iam_role_policy.trail_logs]
}

# Metric filters on the IAM activity log (CIS AWS Foundations 4.x) and alarms to the topic.
locals {
  metric_filters = {
    root-usage          = "{ $.userIdentity.type = \"Root\" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != \"AwsServiceEvent\" }"
    iam-policy-changes  = "{ ($.eventSource = iam.amazonaws.com) && (($.eventName = Put*Policy) || ($.eventName = Delete*Policy*) || ($.eventName = Attach*Policy) || ($.eventName = Detach*Policy) || ($.eventName = CreatePolicy*) || ($.eventName = SetDefaultPolicyVersion)) }"
    console-no-mfa      = "{ ($.eventName = ConsoleLogin) && ($.additionalEventData.MFAUsed != \"Yes\") && ($.userIdentity.type = \"IAMUser\") && ($.responseElements.ConsoleLogin = \"Success\") }"
    unauthorized-calls  = "{ ($.errorCode = \"*UnauthorizedOperation\") || ($.errorCode = \"AccessDenied*\") }"
    cloudtrail-changes  = "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) }"
    kms-key-deletion    = "{ ($.eventSource = kms.amazonaws.com) && (($.eventName = DisableKey) || ($.eventName = ScheduleKeyDeletion)) }"
    config-changes      = "{ ($.eventSource = config.amazonaws.com) && (($.eventName = StopConfigurationRecorder) || ($.eventName = DeleteDeliveryChannel) || ($.eventName = PutDeliveryChannel) || ($.eventName = PutConfigurationRecorder)) }"
    access-key-creation = "{ ($.eventSource = iam.amazonaws.com) && ($.eventName = CreateAccessKey) }"
  }
}

resource "aws_cloudwatch_log_metric_filter" "security" {
  for_each       = local.metric_filters
  name           = "${each.key}-${local.suffix}"
  log_group_name = aws_cloudwatch_log_group.iam_activity.name
  pattern        = each.value

  metric_transformation {
    name      = each.key
    namespace = "SecurityBaseline/${local.suffix}"
    value     = "1"
  }
}

resource "aws_cloudwatch_metric_alarm" "security" {
  for_each            = local.metric_filters
  alarm_name          = "${each.key}-${local.suffix}"
  alarm_description   = "Security baseline: ${each.key} seen in IAM activity logs."
  namespace           = "SecurityBaseline/${local.suffix}"
  metric_name         = each.key
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = each.key == "unauthorized-calls" ? 10 : 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.security_alerts.arn]

  depends_on = [aws_cloudwatch_log_metric_filter.security]
}

resource "aws_sns_topic" "security_alerts" {
  name              = "security-alerts-${local.suffix}"
  kms_master_key_id = aws_kms_key.primary.arn
}

data "aws_iam_policy_document" "security_alerts" {
  statement {
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.security_alerts.arn]
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

resource "aws_sns_topic_policy" "security_alerts" {
  arn    = aws_sns_topic.security_alerts.arn
  policy = data.aws_iam_policy_document.security_alerts.json
}

resource "aws_sns_topic_subscription" "security_alerts" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.security_alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

# EventBridge: immediate alerts for what must not wait for a 5-minute alarm period.
resource "aws_cloudwatch_event_rule" "critical_security" {
  name        = "critical-security-events-${local.suffix}"
  description = "Root activity, trail tampering and key deletion."
  event_pattern = jsonencode({
    "detail-type" = ["AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"]
    "$or" = [
      { detail = { userIdentity = { type = ["Root"] } } },
      { detail = { eventSource = ["cloudtrail.amazonaws.com"], eventName = ["StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"] } },
      { detail = { eventSource = ["kms.amazonaws.com"], eventName = ["ScheduleKeyDeletion", "DisableKey"] } },
    ]
  })
}

resource "aws_cloudwatch_event_target" "critical_security" {
  rule = aws_cloudwatch_event_rule.critical_security.name
  arn  = aws_sns_topic.security_alerts.arn
}
