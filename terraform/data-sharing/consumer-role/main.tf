data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  bucket_arn = "arn:${local.partition}:s3:::${var.shared_bucket_name}"
  fn_prefix  = "${var.project_name}-${var.environment}"
  # This account's access point on the shared bucket (the access-point tier, DESIGN.md decision
  # 3). A request through an access point is authorized on the access point's ARN, so the role's
  # policy names it beside the bucket; while this account is on the bucket-policy tier the
  # access point has no policy and grants nothing.
  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-policies.html
  access_point_arn = "arn:${local.partition}:s3:${var.region}:${var.primary_account_id}:accesspoint/${local.fn_prefix}-${local.account_id}"
  # The primary account's root: a principal that exists before the primary stack is applied.
  primary_root = "arn:${local.partition}:iam::${var.primary_account_id}:root"
  validator    = "arn:${local.partition}:iam::${var.primary_account_id}:role/${local.fn_prefix}-access-validator"
  governance   = "arn:${local.partition}:iam::${var.primary_account_id}:role/${local.fn_prefix}-governance-check"
  read_only    = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectAttributes"]
  write        = ["s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
  kms_actions  = var.access_level == "read-write" ? ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "kms:Encrypt"] : ["kms:Decrypt", "kms:DescribeKey"]
}

# --- Consumer role ---------------------------------------------------------------------------
# Trusted by this account's principals (external ID, MFA when require_mfa, Warden session tags)
# and by the primary account's access-validator (external ID), which vends prefix-scoped sessions.
#
# This stack is applied BEFORE the primary stack, so the validator and governance roles do not
# exist yet: IAM rejects a trust policy naming a role ARN that does not exist ("Invalid principal
# in policy"). The trust therefore names the primary account root, which always exists, and an
# `aws:PrincipalArn` condition (ArnEquals) narrows it to exactly those roles. Unlike a role ARN
# principal, the condition also keeps working if the role is deleted and created again.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn

data "aws_iam_policy_document" "consumer_trust" {
  statement {
    sid     = "ThisAccountsPrincipals"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.external_id]
    }
    dynamic "condition" {
      for_each = var.require_mfa ? [1] : []
      content {
        test     = "Bool"
        variable = "aws:MultiFactorAuthPresent"
        values   = ["true"]
      }
    }
  }

  # Only the validator may set the warden-* session tags and the source identity: they are the
  # attribution it vouches for, so this account's own principals may not forge them. Setting a
  # source identity needs sts:SetSourceIdentity in the trust policy; once set it "persists when a
  # role is used to assume another role" and "cannot be changed during the role session".
  # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html
  statement {
    sid     = "WardenValidatorSessionTags"
    actions = ["sts:TagSession", "sts:SetSourceIdentity"]
    principals {
      type        = "AWS"
      identifiers = [local.primary_root]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [local.validator]
    }
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["warden-account", "warden-prefix", "warden-level"]
    }
  }

  statement {
    sid     = "WardenCredentialVending"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [local.primary_root]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [local.validator]
    }
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.external_id]
    }
  }
}

resource "aws_iam_role" "consumer" {
  name                 = var.consumer_role_name
  description          = "Access to the Warden shared bucket prefixes granted to this account"
  assume_role_policy   = data.aws_iam_policy_document.consumer_trust.json
  max_session_duration = var.max_session_seconds
}

data "aws_iam_policy_document" "consumer" {
  statement {
    sid     = "ObjectsUnderGrantedPrefixes"
    actions = var.access_level == "read-write" ? concat(local.read_only, local.write) : local.read_only
    resources = concat(
      [for p in var.allowed_prefixes : "${local.bucket_arn}/${p}*"],
      [for p in var.allowed_prefixes : "${local.access_point_arn}/object/${p}*"],
    )
  }

  statement {
    sid       = "ListGrantedPrefixes"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = [local.bucket_arn, local.access_point_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [for p in var.allowed_prefixes : "${p}*"]
    }
  }

  statement {
    sid       = "DataKeyViaS3"
    actions   = local.kms_actions
    resources = ["arn:${local.partition}:kms:${var.region}:${var.primary_account_id}:key/*"]
    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "kms:ResourceAliases"
      values   = [var.kms_key_alias]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "RequestCredentials"
    actions   = ["execute-api:Invoke"]
    resources = ["arn:${local.partition}:execute-api:${var.region}:${var.primary_account_id}:*/*/POST/credentials"]
  }
}

resource "aws_iam_role_policy" "consumer" {
  name   = "warden-shared-data"
  role   = aws_iam_role.consumer.id
  policy = data.aws_iam_policy_document.consumer.json
}

# --- Governance role -------------------------------------------------------------------------
# Read-only: lets the primary account's governance-check confirm the consumer role exists with
# the expected permissions. It can read that one role and nothing else.

data "aws_iam_policy_document" "governance_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [local.primary_root]
    }
    # The governance-check role does not exist yet when this stack is applied (see above).
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [local.governance]
    }
  }
}

resource "aws_iam_role" "governance" {
  name                 = var.governance_role_name
  description          = "Read-only inspection of the Warden consumer role by governance-check"
  assume_role_policy   = data.aws_iam_policy_document.governance_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "governance" {
  statement {
    sid       = "InspectConsumerRole"
    actions   = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"]
    resources = [aws_iam_role.consumer.arn]
  }
}

resource "aws_iam_role_policy" "governance" {
  name   = "inspect-consumer-role"
  role   = aws_iam_role.governance.id
  policy = data.aws_iam_policy_document.governance.json
}
