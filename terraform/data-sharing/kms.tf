# Customer-managed key of the shared bucket (and of the audit bucket, tables, queues, topics and
# log groups). Consumers may decrypt only through S3 and only for this bucket; the
# policy-reconciler keeps one KMS grant per consumer in step with the registry.

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_111:KMS key policy: Resource "*" means this key only.
  #checkov:skip=CKV_AWS_356:KMS key policy: Resource "*" means this key only.
  #checkov:skip=CKV_AWS_109:KMS key policy: the account administers its own key (AWS's default key policy); functions get key use through their IAM roles.
  statement {
    sid       = "EnableRootAccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  dynamic "statement" {
    for_each = length(local.read_role_arns) > 0 ? [1] : []
    content {
      sid       = "AllowConsumersReadViaS3"
      actions   = ["kms:Decrypt", "kms:DescribeKey"]
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = local.read_role_arns
      }
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${var.region}.amazonaws.com"]
      }
      condition {
        test     = "StringLike"
        variable = "kms:EncryptionContext:aws:s3:arn"
        values   = [local.shared_bucket_arn, "${local.shared_bucket_arn}/*"]
      }
    }
  }

  dynamic "statement" {
    for_each = length(local.write_role_arns) > 0 ? [1] : []
    content {
      sid       = "AllowConsumersReadWriteViaS3"
      actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "kms:Encrypt"]
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = local.write_role_arns
      }
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${var.region}.amazonaws.com"]
      }
      condition {
        test     = "StringLike"
        variable = "kms:EncryptionContext:aws:s3:arn"
        values   = [local.shared_bucket_arn, "${local.shared_bucket_arn}/*"]
      }
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

  # Storage Lens encrypts its export to the audit bucket with this key, as its service principal.
  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage_lens_encrypt_permissions.html
  statement {
    sid       = "StorageLensEncryptsExports"
    actions   = ["kms:GenerateDataKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["storage-lens.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.storage_lens_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsLogGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }

  # EventBridge delivering to the encrypted queue, and EventBridge and CloudWatch alarms publishing to
  # the encrypted topics, call KMS as their service principal. Those calls carry the queue's or
  # topic's ARN in the encryption context (aws:sqs:arn, aws:sns:topicArn), which SQS and SNS set;
  # the docs' key policies for these deliveries show no aws:SourceAccount/aws:SourceArn, and a
  # condition on a key that is absent denies every delivery, silently. Scoped by the encryption
  # context to this stack's queues and topics instead (ARNs built from names: referencing the queue
  # and topic resources here would be a cycle, since they are encrypted with this key).
  # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
  # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
  statement {
    sid       = "EventBridgeDeliversToEncryptedQueues"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:sqs:arn"
      values   = ["arn:${local.partition}:sqs:${var.region}:${local.account_id}:${local.name}-*"]
    }
  }

  statement {
    sid       = "ServicesPublishToEncryptedTopics"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:sns:topicArn"
      values   = ["arn:${local.partition}:sns:${var.region}:${local.account_id}:${local.name}-*"]
    }
  }
}

resource "aws_kms_key" "data" {
  description             = "${local.name}: shared data, audit logs, registry and alerts"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "data" {
  name          = "alias/${local.name}-data"
  target_key_id = aws_kms_key.data.key_id
}
