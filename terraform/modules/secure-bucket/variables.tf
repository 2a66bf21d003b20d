variable "bucket_name" {
  description = "Name of the bucket (globally unique). The bucket ARN is arn:<partition>:s3:::<bucket_name>, so callers can build policy documents for it before it exists."
  type        = string

  validation {
    condition = (
      can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
      && !strcontains(var.bucket_name, "..")
    )
    error_message = "bucket_name must be 3-63 characters of lowercase letters, digits, dots and hyphens, start and end with a letter or digit, and not contain \"..\"."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key for default encryption (SSE-KMS, with an S3 Bucket Key). null selects SSE-S3 (AES256), which server-access-log destination buckets require."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key-id>); aliases are not accepted."
  }
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete the bucket with its objects and versions still in it."
  type        = bool
  default     = false
}

variable "versioning" {
  description = "Enable versioning (true) or keep it Suspended (false). Must stay true when object_lock_days is set: Object Lock requires versioning."
  type        = bool
  default     = true
}

variable "object_lock_days" {
  description = "Default Object Lock retention in days. When set, the bucket is created with Object Lock enabled (this cannot be switched off later) and new object versions are retained for this many days. null disables Object Lock. A bucket with Object Lock cannot be a server-access-log destination."
  type        = number
  default     = null

  validation {
    # coalesce() lets null pass: comparing null with a number is an error, not false.
    condition = (
      coalesce(var.object_lock_days, 1) >= 1
      && coalesce(var.object_lock_days, 1) <= 36500
      && floor(coalesce(var.object_lock_days, 1)) == coalesce(var.object_lock_days, 1)
    )
    error_message = "object_lock_days must be null or a whole number of days from 1 to 36500."
  }
}

variable "object_lock_mode" {
  description = "Default Object Lock retention mode: GOVERNANCE (principals with s3:BypassGovernanceRetention can override) or COMPLIANCE (nobody, including root, can shorten or remove it). Used only when object_lock_days is set."
  type        = string
  default     = "GOVERNANCE"

  validation {
    condition     = contains(["GOVERNANCE", "COMPLIANCE"], var.object_lock_mode)
    error_message = "object_lock_mode must be GOVERNANCE or COMPLIANCE."
  }
}

variable "lifecycle_rules" {
  description = "Lifecycle rules. Each applies to objects under prefix (\"\" = whole bucket), with optional transitions, current-version expiration and noncurrent-version expiration (default 30 days; an explicit null also gets the default); every rule also aborts incomplete multipart uploads after 7 days. An empty list still creates one rule, abort-incomplete-multipart."
  type = list(object({
    id                         = string
    prefix                     = optional(string, "")
    transitions                = optional(list(object({ days = number, storage_class = string })), [])
    expiration_days            = optional(number)
    noncurrent_expiration_days = optional(number, 30)
  }))
  default = []

  validation {
    condition = alltrue([
      for r in var.lifecycle_rules : length(r.id) >= 1 && length(r.id) <= 255
    ]) && length(distinct([for r in var.lifecycle_rules : r.id])) == length(var.lifecycle_rules)
    error_message = "Each lifecycle rule needs a unique id of 1-255 characters."
  }

  validation {
    condition = alltrue(flatten([
      for r in var.lifecycle_rules : [
        for t in r.transitions : contains(["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"], t.storage_class)
      ]
    ]))
    error_message = "Transition storage_class must be one of STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER, DEEP_ARCHIVE."
  }

  validation {
    condition = alltrue(flatten([
      for r in var.lifecycle_rules : [
        for t in r.transitions : t.days >= 0 && floor(t.days) == t.days
      ]
    ]))
    error_message = "Transition days must be whole numbers >= 0."
  }

  validation {
    condition = alltrue([
      for r in var.lifecycle_rules : (
        coalesce(r.expiration_days, 1) >= 1 && floor(coalesce(r.expiration_days, 1)) == coalesce(r.expiration_days, 1)
        && coalesce(r.noncurrent_expiration_days, 1) >= 1 && floor(coalesce(r.noncurrent_expiration_days, 1)) == coalesce(r.noncurrent_expiration_days, 1)
      )
    ])
    error_message = "expiration_days and noncurrent_expiration_days must be null or whole numbers >= 1."
  }

  validation {
    condition     = alltrue([for r in var.lifecycle_rules : !startswith(r.prefix, "/")])
    error_message = "Lifecycle rule prefixes are object key prefixes and must not start with \"/\"."
  }
}

variable "policy_documents" {
  description = "Extra IAM policy JSON documents merged into the bucket policy together with the module's DenyInsecureTransport statement. Build resources from the deterministic bucket ARN (arn:<partition>:s3:::<bucket_name>). Statement Sids must be unique and must not be DenyInsecureTransport."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for d in var.policy_documents : can(jsondecode(d))])
    error_message = "Each entry of policy_documents must be a JSON policy document (e.g. data.aws_iam_policy_document.x.json)."
  }
}

variable "manage_policy" {
  description = "Create the aws_s3_bucket_policy. Set false when another writer owns the bucket policy; the would-be policy is still exposed as the policy_json output."
  type        = bool
  default     = true
}

variable "access_log_bucket" {
  description = "Name of the bucket receiving this bucket's S3 server access logs, or null for none. Must be known at plan time (a literal, or another secure-bucket module's id output). The target must be SSE-S3, without Object Lock, in the same account and Region, and its policy must let logging.s3.amazonaws.com put objects under access_log_prefix."
  type        = string
  default     = null

  validation {
    condition     = var.access_log_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be null or a bucket name."
  }
}

variable "access_log_prefix" {
  description = "Key prefix of the access-log objects in access_log_bucket (e.g. \"state-access/\")."
  type        = string
  default     = ""

  validation {
    condition     = length(var.access_log_prefix) <= 512 && !startswith(var.access_log_prefix, "/")
    error_message = "access_log_prefix must be at most 512 characters and must not start with \"/\"."
  }
}

variable "tags" {
  description = "Tags on the bucket, merged with the provider's default_tags."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(var.tags) <= 50 && alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256])
    error_message = "At most 50 tags, keys of 1-128 characters and values of at most 256 characters."
  }
}
