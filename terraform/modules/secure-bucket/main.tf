# A hardened S3 bucket: public access blocked, ACLs disabled (BucketOwnerEnforced), versioned,
# default encryption (SSE-KMS with a customer-managed key, or SSE-S3 for log destinations),
# TLS-only bucket policy, lifecycle rules that always clean up incomplete multipart uploads,
# optional Object Lock default retention and optional server access logging.

data "aws_partition" "current" {}

locals {
  # Deterministic, so callers and this module can write policies before the bucket exists.
  bucket_arn  = "arn:${data.aws_partition.current.partition}:s3:::${var.bucket_name}"
  object_lock = var.object_lock_days != null
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Generic module: cross-region replication needs a destination bucket, role and key per caller; callers that need it add aws_s3_bucket_replication_configuration.
  #checkov:skip=CKV2_AWS_62:Generic module: event notifications depend on a consumer the module cannot know; callers add aws_s3_bucket_notification.
  #checkov:skip=CKV_AWS_18:Access logging is optional (access_log_bucket): a log-destination bucket built with this module must not log into itself.
  #checkov:skip=CKV_AWS_145:KMS is optional (kms_key_arn): server-access-log destination buckets must use SSE-S3, which AWS requires.
  bucket              = var.bucket_name
  force_destroy       = var.force_destroy
  object_lock_enabled = local.object_lock
  tags                = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# ACLs disabled: every grant, including log delivery, goes through the bucket policy.
resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = var.versioning ? "Enabled" : "Suspended"
  }

  lifecycle {
    precondition {
      condition     = var.versioning || var.object_lock_days == null
      error_message = "Object Lock requires versioning: keep versioning = true when object_lock_days is set."
    }
  }
}

resource "aws_s3_bucket_object_lock_configuration" "this" {
  count  = local.object_lock ? 1 : 0
  bucket = aws_s3_bucket.this.id

  rule {
    default_retention {
      mode = var.object_lock_mode
      days = var.object_lock_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # S3 Bucket Keys only apply to SSE-KMS.
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  dynamic "rule" {
    for_each = var.lifecycle_rules
    content {
      id     = rule.value.id
      status = "Enabled"

      filter {
        prefix = rule.value.prefix == "" ? null : rule.value.prefix
      }

      dynamic "transition" {
        for_each = rule.value.transitions
        content {
          days          = transition.value.days
          storage_class = transition.value.storage_class
        }
      }

      dynamic "expiration" {
        for_each = rule.value.expiration_days == null ? [] : [rule.value.expiration_days]
        content {
          days = expiration.value
        }
      }

      dynamic "noncurrent_version_expiration" {
        for_each = rule.value.noncurrent_expiration_days == null ? [] : [rule.value.noncurrent_expiration_days]
        content {
          noncurrent_days = noncurrent_version_expiration.value
        }
      }

      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
    }
  }

  # No caller rules: still clean up incomplete multipart uploads.
  dynamic "rule" {
    for_each = length(var.lifecycle_rules) == 0 ? ["abort-incomplete-multipart"] : []
    content {
      id     = rule.value
      status = "Enabled"

      filter {}

      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_logging" "this" {
  count         = var.access_log_bucket == null ? 0 : 1
  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_log_bucket
  target_prefix = var.access_log_prefix
}

data "aws_iam_policy_document" "this" {
  source_policy_documents = var.policy_documents

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [local.bucket_arn, "${local.bucket_arn}/*"]

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

resource "aws_s3_bucket_policy" "this" {
  count  = var.manage_policy ? 1 : 0
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  # With block_public_policy on, a policy written before the block is in place can race it.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
