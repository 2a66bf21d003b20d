//! Ports: the traits the adapters (`warden-aws`, on the AWS SDK) and the fakes (`warden-testkit`,
//! in memory) implement. Handlers are generic over them, so the same handler code runs on AWS, on
//! the local emulator and in unit tests. Futures are `Send` so handlers run on any executor.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::cloudtrail::normalise::Attr;
use crate::grant::Registry;
use crate::policy::render::KmsGrantSpec;
use crate::reconcile::LiveGrant;

/// A call to an external service failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service} {operation}: {message}")]
pub struct PortError {
    /// e.g. `dynamodb`.
    pub service: &'static str,
    /// e.g. `Scan`.
    pub operation: &'static str,
    /// What went wrong (the service's error code and message, or the invalid data).
    pub message: String,
}

impl PortError {
    /// A new error.
    pub fn new(service: &'static str, operation: &'static str, message: impl Into<String>) -> Self {
        PortError {
            service,
            operation,
            message: message.into(),
        }
    }
}

/// A registry item, as the expiry job sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRef {
    /// Consumer account.
    pub account_id: String,
    /// `declared` (Terraform) or the approved request's ID.
    pub grant_id: String,
    /// RFC 3339 expiry.
    pub expiration_date: String,
    /// Granted prefixes.
    pub allowed_prefixes: Vec<String>,
    /// `read` / `read-write`.
    pub access_level: String,
}

/// The grants registry.
pub trait GrantStore: Sync {
    /// Load every active grant as a validated registry. An item that is unreadable, invalid or
    /// in conflict with another is left out (see [`GrantStore::load_registry_checked`]), so one
    /// bad item never stops the others.
    fn load_registry(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Registry, PortError>> + Send;
    /// [`GrantStore::load_registry`], with the items it left out and why, for the functions that
    /// report them (policy-reconciler alerts, governance-check).
    fn load_registry_checked(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(Registry, Vec<crate::grant::SkippedItem>), PortError>> + Send
    {
        async move { self.load_registry(now).await.map(|r| (r, Vec::new())) }
    }
    /// Active grants whose expiry is at or before `now` (the `by-expiry` index).
    fn expired(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<GrantRef>, PortError>> + Send;
    /// Every account that has or had a grant (any state), for reports.
    fn accounts(&self) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
    /// Mark a grant revoked; `false` when it was not active any more (another run got there first).
    fn revoke(
        &self,
        grant: &GrantRef,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
}

/// The shared bucket's policy.
pub trait PolicyStore {
    /// The live policy document, if any.
    fn get_bucket_policy(
        &self,
        bucket: &str,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
    /// Replace the policy document.
    fn put_bucket_policy(
        &self,
        bucket: &str,
        policy: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// KMS grants on the data key, and its key policy.
pub trait KeyGrants {
    /// Every grant on the key.
    fn list_grants(
        &self,
        key_arn: &str,
    ) -> impl Future<Output = Result<Vec<LiveGrant>, PortError>> + Send;
    /// The key policy (the `default` policy, the only one a KMS key has).
    fn get_key_policy(
        &self,
        key_arn: &str,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
    /// Create a grant; returns its ID.
    fn create_grant(
        &self,
        key_arn: &str,
        spec: &KmsGrantSpec,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
    /// Revoke a grant.
    fn revoke_grant(
        &self,
        key_arn: &str,
        grant_id: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// An access point on the shared bucket, as S3 Control lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAccessPoint {
    /// Its name (unique per account and Region).
    pub name: String,
    /// The bucket it serves.
    pub bucket: String,
    /// Its alias (`<name>-<suffix>-s3alias`), usable wherever a bucket name is.
    pub alias: Option<String>,
}

/// The shared bucket's access points and their policies (S3 Control, in the primary account).
pub trait AccessPoints {
    /// Every access point on `bucket` (all pages).
    fn list_access_points(
        &self,
        bucket: &str,
    ) -> impl Future<Output = Result<Vec<LiveAccessPoint>, PortError>> + Send;
    /// Create the access point `name` on `bucket`: Internet origin, every public-access block on.
    fn create_access_point(
        &self,
        name: &str,
        bucket: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// The access point's policy; `None` when it has none.
    fn get_access_point_policy(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
    /// Replace the access point's policy.
    fn put_access_point_policy(
        &self,
        name: &str,
        policy: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Remove the access point's policy (the access point then grants no other account anything).
    fn delete_access_point_policy(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Settings stored outside the function (SSM parameters).
pub trait ConfigStore {
    /// A parameter's value (decrypted).
    fn get_parameter(&self, name: &str) -> impl Future<Output = Result<String, PortError>> + Send;
}

/// Alerts and notices (SNS). `Sync` so a batch can be published from a shared reference.
pub trait Notifier: Sync {
    /// Publish a message with a subject.
    fn publish(
        &self,
        subject: &str,
        message: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Publish a notice about one account (subscribers filter on the `account_id` attribute).
    fn publish_for_account(
        &self,
        account_id: &str,
        subject: &str,
        message: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Publish several `(subject, message)` pairs; returns the index of every message that was
    /// not published, with the reason (the caller retries those). Adapters batch the calls (SNS
    /// PublishBatch); this default publishes one by one.
    fn publish_batch(
        &self,
        messages: &[(String, String)],
    ) -> impl Future<Output = Vec<(usize, String)>> + Send {
        async move {
            let mut failed = Vec::new();
            for (i, (subject, message)) in messages.iter().enumerate() {
                if let Err(e) = self.publish(subject, message).await {
                    failed.push((i, e.to_string()));
                }
            }
            failed
        }
    }
}

/// Result of writing access records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Items written.
    pub written: usize,
    /// `event_id`s that could not be written after retries (their messages must be retried).
    pub failed: Vec<String>,
}

impl WriteOutcome {
    /// For callers that need every item recorded (an audit record before a decision is acted
    /// on): items left unprocessed after the store's retries are an error, like a failed call.
    ///
    /// # Errors
    /// A `dynamodb BatchWriteItem` error naming how many items were not written.
    pub fn require_all(self) -> Result<usize, PortError> {
        if self.failed.is_empty() {
            Ok(self.written)
        } else {
            Err(PortError::new(
                "dynamodb",
                "BatchWriteItem",
                format!("{} item(s) unprocessed after retries", self.failed.len()),
            ))
        }
    }
}

/// The access-log table.
pub trait AuditStore {
    /// Write items (idempotent: keyed by `event_id`), retrying unprocessed items with backoff.
    fn write_records(
        &self,
        items: Vec<std::collections::BTreeMap<String, Attr>>,
    ) -> impl Future<Output = Result<WriteOutcome, PortError>> + Send;
}

/// Metrics as CloudWatch Embedded Metric Format log lines (no API call).
pub trait Metrics {
    /// Emit one EMF line.
    fn emit(&self, line: &str);
}

/// Usage totals from the access-log table.
pub trait UsageQuery {
    /// Requests and bytes out of one account in `[from, to)`.
    fn usage(
        &self,
        account_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<crate::cost::Usage, PortError>> + Send;
}

/// Report files (the audit bucket).
pub trait ReportStore {
    /// Write one object.
    fn put_report(
        &self,
        key: &str,
        body: &str,
        content_type: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// CloudTrail log files in a bucket, for an archive replay ([`crate::replay`]); its results are
/// written back to a bucket.
pub trait LogArchive: Sync {
    /// Every key under `prefix`, in key order.
    fn keys(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
    /// The folders right below `prefix` (`prefix` + one segment + `/`), in key order.
    fn folders(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
    /// One object's bytes, as stored.
    fn fetch(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Vec<u8>, PortError>> + Send;
    /// Write one object (whole; a retry writes the same key again).
    fn store(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Temporary credentials.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Credentials {
    /// Access key ID.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: String,
    /// RFC 3339 expiry.
    pub expiration: String,
}

/// STS.
pub trait CredentialVendor {
    /// Assume `role_arn` with a session policy, session tags, a source identity (which STS keeps
    /// on every session chained from this one, so CloudTrail joins each later call back to the
    /// vending decision) and (when the role requires one) an external ID.
    #[allow(clippy::too_many_arguments)]
    fn assume(
        &self,
        role_arn: &str,
        session_name: &str,
        external_id: Option<&str>,
        session_policy: &str,
        duration_seconds: u32,
        tags: &[(String, String)],
        source_identity: &str,
    ) -> impl Future<Output = Result<Credentials, PortError>> + Send;
}

/// What governance-check sees of a consumer role, through the governance role in its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleFacts {
    /// The role exists.
    pub exists: bool,
    /// Its inline policies (decoded JSON documents).
    pub inline_policies: Vec<String>,
    /// ARNs of attached managed policies (unexpected for a consumer role).
    pub attached_policies: Vec<String>,
    /// Its trust policy (`AssumeRolePolicyDocument` of GetRole, decoded JSON).
    pub trust_policy: Option<String>,
    /// ARN of its permissions boundary, if one is set (GetRole).
    pub permissions_boundary: Option<String>,
}

impl RoleFacts {
    /// What is known of a role that does not exist.
    #[must_use]
    pub fn missing() -> Self {
        RoleFacts {
            exists: false,
            inline_policies: Vec::new(),
            attached_policies: Vec::new(),
            trust_policy: None,
            permissions_boundary: None,
        }
    }
}

/// Reads consumer roles in the consumer accounts.
pub trait RoleInspector {
    /// Assume `governance_role_arn` and read `role_name` in that account.
    fn inspect(
        &self,
        governance_role_arn: &str,
        role_name: &str,
    ) -> impl Future<Output = Result<RoleFacts, PortError>> + Send;
}

/// Pending access requests in the registry table.
pub trait RequestStore {
    /// Record a pending request (`grant_state = pending`, not rendered until approved).
    fn put_pending(
        &self,
        request_id: &str,
        grant: &crate::grant::Grant,
        justification: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// What [`RequestStore::activate`] checks did not change: the state of an account's items.
    type Snapshot: Send + Sync;
    /// The grants in force for `account_id` now (active items, the declared one included) and a
    /// snapshot of every item that could grant access (active or pending, and whether a declared
    /// item exists), for a conditional [`RequestStore::activate`]. Read consistently.
    fn account_snapshot(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(Vec<crate::grant::Grant>, Self::Snapshot), PortError>> + Send;
    /// Move `request_id` from `pending` to `active` in one conditional write that also requires
    /// every item of `snapshot` to be unchanged and no declared item to have appeared: an overlap
    /// check made on the snapshot then still holds when the grant becomes active (two approvals,
    /// or an approval and a Terraform apply, cannot both pass it).
    fn activate(
        &self,
        account_id: &str,
        request_id: &str,
        by: &str,
        snapshot: &Self::Snapshot,
    ) -> impl Future<Output = Result<Activation, PortError>> + Send;
    /// Move a request from `pending` to `state` (`active`, `rejected`, `expired`); `false` when it
    /// was not pending any more.
    fn settle(
        &self,
        account_id: &str,
        request_id: &str,
        state: &str,
        by: &str,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
}

/// What a conditional activation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The request is active.
    Activated,
    /// The request was not pending any more (decided by someone else): nothing changed.
    NotPending,
    /// The account's items changed since the snapshot: nothing changed; check again.
    Changed,
}

/// The approval workflow (Step Functions).
pub trait Workflow {
    /// Start an execution named `name` with `input`.
    fn start(&self, name: &str, input: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Answer a waiting task: approve (`Ok(output)`) or reject (`Err((error, cause))`).
    fn answer(
        &self,
        task_token: &str,
        outcome: Result<String, (String, String)>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

#[cfg(test)]
mod write_outcome_tests {
    use super::WriteOutcome;

    #[test]
    fn unprocessed_items_are_an_error_for_callers_that_need_all() {
        let all = WriteOutcome {
            written: 2,
            failed: vec![],
        };
        assert_eq!(all.require_all().ok(), Some(2));
        let partial = WriteOutcome {
            written: 1,
            failed: vec!["e2".into()],
        };
        let e = partial.require_all().unwrap_err().to_string();
        assert!(
            e.contains("BatchWriteItem") && e.contains("1 item(s) unprocessed"),
            "{e}"
        );
    }
}

// --- Pending access requests (approval workflow) -------------------------------------------
// The stored pending request, as access-request recorded it: the only source of what a workflow
// task applies (account, prefixes, level, expiry, requester). The task event's copies are never
// used.

/// A pending request as stored in the registry table at request time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    /// Requesting account (the API-verified caller's).
    pub account_id: String,
    /// `request-<API request id>`, which is also the workflow execution's name.
    pub request_id: String,
    /// Prefixes asked for.
    pub allowed_prefixes: Vec<String>,
    /// `read` / `read-write`.
    pub access_level: String,
    /// RFC 3339 expiry asked for.
    pub expiration_date: String,
    /// The API-verified caller who asked (`created_by`).
    pub requester: String,
    /// Why (shown to the approvers).
    pub justification: String,
}

/// Pending requests, claimed by the workflow execution that decides them.
pub trait PendingRequests {
    /// The pending request `request_id` of `account_id`, claimed for `execution` (the workflow
    /// execution ARN): the first task of an execution binds the request to it, later tasks of the
    /// same execution (retries) see it again, any other execution sees `None`. `None` too when
    /// there is no such request or it is no longer pending.
    fn claim(
        &self,
        account_id: &str,
        request_id: &str,
        execution: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<PendingRequest>, PortError>> + Send;
}

/// Which alert: one per detector per CloudTrail event, whatever the redeliveries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlertKey {
    /// The CloudTrail `eventID` that raised it.
    pub event_id: String,
    /// The detector's name.
    pub detector: String,
}

/// An alert as the ledger keeps it until it is published (so a redelivery can finish it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerAlert {
    /// Its key.
    pub key: AlertKey,
    /// SNS subject.
    pub subject: String,
    /// SNS message.
    pub message: String,
}

/// What [`AlertLedger::claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The caller may publish it now (first time, a release, or an expired lease).
    Mine,
    /// Already published: do not publish again.
    Sent,
    /// Another invocation holds an unexpired lease on it: retry later.
    Busy,
}

/// The alert ledger: publish an alert exactly once per [`AlertKey`] across redeliveries and
/// concurrent invocations. A claim is a conditional write with a lease; the payload is kept
/// until the alert is marked sent, so an alert found once is published even if the event is
/// never observed again.
pub trait AlertLedger: Sync {
    /// Claim `alert` for `owner` (unique per invocation) until `lease_until`.
    fn claim(
        &self,
        alert: &LedgerAlert,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Claim, PortError>> + Send;
    /// Record that the alert was published (retrying on throttling: a lost mark could repeat it).
    fn mark_sent(
        &self,
        key: &AlertKey,
        owner: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Give the claim back after a failed publish; the alert stays pending for the next attempt.
    fn release(
        &self,
        key: &AlertKey,
        owner: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Alerts of `event_id` that were found but not yet published.
    fn unsent(
        &self,
        event_id: &str,
    ) -> impl Future<Output = Result<Vec<LedgerAlert>, PortError>> + Send;
    /// Up to `limit` alerts whose publish failed (released), whatever their event: the sweep
    /// that publishes them when their message never comes back with its receive count (a DLQ
    /// redrive makes new messages).
    fn released(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<LedgerAlert>, PortError>> + Send;
}
