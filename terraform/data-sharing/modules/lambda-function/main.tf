# One Rust Lambda on provided.al2023 / arm64 with its own least-privilege role, a KMS-encrypted log
# group with retention, X-Ray tracing, and an SQS dead-letter queue that receives failed
# asynchronous invocations (on-failure destination) — a poison event is parked with its reason,
# never retried forever.

terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
    time = {
      source = "hashicorp/time"
    }
  }
}

data "aws_caller_identity" "current" {}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sqs_queue" "dlq" {
  name                              = "${var.function_name}-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.function_name
  assume_role_policy = data.aws_iam_policy_document.trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "runtime" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:log-stream:*"]
  }
  statement {
    sid       = "ParkFailedEvents"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }
  statement {
    sid       = "UseStackKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
  # X-Ray's write actions support no resource-level permissions: "*" is the only resource that
  # matches them (the AWS-managed AWSXRayDaemonWriteAccess policy does the same). A narrower ARN
  # silently matches nothing and tracing data is refused.
  # https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSXRayDaemonWriteAccess.html
  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "runtime" {
  name   = "runtime"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.runtime.json
}

resource "aws_iam_role_policy" "function" {
  name   = "function"
  role   = aws_iam_role.this.id
  policy = var.policy_json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The functions call only AWS APIs over TLS; a VPC would add NAT or endpoints without reducing exposure.
  #checkov:skip=CKV_AWS_272:Zips are built reproducibly by `make lambdas` in the same pipeline that applies; add an AWS Signer profile where the organization has one.
  function_name                  = var.function_name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  handler                        = "bootstrap"
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  timeout                        = var.timeout_seconds
  memory_size                    = var.memory_mb
  reserved_concurrent_executions = coalesce(var.reserved_concurrency, -1)
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.tags

  environment {
    variables = merge(var.environment, { RUST_LOG = "info" })
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dlq.arn
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  # Every policy of the role exists before the function: an invocation right after create (the
  # apply-time reconcile) must not run with half its permissions.
  depends_on = [aws_iam_role_policy.runtime, aws_iam_role_policy.function]
}

# IAM is eventually consistent: a role policy just written may not be in force everywhere for a
# few seconds. `ready` (outputs.tf) waits this long after the role policies change, so whatever
# invokes the function during the same apply sees it with its whole policy.
# https://github.com/aws/aws-cdk/pull/29871 (IAM changes are eventually consistent)
resource "time_sleep" "iam_propagation" {
  create_duration = "15s"
  triggers = {
    runtime      = sha256(aws_iam_role_policy.runtime.policy)
    function     = sha256(aws_iam_role_policy.function.policy)
    function_arn = aws_lambda_function.this.arn
  }
}

resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq.arn
    }
  }
}
