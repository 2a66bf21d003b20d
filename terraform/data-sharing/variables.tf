# ---------------------------------------------------------------------------------------------
# Deployment
# ---------------------------------------------------------------------------------------------

variable "region" {
  description = "Region of the primary stack (bucket, key, tables, functions)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "environment" {
  description = "Environment name, part of every resource name (use one state per environment)."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,11}$", var.environment))
    error_message = "environment must be 2-12 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "project_name" {
  description = "Prefix of resource names."
  type        = string
  default     = "warden"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.project_name))
    error_message = "project_name must be 2-16 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags for every resource (cost allocation: add CostCenter, Owner, …)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# Consumers and grants (the registry's declared grants; the same shape as `warden` grants files)
# ---------------------------------------------------------------------------------------------

variable "consumer_accounts" {
  description = "Consumer accounts with their granted prefixes, access level (read or read-write) and expiry (RFC 3339). Terraform writes these into the registry; the policy-reconciler renders the bucket policy and KMS grants from it."
  type = list(object({
    account_id       = string
    name             = string
    allowed_prefixes = list(string)
    access_level     = string
    expiration_date  = string
    owner_email      = optional(string)
    external_id      = optional(string)
  }))
  default = []

  validation {
    condition     = alltrue([for a in var.consumer_accounts : can(regex("^[0-9]{12}$", a.account_id))])
    error_message = "consumer_accounts[*].account_id must be exactly 12 digits."
  }
  validation {
    condition     = length(distinct([for a in var.consumer_accounts : a.account_id])) == length(var.consumer_accounts)
    error_message = "consumer_accounts must list each account once (merge its prefixes into one entry)."
  }
  validation {
    condition     = alltrue([for a in var.consumer_accounts : can(regex("^[a-z0-9][a-z0-9-]{0,30}$", a.name))])
    error_message = "consumer_accounts[*].name must be 1-31 lowercase letters, digits or hyphens."
  }
  validation {
    condition = alltrue(flatten([for a in var.consumer_accounts : [
      for p in a.allowed_prefixes : can(regex("^[A-Za-z0-9!_.'()=-][A-Za-z0-9!_.'()=/-]{0,1022}/$", p)) && !strcontains(p, "//") && !strcontains(p, "..")
    ]]))
    error_message = "allowed_prefixes must be non-empty, not start with '/', end with '/', and contain no '..', '//', '*' or '?' (S3-safe characters only)."
  }
  validation {
    condition     = alltrue([for a in var.consumer_accounts : length(a.allowed_prefixes) > 0])
    error_message = "Every consumer must have at least one allowed prefix."
  }
  validation {
    condition     = alltrue([for a in var.consumer_accounts : contains(["read", "read-write"], a.access_level)])
    error_message = "consumer_accounts[*].access_level must be \"read\" or \"read-write\"."
  }
  validation {
    condition     = alltrue([for a in var.consumer_accounts : can(formatdate("YYYY", a.expiration_date))])
    error_message = "consumer_accounts[*].expiration_date must be an RFC 3339 timestamp such as 2027-12-31T00:00:00Z."
  }
  validation {
    # Stored as written and compared as text by the registry's by-expiry index: one form for every
    # writer (the functions write this one too), so an offset cannot make a revocation late.
    condition     = alltrue([for a in var.consumer_accounts : can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$", a.expiration_date))])
    error_message = "consumer_accounts[*].expiration_date must be in UTC with whole seconds and a Z, such as 2027-12-31T00:00:00Z (write 2026-12-01T09:00:00+09:00 as 2026-12-01T00:00:00Z)."
  }
  validation {
    condition     = alltrue([for a in var.consumer_accounts : a.external_id == null || can(regex("^[A-Za-z0-9_+=,.@:/-]{2,1224}$", a.external_id))])
    error_message = "consumer_accounts[*].external_id must be 2-1224 characters of [A-Za-z0-9_+=,.@:/-]."
  }
}

variable "consumer_role_name" {
  description = "Name of the role consumer-role/ creates in every consumer account (role ARNs are deterministic)."
  type        = string
  default     = "warden-consumer"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.consumer_role_name))
    error_message = "consumer_role_name must be a valid IAM role name (1-64 characters of [A-Za-z0-9+=,.@_-])."
  }
}

variable "sharing_mode" {
  description = "How consumers reach the shared bucket (DESIGN.md, decision 3): \"bucket-policy\" puts every grant in the bucket policy (20 KB: about 25 consumers with two prefixes each); \"access-points\" gives every consumer its own S3 Access Point (<project>-<env>-<account>) whose policy holds its grants, the bucket policy delegating to Warden's access points; \"auto\" keeps the first access_point_threshold consumers in the bucket policy and moves the rest to access points."
  type        = string
  default     = "auto"

  validation {
    condition     = contains(["bucket-policy", "access-points", "auto"], var.sharing_mode)
    error_message = "sharing_mode must be one of bucket-policy, access-points, auto."
  }
}

variable "access_point_threshold" {
  description = "With sharing_mode = \"auto\": how many consumers the bucket policy holds, in the order they were first granted; every later consumer gets an access point. 20 leaves headroom under the 20 KB bucket-policy limit for consumers with two prefixes each."
  type        = number
  default     = 20

  validation {
    condition     = var.access_point_threshold >= 0 && var.access_point_threshold <= 100 && floor(var.access_point_threshold) == var.access_point_threshold
    error_message = "access_point_threshold must be a whole number from 0 to 100 (past about 25 two-prefix consumers the bucket policy is over 20 KB and the reconciler leaves grants out)."
  }
}

variable "governance_role_name" {
  description = "Name of the read-only role consumer-role/ creates for governance-check in every consumer account."
  type        = string
  default     = "warden-governance-readonly"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.governance_role_name))
    error_message = "governance_role_name must be a valid IAM role name."
  }
}

variable "max_session_seconds" {
  description = "Lifetime of credentials vended by access-validator (at most one hour)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_seconds >= 900 && var.max_session_seconds <= 3600
    error_message = "max_session_seconds must be between 900 and 3600."
  }
}

# ---------------------------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------------------------

variable "intelligent_tiering_days" {
  description = "Days after which objects move to S3 Intelligent-Tiering."
  type        = number
  default     = 30

  validation {
    condition     = var.intelligent_tiering_days >= 0 && var.intelligent_tiering_days <= 3650
    error_message = "intelligent_tiering_days must be between 0 and 3650."
  }
}

variable "glacier_days" {
  description = "Days after which objects move to Glacier Flexible Retrieval (must exceed intelligent_tiering_days; checked by a precondition on the lifecycle configuration)."
  type        = number
  default     = 90

  validation {
    condition     = var.glacier_days >= 1 && var.glacier_days <= 3650
    error_message = "glacier_days must be between 1 and 3650."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent versions of shared objects expire."
  type        = number
  default     = 365

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && var.noncurrent_version_expiration_days <= 3650
    error_message = "noncurrent_version_expiration_days must be between 1 and 3650."
  }
}

variable "enable_replication" {
  description = "Replicate the shared bucket to replica_region for disaster recovery."
  type        = bool
  default     = false
}

variable "replica_region" {
  description = "Region of the disaster-recovery replica (used when enable_replication)."
  type        = string
  default     = "us-west-2"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.replica_region))
    error_message = "replica_region must be an AWS region name such as us-west-2."
  }
}

# ---------------------------------------------------------------------------------------------
# Audit
# ---------------------------------------------------------------------------------------------

variable "use_organization_trail" {
  description = "Create an organization trail (requires running in the Organizations management account or a delegated administrator) instead of a trail for this account only."
  type        = bool
  default     = false
}

variable "cloudtrail_retention_days" {
  description = "Retention of CloudTrail logs and S3 access logs in the audit bucket (7 years by default)."
  type        = number
  default     = 2557

  validation {
    condition     = var.cloudtrail_retention_days >= 365 && var.cloudtrail_retention_days <= 3653
    error_message = "cloudtrail_retention_days must be between 365 and 3653 (10 years)."
  }
}

variable "audit_object_lock" {
  description = "Protect audit logs with S3 Object Lock (governance mode) for cloudtrail_retention_days."
  type        = bool
  default     = true
}

variable "access_log_ttl_days" {
  description = "Days an access record stays in the DynamoDB access-log table (TTL)."
  type        = number
  default     = 365

  validation {
    condition     = var.access_log_ttl_days >= 1 && var.access_log_ttl_days <= 3650
    error_message = "access_log_ttl_days must be between 1 and 3650."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' CloudWatch log groups."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (…, 90, 180, 365, 400, …)."
  }
}

# ---------------------------------------------------------------------------------------------
# Alerts and detectors
# ---------------------------------------------------------------------------------------------

variable "alert_emails" {
  description = "Email addresses subscribed to the security alert topic."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must be email addresses."
  }
}

variable "large_transfer_bytes" {
  description = "Bytes in one request that count as a large transfer (possible exfiltration). Used by the EventBridge rule large-transfer (a `numeric` pattern, which EventBridge accepts only for values up to 5.0e9) and by the access-logger's large-transfer detector, with the same value."
  type        = number
  default     = 1073741824

  validation {
    condition     = var.large_transfer_bytes >= 1048576
    error_message = "large_transfer_bytes must be at least 1 MiB."
  }
  validation {
    condition     = var.large_transfer_bytes <= 5000000000
    error_message = "large_transfer_bytes must be at most 5000000000: EventBridge numeric matching accepts values between -5.0e9 and +5.0e9 only. For larger thresholds, rely on the per-account egress alarm (egress_threshold_bytes)."
  }
}

variable "request_spike_threshold" {
  description = "Cross-account requests per account in 5 minutes above which an alarm fires."
  type        = number
  default     = 1000

  validation {
    condition     = var.request_spike_threshold >= 1
    error_message = "request_spike_threshold must be positive."
  }
}

variable "failed_auth_threshold" {
  description = "Failed authorizations per account in 5 minutes above which an alarm fires."
  type        = number
  default     = 10

  validation {
    condition     = var.failed_auth_threshold >= 1
    error_message = "failed_auth_threshold must be positive."
  }
}

variable "egress_threshold_bytes" {
  description = "Bytes downloaded per account in one hour above which an alarm fires (100 GiB)."
  type        = number
  default     = 107374182400

  validation {
    condition     = var.egress_threshold_bytes >= 1073741824
    error_message = "egress_threshold_bytes must be at least 1 GiB."
  }
}

variable "business_hours_start" {
  description = "Start of business hours (HH:MM) for the off-hours detector."
  type        = string
  default     = "09:00"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.business_hours_start))
    error_message = "business_hours_start must be HH:MM (24-hour)."
  }
}

variable "business_hours_end" {
  description = "End of business hours (HH:MM, exclusive) for the off-hours detector."
  type        = string
  default     = "18:00"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$", var.business_hours_end))
    error_message = "business_hours_end must be HH:MM (24-hour) or 24:00."
  }
}

variable "business_time_zone" {
  description = "IANA time zone of the business hours, e.g. Europe/London."
  type        = string
  default     = "UTC"

  validation {
    condition     = can(regex("^(UTC|[A-Z][A-Za-z_]+(/[A-Za-z_+-]+){1,2})$", var.business_time_zone))
    error_message = "business_time_zone must be an IANA time zone such as UTC or America/New_York."
  }
}

variable "business_days" {
  description = "Business days for the off-hours detector."
  type        = list(string)
  default     = ["Mon", "Tue", "Wed", "Thu", "Fri"]

  validation {
    condition     = alltrue([for d in var.business_days : contains(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], d)])
    error_message = "business_days must be a list of Mon, Tue, Wed, Thu, Fri, Sat, Sun."
  }
}

# ---------------------------------------------------------------------------------------------
# Optional features
# ---------------------------------------------------------------------------------------------

variable "enable_archive_replay" {
  description = "Create the archive replay: the audit-replay function and a Step Functions Distributed Map that replays a CloudTrail prefix over a range of days, one trail folder and day per child."
  type        = bool
  default     = false
}

variable "archive_replay_max_concurrency" {
  description = "Children of the archive replay's Distributed Map running at once (each a Lambda invocation on one trail folder and day)."
  type        = number
  default     = 40
  validation {
    condition     = var.archive_replay_max_concurrency >= 1 && var.archive_replay_max_concurrency <= 10000 && floor(var.archive_replay_max_concurrency) == var.archive_replay_max_concurrency
    error_message = "archive_replay_max_concurrency must be a whole number from 1 to 10000 (the Distributed Map's limit)."
  }
}

variable "archive_replay_tolerated_failure_percentage" {
  description = "Percentage of archive replay items that may fail (after their retries) before the replay fails; 0 fails it on the first."
  type        = number
  default     = 0
  validation {
    condition     = var.archive_replay_tolerated_failure_percentage >= 0 && var.archive_replay_tolerated_failure_percentage <= 100
    error_message = "archive_replay_tolerated_failure_percentage must be from 0 to 100."
  }
}

variable "enable_self_service_portal" {
  description = "Create the self-service access-request API (API Gateway, IAM auth) and the approval workflow (Step Functions)."
  type        = bool
  default     = false
}

variable "approver_emails" {
  description = "Approvers notified of access requests (self-service portal)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.approver_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "approver_emails must be email addresses."
  }
}

variable "approval_timeout_hours" {
  description = "Hours an access request waits for approval before it is rejected."
  type        = number
  default     = 72

  validation {
    condition     = var.approval_timeout_hours >= 1 && var.approval_timeout_hours <= 720
    error_message = "approval_timeout_hours must be between 1 and 720."
  }
}

variable "api_endpoint_type" {
  description = "Endpoint type of the Warden API: REGIONAL (reachable from the internet, IAM auth on every method) or PRIVATE (reachable only through the interface VPC endpoints in api_vpc_endpoint_ids)."
  type        = string
  default     = "REGIONAL"

  validation {
    condition     = contains(["REGIONAL", "PRIVATE"], var.api_endpoint_type)
    error_message = "api_endpoint_type must be REGIONAL or PRIVATE."
  }
}

variable "api_vpc_endpoint_ids" {
  description = "Interface VPC endpoints (execute-api) allowed to reach a PRIVATE API; the resource policy admits calls only through them (aws:SourceVpce). Required when api_endpoint_type = PRIVATE."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.api_vpc_endpoint_ids : can(regex("^vpce-[0-9a-f]{8,17}$", e))])
    error_message = "api_vpc_endpoint_ids must be VPC endpoint IDs such as vpce-0123456789abcdef0."
  }
}

variable "api_allowed_cidrs" {
  description = "Public CIDR blocks allowed to call a REGIONAL API, in addition to IAM auth (aws:SourceIp). Empty (the default) means no IP condition. A REGIONAL endpoint sees callers' public addresses, so private ranges would lock every consumer out: use api_endpoint_type = PRIVATE with api_vpc_endpoint_ids for that."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.api_allowed_cidrs : can(cidrhost(c, 0))])
    error_message = "api_allowed_cidrs must be CIDR blocks such as 203.0.113.0/24."
  }
  validation {
    condition = alltrue([for c in var.api_allowed_cidrs : !can(regex(
      "^(10\\.|127\\.|169\\.254\\.|192\\.168\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.|100\\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\\.|0\\.0\\.0\\.0/)", c
    ))])
    error_message = "api_allowed_cidrs must be public ranges: a REGIONAL API sees callers' public source addresses, so private (RFC 1918, loopback, link-local, CGNAT) ranges never match. For private access set api_endpoint_type = \"PRIVATE\" with api_vpc_endpoint_ids."
  }
}

variable "create_api_gateway_account_role" {
  description = "Create the account-level role API Gateway uses to write execution and access logs to CloudWatch Logs (aws_api_gateway_account; one per account and Region). Exactly one stack per account and Region may set it: set false in every other environment of the same account and Region, and where the account already has one configured (the setting is account-wide; destroying the stack that owns it leaves the others without logs)."
  type        = bool
  default     = true
}

variable "enable_storage_lens" {
  description = "Create an S3 Storage Lens configuration for usage analytics."
  type        = bool
  default     = true
}

variable "storage_lens_organization_arn" {
  description = "ARN of the AWS Organization (arn:aws:organizations::<management-account>:organization/o-xxxxxxxxxx) for an organization-level Storage Lens configuration covering every consumer account. Only valid when this stack runs in the management account or a Storage Lens delegated administrator; null (default) makes an account-level configuration for this account's shared bucket."
  type        = string
  default     = null

  validation {
    condition     = var.storage_lens_organization_arn == null || can(regex("^arn:aws[a-z-]*:organizations::[0-9]{12}:organization/o-[a-z0-9]{10,32}$", var.storage_lens_organization_arn))
    error_message = "storage_lens_organization_arn must be null or an organization ARN such as arn:aws:organizations::111111111111:organization/o-abcdefghij."
  }
}

# ---------------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------------

variable "lambda_artifacts_dir" {
  description = "Directory with the zips built by `make lambdas` (cargo lambda build --release --arm64 --output-format zip): <dir>/<function>/bootstrap.zip."
  type        = string
  default     = "../../target/lambda"
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function (key = function name without the stack prefix); functions not listed share the account's unreserved pool. Only the policy-reconciler needs a reservation for correctness (1: one writer of the bucket policy at a time). AWS lets you reserve only the unreserved quota minus 100, so this default needs an account concurrency quota of at least 101: new accounts have reduced quotas; ask for the default (1,000) before the first apply, or set {} and accept that concurrent reconciles may briefly apply a stale render."
  type        = map(number)
  default     = { policy-reconciler = 1 }

  validation {
    condition     = alltrue([for k, v in var.reserved_concurrency : contains(["access-logger", "access-request", "access-validator", "approval-processor", "audit-replay", "cost-reporter", "expiration-enforcer", "governance-check", "policy-reconciler"], k)])
    error_message = "reserved_concurrency keys must be function names: access-logger, access-request, access-validator, approval-processor, audit-replay, cost-reporter, expiration-enforcer, governance-check, policy-reconciler."
  }
  validation {
    condition     = alltrue([for k, v in var.reserved_concurrency : v >= 1 && v <= 1000 && floor(v) == v])
    error_message = "reserved_concurrency values must be whole numbers between 1 and 1000."
  }
  validation {
    condition     = lookup(var.reserved_concurrency, "policy-reconciler", 1) == 1
    error_message = "reserved_concurrency[\"policy-reconciler\"] must be 1: two reconcilers applying renders of different registry reads could re-apply a revoked grant."
  }
}

variable "access_logger_max_concurrency" {
  description = "Most concurrent access-logger invocations the SQS event source mapping starts (scaling_config.maximum_concurrency, 2-1000). Lambda then stops polling instead of invoking into a throttle, so throttled batches never count towards the queue's maxReceiveCount and land in the DLQ. If you reserve concurrency for access-logger, reserve at least this much."
  type        = number
  default     = 5

  validation {
    condition     = var.access_logger_max_concurrency >= 2 && var.access_logger_max_concurrency <= 1000 && floor(var.access_logger_max_concurrency) == var.access_logger_max_concurrency
    error_message = "access_logger_max_concurrency must be a whole number between 2 and 1000 (the range Lambda accepts for maximum_concurrency)."
  }
}

variable "price_per_gb_transfer_usd" {
  description = "Estimated cost per GB transferred out, for the monthly cost report."
  type        = number
  default     = 0.09

  validation {
    condition     = var.price_per_gb_transfer_usd >= 0
    error_message = "price_per_gb_transfer_usd must not be negative."
  }
}

variable "price_per_1000_requests_usd" {
  description = "Estimated cost per 1,000 GET requests, for the monthly cost report."
  type        = number
  default     = 0.0004

  validation {
    condition     = var.price_per_1000_requests_usd >= 0
    error_message = "price_per_1000_requests_usd must not be negative."
  }
}

# ---------------------------------------------------------------------------------------------
# Approvals (issue 13)
# ---------------------------------------------------------------------------------------------

variable "approver_principal_arns" {
  description = "IAM roles and users whose sessions may approve or reject self-service access requests (POST /approvals): the API's resource policy admits only these for that route, and approval-processor refuses decisions from anyone else. A role's sessions all count as that role; a request is never approved from the requesting account, by the requester's own identity or by the same person under another session. Give a role's full ARN with its path (arn:aws:iam::111111111111:role/approvers/owner): the API's resource policy compares aws:PrincipalArn, which carries the path. The principals must exist when the stack is applied (resource policies reject unknown principals). Required when enable_self_service_portal is true."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.approver_principal_arns : can(regex("^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}$", a))])
    error_message = "approver_principal_arns must be IAM role or user ARNs (arn:aws:iam::<12-digit account>:role/<name> or …:user/<name>); not the account root, an assumed-role session or a wildcard."
  }
  validation {
    condition     = length(distinct(var.approver_principal_arns)) == length(var.approver_principal_arns)
    error_message = "approver_principal_arns must not list a principal twice."
  }
  validation {
    condition     = length(var.approver_principal_arns) <= 50
    error_message = "approver_principal_arns takes at most 50 principals (they are listed in the API's resource policy)."
  }
}

variable "max_grant_days" {
  description = "Longest self-service grant, in days: access-request refuses an expiration_date further away than this, and approval-processor refuses to apply one further away than this from the moment it is applied."
  type        = number
  default     = 365

  validation {
    condition     = var.max_grant_days >= 1 && var.max_grant_days <= 3650 && floor(var.max_grant_days) == var.max_grant_days
    error_message = "max_grant_days must be a whole number of days between 1 and 3650."
  }
}
