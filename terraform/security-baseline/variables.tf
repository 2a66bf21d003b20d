variable "environment_suffix" {
  description = "Suffix carried by every resource name (resource-type-<suffix>) so environments deploy side by side."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,19}$", var.environment_suffix))
    error_message = "environment_suffix must be 1-20 characters of lowercase letters, digits and hyphens."
  }
}

variable "primary_region" {
  description = "Region of the primary multi-region KMS key, the IAM activity trail, AWS Config and the EventBridge security rule. Must be us-east-1: events of IAM (a global service) reach EventBridge only there, and spec 002 names us-east-1 as primary."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = var.primary_region == "us-east-1"
    error_message = "primary_region must be us-east-1: EventBridge receives events of IAM and other global services only in us-east-1, so the critical-security rule would never fire for them elsewhere (https://repost.aws/knowledge-center/eventbridge-rule-triggers-iam-single-region)."
  }
}

variable "secondary_region" {
  description = "Region of the replica KMS key."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.secondary_region))
    error_message = "secondary_region must be an AWS region name such as eu-west-1."
  }
}

variable "trusted_account_ids" {
  description = "Accounts whose principals (with MFA) may assume the security-audit role: the security tooling account(s)."
  type        = list(string)

  validation {
    condition     = length(var.trusted_account_ids) > 0 && alltrue([for a in var.trusted_account_ids : can(regex("^[0-9]{12}$", a))])
    error_message = "trusted_account_ids must list at least one 12-digit account ID."
  }
}

variable "max_mfa_age_seconds" {
  description = "Maximum age of the MFA authentication allowed to assume the audit role."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_mfa_age_seconds >= 300 && var.max_mfa_age_seconds <= 43200
    error_message = "max_mfa_age_seconds must be between 300 and 43200."
  }
}

variable "audit_session_duration_seconds" {
  description = "Maximum session length of the audit role."
  type        = number
  default     = 3600

  validation {
    condition     = var.audit_session_duration_seconds >= 900 && var.audit_session_duration_seconds <= 43200
    error_message = "audit_session_duration_seconds must be between 900 and 43200."
  }
}

variable "is_organization_management_account" {
  description = "Whether this stack runs in the AWS Organizations management account: then root restriction and tag compliance are also enforced as SCPs and a tag policy on organization_target_ids."
  type        = bool
  default     = false
}

variable "organization_target_ids" {
  description = "Organization root, OU or account IDs the SCPs and tag policy attach to (used when is_organization_management_account)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for t in var.organization_target_ids : can(regex("^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|[0-9]{12})$", t))])
    error_message = "organization_target_ids must be root (r-…), OU (ou-…-…) or 12-digit account IDs."
  }
}

variable "required_tags" {
  description = "Tag keys every resource must carry (tag compliance: Config rule, IAM guardrail, SCP and tag policy)."
  type        = list(string)
  default     = ["Environment", "Owner", "CostCenter", "DataClassification"]

  validation {
    condition     = length(var.required_tags) > 0 && length(var.required_tags) <= 6
    error_message = "required_tags must list 1 to 6 tag keys (the Config required-tags rule takes at most 6)."
  }
}

variable "log_retention_days" {
  description = "Retention of the IAM activity log group."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (…, 30, 60, 90, 120, …)."
  }
}

variable "create_config_recorder" {
  description = "Create the AWS Config recorder and delivery channel (AWS allows one per account and region; set false when one exists)."
  type        = bool
  default     = true
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the keys are deleted on destroy."
  type        = number
  default     = 7

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "alert_emails" {
  description = "Email addresses subscribed to the security alert topic."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must be email addresses."
  }
}

variable "tags" {
  description = "Extra tags for every resource (merged with Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}
