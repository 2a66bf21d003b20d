# Cross-account security-audit role: assumable only with MFA (and a recent one), read-only.

data "aws_iam_policy_document" "security_audit_assume_role" {
  statement {
    sid     = "TrustedAccountsWithRecentMfa"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [for a in var.trusted_account_ids : "arn:${local.partition}:iam::${a}:root"]
    }
    condition {
      test     = "Bool"
      variable = "aws:MultiFactorAuthPresent"
      values   = ["true"]
    }
    condition {
      test     = "NumericLessThan"
      variable = "aws:MultiFactorAuthAge"
      values   = [tostring(var.max_mfa_age_seconds)]
    }
  }
}

resource "aws_iam_role" "security_audit" {
  name                 = "security-audit-role-${local.suffix}"
  description          = "Read-only security audit, assumable from the trusted accounts with MFA"
  assume_role_policy   = data.aws_iam_policy_document.security_audit_assume_role.json
  max_session_duration = var.audit_session_duration_seconds
}

# AWS's SecurityAudit managed policy is read-only (List/Get/Describe across services).
resource "aws_iam_role_policy_attachment" "security_audit_managed" {
  role       = aws_iam_role.security_audit.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/SecurityAudit"
}

# Reads the managed policy lacks; only read-only actions may use Resource "*" (spec 002).
data "aws_iam_policy_document" "security_audit_readonly" {
  #checkov:skip=CKV_AWS_356:Spec 002 allows Resource "*" for read-only actions; an auditor reads every key, log group and Config item of the account.
  statement {
    sid = "AuditReads"
    actions = [
      "cloudtrail:LookupEvents",
      "cloudtrail:GetEventSelectors",
      "config:Get*",
      "config:Describe*",
      "config:List*",
      "kms:GetKeyRotationStatus",
      "kms:GetKeyPolicy",
      "kms:ListResourceTags",
      "logs:Describe*",
      "logs:GetLogEvents",
      "logs:FilterLogEvents",
      "access-analyzer:List*",
      "access-analyzer:Get*",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "security_audit_readonly" {
  name   = "security-audit-readonly-${local.suffix}"
  role   = aws_iam_role.security_audit.id
  policy = data.aws_iam_policy_document.security_audit_readonly.json
}

# Belt and braces: even if a broader policy is attached later, the audit role cannot modify.
data "aws_iam_policy_document" "security_audit_deny_writes" {
  statement {
    sid    = "DenyModification"
    effect = "Deny"
    actions = [
      "*:Put*", "*:Create*", "*:Delete*", "*:Update*", "*:Attach*", "*:Detach*",
      "*:Modify*", "*:Remove*", "*:Add*", "*:Set*", "*:Tag*", "*:Untag*",
      "*:Start*", "*:Stop*", "*:Terminate*", "*:Run*", "*:Enable*", "*:Disable*",
      "*:Restore*", "*:Reset*", "*:Revoke*", "*:Authorize*", "*:Upload*",
      "*:Associate*", "*:Disassociate*", "*:Register*", "*:Deregister*", "*:Import*",
      "*:Schedule*", "*:Cancel*", "*:Replace*", "iam:PassRole", "kms:Decrypt", "s3:GetObject",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "security_audit_deny_writes" {
  name   = "security-audit-deny-writes-${local.suffix}"
  role   = aws_iam_role.security_audit.id
  policy = data.aws_iam_policy_document.security_audit_deny_writes.json
}
