# The shared bucket (modules/secure-bucket): versioned, SSE-KMS with bucket keys (so the KMS
# encryption context is the bucket ARN), all public access blocked, lifecycle to
# Intelligent-Tiering and Glacier, server access logs to the access-log bucket (s3-audit.tf),
# EventBridge notifications on, optional DR replication.

module "shared_bucket" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is optional (enable_replication); see aws_s3_bucket_replication_configuration.shared.
  source      = "../modules/secure-bucket"
  bucket_name = local.shared_bucket_name
  kms_key_arn = aws_kms_key.data.arn
  lifecycle_rules = [{
    id = "tiering"
    transitions = [
      { days = var.intelligent_tiering_days, storage_class = "INTELLIGENT_TIERING" },
      { days = var.glacier_days, storage_class = "GLACIER" },
    ]
    noncurrent_expiration_days = var.noncurrent_version_expiration_days
  }]
  # The policy-reconciler is the one writer of this bucket's policy (s3-bucket-policy.tf).
  manage_policy     = false
  access_log_bucket = module.access_log_bucket.id
  access_log_prefix = "${local.shared_bucket_name}/"
  tags              = local.tags
}

# Cross-variable rules (a variable's validation cannot read another variable before Terraform 1.9).
resource "terraform_data" "input_checks" {
  lifecycle {
    precondition {
      condition     = var.glacier_days > var.intelligent_tiering_days
      error_message = "glacier_days (${var.glacier_days}) must be greater than intelligent_tiering_days (${var.intelligent_tiering_days}): objects move to Intelligent-Tiering first, then to Glacier."
    }
  }
}

resource "aws_s3_bucket_notification" "shared" {
  bucket      = module.shared_bucket.id
  eventbridge = true
}

resource "aws_s3_bucket_metric" "shared" {
  bucket = module.shared_bucket.id
  name   = "EntireBucket"
}

# --- Optional disaster-recovery replica ---------------------------------------------------

resource "aws_kms_key" "replica" {
  #checkov:skip=CKV2_AWS_64:The default key policy (account administers the key) applies; the replication role gets key use through IAM.
  count                   = var.enable_replication ? 1 : 0
  provider                = aws.replica
  description             = "${local.name}: DR replica of the shared bucket"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
}

module "replica_bucket" {
  #checkov:skip=CKV_AWS_144:This is the replica.
  #checkov:skip=CKV2_AWS_62:Objects arrive by replication; events are raised on the source bucket.
  #checkov:skip=CKV_AWS_18:Access to the replica is recorded by CloudTrail data events when it is promoted.
  count       = var.enable_replication ? 1 : 0
  source      = "../modules/secure-bucket"
  providers   = { aws = aws.replica }
  bucket_name = "${local.shared_bucket_name}-dr"
  kms_key_arn = aws_kms_key.replica[0].arn
  lifecycle_rules = [{
    id                         = "expire-noncurrent"
    noncurrent_expiration_days = var.noncurrent_version_expiration_days
  }]
  tags = local.tags
}

data "aws_iam_policy_document" "replication_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "replication" {
  count              = var.enable_replication ? 1 : 0
  name               = "${local.name}-replication"
  assume_role_policy = data.aws_iam_policy_document.replication_trust.json
}

data "aws_iam_policy_document" "replication" {
  count = var.enable_replication ? 1 : 0
  statement {
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [module.shared_bucket.arn]
  }
  statement {
    actions   = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"]
    resources = ["${module.shared_bucket.arn}/*"]
  }
  statement {
    actions   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = ["${module.replica_bucket[0].arn}/*"]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.data.arn]
  }
  statement {
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.replica[0].arn]
  }
}

resource "aws_iam_role_policy" "replication" {
  count  = var.enable_replication ? 1 : 0
  name   = "replicate-shared-bucket"
  role   = aws_iam_role.replication[0].id
  policy = data.aws_iam_policy_document.replication[0].json
}

resource "aws_s3_bucket_replication_configuration" "shared" {
  count  = var.enable_replication ? 1 : 0
  bucket = module.shared_bucket.id
  role   = aws_iam_role.replication[0].arn

  rule {
    id     = "dr-everything"
    status = "Enabled"
    filter {}
    delete_marker_replication {
      status = "Enabled"
    }
    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
    }
    destination {
      bucket = module.replica_bucket[0].arn
      encryption_configuration {
        replica_kms_key_id = aws_kms_key.replica[0].arn
      }
    }
  }

  depends_on = [module.shared_bucket, module.replica_bucket]
}
