# AWS Config: recorder, delivery channel and the rules a PCI-DSS reviewer expects. AWS allows one
# recorder per account and region, so both are optional (create_config_recorder).

data "aws_iam_policy_document" "config_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["config.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "config" {
  name               = "config-role-${local.suffix}"
  assume_role_policy = data.aws_iam_policy_document.config_trust.json
}

resource "aws_iam_role_policy_attachment" "config" {
  role       = aws_iam_role.config.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWS_ConfigRole"
}

data "aws_iam_policy_document" "config_delivery" {
  statement {
    actions   = ["s3:PutObject"]
    resources = ["${local.trail_bucket_arn}/config/AWSLogs/${local.account_id}/Config/*"]
    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }
  }
  statement {
    actions   = ["s3:GetBucketAcl"]
    resources = [local.trail_bucket_arn]
  }
  statement {
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.primary.arn]
  }
}

resource "aws_iam_role_policy" "config_delivery" {
  name   = "config-delivery-${local.suffix}"
  role   = aws_iam_role.config.id
  policy = data.aws_iam_policy_document.config_delivery.json
}

resource "aws_config_configuration_recorder" "this" {
  count    = var.create_config_recorder ? 1 : 0
  name     = "config-recorder-${local.suffix}"
  role_arn = aws_iam_role.config.arn

  recording_group {
    all_supported                 = true
    include_global_resource_types = true
  }
}

resource "aws_config_delivery_channel" "this" {
  count          = var.create_config_recorder ? 1 : 0
  name           = "config-delivery-${local.suffix}"
  s3_bucket_name = module.trail_bucket.id
  s3_key_prefix  = "config"
  s3_kms_key_arn = aws_kms_key.primary.arn

  snapshot_delivery_properties {
    delivery_frequency = "TwentyFour_Hours"
  }

  depends_on = [aws_config_configuration_recorder.this, module.trail_bucket]
}

resource "aws_config_configuration_recorder_status" "this" {
  count      = var.create_config_recorder ? 1 : 0
  name       = aws_config_configuration_recorder.this[0].name
  is_enabled = true

  depends_on = [aws_config_delivery_channel.this]
}

locals {
  config_rules = {
    "s3-bucket-server-side-encryption-enabled" = { id = "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED", params = null }
    "s3-bucket-ssl-requests-only"              = { id = "S3_BUCKET_SSL_REQUESTS_ONLY", params = null }
    "s3-bucket-public-read-prohibited"         = { id = "S3_BUCKET_PUBLIC_READ_PROHIBITED", params = null }
    "encrypted-volumes"                        = { id = "ENCRYPTED_VOLUMES", params = null }
    "ec2-ebs-encryption-by-default"            = { id = "EC2_EBS_ENCRYPTION_BY_DEFAULT", params = null }
    "rds-storage-encrypted"                    = { id = "RDS_STORAGE_ENCRYPTED", params = null }
    "root-account-mfa-enabled"                 = { id = "ROOT_ACCOUNT_MFA_ENABLED", params = null }
    "iam-root-access-key-check"                = { id = "IAM_ROOT_ACCESS_KEY_CHECK", params = null }
    "mfa-enabled-for-iam-console-access"       = { id = "MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS", params = null }
    "cloudtrail-enabled"                       = { id = "CLOUD_TRAIL_ENABLED", params = null }
    "cloud-trail-log-file-validation-enabled"  = { id = "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED", params = null }
    "cmk-backing-key-rotation-enabled"         = { id = "CMK_BACKING_KEY_ROTATION_ENABLED", params = null }
    "required-tags" = {
      id     = "REQUIRED_TAGS"
      params = jsonencode({ for i, k in var.required_tags : "tag${i + 1}Key" => k })
    }
  }
}

resource "aws_config_config_rule" "this" {
  for_each         = local.config_rules
  name             = "${each.key}-${local.suffix}"
  input_parameters = each.value.params

  source {
    owner             = "AWS"
    source_identifier = each.value.id
  }

  depends_on = [aws_config_configuration_recorder.this]
}
