variable "function_name" {
  description = "Function name (also the crate and binary name of the Rust Lambda, prefixed by the stack name)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 characters of letters, digits, hyphens and underscores."
  }
}

variable "description" {
  description = "What the function does."
  type        = string
}

variable "zip_path" {
  description = "Path of bootstrap.zip built by `cargo lambda build --release --arm64 --output-format zip`."
  type        = string
}

variable "environment" {
  description = "Environment variables the function reads once at start (typed settings)."
  type        = map(string)
  default     = {}
}

variable "policy_json" {
  description = "Least-privilege IAM policy of the function (logging and DLQ access are added by the module)."
  type        = string
}

variable "timeout_seconds" {
  description = "Function timeout."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 1 and 900."
  }
}

variable "memory_mb" {
  description = "Memory size (Rust functions need little)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb must be between 128 and 10240."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions, or null for none (the function shares the account's unreserved pool). Reserve only where correctness needs it: every reservation comes out of an account quota that may be as low as 10 in a new account."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || try(var.reserved_concurrency >= 1 && var.reserved_concurrency <= 1000, false)
    error_message = "reserved_concurrency must be null (unreserved) or between 1 and 1000."
  }
}

variable "kms_key_arn" {
  description = "Key encrypting environment variables, the log group and the DLQ."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (…, 90, 180, 365, 400, …)."
  }
}

variable "tags" {
  description = "Tags of the function's resources."
  type        = map(string)
  default     = {}
}
