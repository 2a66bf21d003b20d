variable "region" {
  description = "Region of the primary stack (where the shared bucket and key live)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "project_name" {
  description = "project_name of the primary stack (its function names derive from it)."
  type        = string
  default     = "warden"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.project_name))
    error_message = "project_name must be 2-16 lowercase letters, digits and hyphens."
  }
}

variable "environment" {
  description = "environment of the primary stack."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,11}$", var.environment))
    error_message = "environment must be 2-12 lowercase letters, digits and hyphens."
  }
}

variable "primary_account_id" {
  description = "Account that owns the shared bucket."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.primary_account_id))
    error_message = "primary_account_id must be exactly 12 digits."
  }
}

variable "shared_bucket_name" {
  description = "Name of the shared bucket (output shared_bucket_name of the primary stack, or its deterministic name)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.shared_bucket_name))
    error_message = "shared_bucket_name must be a valid S3 bucket name."
  }
}

variable "kms_key_alias" {
  description = "Alias of the primary stack's data key (alias/<project>-<environment>-data)."
  type        = string
  default     = "alias/warden-prod-data"

  validation {
    condition     = can(regex("^alias/[A-Za-z0-9/_-]{1,250}$", var.kms_key_alias))
    error_message = "kms_key_alias must look like alias/name."
  }
}

variable "consumer_role_name" {
  description = "Name of the consumer role (must equal the primary stack's consumer_role_name)."
  type        = string
  default     = "warden-consumer"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.consumer_role_name))
    error_message = "consumer_role_name must be a valid IAM role name."
  }
}

variable "governance_role_name" {
  description = "Name of the read-only role governance-check assumes (must equal the primary stack's governance_role_name)."
  type        = string
  default     = "warden-governance-readonly"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.governance_role_name))
    error_message = "governance_role_name must be a valid IAM role name."
  }
}

variable "external_id" {
  description = "sts:ExternalId required to assume the consumer role (shared with the primary account; keep it secret)."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9_+=,.@:/-]{2,1224}$", var.external_id))
    error_message = "external_id must be 2-1224 characters of [A-Za-z0-9_+=,.@:/-]."
  }
}

variable "require_mfa" {
  description = "Require MFA for this account's principals to assume the consumer role."
  type        = bool
  default     = true
}

variable "allowed_prefixes" {
  description = "Prefixes this account is granted (the same as in the primary stack's consumer_accounts)."
  type        = list(string)

  validation {
    condition     = length(var.allowed_prefixes) > 0 && alltrue([for p in var.allowed_prefixes : can(regex("^[A-Za-z0-9!_.'()=-][A-Za-z0-9!_.'()=/-]{0,1022}/$", p)) && !strcontains(p, "..")])
    error_message = "allowed_prefixes must be non-empty prefixes that end with '/' and contain no '..', '*' or '?'."
  }
}

variable "access_level" {
  description = "read or read-write."
  type        = string
  default     = "read"

  validation {
    condition     = contains(["read", "read-write"], var.access_level)
    error_message = "access_level must be \"read\" or \"read-write\"."
  }
}

variable "max_session_seconds" {
  description = "Maximum session length of the consumer role."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_seconds >= 900 && var.max_session_seconds <= 43200
    error_message = "max_session_seconds must be between 900 and 43200."
  }
}
