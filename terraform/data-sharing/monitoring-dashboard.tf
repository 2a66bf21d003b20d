# The access-patterns dashboard: requests, bytes and denials per account, alerts by detector,
# pipeline health.

resource "aws_cloudwatch_dashboard" "access" {
  dashboard_name = "${local.name}-access-patterns"
  dashboard_body = jsonencode({
    start          = "-P1D"
    periodOverride = "auto"
    widgets = concat([
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title   = "Requests per account (5 min)", region = var.region, stat = "Sum", period = 300
          metrics = [[{ expression = "SEARCH('{Warden/${var.environment},AccountId} MetricName=\"Requests\"', 'Sum', 300)", id = "requests" }]]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title   = "Bytes downloaded per account (1 h)", region = var.region, stat = "Sum", period = 3600
          metrics = [[{ expression = "SEARCH('{Warden/${var.environment},AccountId} MetricName=\"BytesOut\"', 'Sum', 3600)", id = "egress" }]]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title   = "Denied requests per account", region = var.region, stat = "Sum", period = 300
          metrics = [[{ expression = "SEARCH('{Warden/${var.environment},AccountId} MetricName=\"FailedAuth\"', 'Sum', 300)", id = "denied" }]]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title   = "Alerts by detector", region = var.region, stat = "Sum", period = 3600
          metrics = [[{ expression = "SEARCH('{Warden/${var.environment},Detector} MetricName=\"Alerts\"', 'Sum', 3600)", id = "alerts" }]]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title = "Audit pipeline", region = var.region, period = 300
          metrics = [
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.cloudtrail_events.name, { stat = "Maximum", label = "oldest event waiting (s)" }],
            ["AWS/Lambda", "Errors", "FunctionName", module.access_logger.function_name, { stat = "Sum", yAxis = "right" }],
            ["Warden/${var.environment}", "RecordsWritten", { stat = "Sum", yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title = "Shared bucket", region = var.region, period = 300, stat = "Sum"
          metrics = [
            ["AWS/S3", "GetRequests", "BucketName", module.shared_bucket.id, "FilterId", aws_s3_bucket_metric.shared.name],
            ["AWS/S3", "BytesDownloaded", "BucketName", module.shared_bucket.id, "FilterId", aws_s3_bucket_metric.shared.name, { yAxis = "right" }],
            ["AWS/S3", "4xxErrors", "BucketName", module.shared_bucket.id, "FilterId", aws_s3_bucket_metric.shared.name],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 18, width = 12, height = 6
        properties = {
          title   = "EventBridge deliveries that failed (alarmed per rule)", region = var.region, stat = "Sum", period = 300
          metrics = [[{ expression = "SEARCH('{AWS/Events,RuleName} MetricName=\"FailedInvocations\" ${local.name}', 'Sum', 300)", id = "failed" }]]
        }
      },
      ], local.forward_iam_events ? [{
        type = "metric", x = 12, y = 18, width = 12, height = 6
        properties = {
          # The IAM forwarding rule lives in us-east-1, where the stack has no alert topic to alarm to.
          title   = "IAM events forwarded from us-east-1: failures", region = "us-east-1", stat = "Sum", period = 300
          metrics = [["AWS/Events", "FailedInvocations", "RuleName", aws_cloudwatch_event_rule.iam_forward[0].name]]
        }
    }] : [])
  })
}
