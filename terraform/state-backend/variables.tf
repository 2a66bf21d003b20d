variable "region" {
  description = "Region of the state bucket and lock table."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "environment_suffix" {
  description = "Suffix carried by every resource name (e.g. dev, staging, prod, pr-123) so environments deploy side by side."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,19}$", var.environment_suffix))
    error_message = "environment_suffix must be 1-20 characters of lowercase letters, digits and hyphens, starting with a letter or digit."
  }
}

variable "state_bucket_prefix" {
  description = "Prefix of the state bucket name; the account ID and environment suffix are appended."
  type        = string
  default     = "terraform-state"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{2,23}$", var.state_bucket_prefix))
    error_message = "state_bucket_prefix must be 3-24 characters of lowercase letters, digits and hyphens (the log bucket name <prefix>-logs-<account>-<suffix> must fit S3's 63 characters)."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days to keep superseded state versions (for recovery) before they expire."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_retention_days >= 30 && var.noncurrent_version_retention_days <= 3650
    error_message = "noncurrent_version_retention_days must be between 30 and 3650."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the state key is deleted after a destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
