# Alarms per consumer account on the access-logger's metrics (Embedded Metric Format, namespace
# Warden/<environment>, dimension AccountId), and on every dead-letter queue.

locals {
  account_alarms = {
    for pair in setproduct(keys(local.consumers), ["requests", "failed-auth", "egress"]) : "${pair[0]}-${pair[1]}" => {
      account   = pair[0]
      kind      = pair[1]
      metric    = { requests = "Requests", failed-auth = "FailedAuth", egress = "BytesOut" }[pair[1]]
      period    = pair[1] == "egress" ? 3600 : 300
      threshold = { requests = var.request_spike_threshold, failed-auth = var.failed_auth_threshold, egress = var.egress_threshold_bytes }[pair[1]]
    }
  }

  dead_letter_queues = {
    cloudtrail-events   = aws_sqs_queue.cloudtrail_events_dlq.name
    access-validator    = "${local.function_names.access_validator}-dlq"
    access-logger       = "${local.function_names.access_logger}-dlq"
    governance-check    = "${local.function_names.governance_check}-dlq"
    expiration-enforcer = "${local.function_names.expiration_enforcer}-dlq"
    cost-reporter       = "${local.function_names.cost_reporter}-dlq"
    policy-reconciler   = "${local.function_names.policy_reconciler}-dlq"
  }
}

resource "aws_cloudwatch_metric_alarm" "account" {
  for_each            = local.account_alarms
  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = "${each.value.kind} for account ${each.value.account} (${local.consumers[each.value.account].name}) above ${each.value.threshold} per ${each.value.period} s."
  namespace           = "Warden/${var.environment}"
  metric_name         = each.value.metric
  dimensions          = { AccountId = each.value.account }
  statistic           = "Sum"
  period              = each.value.period
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each            = local.dead_letter_queues
  alarm_name          = "${local.name}-dlq-${each.key}"
  alarm_description   = "Messages parked in the ${each.key} dead-letter queue: inspect and redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "logger_errors" {
  alarm_name          = "${local.name}-access-logger-errors"
  alarm_description   = "The access-logger is failing: audit records may be delayed (they wait in SQS, then the DLQ)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = module.access_logger.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}
