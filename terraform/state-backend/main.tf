# KMS-encrypted S3 state bucket and DynamoDB lock table (spec 002, requirement 6). Both buckets
# come from ../modules/secure-bucket; moved.tf maps the former root-module resources onto it.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id  = data.aws_caller_identity.current.account_id
  bucket_name = "${var.state_bucket_prefix}-${local.account_id}-${var.environment_suffix}"
  log_bucket  = "${var.state_bucket_prefix}-logs-${local.account_id}-${var.environment_suffix}"
  # Bucket ARNs are deterministic, so the policies can be written before the buckets exist.
  state_bucket_arn  = "arn:${data.aws_partition.current.partition}:s3:::${local.bucket_name}"
  log_bucket_arn    = "arn:${data.aws_partition.current.partition}:s3:::${local.log_bucket}"
  access_log_prefix = "state-access/"
  tags = merge(var.tags, {
    Project     = "warden"
    Component   = "state-backend"
    Environment = var.environment_suffix
    ManagedBy   = "Terraform"
  })
}

# --- Key -------------------------------------------------------------------------------------

data "aws_iam_policy_document" "state_key" {
  #checkov:skip=CKV_AWS_111:A KMS key policy: Resource "*" means this key only, and the only principal is this account.
  #checkov:skip=CKV_AWS_356:A KMS key policy: Resource "*" means this key only.
  #checkov:skip=CKV_AWS_109:A KMS key policy: the account administers its own key (AWS's default key policy).
  statement {
    sid       = "AccountAdministersKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "S3AndDynamoDBUseKeyForState"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com", "dynamodb.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "state" {
  description             = "Terraform state encryption (${var.environment_suffix})"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.state_key.json
}

resource "aws_kms_alias" "state" {
  name          = "alias/terraform-state-${var.environment_suffix}"
  target_key_id = aws_kms_key.state.key_id
}

# --- Access-log bucket ---------------------------------------------------------------------
# S3 server access logs of the state bucket. AWS delivers them only to a destination whose default
# encryption is SSE-S3 (SSE-KMS is not supported) and that has no Object Lock / default retention,
# and, with ACLs disabled, only if the bucket policy lets logging.s3.amazonaws.com write:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html

data "aws_iam_policy_document" "log_bucket_delivery" {
  statement {
    sid       = "S3ServerAccessLogDelivery"
    actions   = ["s3:PutObject"]
    resources = ["${local.log_bucket_arn}/${local.access_log_prefix}*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.state_bucket_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

module "log_bucket" {
  source = "../modules/secure-bucket"

  bucket_name   = local.log_bucket
  kms_key_arn   = null # SSE-S3: the only default encryption server access log delivery supports
  force_destroy = true

  lifecycle_rules = [{
    id                         = "expire-access-logs"
    expiration_days            = 365
    noncurrent_expiration_days = 30
  }]

  policy_documents = [data.aws_iam_policy_document.log_bucket_delivery.json]
  tags             = { Name = local.log_bucket, Purpose = "s3-server-access-logs" }
}

# --- State bucket --------------------------------------------------------------------------
# encrypt = true alone makes the S3 backend ask for SSE with AES256; only kms_key_id makes it use
# this key. The policy therefore rejects every upload that is not SSE-KMS with exactly this key
# (StringNotEquals, so a missing header is rejected too), in two statements: conditions inside one
# statement are ANDed, which would let aws:kms with another key through.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#require-sse-kms
# https://developer.hashicorp.com/terraform/language/backend/s3

data "aws_iam_policy_document" "state_bucket" {
  statement {
    sid       = "DenyUploadsNotSseKms"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${local.state_bucket_arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }

  statement {
    sid       = "DenyUploadsWithoutStateKey"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${local.state_bucket_arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [aws_kms_key.state.arn]
    }
  }
}

module "state_bucket" {
  source = "../modules/secure-bucket"

  bucket_name   = local.bucket_name
  kms_key_arn   = aws_kms_key.state.arn
  force_destroy = true

  lifecycle_rules = [{
    id                         = "expire-old-state-versions"
    noncurrent_expiration_days = var.noncurrent_version_retention_days
  }]

  policy_documents  = [data.aws_iam_policy_document.state_bucket.json]
  access_log_bucket = module.log_bucket.id
  access_log_prefix = local.access_log_prefix
  tags              = { Name = local.bucket_name, Purpose = "terraform-state" }
}

# --- Lock table ----------------------------------------------------------------------------

resource "aws_dynamodb_table" "lock" {
  name                        = "terraform-state-lock-${var.environment_suffix}"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "LockID"
  deletion_protection_enabled = false

  attribute {
    name = "LockID"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.state.arn
  }
}
