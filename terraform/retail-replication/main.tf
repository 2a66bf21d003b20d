################################################################################
# Variables
################################################################################

variable "region" {
  description = "Primary (source) region. The replica region is eu-west-1 (provider alias eu_west_1)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = var.region == "us-east-1"
    error_message = "region must be us-east-1: the source bucket, topics and trail live there (provider alias us_east_1)."
  }
}

variable "environment" {
  description = "Deployment environment: dev, staging or prod (prod is tagged Environment=production)."
  type        = string
  default     = "prod"

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "project_name" {
  description = "Project name, used in tags."
  type        = string
  default     = "retail"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.project_name))
    error_message = "project_name must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "replication_latency_threshold" {
  description = "Replication latency (seconds) above which the latency alarm fires."
  type        = number
  default     = 900

  validation {
    condition     = var.replication_latency_threshold >= 60 && var.replication_latency_threshold <= 86400
    error_message = "replication_latency_threshold must be between 60 and 86400 seconds."
  }
}

variable "pending_replication_threshold" {
  description = "Bytes pending replication above which the backlog alarm fires (default 100 GiB)."
  type        = number
  default     = 107374182400

  validation {
    condition     = var.pending_replication_threshold > 0
    error_message = "pending_replication_threshold must be a positive number of bytes."
  }
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups (CloudTrail and EventBridge), in days."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, …, 3653)."
  }
}

variable "lifecycle_noncurrent_expiration_days" {
  description = "Days after which noncurrent object versions expire."
  type        = number
  default     = 90

  validation {
    condition     = var.lifecycle_noncurrent_expiration_days >= 1 && var.lifecycle_noncurrent_expiration_days <= 3650
    error_message = "lifecycle_noncurrent_expiration_days must be between 1 and 3650."
  }
}

variable "lifecycle_multipart_expiration_days" {
  description = "Days after which incomplete multipart uploads are aborted."
  type        = number
  default     = 7

  validation {
    condition     = var.lifecycle_multipart_expiration_days >= 1 && var.lifecycle_multipart_expiration_days <= 365
    error_message = "lifecycle_multipart_expiration_days must be between 1 and 365."
  }
}

variable "batch_report_expiration_days" {
  description = "Days after which S3 Batch Replication manifests and completion reports expire in the reports bucket."
  type        = number
  default     = 365

  validation {
    condition     = var.batch_report_expiration_days >= 30 && var.batch_report_expiration_days <= 3650
    error_message = "batch_report_expiration_days must be between 30 and 3650."
  }
}

################################################################################
# Data sources
################################################################################

data "aws_caller_identity" "current" {
  provider = aws.us_east_1
}

################################################################################
# Locals
################################################################################

locals {
  account_id          = data.aws_caller_identity.current.account_id
  source_region       = "us-east-1"
  replica_region      = "eu-west-1"
  source_bucket_name  = "retail-data-source-${local.account_id}-${local.source_region}"
  replica_bucket_name = "retail-data-replica-${local.account_id}-${local.replica_region}"
  trail_bucket_name   = "retail-cloudtrail-logs-${local.account_id}"
  trail_name          = "retail-s3-audit-trail"
  trail_arn           = "arn:aws:cloudtrail:${local.source_region}:${local.account_id}:trail/${local.trail_name}"
  replication_rule_id = "replicate-everything"

  # Batch Replication (existing objects): manifests and completion reports go to their own bucket.
  batch_reports_bucket_name = "retail-s3-batch-reports-${local.account_id}-${local.source_region}"
  batch_reports_prefix      = "batch-replication"

  # Topic ARNs are built from the names, not read from the topics: the source key's policy needs
  # them and the topics need the key (a reference would be a cycle).
  topic_names = {
    critical = "retail-s3-critical-alerts"
    warning  = "retail-s3-warning-alerts"
    info     = "retail-s3-info-alerts"
  }
  topic_arns = { for k, n in local.topic_names : k => "arn:aws:sns:${local.source_region}:${local.account_id}:${n}" }

  # Which AWS service publishes to which topic (topic and key policies grant exactly this).
  events_topics     = ["critical", "info"]    # EventBridge rules
  cloudwatch_topics = ["critical", "warning"] # CloudWatch alarms (all named retail-*)
  s3_topics         = ["critical", "warning"] # S3 replication event notifications

  # eu-west-1 rules. Names are literals so the alarm-forwarding rule can match the alarms that
  # watch it without a reference cycle.
  replica_rule_names = {
    replica_security_events = "retail-s3-replica-security-events"
    replica_alarm_forward   = "retail-s3-replica-alarm-forward"
  }
  replica_alarm_names = { for k, n in local.replica_rule_names : k => "${n}-failed-invocations" }

  common_tags = {
    Project            = var.project_name
    Environment        = var.environment == "prod" ? "production" : var.environment
    ManagedBy          = "Terraform"
    DataClassification = "Confidential"
  }

  # S3 management events that change security posture (EventBridge via CloudTrail).
  security_event_names = [
    "PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl",
    "PutBucketEncryption", "DeleteBucketEncryption",
    "PutBucketVersioning",
    "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock",
    "PutBucketReplication", "DeleteBucketReplication",
  ]
}

################################################################################
# KMS keys (one per region)
################################################################################

data "aws_iam_policy_document" "source_key" {
  #checkov:skip=CKV_AWS_111:KMS key policy: Resource "*" means this key only.
  #checkov:skip=CKV_AWS_356:KMS key policy: Resource "*" means this key only.
  #checkov:skip=CKV_AWS_109:KMS key policy: the account administers its own key (AWS's default key policy).
  statement {
    sid       = "AccountAdministersKey"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "S3UsesKeyForSourceBucket"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${local.account_id}:root"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.source_region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "ReplicationRoleDecryptsSource"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.replication.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.source_region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "CloudTrailEncryptsLogs"
    actions   = ["kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:cloudtrail:arn"
      values   = ["arn:aws:cloudtrail:*:${local.account_id}:trail/*"]
    }
  }

  # AWS services publishing to the encrypted topics. SNS makes the KMS calls with the topic ARN as
  # encryption context (kms:EncryptionContext:aws:sns:topicArn), so every grant is bound to the
  # topics that service publishes to. The SNS guide, "Enable compatibility between event sources
  # from AWS services and encrypted topics"
  # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html), says: "Adding the
  # aws:SourceAccount, aws:SourceArn, and aws:SourceOrgID to a AWS KMS policy is not supported for
  # EventBridge-to-encrypted topics" -- so EventBridge gets the encryption-context condition only;
  # a source condition there would make every EventBridge delivery fail (FailedInvocations).
  statement {
    sid       = "EventBridgePublishesToEncryptedTopics"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:sns:topicArn"
      values   = [for k in local.events_topics : local.topic_arns[k]]
    }
  }

  # For the other sources the same page says to add aws:SourceAccount and aws:SourceArn.
  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopics"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:aws:cloudwatch:${local.source_region}:${local.account_id}:alarm:retail-*"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:sns:topicArn"
      values   = [for k in local.cloudwatch_topics : local.topic_arns[k]]
    }
  }

  statement {
    sid       = "S3NotificationsPublishToEncryptedTopics"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:aws:s3:::${local.source_bucket_name}"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:sns:topicArn"
      values   = [for k in local.s3_topics : local.topic_arns[k]]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsLogGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.source_region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:aws:logs:${local.source_region}:${local.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "source" {
  provider                = aws.us_east_1
  description             = "retail-data-source-key: source bucket, audit trail, alert topics and log groups (us-east-1)"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.source_key.json
}

resource "aws_kms_alias" "source" {
  provider      = aws.us_east_1
  name          = "alias/retail-data-source-key"
  target_key_id = aws_kms_key.source.key_id
}

data "aws_iam_policy_document" "replica_key" {
  #checkov:skip=CKV_AWS_111:KMS key policy: Resource "*" means this key only.
  #checkov:skip=CKV_AWS_356:KMS key policy: Resource "*" means this key only.
  #checkov:skip=CKV_AWS_109:KMS key policy: the account administers its own key (AWS's default key policy).
  statement {
    sid       = "AccountAdministersKey"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "S3UsesKeyForReplicaBucket"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${local.account_id}:root"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.replica_region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "ReplicationRoleEncryptsReplicas"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.replication.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.replica_region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "CloudTrailEncryptsLogs"
    actions   = ["kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
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
}

resource "aws_kms_key" "replica" {
  provider                = aws.eu_west_1
  description             = "retail-data-replica-key: replica bucket (eu-west-1)"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.replica_key.json
}

resource "aws_kms_alias" "replica" {
  provider      = aws.eu_west_1
  name          = "alias/retail-data-replica-key"
  target_key_id = aws_kms_key.replica.key_id
}

################################################################################
# IAM replication role
################################################################################

# The trust policy AWS documents for the replication role names the S3 service principal and
# nothing else ("Setting up permissions for live replication",
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html).
# No aws:SourceAccount condition: the page does not show S3 supplying it on this AssumeRole, and a
# missing key would stop replication silently. Only principals of this account holding
# iam:PassRole can attach the role to a replication configuration.
data "aws_iam_policy_document" "replication_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "replication" {
  provider           = aws.us_east_1
  name               = "retail-s3-replication-role"
  assume_role_policy = data.aws_iam_policy_document.replication_trust.json
}

data "aws_iam_policy_document" "replication" {
  statement {
    sid       = "ReadReplicationConfiguration"
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = ["arn:aws:s3:::${local.source_bucket_name}"]
  }

  statement {
    sid       = "ReadSourceVersions"
    actions   = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"]
    resources = ["arn:aws:s3:::${local.source_bucket_name}/*"]
  }

  statement {
    sid       = "WriteReplicas"
    actions   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = ["arn:aws:s3:::${local.replica_bucket_name}/*"]
  }

  statement {
    sid       = "DecryptWithSourceKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.source.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.source_region}.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = ["arn:aws:s3:::${local.source_bucket_name}", "arn:aws:s3:::${local.source_bucket_name}/*"]
    }
  }

  statement {
    sid       = "EncryptWithReplicaKey"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.replica.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.replica_region}.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = ["arn:aws:s3:::${local.replica_bucket_name}", "arn:aws:s3:::${local.replica_bucket_name}/*"]
    }
  }
}

resource "aws_iam_role_policy" "replication" {
  provider = aws.us_east_1
  name     = "retail-s3-replication"
  role     = aws_iam_role.replication.id
  policy   = data.aws_iam_policy_document.replication.json
}

################################################################################
# IAM role for S3 Batch Replication (existing objects)
################################################################################

# Live replication only copies objects written after the configuration exists; existing objects
# need a one-off S3 Batch Replication job (see README). The job runs as this role; the copying
# itself still uses the replication role above. Trust and permissions follow "Configuring an IAM
# role for S3 Batch Replication"
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-policies.html,
# "Policy if using and storing an Amazon S3 generated manifest") and the Batch Operations trust
# policy in https://docs.aws.amazon.com/AmazonS3/latest/dev/batch-ops-iam-role-policies.html,
# which names batchoperations.s3.amazonaws.com with no condition. Whoever runs create-job needs
# s3:CreateJob and iam:PassRole on this role.
data "aws_iam_policy_document" "batch_replication_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["batchoperations.s3.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "batch_replication" {
  provider           = aws.us_east_1
  name               = "retail-s3-batch-replication-role"
  description        = "Assumed by S3 Batch Operations to run Batch Replication jobs on the retail source bucket."
  assume_role_policy = data.aws_iam_policy_document.batch_replication_trust.json
}

data "aws_iam_policy_document" "batch_replication" {
  statement {
    sid       = "InitiateReplicationOfSourceObjects"
    actions   = ["s3:InitiateReplication"]
    resources = ["arn:aws:s3:::${local.source_bucket_name}/*"]
  }

  statement {
    sid       = "ReadReplicationConfigAndGenerateManifest"
    actions   = ["s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"]
    resources = ["arn:aws:s3:::${local.source_bucket_name}"]
  }

  statement {
    sid       = "ReadGeneratedManifest"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["arn:aws:s3:::${local.batch_reports_bucket_name}/${local.batch_reports_prefix}/*"]
  }

  statement {
    sid       = "WriteManifestAndCompletionReport"
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::${local.batch_reports_bucket_name}/${local.batch_reports_prefix}/*"]
  }

  # The reports bucket is SSE-KMS (source key, bucket key on: the encryption context is the bucket ARN).
  statement {
    sid       = "UseSourceKeyForReportsBucket"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.source.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.source_region}.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = ["arn:aws:s3:::${local.batch_reports_bucket_name}", "arn:aws:s3:::${local.batch_reports_bucket_name}/${local.batch_reports_prefix}/*"]
    }
  }
}

resource "aws_iam_role_policy" "batch_replication" {
  provider = aws.us_east_1
  name     = "retail-s3-batch-replication"
  role     = aws_iam_role.batch_replication.id
  policy   = data.aws_iam_policy_document.batch_replication.json
}

################################################################################
# Source bucket (us-east-1)
################################################################################

resource "aws_s3_bucket" "source" {
  #checkov:skip=CKV_AWS_18:Object-level access is recorded by the CloudTrail data events of retail-s3-audit-trail; server access logs would duplicate them.
  provider      = aws.us_east_1
  bucket        = local.source_bucket_name
  force_destroy = false
}

resource "aws_s3_bucket_versioning" "source" {
  provider = aws.us_east_1
  bucket   = aws_s3_bucket.source.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "source" {
  provider = aws.us_east_1
  bucket   = aws_s3_bucket.source.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.source.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "source" {
  provider                = aws.us_east_1
  bucket                  = aws_s3_bucket.source.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_intelligent_tiering_configuration" "source" {
  provider = aws.us_east_1
  bucket   = aws_s3_bucket.source.id
  name     = "archive-cold-data"
  status   = "Enabled"
  tiering {
    access_tier = "ARCHIVE_ACCESS"
    days        = 90
  }
  tiering {
    access_tier = "DEEP_ARCHIVE_ACCESS"
    days        = 180
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "source" {
  provider = aws.us_east_1
  bucket   = aws_s3_bucket.source.id

  rule {
    id     = "intelligent-tiering-and-cleanup"
    status = "Enabled"
    filter {}

    transition {
      days          = 0
      storage_class = "INTELLIGENT_TIERING"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.lifecycle_noncurrent_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = var.lifecycle_multipart_expiration_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.source]
}

resource "aws_s3_bucket_metric" "source" {
  provider = aws.us_east_1
  bucket   = aws_s3_bucket.source.id
  name     = "EntireBucket"
}

# Replication failures and RTC threshold events are S3 event notifications, not EventBridge
# events: they go straight to the critical topic. Object events go to EventBridge.
resource "aws_s3_bucket_notification" "source" {
  provider    = aws.us_east_1
  bucket      = aws_s3_bucket.source.id
  eventbridge = true

  topic {
    topic_arn = aws_sns_topic.critical.arn
    events = [
      "s3:Replication:OperationFailedReplication",
      "s3:Replication:OperationMissedThreshold",
      "s3:Replication:OperationNotTracked",
    ]
  }

  topic {
    topic_arn = aws_sns_topic.warning.arn
    events    = ["s3:Replication:OperationReplicatedAfterThreshold"]
  }

  depends_on = [aws_sns_topic_policy.critical, aws_sns_topic_policy.warning]
}

################################################################################
# Replica bucket (eu-west-1)
################################################################################

resource "aws_s3_bucket" "replica" {
  #checkov:skip=CKV_AWS_18:Object-level access is recorded by the CloudTrail data events of retail-s3-audit-trail.
  #checkov:skip=CKV_AWS_144:This bucket is itself the cross-region replica.
  #checkov:skip=CKV2_AWS_62:Replica objects arrive by replication; events are raised on the source bucket.
  provider      = aws.eu_west_1
  bucket        = local.replica_bucket_name
  force_destroy = false
}

resource "aws_s3_bucket_versioning" "replica" {
  provider = aws.eu_west_1
  bucket   = aws_s3_bucket.replica.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "replica" {
  provider = aws.eu_west_1
  bucket   = aws_s3_bucket.replica.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.replica.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "replica" {
  provider                = aws.eu_west_1
  bucket                  = aws_s3_bucket.replica.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_intelligent_tiering_configuration" "replica" {
  provider = aws.eu_west_1
  bucket   = aws_s3_bucket.replica.id
  name     = "archive-cold-data"
  status   = "Enabled"
  tiering {
    access_tier = "ARCHIVE_ACCESS"
    days        = 90
  }
  tiering {
    access_tier = "DEEP_ARCHIVE_ACCESS"
    days        = 180
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "replica" {
  provider = aws.eu_west_1
  bucket   = aws_s3_bucket.replica.id

  rule {
    id     = "intelligent-tiering-and-cleanup"
    status = "Enabled"
    filter {}

    transition {
      days          = 0
      storage_class = "INTELLIGENT_TIERING"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.lifecycle_noncurrent_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = var.lifecycle_multipart_expiration_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.replica]
}

resource "aws_s3_bucket_metric" "replica" {
  provider = aws.eu_west_1
  bucket   = aws_s3_bucket.replica.id
  name     = "EntireBucket"
}

################################################################################
# Batch Replication reports bucket (us-east-1)
################################################################################

resource "aws_s3_bucket" "batch_reports" {
  #checkov:skip=CKV_AWS_18:Holds only Batch Operations manifests and completion reports; writes are recorded by the trail's management events and the job itself.
  #checkov:skip=CKV_AWS_144:Job reports are regenerated by re-running the job; replicating them adds nothing.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events for job reports; job status comes from s3control describe-job.
  provider      = aws.us_east_1
  bucket        = local.batch_reports_bucket_name
  force_destroy = false
}

resource "aws_s3_bucket_versioning" "batch_reports" {
  provider = aws.us_east_1
  bucket   = aws_s3_bucket.batch_reports.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "batch_reports" {
  provider = aws.us_east_1
  bucket   = aws_s3_bucket.batch_reports.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.source.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "batch_reports" {
  provider                = aws.us_east_1
  bucket                  = aws_s3_bucket.batch_reports.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "batch_reports" {
  provider = aws.us_east_1
  bucket   = aws_s3_bucket.batch_reports.id
  rule {
    id     = "expire-job-reports"
    status = "Enabled"
    filter {}
    expiration {
      days = var.batch_report_expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.lifecycle_noncurrent_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = var.lifecycle_multipart_expiration_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.batch_reports]
}

# The Batch Replication role writes here through its identity policy (same account); no service
# principal delivers to this bucket, so the policy only enforces TLS.
data "aws_iam_policy_document" "batch_reports_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.batch_reports.arn, "${aws_s3_bucket.batch_reports.arn}/*"]
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

resource "aws_s3_bucket_policy" "batch_reports" {
  provider = aws.us_east_1
  bucket   = aws_s3_bucket.batch_reports.id
  policy   = data.aws_iam_policy_document.batch_reports_bucket.json
}

################################################################################
# Replication configuration
################################################################################

resource "aws_s3_bucket_replication_configuration" "source" {
  provider = aws.us_east_1
  bucket   = aws_s3_bucket.source.id
  role     = aws_iam_role.replication.arn

  rule {
    id       = local.replication_rule_id
    status   = "Enabled"
    priority = 1

    # An empty filter selects every object (and enables delete marker replication).
    filter {}

    delete_marker_replication {
      status = "Enabled"
    }

    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
      replica_modifications {
        status = "Enabled"
      }
    }

    destination {
      bucket        = aws_s3_bucket.replica.arn
      storage_class = "INTELLIGENT_TIERING"

      encryption_configuration {
        replica_kms_key_id = aws_kms_key.replica.arn
      }

      replication_time {
        status = "Enabled"
        time {
          minutes = 15
        }
      }

      metrics {
        status = "Enabled"
        event_threshold {
          minutes = 15
        }
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.source, aws_s3_bucket_versioning.replica, aws_iam_role_policy.replication]
}

################################################################################
# CloudWatch alarms
################################################################################

locals {
  replication_dimensions = {
    SourceBucket      = aws_s3_bucket.source.id
    DestinationBucket = aws_s3_bucket.replica.id
    RuleId            = local.replication_rule_id
  }
}

resource "aws_cloudwatch_metric_alarm" "replication_latency" {
  provider            = aws.us_east_1
  alarm_name          = "retail-s3-replication-latency"
  alarm_description   = "Replication latency above ${var.replication_latency_threshold} s (RTC promises 15 minutes)."
  namespace           = "AWS/S3"
  metric_name         = "ReplicationLatency"
  dimensions          = local.replication_dimensions
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.replication_latency_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.warning.arn]
  ok_actions          = [aws_sns_topic.warning.arn]
}

resource "aws_cloudwatch_metric_alarm" "pending_bytes" {
  provider            = aws.us_east_1
  alarm_name          = "retail-s3-replication-backlog"
  alarm_description   = "More than ${var.pending_replication_threshold} bytes pending replication for 15 minutes."
  namespace           = "AWS/S3"
  metric_name         = "BytesPendingReplication"
  dimensions          = local.replication_dimensions
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = var.pending_replication_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.warning.arn]
  ok_actions          = [aws_sns_topic.warning.arn]
}

resource "aws_cloudwatch_metric_alarm" "errors_4xx" {
  provider            = aws.us_east_1
  alarm_name          = "retail-s3-source-4xx-errors"
  alarm_description   = "More than 100 4xx errors in 5 minutes on the source bucket."
  namespace           = "AWS/S3"
  metric_name         = "4xxErrors"
  dimensions          = { BucketName = aws_s3_bucket.source.id, FilterId = aws_s3_bucket_metric.source.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 100
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.warning.arn]
}

resource "aws_cloudwatch_metric_alarm" "errors_5xx" {
  provider            = aws.us_east_1
  alarm_name          = "retail-s3-source-5xx-errors"
  alarm_description   = "More than 10 5xx errors in 5 minutes on the source bucket."
  namespace           = "AWS/S3"
  metric_name         = "5xxErrors"
  dimensions          = { BucketName = aws_s3_bucket.source.id, FilterId = aws_s3_bucket_metric.source.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 10
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.critical.arn]
}

################################################################################
# CloudWatch dashboard
################################################################################

locals {
  # BucketSizeBytes is published per StorageType ("Amazon S3 dimensions in CloudWatch",
  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/metrics-dimensions.html). Objects in
  # INTELLIGENT_TIERING sit in one of five access tiers, archived objects add index/metadata
  # overhead, and objects that lifecycle has not transitioned (new, or under 128 KiB) stay
  # StandardStorage. The widget sums all of them per bucket.
  size_storage_types = {
    std    = "StandardStorage"
    fa     = "IntelligentTieringFAStorage"
    ia     = "IntelligentTieringIAStorage"
    aia    = "IntelligentTieringAIAStorage"
    aa     = "IntelligentTieringAAStorage"
    daa    = "IntelligentTieringDAAStorage"
    aao    = "IntAAObjectOverhead"
    aas3o  = "IntAAS3ObjectOverhead"
    daao   = "IntDAAObjectOverhead"
    daas3o = "IntDAAS3ObjectOverhead"
  }
  size_buckets = {
    src = { bucket = aws_s3_bucket.source.id, region = local.source_region, label = "source (us-east-1), all storage types" }
    rep = { bucket = aws_s3_bucket.replica.id, region = local.replica_region, label = "replica (eu-west-1), all storage types" }
  }
  # One hidden metric per bucket and storage type, then one visible expression per bucket.
  # Metric math treats a missing value as 0 in + ("Basic arithmetic functions",
  # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html), so
  # tiers that hold nothing yet do not blank the total.
  size_metrics = concat(
    concat([for b, v in local.size_buckets : [for t, st in local.size_storage_types :
      ["AWS/S3", "BucketSizeBytes", "BucketName", v.bucket, "StorageType", st, { id = "${b}_${t}", region = v.region, visible = false }]
    ]]...),
    [for b, v in local.size_buckets : [{ expression = join(" + ", [for t in keys(local.size_storage_types) : "${b}_${t}"]), id = "${b}_total", label = v.label }]],
  )
}

resource "aws_cloudwatch_dashboard" "replication" {
  provider       = aws.us_east_1
  dashboard_name = "retail-s3-replication-dashboard"
  dashboard_body = jsonencode({
    start          = "-PT6H"
    periodOverride = "auto"
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title       = "Replication latency (s), us-east-1 → eu-west-1", region = local.source_region, stat = "Maximum", period = 300
          metrics     = [["AWS/S3", "ReplicationLatency", "SourceBucket", aws_s3_bucket.source.id, "DestinationBucket", aws_s3_bucket.replica.id, "RuleId", local.replication_rule_id]]
          annotations = { horizontal = [{ label = "threshold", value = var.replication_latency_threshold }] }
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title = "Pending replication", region = local.source_region, stat = "Maximum", period = 300
          metrics = [
            ["AWS/S3", "BytesPendingReplication", "SourceBucket", aws_s3_bucket.source.id, "DestinationBucket", aws_s3_bucket.replica.id, "RuleId", local.replication_rule_id],
            ["AWS/S3", "OperationsPendingReplication", "SourceBucket", aws_s3_bucket.source.id, "DestinationBucket", aws_s3_bucket.replica.id, "RuleId", local.replication_rule_id, { yAxis = "right" }],
            ["AWS/S3", "OperationsFailedReplication", "SourceBucket", aws_s3_bucket.source.id, "DestinationBucket", aws_s3_bucket.replica.id, "RuleId", local.replication_rule_id, { yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          # "region" is required on every metric widget (Dashboard Body Structure); per-metric
          # regions then pull the eu-west-1 series into this us-east-1 widget.
          title   = "Bucket size (bytes), both regions", region = local.source_region, stat = "Average", period = 86400
          metrics = local.size_metrics
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title = "Errors, both regions", region = local.source_region, stat = "Sum", period = 300
          metrics = [
            ["AWS/S3", "4xxErrors", "BucketName", aws_s3_bucket.source.id, "FilterId", "EntireBucket", { region = local.source_region, label = "source 4xx" }],
            ["AWS/S3", "5xxErrors", "BucketName", aws_s3_bucket.source.id, "FilterId", "EntireBucket", { region = local.source_region, label = "source 5xx" }],
            ["AWS/S3", "4xxErrors", "BucketName", aws_s3_bucket.replica.id, "FilterId", "EntireBucket", { region = local.replica_region, label = "replica 4xx" }],
            ["AWS/S3", "5xxErrors", "BucketName", aws_s3_bucket.replica.id, "FilterId", "EntireBucket", { region = local.replica_region, label = "replica 5xx" }],
          ]
        }
      },
    ]
  })
}

################################################################################
# SNS topics
################################################################################

resource "aws_sns_topic" "critical" {
  provider          = aws.us_east_1
  name              = local.topic_names.critical
  kms_master_key_id = aws_kms_key.source.arn
}

resource "aws_sns_topic" "warning" {
  provider          = aws.us_east_1
  name              = local.topic_names.warning
  kms_master_key_id = aws_kms_key.source.arn
}

resource "aws_sns_topic" "info" {
  provider          = aws.us_east_1
  name              = local.topic_names.info
  kms_master_key_id = aws_kms_key.source.arn
}

data "aws_iam_policy_document" "topic" {
  for_each = {
    critical = aws_sns_topic.critical.arn
    warning  = aws_sns_topic.warning.arn
    info     = aws_sns_topic.info.arn
  }

  # EventBridge: no Condition block. "You can't use of Condition blocks in Amazon SNS topic
  # policies for EventBridge" ("Using resource-based policies for Amazon EventBridge",
  # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html); a
  # condition here would turn every rule delivery into a FailedInvocation. Scoped to the topic.
  dynamic "statement" {
    for_each = contains(local.events_topics, each.key) ? [each.value] : []
    content {
      sid       = "EventBridgePublish"
      actions   = ["sns:Publish"]
      resources = [statement.value]
      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = contains(local.cloudwatch_topics, each.key) ? [each.value] : []
    content {
      sid       = "CloudWatchAlarmsPublish"
      actions   = ["sns:Publish"]
      resources = [statement.value]
      principals {
        type        = "Service"
        identifiers = ["cloudwatch.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
      condition {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = ["arn:aws:cloudwatch:${local.source_region}:${local.account_id}:alarm:retail-*"]
      }
    }
  }

  dynamic "statement" {
    for_each = contains(local.s3_topics, each.key) ? [each.value] : []
    content {
      sid       = "S3ReplicationNotificationsPublish"
      actions   = ["sns:Publish"]
      resources = [statement.value]
      principals {
        type        = "Service"
        identifiers = ["s3.amazonaws.com"]
      }
      condition {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = ["arn:aws:s3:::${local.source_bucket_name}"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }
}

resource "aws_sns_topic_policy" "critical" {
  provider = aws.us_east_1
  arn      = aws_sns_topic.critical.arn
  policy   = data.aws_iam_policy_document.topic["critical"].json
}

resource "aws_sns_topic_policy" "warning" {
  provider = aws.us_east_1
  arn      = aws_sns_topic.warning.arn
  policy   = data.aws_iam_policy_document.topic["warning"].json
}

resource "aws_sns_topic_policy" "info" {
  provider = aws.us_east_1
  arn      = aws_sns_topic.info.arn
  policy   = data.aws_iam_policy_document.topic["info"].json
}

################################################################################
# CloudWatch log groups
################################################################################

resource "aws_cloudwatch_log_group" "eventbridge" {
  #checkov:skip=CKV_AWS_338:Spec 001 sets 90 days for searchable logs; the durable audit copy is the S3 trail bucket.
  provider          = aws.us_east_1
  name              = "/aws/events/retail-s3-events"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.source.arn
}

resource "aws_cloudwatch_log_group" "cloudtrail" {
  #checkov:skip=CKV_AWS_338:Spec 001 sets 90 days for searchable logs; the durable audit copy is the S3 trail bucket.
  provider          = aws.us_east_1
  name              = "/aws/cloudtrail/${local.trail_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.source.arn
}

# The policy AWS documents for EventBridge writing to CloudWatch Logs has no Condition
# ("CloudWatch Logs permissions" in
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html); the page
# does not show aws:SourceAccount on these calls, so the statement is scoped to this log group
# only instead of by a source condition that could drop every log delivery.
data "aws_iam_policy_document" "eventbridge_logs" {
  statement {
    sid       = "TrustEventsToStoreLogEvent"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.eventbridge.arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "delivery.logs.amazonaws.com"]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "eventbridge" {
  provider        = aws.us_east_1
  policy_name     = "retail-s3-eventbridge-to-logs"
  policy_document = data.aws_iam_policy_document.eventbridge_logs.json
}

################################################################################
# EventBridge rules
################################################################################

resource "aws_cloudwatch_event_rule" "object_events" {
  provider    = aws.us_east_1
  name        = "retail-s3-object-events"
  description = "PutObject, CompleteMultipartUpload (Object Created) and DeleteObject (Object Deleted) on the source bucket."
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created", "Object Deleted"]
    detail = {
      bucket = { name = [aws_s3_bucket.source.id] }
      reason = ["PutObject", "CompleteMultipartUpload", "CopyObject", "DeleteObject"]
    }
  })
}

resource "aws_cloudwatch_event_rule" "replication_events" {
  provider    = aws.us_east_1
  name        = "retail-s3-replication-events"
  description = "Changes to the replication configuration (failures and RTC misses arrive as S3 event notifications; see README)."
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource       = ["s3.amazonaws.com"]
      eventName         = ["PutBucketReplication", "DeleteBucketReplication"]
      requestParameters = { bucketName = [aws_s3_bucket.source.id] }
    }
  })
}

resource "aws_cloudwatch_event_rule" "security_events" {
  provider    = aws.us_east_1
  name        = "retail-s3-security-events"
  description = "Bucket policy, encryption, versioning, ACL, public access block and replication changes."
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource       = ["s3.amazonaws.com"]
      eventName         = local.security_event_names
      requestParameters = { bucketName = [aws_s3_bucket.source.id, aws_s3_bucket.replica.id, local.trail_bucket_name] }
    }
  })
}

resource "aws_cloudwatch_event_target" "object_events_sns" {
  provider = aws.us_east_1
  rule     = aws_cloudwatch_event_rule.object_events.name
  arn      = aws_sns_topic.info.arn
}

resource "aws_cloudwatch_event_target" "object_events_logs" {
  provider = aws.us_east_1
  rule     = aws_cloudwatch_event_rule.object_events.name
  arn      = aws_cloudwatch_log_group.eventbridge.arn
}

resource "aws_cloudwatch_event_target" "replication_events_sns" {
  provider = aws.us_east_1
  rule     = aws_cloudwatch_event_rule.replication_events.name
  arn      = aws_sns_topic.critical.arn
}

resource "aws_cloudwatch_event_target" "replication_events_logs" {
  provider = aws.us_east_1
  rule     = aws_cloudwatch_event_rule.replication_events.name
  arn      = aws_cloudwatch_log_group.eventbridge.arn
}

resource "aws_cloudwatch_event_target" "security_events_sns" {
  provider = aws.us_east_1
  rule     = aws_cloudwatch_event_rule.security_events.name
  arn      = aws_sns_topic.critical.arn
}

resource "aws_cloudwatch_event_target" "security_events_logs" {
  provider = aws.us_east_1
  rule     = aws_cloudwatch_event_rule.security_events.name
  arn      = aws_cloudwatch_log_group.eventbridge.arn
}

# Security events on the replica bucket happen in eu-west-1, where EventBridge receives them:
# forward them to the us-east-1 default bus, where the rule above routes them to SNS.
resource "aws_cloudwatch_event_rule" "replica_security_events" {
  provider    = aws.eu_west_1
  name        = local.replica_rule_names.replica_security_events
  description = "Security changes on the replica bucket, forwarded to us-east-1."
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource       = ["s3.amazonaws.com"]
      eventName         = local.security_event_names
      requestParameters = { bucketName = [aws_s3_bucket.replica.id] }
    }
  })
}

data "aws_iam_policy_document" "events_forward_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "events_forward" {
  provider           = aws.us_east_1
  name               = "retail-s3-events-forward"
  assume_role_policy = data.aws_iam_policy_document.events_forward_trust.json
}

data "aws_iam_policy_document" "events_forward" {
  statement {
    actions   = ["events:PutEvents"]
    resources = ["arn:aws:events:${local.source_region}:${local.account_id}:event-bus/default"]
  }
}

resource "aws_iam_role_policy" "events_forward" {
  provider = aws.us_east_1
  name     = "forward-to-us-east-1"
  role     = aws_iam_role.events_forward.id
  policy   = data.aws_iam_policy_document.events_forward.json
}

resource "aws_cloudwatch_event_target" "replica_security_forward" {
  provider = aws.eu_west_1
  rule     = aws_cloudwatch_event_rule.replica_security_events.name
  arn      = "arn:aws:events:${local.source_region}:${local.account_id}:event-bus/default"
  role_arn = aws_iam_role.events_forward.arn
}

# Alarms on the eu-west-1 rules live in eu-west-1 (a metric alarm watches its own Region's
# metrics) and have no SNS action: the topics are in us-east-1. CloudWatch sends every alarm state
# change to EventBridge ("Acting on alarm changes",
# https://docs.amazonaws.cn/en_us/AmazonCloudWatch/latest/monitoring/Acting_Alarm_Changes.html),
# so this rule forwards those state changes to the us-east-1 bus, where
# retail-s3-replica-alarm-events sends them to the critical topic.
resource "aws_cloudwatch_event_rule" "replica_alarm_forward" {
  provider    = aws.eu_west_1
  name        = local.replica_rule_names.replica_alarm_forward
  description = "State changes of the eu-west-1 FailedInvocations alarms, forwarded to us-east-1."
  event_pattern = jsonencode({
    source        = ["aws.cloudwatch"]
    "detail-type" = ["CloudWatch Alarm State Change"]
    detail = {
      alarmName = values(local.replica_alarm_names)
      state     = { value = ["ALARM", "OK"] }
    }
  })
}

resource "aws_cloudwatch_event_target" "replica_alarm_forward" {
  provider = aws.eu_west_1
  rule     = aws_cloudwatch_event_rule.replica_alarm_forward.name
  arn      = "arn:aws:events:${local.source_region}:${local.account_id}:event-bus/default"
  role_arn = aws_iam_role.events_forward.arn
}

resource "aws_cloudwatch_event_rule" "replica_alarm_events" {
  provider    = aws.us_east_1
  name        = "retail-s3-replica-alarm-events"
  description = "Forwarded eu-west-1 alarm state changes (replica rules failing to deliver) to the critical topic."
  event_pattern = jsonencode({
    source        = ["aws.cloudwatch"]
    "detail-type" = ["CloudWatch Alarm State Change"]
    region        = [local.replica_region]
    detail = {
      alarmName = values(local.replica_alarm_names)
      state     = { value = ["ALARM", "OK"] }
    }
  })
}

resource "aws_cloudwatch_event_target" "replica_alarm_events_sns" {
  provider = aws.us_east_1
  rule     = aws_cloudwatch_event_rule.replica_alarm_events.name
  arn      = aws_sns_topic.critical.arn
}

resource "aws_cloudwatch_event_target" "replica_alarm_events_logs" {
  provider = aws.us_east_1
  rule     = aws_cloudwatch_event_rule.replica_alarm_events.name
  arn      = aws_cloudwatch_log_group.eventbridge.arn
}

################################################################################
# EventBridge delivery alarms (FailedInvocations, one per rule)
################################################################################

# "FailedInvocations: The number of invocations that failed permanently ... EventBridge only
# sends this metric to CloudWatch if it isn't zero" (dimension RuleName on the default bus;
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.md) -- hence Sum > 0 and
# missing data = not breaching.
locals {
  source_region_rules = {
    object_events        = aws_cloudwatch_event_rule.object_events.name
    replication_events   = aws_cloudwatch_event_rule.replication_events.name
    security_events      = aws_cloudwatch_event_rule.security_events.name
    replica_alarm_events = aws_cloudwatch_event_rule.replica_alarm_events.name
  }
  replica_region_rules = {
    replica_security_events = aws_cloudwatch_event_rule.replica_security_events.name
    replica_alarm_forward   = aws_cloudwatch_event_rule.replica_alarm_forward.name
  }
}

resource "aws_cloudwatch_metric_alarm" "rule_failed_invocations" {
  for_each            = local.source_region_rules
  provider            = aws.us_east_1
  alarm_name          = "${each.value}-failed-invocations"
  alarm_description   = "EventBridge rule ${each.value} failed to deliver to a target (SNS or CloudWatch Logs); events are being dropped."
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { RuleName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.critical.arn]
  ok_actions          = [aws_sns_topic.critical.arn]
}

resource "aws_cloudwatch_metric_alarm" "replica_rule_failed_invocations" {
  for_each            = local.replica_region_rules
  provider            = aws.eu_west_1
  alarm_name          = local.replica_alarm_names[each.key]
  alarm_description   = "EventBridge rule ${each.value} (eu-west-1) failed to deliver to us-east-1. State changes reach the critical topic via ${local.replica_rule_names.replica_alarm_forward}."
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { RuleName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
}

################################################################################
# CloudTrail log bucket
################################################################################

resource "aws_s3_bucket" "trail" {
  #checkov:skip=CKV_AWS_18:This is the audit log bucket; its own access is recorded by the trail's management events.
  #checkov:skip=CKV_AWS_144:Audit logs stay in us-east-1; the trail is multi-region and log file validation protects integrity.
  #checkov:skip=CKV2_AWS_62:Nothing consumes log-delivery notifications; the CloudWatch Logs integration is the live feed.
  provider      = aws.us_east_1
  bucket        = local.trail_bucket_name
  force_destroy = false
}

resource "aws_s3_bucket_versioning" "trail" {
  provider = aws.us_east_1
  bucket   = aws_s3_bucket.trail.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "trail" {
  provider = aws.us_east_1
  bucket   = aws_s3_bucket.trail.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.source.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "trail" {
  provider                = aws.us_east_1
  bucket                  = aws_s3_bucket.trail.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "trail" {
  provider = aws.us_east_1
  bucket   = aws_s3_bucket.trail.id
  rule {
    id     = "retain-audit-logs"
    status = "Enabled"
    filter {}
    transition {
      days          = 90
      storage_class = "GLACIER_IR"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.lifecycle_noncurrent_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = var.lifecycle_multipart_expiration_days
    }
  }
}

data "aws_iam_policy_document" "trail_bucket" {
  statement {
    sid       = "CloudTrailAclCheck"
    actions   = ["s3:GetBucketAcl"]
    resources = [aws_s3_bucket.trail.arn]
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
    resources = ["${aws_s3_bucket.trail.arn}/AWSLogs/${local.account_id}/*"]
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

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.trail.arn, "${aws_s3_bucket.trail.arn}/*"]
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

resource "aws_s3_bucket_policy" "trail" {
  provider = aws.us_east_1
  bucket   = aws_s3_bucket.trail.id
  policy   = data.aws_iam_policy_document.trail_bucket.json
}

################################################################################
# CloudTrail IAM role (CloudWatch Logs delivery)
################################################################################

# "Confused deputy prevention is not applicable to the role policy for CloudWatch Logs monitoring.
# The role policy doesn't support the use of aws:SourceArn and aws:SourceAccount."
# (https://docs.aws.amazon.com/en_us/awscloudtrail/latest/userguide/cloudtrail-required-policy-for-cloudwatch-logs.html)
# -- so no source condition on this role's trust either; it would stop CloudWatch Logs delivery.
data "aws_iam_policy_document" "cloudtrail_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cloudtrail_logs" {
  provider           = aws.us_east_1
  name               = "retail-cloudtrail-to-cloudwatch"
  assume_role_policy = data.aws_iam_policy_document.cloudtrail_trust.json
}

data "aws_iam_policy_document" "cloudtrail_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.cloudtrail.arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "cloudtrail_logs" {
  provider = aws.us_east_1
  name     = "write-trail-log-group"
  role     = aws_iam_role.cloudtrail_logs.id
  policy   = data.aws_iam_policy_document.cloudtrail_logs.json
}

################################################################################
# CloudTrail trail
################################################################################

resource "aws_cloudtrail" "audit" {
  #checkov:skip=CKV_AWS_252:Per-file delivery notifications would flood the alert topics; alerts come from EventBridge rules and alarms.
  #checkov:skip=CKV2_AWS_10:The trail does send to CloudWatch Logs (cloud_watch_logs_group_arn below); checkov cannot resolve the reference.
  provider                      = aws.us_east_1
  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.trail.id
  is_multi_region_trail         = true
  include_global_service_events = true
  enable_log_file_validation    = true
  kms_key_id                    = aws_kms_key.source.arn
  cloud_watch_logs_group_arn    = "${aws_cloudwatch_log_group.cloudtrail.arn}:*"
  cloud_watch_logs_role_arn     = aws_iam_role.cloudtrail_logs.arn

  event_selector {
    read_write_type           = "All"
    include_management_events = true

    data_resource {
      type   = "AWS::S3::Object"
      values = ["${aws_s3_bucket.source.arn}/", "${aws_s3_bucket.replica.arn}/"]
    }
  }

  depends_on = [aws_s3_bucket_policy.trail, aws_iam_role_policy.cloudtrail_logs]
}

################################################################################
# Outputs
################################################################################

output "source_bucket_name" {
  description = "Name of the source bucket (us-east-1)."
  value       = aws_s3_bucket.source.id
}

output "source_bucket_arn" {
  description = "ARN of the source bucket (us-east-1)."
  value       = aws_s3_bucket.source.arn
}

output "replica_bucket_name" {
  description = "Name of the replica bucket (eu-west-1)."
  value       = aws_s3_bucket.replica.id
}

output "replica_bucket_arn" {
  description = "ARN of the replica bucket (eu-west-1)."
  value       = aws_s3_bucket.replica.arn
}

output "replication_role_arn" {
  description = "ARN of the IAM role S3 assumes to replicate objects."
  value       = aws_iam_role.replication.arn
}

output "source_kms_key_arn" {
  description = "ARN of the source-region KMS key (alias/retail-data-source-key). Marked sensitive: it embeds the key ID."
  value       = aws_kms_key.source.arn
  sensitive   = true
}

output "replica_kms_key_arn" {
  description = "ARN of the replica-region KMS key (alias/retail-data-replica-key). Marked sensitive: it embeds the key ID."
  value       = aws_kms_key.replica.arn
  sensitive   = true
}

output "cloudtrail_trail_arn" {
  description = "ARN of the retail-s3-audit-trail multi-region trail."
  value       = aws_cloudtrail.audit.arn
}

output "cloudwatch_dashboard_name" {
  description = "Name of the replication dashboard."
  value       = aws_cloudwatch_dashboard.replication.dashboard_name
}

output "sns_critical_topic_arn" {
  description = "ARN of retail-s3-critical-alerts (replication failures, security changes, 5xx errors)."
  value       = aws_sns_topic.critical.arn
}

output "sns_warning_topic_arn" {
  description = "ARN of retail-s3-warning-alerts (latency, backlog, 4xx errors, late replication)."
  value       = aws_sns_topic.warning.arn
}

output "sns_info_topic_arn" {
  description = "ARN of retail-s3-info-alerts (object created/deleted)."
  value       = aws_sns_topic.info.arn
}

output "batch_replication_role_arn" {
  description = "ARN of retail-s3-batch-replication-role, the role to pass as --role-arn to the one-off S3 Batch Replication job for existing objects (see README)."
  value       = aws_iam_role.batch_replication.arn
}

output "batch_replication_reports_bucket_arn" {
  description = "ARN of the bucket that receives the Batch Replication job's generated manifest and completion report (prefix batch-replication/)."
  value       = aws_s3_bucket.batch_reports.arn
}
