# The audit buckets.
#
# - The audit bucket: CloudTrail logs (cloudtrail/), Storage Lens exports (storage-lens/) and
#   monthly cost reports (cost-reports/), SSE-KMS with the stack key, kept
#   cloudtrail_retention_days (7 years by default), optionally under S3 Object Lock so nobody can
#   delete them early.
# - The access-log bucket: S3 server access logs of the shared bucket. Spec 000 asks for "a
#   different prefix" of the audit bucket, but S3 cannot deliver server access logs to a bucket
#   with SSE-KMS default encryption or with an Object Lock default retention: delivery fails
#   silently. So access logs get their own SSE-S3 bucket without default retention, with the same
#   retention by lifecycle, and only the S3 logging service may write to it, only for the shared
#   bucket.
#   https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html

locals {
  audit_bucket_arn       = "arn:${local.partition}:s3:::${local.audit_bucket_name}"
  access_log_bucket_name = "${local.name}-access-logs-${local.account_id}"
  access_log_bucket_arn  = "arn:${local.partition}:s3:::${local.access_log_bucket_name}"
  storage_lens_id        = "${local.name}-lens"
  storage_lens_arn       = "arn:${local.partition}:s3:${var.region}:${local.account_id}:storage-lens/${local.storage_lens_id}"
}

module "audit_bucket" {
  #checkov:skip=CKV_AWS_18:The audit bucket's own access is recorded by CloudTrail management events; server access logs go to the access-log bucket.
  source           = "../modules/secure-bucket"
  bucket_name      = local.audit_bucket_name
  kms_key_arn      = aws_kms_key.data.arn
  object_lock_days = var.audit_object_lock ? var.cloudtrail_retention_days : null
  lifecycle_rules = [{
    id                         = "retain-for-compliance"
    transitions                = [{ days = 90, storage_class = "GLACIER_IR" }]
    expiration_days            = var.cloudtrail_retention_days
    noncurrent_expiration_days = 30
  }]
  policy_documents = [data.aws_iam_policy_document.audit_bucket.json]
  tags             = local.tags
}

data "aws_iam_policy_document" "audit_bucket" {
  statement {
    sid       = "CloudTrailAclCheck"
    actions   = ["s3:GetBucketAcl"]
    resources = [local.audit_bucket_arn]
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
    resources = ["${local.audit_bucket_arn}/cloudtrail/AWSLogs/*"]
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

  # Storage Lens writes its daily export as its service principal; without this statement (and the
  # key-policy statement in kms.tf) every export fails.
  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage_lens_encrypt_permissions.html
  statement {
    sid       = "StorageLensExport"
    actions   = ["s3:PutObject"]
    resources = ["${local.audit_bucket_arn}/storage-lens/*"]
    principals {
      type        = "Service"
      identifiers = ["storage-lens.s3.amazonaws.com"]
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
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.storage_lens_arn]
    }
  }
}

module "access_log_bucket" {
  #checkov:skip=CKV_AWS_145:S3 server access logging supports only SSE-S3 on the destination bucket (SSE-KMS default encryption makes delivery fail).
  #checkov:skip=CKV_AWS_18:This is the access-log destination; logging it into itself would loop.
  source      = "../modules/secure-bucket"
  bucket_name = local.access_log_bucket_name
  kms_key_arn = null
  lifecycle_rules = [{
    id                         = "retain-for-compliance"
    transitions                = [{ days = 90, storage_class = "GLACIER_IR" }]
    expiration_days            = var.cloudtrail_retention_days
    noncurrent_expiration_days = 30
  }]
  policy_documents = [data.aws_iam_policy_document.access_log_bucket.json]
  tags             = local.tags
}

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
data "aws_iam_policy_document" "access_log_bucket" {
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${local.access_log_bucket_arn}/${local.shared_bucket_name}/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.shared_bucket_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}
