# CloudWatch Logs for all IAM activity (IAM is global: its events are recorded in us-east-1),
# with 90-day retention, metric filters and alarms; the trail also lands in an encrypted bucket.

# The trail and Config bucket, from ../modules/secure-bucket (public access blocked, ACLs
# disabled, versioned, SSE-KMS with the primary key, TLS-only policy). Its CloudTrail and Config
# delivery statements are passed in as policy_documents; the bucket ARN is deterministic, so there
# is no cycle. moved.tf maps the former root-module resources onto the module.

data "aws_iam_policy_document" "trail_bucket" {
  statement {
    sid       = "CloudTrailAclCheck"
    actions   = ["s3:GetBucketAcl"]
    resources = [local.trail_bucket_arn]
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
    resources = ["${local.trail_bucket_arn}/AWSLogs/${local.account_id}/*"]
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
    resources = [local.trail_bucket_arn]
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
    resources = ["${local.trail_bucket_arn}/config/AWSLogs/${local.account_id}/Config/*"]
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
}

module "trail_bucket" {
  source = "../modules/secure-bucket"

  bucket_name   = local.trail_bucket_name
  kms_key_arn   = aws_kms_key.primary.arn
  force_destroy = true

  lifecycle_rules = [{
    id                         = "retain-then-expire"
    transitions                = [{ days = 90, storage_class = "GLACIER_IR" }]
    expiration_days            = 400
    noncurrent_expiration_days = 30
  }]

  policy_documents = [data.aws_iam_policy_document.trail_bucket.json]
  tags             = { Name = local.trail_bucket_name, Purpose = "cloudtrail-and-config-logs" }
}

resource "aws_cloudwatch_log_group" "iam_activity" {
  #checkov:skip=CKV_AWS_338:Spec 002 sets 90 days for the searchable audit log; the S3 trail bucket keeps 400 days.
  name              = "/aws/cloudtrail/iam-activity-${local.suffix}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.primary.arn
}

# No aws:SourceAccount/aws:SourceArn condition: CloudTrail's page for this role says "The role
# policy doesn't support the use of aws:SourceArn and aws:SourceAccount" (delivery would fail).
# https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-required-policy-for-cloudwatch-logs.html
data "aws_iam_policy_document" "trail_logs_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
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
  s3_bucket_name                = module.trail_bucket.id
  is_multi_region_trail         = true
  include_global_service_events = true
  enable_log_file_validation    = true
  kms_key_id                    = aws_kms_key.primary.arn
  cloud_watch_logs_group_arn    = "${aws_cloudwatch_log_group.iam_activity.arn}:*"
  cloud_watch_logs_role_arn     = aws_iam_role.trail_logs.arn

  depends_on = [module.trail_bucket, aws_iam_role_policy.trail_logs]
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
  name              = local.security_alerts_topic_name
  kms_master_key_id = aws_kms_key.primary.arn
}

# EventBridge gets its own statement without a Condition: AWS does not support Condition blocks in
# SNS topic policies for EventBridge, and a conditioned grant drops every event it routes here.
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions
# CloudWatch alarms keep the confused-deputy guard (alarms of this account only).
data "aws_iam_policy_document" "security_alerts" {
  statement {
    sid       = "EventBridgePublishes"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.security_alerts.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsOfThisAccountPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.security_alerts.arn]
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
# The root-user branch matches any call by root, read-only ones (Describe*/Get*/List*) included, and
# EventBridge matches read-only management events only on rules in state
# ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS:
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail-management.html
# IAM is a global service whose events reach EventBridge only in us-east-1, which is why
# primary_region is validated to be us-east-1 (variables.tf):
# https://repost.aws/knowledge-center/eventbridge-rule-triggers-iam-single-region
# CloudTrail and KMS calls are regional: this rule sees those of the primary region; the metric
# filters above (multi-region trail into one log group) cover every region.
resource "aws_cloudwatch_event_rule" "critical_security" {
  name        = "critical-security-events-${local.suffix}"
  description = "Root activity, trail tampering and key deletion."
  state       = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
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

# A rule whose target cannot be reached (topic policy, KMS key policy, deleted topic) fails
# silently; FailedInvocations (AWS/Events, dimension RuleName) is the only signal. EventBridge
# publishes the metric only when it is non-zero, hence notBreaching for missing data:
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html
# The alarm reaches the topic through CloudWatch's own grants, so it still arrives when
# EventBridge's do not.
locals {
  eventbridge_rules = {
    critical-security = aws_cloudwatch_event_rule.critical_security.name
  }
}

resource "aws_cloudwatch_metric_alarm" "eventbridge_failed_invocations" {
  for_each            = local.eventbridge_rules
  alarm_name          = "eventbridge-failed-invocations-${each.key}-${local.suffix}"
  alarm_description   = "EventBridge rule ${each.value} could not deliver to its target."
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { RuleName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.security_alerts.arn]
}
