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

  # Every dead-letter queue: the audit pipeline's and each function's (modules/lambda-function),
  # taken from the modules so a function added later cannot be left without its alarm.
  dead_letter_queues = merge(
    { cloudtrail-events = aws_sqs_queue.cloudtrail_events_dlq.name },
    { for k, m in local.function_modules : k => m.dlq_name },
  )

  function_modules = merge(
    {
      access-validator    = module.access_validator
      access-logger       = module.access_logger
      governance-check    = module.governance_check
      expiration-enforcer = module.expiration_enforcer
      cost-reporter       = module.cost_reporter
      policy-reconciler   = module.policy_reconciler
    },
    var.enable_self_service_portal ? {
      access-request     = module.access_request[0]
      approval-processor = module.approval_processor[0]
    } : {},
  )

  # Every EventBridge rule of the primary region: a target that cannot be reached (a key policy
  # that refuses EventBridge, a deleted queue, a missing invoke permission) shows only as
  # FailedInvocations; nothing else reports it.
  # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html
  event_rules = merge(
    { for k, r in aws_cloudwatch_event_rule.security : k => r.name },
    {
      cloudtrail-to-logger = aws_cloudwatch_event_rule.cloudtrail_to_logger.name
      governance-daily     = aws_cloudwatch_event_rule.governance_daily.name
      expiration-hourly    = aws_cloudwatch_event_rule.expiration_hourly.name
      cost-monthly         = aws_cloudwatch_event_rule.cost_monthly.name
    },
  )
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

# The policy-reconciler's run counters (EMF, no dimensions): a registry item it had to leave out
# (unreadable, invalid, overlapping) means someone's access is not what the registry says.
resource "aws_cloudwatch_metric_alarm" "registry_items_skipped" {
  alarm_name          = "${local.name}-registry-items-skipped"
  alarm_description   = "The policy-reconciler left registry items out (invalid or overlapping): their access is not applied. The alert on the alerts topic names each item and rule."
  namespace           = "Warden/${var.environment}"
  metric_name         = "RegistryItemsSkipped"
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

resource "aws_cloudwatch_metric_alarm" "event_rule_failures" {
  for_each            = local.event_rules
  alarm_name          = "${local.name}-rule-failures-${each.key}"
  alarm_description   = "EventBridge could not deliver events of rule ${each.value} to its target (permissions, key policy, missing target): alerts or audit records are being lost."
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { RuleName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}
