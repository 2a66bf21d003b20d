# Root-user restriction and tag compliance.
# With AWS Organizations (management account): SCPs and a tag policy, attached to the targets.
# Without: IAM-side guardrails that work in any account — a policy denying untagged creation (to
# attach as a permissions boundary or to deploy roles), Config rules, and alerts on root use.

locals {
  org_targets = var.is_organization_management_account ? toset(var.organization_target_ids) : toset([])
}

resource "aws_organizations_policy" "deny_root" {
  count       = var.is_organization_management_account ? 1 : 0
  name        = "scp-deny-root-${local.suffix}"
  description = "Deny every action by the root user of member accounts."
  type        = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyRootUser"
      Effect    = "Deny"
      Action    = "*"
      Resource  = "*"
      Condition = { StringLike = { "aws:PrincipalArn" = "arn:${local.partition}:iam::*:root" } }
    }]
  })
}

resource "aws_organizations_policy_attachment" "deny_root" {
  for_each  = local.org_targets
  policy_id = aws_organizations_policy.deny_root[0].id
  target_id = each.value
}

resource "aws_organizations_policy" "require_tags" {
  count       = var.is_organization_management_account ? 1 : 0
  name        = "scp-require-tags-${local.suffix}"
  description = "Deny creating taggable core resources without the required tags."
  type        = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [for k in var.required_tags : {
      Sid      = "Require${replace(k, "/[^A-Za-z0-9]/", "")}Tag"
      Effect   = "Deny"
      Action   = ["ec2:RunInstances", "ec2:CreateVolume", "rds:CreateDBInstance", "s3:CreateBucket", "dynamodb:CreateTable", "lambda:CreateFunction", "kms:CreateKey"]
      Resource = "*"
      Condition = {
        Null = { "aws:RequestTag/${k}" = "true" }
      }
    }]
  })
}

resource "aws_organizations_policy_attachment" "require_tags" {
  for_each  = local.org_targets
  policy_id = aws_organizations_policy.require_tags[0].id
  target_id = each.value
}

resource "aws_organizations_policy" "tag_policy" {
  count       = var.is_organization_management_account ? 1 : 0
  name        = "tag-policy-${local.suffix}"
  description = "Standard spelling of the required tag keys."
  type        = "TAG_POLICY"
  content = jsonencode({
    tags = { for k in var.required_tags : lower(k) => { tag_key = { "@@assign" = k } } }
  })
}

resource "aws_organizations_policy_attachment" "tag_policy" {
  for_each  = local.org_targets
  policy_id = aws_organizations_policy.tag_policy[0].id
  target_id = each.value
}

# IAM-side tag guardrail, usable without Organizations: attach as a permissions boundary or to the
# roles that deploy workloads.
data "aws_iam_policy_document" "require_tags_guardrail" {
  dynamic "statement" {
    for_each = var.required_tags
    content {
      sid       = "Require${replace(statement.value, "/[^A-Za-z0-9]/", "")}Tag"
      effect    = "Deny"
      actions   = ["ec2:RunInstances", "ec2:CreateVolume", "rds:CreateDBInstance", "s3:CreateBucket", "dynamodb:CreateTable", "lambda:CreateFunction", "kms:CreateKey"]
      resources = ["*"]
      condition {
        test     = "Null"
        variable = "aws:RequestTag/${statement.value}"
        values   = ["true"]
      }
    }
  }
}

resource "aws_iam_policy" "require_tags_guardrail" {
  name        = "require-tags-guardrail-${local.suffix}"
  description = "Denies creating core resources without the required tags (attach as boundary or to deploy roles)."
  policy      = data.aws_iam_policy_document.require_tags_guardrail.json
}

resource "aws_iam_account_password_policy" "strict" {
  minimum_password_length        = 14
  require_lowercase_characters   = true
  require_uppercase_characters   = true
  require_numbers                = true
  require_symbols                = true
  allow_users_to_change_password = true
  max_password_age               = 90
  password_reuse_prevention      = 24
}
