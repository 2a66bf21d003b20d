# Multi-region customer-managed key: primary in the primary region, replica in the secondary.
# SYMMETRIC_DEFAULT is AES-256-GCM; rotation is yearly (replicas share the primary's rotation).

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_111:KMS key policy: Resource "*" means this key only.
  #checkov:skip=CKV_AWS_356:KMS key policy: Resource "*" means this key only.
  #checkov:skip=CKV_AWS_109:KMS key policy: the account administers its own key (AWS's default key policy).
  statement {
    sid       = "AccountAdministersKey"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
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

  statement {
    sid       = "CloudWatchLogsEncryptsLogGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.primary_region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.primary_region}:${local.account_id}:log-group:*"]
    }
  }

  # EventBridge rules and CloudWatch alarms publishing to the encrypted alert topic: SNS calls KMS
  # for them with the topic ARN as encryption context, so the grant is scoped to this stack's
  # topics with kms:EncryptionContext:aws:sns:topicArn. It carries no aws:SourceAccount /
  # aws:SourceArn: those keys are not supported in the key policy for EventBridge delivery (see
  # README, Known AWS behaviour), where they would silently drop every notification. The topic
  # policy (logging.tf) limits CloudWatch to alarms of this account; EventBridge's topic grant
  # cannot carry a condition either, so for it the topic ARN is the scope.
  # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
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
      values   = local.encrypted_topic_arns
    }
  }

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
      variable = "kms:EncryptionContext:aws:sns:topicArn"
      values   = local.encrypted_topic_arns
    }
  }

  statement {
    sid       = "ConfigDeliversEncrypted"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.config.arn]
    }
  }
}

resource "aws_kms_key" "primary" {
  description              = "kms-primary-${local.suffix}: multi-region security baseline key"
  multi_region             = true
  customer_master_key_spec = "SYMMETRIC_DEFAULT"
  key_usage                = "ENCRYPT_DECRYPT"
  enable_key_rotation      = true
  rotation_period_in_days  = 365
  deletion_window_in_days  = var.kms_deletion_window_days
  policy                   = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "primary" {
  name          = "alias/kms-primary-${local.suffix}"
  target_key_id = aws_kms_key.primary.key_id
}

resource "aws_kms_replica_key" "secondary" {
  provider                = aws.secondary
  description             = "kms-replica-${local.suffix}: replica of kms-primary-${local.suffix}"
  primary_key_arn         = aws_kms_key.primary.arn
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "secondary" {
  provider      = aws.secondary
  name          = "alias/kms-replica-${local.suffix}"
  target_key_id = aws_kms_replica_key.secondary.key_id
}
