# policy-reconciler: the one writer of the bucket policy, the access point policies and the KMS grants. Renders both from the
# registry with warden-core (baseline from SSM + packed grant statements) and applies them
# idempotently, one failure never blocking the rest: grants past the 20 KB budget, or whose role
# S3 refuses as an invalid principal (a deleted consumer role), are left out and reported while
# every other grant and every removal is applied; a failed call fails the run so Lambda retries it. Triggered by the registry's stream, by the
# expiration-enforcer and approval workflow, and once per Terraform apply.

data "aws_iam_policy_document" "policy_reconciler" {
  statement {
    sid       = "ReadRegistry"
    actions   = ["dynamodb:Scan"]
    resources = [aws_dynamodb_table.access_control.arn]
  }
  statement {
    sid       = "ReadRegistryStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
    resources = [aws_dynamodb_table.access_control.stream_arn]
  }
  statement {
    sid       = "ApplyBucketPolicy"
    actions   = ["s3:GetBucketPolicy", "s3:PutBucketPolicy"]
    resources = [module.shared_bucket.arn]
  }
  # The access-point tier: the shared bucket's access points named <project>-<env>-<account>.
  # ListAccessPoints takes no resource ARN ("*"); the others take the access point's ARN
  # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
  statement {
    sid       = "ListAccessPoints"
    actions   = ["s3:ListAccessPoints"]
    resources = ["*"]
  }
  statement {
    sid       = "ApplyAccessPointPolicies"
    actions   = ["s3:CreateAccessPoint", "s3:GetAccessPointPolicy", "s3:PutAccessPointPolicy", "s3:DeleteAccessPointPolicy"]
    resources = ["arn:${local.partition}:s3:${var.region}:${local.account_id}:accesspoint/${local.name}-*"]
  }
  statement {
    sid       = "ApplyKmsGrants"
    actions   = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
    resources = [aws_kms_key.data.arn]
  }
  statement {
    sid       = "ReadBaseline"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.bucket_baseline.arn]
  }
  statement {
    sid       = "ReportRefusals"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }
}

module "policy_reconciler" {
  source               = "./modules/lambda-function"
  function_name        = local.function_names.policy_reconciler
  description          = "Renders and applies the bucket policy and KMS grants from the registry"
  zip_path             = "${var.lambda_artifacts_dir}/policy-reconciler/bootstrap.zip"
  policy_json          = data.aws_iam_policy_document.policy_reconciler.json
  kms_key_arn          = aws_kms_key.data.arn
  log_retention_days   = var.log_retention_days
  reserved_concurrency = lookup(var.reserved_concurrency, "policy-reconciler", null)
  # 1,000 consumers from empty on the access-point tier: ~1,000 CreateAccessPoint and
  # PutAccessPointPolicy calls, 8 at a time; a run cut short is retried and resumes (idempotent).
  timeout_seconds = 900
  tags            = local.tags
  environment = {
    WARDEN_ENVIRONMENT     = var.environment
    REGISTRY_TABLE         = aws_dynamodb_table.access_control.name
    SHARED_BUCKET          = module.shared_bucket.id
    KMS_KEY_ARN            = aws_kms_key.data.arn
    BASELINE_PARAMETER     = aws_ssm_parameter.bucket_baseline.name
    CONSUMER_ROLE_NAME     = var.consumer_role_name
    SHARING_MODE           = var.sharing_mode
    ACCESS_POINT_THRESHOLD = tostring(var.access_point_threshold)
    ACCESS_POINT_PREFIX    = local.name
    ALERT_TOPIC_ARN        = aws_sns_topic.alerts.arn
    METRICS_NAMESPACE      = "Warden/${var.environment}"
  }
}

resource "aws_lambda_event_source_mapping" "policy_reconciler" {
  event_source_arn               = aws_dynamodb_table.access_control.stream_arn
  function_name                  = module.policy_reconciler.function_arn
  starting_position              = "LATEST"
  batch_size                     = 100
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = 3

  destination_config {
    on_failure {
      destination_arn = module.policy_reconciler.dlq_arn
    }
  }
}
