# Archive replay past one machine (enable_archive_replay): a Step Functions state machine plans
# the replay of a CloudTrail prefix over a range of days (one item per trail folder and day, a
# JSON manifest in the audit bucket), then a Distributed Map runs the audit-replay function on
# every item, archive_replay_max_concurrency at a time: each item's alerts go to
# replay/<execution name>/alerts/<account>/<region>/<day>.jsonl, the children's results to
# replay/map-runs/<map run ID>/. Windows are counted per trail folder (one account's one region),
# as `warden audit replay s3://…/CloudTrail/<region>/` counts them. Started by an operator:
#   aws stepfunctions start-execution --state-machine-arn <archive_replay_state_machine_arn> \
#     --name incident-42 --input '{"source": "s3://<audit bucket>/cloudtrail/AWSLogs/", "since": "2026-09-01", "until": "2026-11-30"}'
#
# Known AWS behaviour this relies on (Step Functions developer guide):
# - a Distributed Map reads a JSON array from S3 with ItemReader arn:aws:states:::s3:getObject and
#   ReaderConfig InputType JSON, and writes results with ResultWriter arn:aws:states:::s3:putObject:
#   https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html
#   https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html
# - its children are child workflow executions of the same state machine, so the role needs
#   states:StartExecution on the state machine and states:DescribeExecution on its executions;
#   ItemReader needs s3:GetObject and ResultWriter s3:PutObject, s3:GetObject,
#   s3:ListMultipartUploadParts and s3:AbortMultipartUpload (and KMS on an SSE-KMS bucket):
#   https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html

locals {
  replay_state_machine_name = "${local.name}-archive-replay"
  # Built from its name: the role's policy names the state machine, which names the role.
  replay_state_machine_arn = "arn:${local.partition}:states:${var.region}:${local.account_id}:stateMachine:${local.replay_state_machine_name}"
  replay_results_prefix    = "replay/"
}

data "aws_iam_policy_document" "archive_replay_function" {
  count = var.enable_archive_replay ? 1 : 0
  # ListObjectsV2 of the trail folders and days; the manifest and alerts are written, not listed.
  statement {
    sid       = "ListTrailLogs"
    actions   = ["s3:ListBucket"]
    resources = [module.audit_bucket.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["cloudtrail/*"]
    }
  }
  statement {
    sid       = "ReadTrailLogs"
    actions   = ["s3:GetObject"]
    resources = ["${module.audit_bucket.arn}/cloudtrail/*"]
  }
  statement {
    sid       = "WriteReplayResults"
    actions   = ["s3:PutObject"]
    resources = ["${module.audit_bucket.arn}/${local.replay_results_prefix}*"]
  }
  statement {
    sid       = "ReadRegistryForDetectors"
    actions   = ["dynamodb:Scan"]
    resources = [aws_dynamodb_table.access_control.arn]
  }
}

module "audit_replay" {
  count                = var.enable_archive_replay ? 1 : 0
  source               = "./modules/lambda-function"
  function_name        = local.function_names.audit_replay
  description          = "Archive replay: plan, and one trail folder and day per invocation"
  zip_path             = "${var.lambda_artifacts_dir}/audit-replay/bootstrap.zip"
  policy_json          = data.aws_iam_policy_document.archive_replay_function[0].json
  kms_key_arn          = aws_kms_key.data.arn
  log_retention_days   = var.log_retention_days
  reserved_concurrency = lookup(var.reserved_concurrency, "audit-replay", null)
  # One account-day of data events can be millions of records: the longest Lambda allows, and
  # memory for one full vCPU (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
  timeout_seconds = 900
  memory_mb       = 1769
  tags            = local.tags
  environment = {
    WARDEN_ENVIRONMENT = var.environment
    TRAIL_BUCKET       = module.audit_bucket.id
    TRAIL_PREFIX       = "cloudtrail/"
    RESULTS_BUCKET     = module.audit_bucket.id
    RESULTS_PREFIX     = local.replay_results_prefix
    REGISTRY_TABLE     = aws_dynamodb_table.access_control.name
    DETECT_CONFIG      = local.detect_config
  }
}

resource "aws_cloudwatch_log_group" "replay" {
  count             = var.enable_archive_replay ? 1 : 0
  name              = "/aws/vendedlogs/states/${local.name}-archive-replay"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
  tags              = local.tags
}

resource "aws_iam_role" "replay" {
  count              = var.enable_archive_replay ? 1 : 0
  name               = "${local.name}-archive-replay"
  assume_role_policy = data.aws_iam_policy_document.approval_trust.json
  tags               = local.tags
}

data "aws_iam_policy_document" "replay" {
  count = var.enable_archive_replay ? 1 : 0
  statement {
    sid       = "RunTheFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.audit_replay[0].function_arn]
  }
  # The Map's children are executions of this state machine.
  statement {
    sid       = "StartChildWorkflows"
    actions   = ["states:StartExecution"]
    resources = [local.replay_state_machine_arn]
  }
  # iam-policies-eg-dist-map.html lists DescribeExecution on execution:<name>:*; a child's ARN is
  # execution:<name>/<map run label>:<id> (Service Authorization Reference, Step Functions), so
  # both forms are named. StopExecution (children stopped when the Map fails) is not on that page.
  statement {
    sid     = "WatchChildWorkflows"
    actions = ["states:DescribeExecution", "states:StopExecution"]
    resources = [
      "arn:${local.partition}:states:${var.region}:${local.account_id}:execution:${local.replay_state_machine_name}:*",
      "arn:${local.partition}:states:${var.region}:${local.account_id}:execution:${local.replay_state_machine_name}/*",
    ]
  }
  statement {
    sid       = "ReadManifest"
    actions   = ["s3:GetObject"]
    resources = ["${module.audit_bucket.arn}/${local.replay_results_prefix}*"]
  }
  statement {
    sid       = "WriteMapResults"
    actions   = ["s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"]
    resources = ["${module.audit_bucket.arn}/${local.replay_results_prefix}*"]
  }
  # The audit bucket is SSE-KMS with the stack key: ResultWriter's multipart upload needs
  # Decrypt, Encrypt and GenerateDataKey (iam-policies-eg-dist-map.html); reading the manifest
  # needs Decrypt.
  statement {
    sid       = "EncryptedAuditBucket"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.data.arn]
  }
  statement {
    sid = "VendedLogDelivery"
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    ]
    # These actions take no resource ARN (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
    resources = ["*"]
  }
  # Also on cw-logs.html's list; they take the log group's ARN, so they are scoped to it.
  statement {
    sid       = "WriteOwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.replay[0].arn}:*"]
  }
  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "replay" {
  count  = var.enable_archive_replay ? 1 : 0
  name   = "archive-replay"
  role   = aws_iam_role.replay[0].id
  policy = data.aws_iam_policy_document.replay[0].json
}

resource "aws_sfn_state_machine" "replay" {
  count    = var.enable_archive_replay ? 1 : 0
  name     = local.replay_state_machine_name
  role_arn = aws_iam_role.replay[0].arn
  tags     = local.tags

  definition = jsonencode({
    Comment = "Archive replay: plan one item per trail folder and day, replay each with the audit-replay function."
    StartAt = "Plan"
    States = {
      Plan = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::lambda:invoke"
        Parameters = {
          FunctionName = module.audit_replay[0].function_arn
          Payload = {
            action     = "plan"
            "source.$" = "$.source"
            "since.$"  = "$.since"
            "until.$"  = "$.until"
            # The execution's name is the run: results go to replay/<name>/.
            "run_id.$" = "$$.Execution.Name"
          }
        }
        ResultSelector = { "plan.$" = "$.Payload" }
        OutputPath     = "$.plan"
        # The function types its errors: InvalidInput (the field named; retrying cannot help)
        # fails the execution at once; ServiceFailed and Lambda's own errors are retried.
        Retry = [
          { ErrorEquals = ["InvalidInput"], MaxAttempts = 0 },
          { ErrorEquals = ["ServiceFailed", "Lambda.ServiceException", "Lambda.TooManyRequestsException", "Lambda.SdkClientException"], MaxAttempts = 3, BackoffRate = 2, IntervalSeconds = 2 },
        ]
        Next = "ReplayEachFolderDay"
      }
      ReplayEachFolderDay = {
        Type = "Map"
        ItemReader = {
          Resource     = "arn:${local.partition}:states:::s3:getObject"
          ReaderConfig = { InputType = "JSON" }
          Parameters   = { "Bucket.$" = "$.manifest.Bucket", "Key.$" = "$.manifest.Key" }
        }
        ItemSelector = {
          action     = "replay"
          "item.$"   = "$$.Map.Item.Value"
          "run_id.$" = "$.run_id"
        }
        MaxConcurrency             = var.archive_replay_max_concurrency
        ToleratedFailurePercentage = var.archive_replay_tolerated_failure_percentage
        # A fixed label keeps the children's ARNs predictable (execution:<name>/replay:<id>).
        Label = "replay"
        ItemProcessor = {
          # STANDARD children: an item may run up to the function's 900 s, past EXPRESS's 5
          # minutes, and runs once (https://docs.aws.amazon.com/step-functions/latest/dg/choosing-workflow-type.html).
          ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" }
          StartAt         = "ReplayOne"
          States = {
            ReplayOne = {
              Type       = "Task"
              Resource   = "arn:${local.partition}:states:::lambda:invoke"
              Parameters = { FunctionName = module.audit_replay[0].function_arn, "Payload.$" = "$" }
              OutputPath = "$.Payload"
              # A failed GetObject fails the item (ServiceFailed); the retry reads it again and
              # overwrites the same alerts key. InvalidInput is not retried (retriers are tried
              # in order, the first that matches applies); a timeout or out-of-memory
              # (Lambda.Unknown, matched by States.TaskFailed) once more only.
              Retry = [
                { ErrorEquals = ["InvalidInput"], MaxAttempts = 0 },
                { ErrorEquals = ["ServiceFailed", "Lambda.ServiceException", "Lambda.TooManyRequestsException", "Lambda.SdkClientException"], MaxAttempts = 4, BackoffRate = 2, IntervalSeconds = 5 },
                { ErrorEquals = ["States.TaskFailed"], MaxAttempts = 1, IntervalSeconds = 5 },
              ]
              End = true
            }
          }
        }
        ResultWriter = {
          Resource = "arn:${local.partition}:states:::s3:putObject"
          # Step Functions writes manifest.json and SUCCEEDED_n/FAILED_n.json under
          # <Prefix>/<map run ID>/ (input-output-resultwriter.html): one folder per run.
          Parameters = { Bucket = module.audit_bucket.id, Prefix = "${local.replay_results_prefix}map-runs" }
        }
        End = true
      }
    }
  })

  # Execution data (inputs, outputs) stays out of the logs: the alerts are in S3.
  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.replay[0].arn}:*"
    include_execution_data = false
    level                  = "ERROR"
  }

  tracing_configuration {
    enabled = true
  }

  depends_on = [aws_iam_role_policy.replay]
}
