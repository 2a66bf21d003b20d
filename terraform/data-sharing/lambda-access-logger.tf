# access-logger: CloudTrail events → EventBridge → SQS (with DLQ) → this function, in batches of
# up to 100: parse, normalise and detect with warden-core, write idempotent items (key = eventID)
# with BatchWriteItem and backoff on unprocessed items, report partial batch failures, publish
# alerts to SNS and metrics as Embedded Metric Format log lines.

resource "aws_sqs_queue" "cloudtrail_events_dlq" {
  name                              = "${local.name}-cloudtrail-events-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.data.arn
  kms_data_key_reuse_period_seconds = 300
}

resource "aws_sqs_queue" "cloudtrail_events" {
  name                              = "${local.name}-cloudtrail-events"
  visibility_timeout_seconds        = 360
  message_retention_seconds         = 345600
  kms_master_key_id                 = aws_kms_key.data.arn
  kms_data_key_reuse_period_seconds = 300
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.cloudtrail_events_dlq.arn
    maxReceiveCount     = 5
  })
}

# KMS Decrypt/GenerateDataKey (and S3 Get*/List* bucket calls) are read-only management events,
# which EventBridge delivers only to rules in state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS;
# in the default state the KMS branch would match nothing. IAM and CloudTrail read-only calls are
# not wanted here, so that branch says readOnly = false.
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail-management.html
resource "aws_cloudwatch_event_rule" "cloudtrail_to_logger" {
  name        = "${local.name}-cloudtrail-to-logger"
  description = "Every CloudTrail event on the shared bucket and the key, and IAM/CloudTrail changes, for the access-logger."
  state       = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
  event_pattern = jsonencode({
    "detail-type" = ["AWS API Call via CloudTrail"]
    "$or" = [
      { detail = { eventSource = ["s3.amazonaws.com"], requestParameters = { bucketName = [module.shared_bucket.id] } } },
      { detail = { eventSource = ["kms.amazonaws.com"], resources = { ARN = [aws_kms_key.data.arn] } } },
      { detail = { eventSource = ["iam.amazonaws.com", "cloudtrail.amazonaws.com"], readOnly = [false] } },
    ]
  })
}

resource "aws_cloudwatch_event_target" "cloudtrail_to_logger" {
  rule = aws_cloudwatch_event_rule.cloudtrail_to_logger.name
  arn  = aws_sqs_queue.cloudtrail_events.arn
}

data "aws_iam_policy_document" "cloudtrail_events_queue" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.cloudtrail_events.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.cloudtrail_to_logger.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "cloudtrail_events" {
  queue_url = aws_sqs_queue.cloudtrail_events.id
  policy    = data.aws_iam_policy_document.cloudtrail_events_queue.json
}

data "aws_iam_policy_document" "access_logger" {
  statement {
    sid       = "ConsumeEvents"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.cloudtrail_events.arn]
  }
  statement {
    sid       = "WriteAccessRecords"
    actions   = ["dynamodb:BatchWriteItem"]
    resources = [aws_dynamodb_table.audit_logs.arn]
  }
  statement {
    sid       = "PublishEachAlertOnce"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.alert_ledger.arn, "${aws_dynamodb_table.alert_ledger.arn}/index/by-released"]
  }
  statement {
    sid       = "ReadRegistryForDetectors"
    actions   = ["dynamodb:Scan"]
    resources = [aws_dynamodb_table.access_control.arn]
  }
  statement {
    sid       = "PublishAlerts"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }
}

module "access_logger" {
  source               = "./modules/lambda-function"
  function_name        = local.function_names.access_logger
  description          = "CloudTrail events to access records and alerts"
  zip_path             = "${var.lambda_artifacts_dir}/access-logger/bootstrap.zip"
  policy_json          = data.aws_iam_policy_document.access_logger.json
  kms_key_arn          = aws_kms_key.data.arn
  log_retention_days   = var.log_retention_days
  reserved_concurrency = lookup(var.reserved_concurrency, "access-logger", null)
  timeout_seconds      = 60
  tags                 = local.tags
  environment = {
    WARDEN_ENVIRONMENT  = var.environment
    AUDIT_TABLE         = aws_dynamodb_table.audit_logs.name
    ALERT_LEDGER_TABLE  = aws_dynamodb_table.alert_ledger.name
    REGISTRY_TABLE      = aws_dynamodb_table.access_control.name
    ALERT_TOPIC_ARN     = aws_sns_topic.alerts.arn
    ACCESS_LOG_TTL_DAYS = tostring(var.access_log_ttl_days)
    DETECT_CONFIG       = local.detect_config
    METRICS_NAMESPACE   = "Warden/${var.environment}"
  }
}

resource "aws_lambda_event_source_mapping" "access_logger" {
  event_source_arn                   = aws_sqs_queue.cloudtrail_events.arn
  function_name                      = module.access_logger.function_arn
  batch_size                         = 100
  maximum_batching_window_in_seconds = 5
  function_response_types            = ["ReportBatchItemFailures"]

  # Without a cap, Lambda scales pollers past the function's concurrency; throttled invocations
  # return their messages to the queue, each return counts towards maxReceiveCount, and healthy
  # batches end in the DLQ. With maximum_concurrency Lambda stops polling instead.
  # https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
  scaling_config {
    maximum_concurrency = var.access_logger_max_concurrency
  }

  lifecycle {
    precondition {
      condition     = lookup(var.reserved_concurrency, "access-logger", null) == null || lookup(var.reserved_concurrency, "access-logger", 0) >= var.access_logger_max_concurrency
      error_message = "reserved_concurrency[\"access-logger\"] must be at least access_logger_max_concurrency, or the mapping invokes into a throttle."
    }
  }
}
