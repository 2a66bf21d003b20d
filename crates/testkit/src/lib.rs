//! In-memory fakes of warden-core's ports, for handler tests. Each fake records what was done to
//! it, so tests assert on effects, not on calls.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod openapi;

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use warden_core::grant::{Grant, Registry};
use warden_core::policy::render::KmsGrantSpec;
use warden_core::ports::{
    AccessPoints, ConfigStore, GrantRef, GrantStore, KeyGrants, LiveAccessPoint, LogArchive,
    Notifier, PolicyStore, PortError, RequestStore, Workflow,
};
use warden_core::reconcile::LiveGrant;

/// A registry held in memory: grant items with their state.
#[derive(Debug)]
pub struct FakeGrants {
    /// The registry returned by `load_registry` (or the error).
    pub registry: Mutex<Result<Registry, PortError>>,
    /// Items with `(grant, state)` for the expiry job.
    pub items: Mutex<Vec<(GrantRef, String)>>,
    /// Items `load_registry_checked` reports as left out (invalid or in conflict).
    pub skipped: Mutex<Vec<warden_core::grant::SkippedItem>>,
}

impl FakeGrants {
    /// A store holding this registry (each grant becomes an active `declared` item).
    #[must_use]
    pub fn new(registry: Registry) -> Self {
        let items = registry
            .grants()
            .iter()
            .map(|g| {
                (
                    GrantRef {
                        account_id: g.account_id.to_string(),
                        grant_id: "declared".into(),
                        expiration_date: g.expiration_date.to_rfc3339(),
                        allowed_prefixes: g
                            .allowed_prefixes
                            .iter()
                            .map(ToString::to_string)
                            .collect(),
                        access_level: g.access_level.as_str().into(),
                    },
                    "active".to_owned(),
                )
            })
            .collect();
        FakeGrants {
            registry: Mutex::new(Ok(registry)),
            items: Mutex::new(items),
            skipped: Mutex::new(Vec::new()),
        }
    }
}

impl GrantStore for FakeGrants {
    async fn load_registry(&self, _now: DateTime<Utc>) -> Result<Registry, PortError> {
        self.registry.lock().unwrap().clone()
    }
    async fn load_registry_checked(
        &self,
        _now: DateTime<Utc>,
    ) -> Result<(Registry, Vec<warden_core::grant::SkippedItem>), PortError> {
        let r = self.registry.lock().unwrap().clone()?;
        Ok((r, self.skipped.lock().unwrap().clone()))
    }
    async fn expired(&self, now: DateTime<Utc>) -> Result<Vec<GrantRef>, PortError> {
        let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(self
            .items
            .lock()
            .unwrap()
            .iter()
            .filter(|(g, state)| state == "active" && g.expiration_date <= stamp)
            .map(|(g, _)| g.clone())
            .collect())
    }
    async fn accounts(&self) -> Result<Vec<String>, PortError> {
        let mut a: Vec<String> = self
            .items
            .lock()
            .unwrap()
            .iter()
            .map(|(g, _)| g.account_id.clone())
            .collect();
        a.sort();
        a.dedup();
        Ok(a)
    }
    async fn revoke(&self, grant: &GrantRef, _now: DateTime<Utc>) -> Result<bool, PortError> {
        let mut items = self.items.lock().unwrap();
        match items
            .iter_mut()
            .find(|(g, _)| g.account_id == grant.account_id && g.grant_id == grant.grant_id)
        {
            Some((_, state)) if state == "active" => {
                *state = "revoked".into();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Bucket policies held in memory.
#[derive(Debug, Default)]
pub struct FakePolicies {
    /// Bucket → policy.
    pub policies: Mutex<BTreeMap<String, String>>,
    /// Number of `put_bucket_policy` calls.
    pub puts: Mutex<usize>,
}

impl PolicyStore for FakePolicies {
    async fn get_bucket_policy(&self, bucket: &str) -> Result<Option<String>, PortError> {
        Ok(self.policies.lock().unwrap().get(bucket).cloned())
    }
    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> Result<(), PortError> {
        *self.puts.lock().unwrap() += 1;
        self.policies
            .lock()
            .unwrap()
            .insert(bucket.to_owned(), policy.to_owned());
        Ok(())
    }
}

/// Access points and their policies held in memory, counting every call; a policy naming one of
/// `refused` is refused as S3 refuses a principal that does not exist.
#[derive(Debug, Default)]
pub struct FakeAccessPoints {
    /// Name → (bucket, policy).
    pub points: Mutex<BTreeMap<String, (String, Option<String>)>>,
    /// Principals S3 would refuse (`MalformedPolicy: Invalid principal in policy`).
    pub refused: Mutex<Vec<String>>,
    /// Calls made: `create`, `get`, `put`, `delete`, `list`.
    pub calls: Mutex<BTreeMap<&'static str, usize>>,
    /// Names whose policy was put, in order.
    pub written: Mutex<Vec<String>>,
    /// How many of the next PutAccessPointPolicy calls fail as throttled (after the SDK's
    /// retries), to test that the run fails and its retry finishes the job.
    pub throttle_puts: Mutex<usize>,
}

impl FakeAccessPoints {
    fn count(&self, call: &'static str) {
        *self.calls.lock().unwrap().entry(call).or_default() += 1;
    }

    /// Calls of one kind made so far.
    pub fn calls(&self, call: &str) -> usize {
        self.calls.lock().unwrap().get(call).copied().unwrap_or(0)
    }

    /// Forget the counts (after a set-up run).
    pub fn reset_counts(&self) {
        self.calls.lock().unwrap().clear();
        self.written.lock().unwrap().clear();
    }

    /// The policy of `name`, if the access point exists and has one.
    pub fn policy(&self, name: &str) -> Option<String> {
        self.points
            .lock()
            .unwrap()
            .get(name)
            .and_then(|(_, p)| p.clone())
    }
}

fn no_such_access_point(op: &'static str, name: &str) -> PortError {
    PortError::new(
        "s3control",
        op,
        format!(
            "service error: NoSuchAccessPoint: The specified accesspoint does not exist ({name})"
        ),
    )
}

impl AccessPoints for FakeAccessPoints {
    async fn list_access_points(&self, bucket: &str) -> Result<Vec<LiveAccessPoint>, PortError> {
        self.count("list");
        Ok(self
            .points
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, (b, _))| b == bucket)
            .map(|(name, (b, _))| LiveAccessPoint {
                name: name.clone(),
                bucket: b.clone(),
                alias: Some(format!("{name}-fake-s3alias")),
            })
            .collect())
    }
    async fn create_access_point(&self, name: &str, bucket: &str) -> Result<(), PortError> {
        self.count("create");
        let mut points = self.points.lock().unwrap();
        if points.contains_key(name) {
            return Err(PortError::new(
                "s3control",
                "CreateAccessPoint",
                format!("service error: AccessPointAlreadyOwnedByYou ({name})"),
            ));
        }
        points.insert(name.to_owned(), (bucket.to_owned(), None));
        Ok(())
    }
    async fn get_access_point_policy(&self, name: &str) -> Result<Option<String>, PortError> {
        self.count("get");
        match self.points.lock().unwrap().get(name) {
            Some((_, p)) => Ok(p.clone()),
            None => Err(no_such_access_point("GetAccessPointPolicy", name)),
        }
    }
    async fn put_access_point_policy(&self, name: &str, policy: &str) -> Result<(), PortError> {
        self.count("put");
        {
            let mut t = self.throttle_puts.lock().unwrap();
            if *t > 0 {
                *t -= 1;
                return Err(PortError::new(
                    "s3control",
                    "PutAccessPointPolicy",
                    "service error: SlowDown: Please reduce your request rate.",
                ));
            }
        }
        if self
            .refused
            .lock()
            .unwrap()
            .iter()
            .any(|r| policy.contains(&format!("\"{r}\"")))
        {
            return Err(PortError::new(
                "s3control",
                "PutAccessPointPolicy",
                "service error: MalformedPolicy: Invalid principal in policy",
            ));
        }
        match self.points.lock().unwrap().get_mut(name) {
            Some((_, p)) => {
                *p = Some(policy.to_owned());
                self.written.lock().unwrap().push(name.to_owned());
                Ok(())
            }
            None => Err(no_such_access_point("PutAccessPointPolicy", name)),
        }
    }
    async fn delete_access_point_policy(&self, name: &str) -> Result<(), PortError> {
        self.count("delete");
        match self.points.lock().unwrap().get_mut(name) {
            Some((_, p)) => {
                *p = None;
                Ok(())
            }
            None => Err(no_such_access_point("DeleteAccessPointPolicy", name)),
        }
    }
}

/// KMS grants (and the key policy) held in memory.
#[derive(Debug, Default)]
pub struct FakeKeyGrants {
    /// Live grants.
    pub grants: Mutex<Vec<LiveGrant>>,
    /// The key policy; `None` reads as a policy with no statements (consumers then depend on
    /// their grants alone).
    pub key_policy: Mutex<Option<String>>,
    next: Mutex<u64>,
}

impl KeyGrants for FakeKeyGrants {
    async fn list_grants(&self, _key_arn: &str) -> Result<Vec<LiveGrant>, PortError> {
        Ok(self.grants.lock().unwrap().clone())
    }
    async fn get_key_policy(&self, _key_arn: &str) -> Result<String, PortError> {
        Ok(self
            .key_policy
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| r#"{"Version":"2012-10-17","Statement":[]}"#.to_owned()))
    }
    async fn create_grant(&self, _key_arn: &str, spec: &KmsGrantSpec) -> Result<String, PortError> {
        let mut n = self.next.lock().unwrap();
        *n += 1;
        let id = format!("grant-{n}");
        self.grants.lock().unwrap().push(LiveGrant {
            grant_id: id.clone(),
            name: Some(spec.name.clone()),
            grantee_principal: spec.grantee_principal.clone(),
            operations: spec.operations.clone(),
            encryption_context_subset: Some(spec.encryption_context_subset.clone()),
            encryption_context_equals: None,
        });
        Ok(id)
    }
    async fn revoke_grant(&self, _key_arn: &str, grant_id: &str) -> Result<(), PortError> {
        self.grants
            .lock()
            .unwrap()
            .retain(|g| g.grant_id != grant_id);
        Ok(())
    }
}

/// Parameters held in memory.
#[derive(Debug, Default)]
pub struct FakeConfig {
    /// Name → value.
    pub values: BTreeMap<String, String>,
}

impl ConfigStore for FakeConfig {
    async fn get_parameter(&self, name: &str) -> Result<String, PortError> {
        self.values.get(name).cloned().ok_or_else(|| {
            PortError::new("ssm", "GetParameter", format!("ParameterNotFound: {name}"))
        })
    }
}

/// Published messages, in order.
#[derive(Debug, Default)]
pub struct FakeNotifier {
    /// `(subject, message)` pairs.
    pub messages: Mutex<Vec<(String, String)>>,
}

impl Notifier for FakeNotifier {
    async fn publish(&self, subject: &str, message: &str) -> Result<(), PortError> {
        self.messages
            .lock()
            .unwrap()
            .push((subject.to_owned(), message.to_owned()));
        Ok(())
    }
    async fn publish_for_account(
        &self,
        account_id: &str,
        subject: &str,
        message: &str,
    ) -> Result<(), PortError> {
        self.messages
            .lock()
            .unwrap()
            .push((format!("[{account_id}] {subject}"), message.to_owned()));
        Ok(())
    }
}

/// One self-service request in a [`FakeRequests`] registry.
#[derive(Debug, Clone)]
pub struct FakeRequest {
    /// `request-<id>` (the registry's `grant_id`, also the workflow execution's name).
    pub request_id: String,
    /// What was asked for, as validated at request time.
    pub grant: Grant,
    /// Why.
    pub justification: String,
    /// `pending`, then `active`, `rejected` or `expired`.
    pub state: String,
    /// Who or what settled it.
    pub decided_by: Option<String>,
    /// The workflow execution a task bound the request to (approval-processor's claim).
    pub task_execution: Option<String>,
}

/// The registry table as the approval workflow sees it: the grants (a [`FakeGrants`]) plus the
/// self-service requests, pending or settled. Settling a request `active` adds its grant to the
/// registry, as the real table's item would then be loaded.
#[derive(Debug)]
pub struct FakeRequests {
    /// Active grants.
    pub grants: FakeGrants,
    /// Requests, in the order they were recorded.
    pub requests: Mutex<Vec<FakeRequest>>,
    /// Bumped by every change of an item (the conditional activation's snapshot).
    pub version: Mutex<u64>,
    /// A grant another writer makes active right after the next snapshot is read (the race a
    /// conditional activation must catch); taken once.
    pub interfere: Mutex<Option<Grant>>,
}

impl FakeRequests {
    /// A registry holding these grants and no request.
    #[must_use]
    pub fn new(registry: Registry) -> Self {
        FakeRequests {
            grants: FakeGrants::new(registry),
            requests: Mutex::new(Vec::new()),
            version: Mutex::new(0),
            interfere: Mutex::new(None),
        }
    }

    /// The request `request_id`, if recorded.
    #[must_use]
    pub fn request(&self, request_id: &str) -> Option<FakeRequest> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.request_id == request_id)
            .cloned()
    }
}

impl GrantStore for FakeRequests {
    async fn load_registry(&self, now: DateTime<Utc>) -> Result<Registry, PortError> {
        self.grants.load_registry(now).await
    }
    async fn expired(&self, now: DateTime<Utc>) -> Result<Vec<GrantRef>, PortError> {
        self.grants.expired(now).await
    }
    async fn accounts(&self) -> Result<Vec<String>, PortError> {
        self.grants.accounts().await
    }
    async fn revoke(&self, grant: &GrantRef, now: DateTime<Utc>) -> Result<bool, PortError> {
        self.grants.revoke(grant, now).await
    }
}

/// The claim as the DynamoDB adapter does it: pending, and bound to one execution.
impl warden_core::ports::PendingRequests for FakeRequests {
    async fn claim(
        &self,
        account_id: &str,
        request_id: &str,
        execution: &str,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<warden_core::ports::PendingRequest>, PortError> {
        let mut requests = self.requests.lock().unwrap();
        let Some(r) = requests
            .iter_mut()
            .find(|r| r.request_id == request_id && r.grant.account_id.as_str() == account_id)
        else {
            return Ok(None);
        };
        if r.state != "pending" || r.task_execution.as_deref().is_some_and(|e| e != execution) {
            return Ok(None);
        }
        r.task_execution = Some(execution.to_owned());
        Ok(Some(warden_core::ports::PendingRequest {
            account_id: account_id.to_owned(),
            request_id: request_id.to_owned(),
            allowed_prefixes: r
                .grant
                .allowed_prefixes
                .iter()
                .map(ToString::to_string)
                .collect(),
            access_level: r.grant.access_level.as_str().to_owned(),
            expiration_date: r.grant.expiration_date.to_rfc3339(),
            requester: r.grant.created_by.clone(),
            justification: r.justification.clone(),
        }))
    }
}

impl RequestStore for FakeRequests {
    type Snapshot = u64;

    async fn account_snapshot(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Grant>, u64), PortError> {
        let registry = self.grants.load_registry(now).await?;
        let grants = registry
            .grants()
            .iter()
            .filter(|g| g.account_id.as_str() == account_id)
            .cloned()
            .collect();
        let version = *self.version.lock().unwrap();
        if let Some(g) = self.interfere.lock().unwrap().take() {
            let mut reg = self.grants.registry.lock().unwrap();
            if let Ok(current) = reg.as_ref() {
                let mut all = current.grants().to_vec();
                all.push(g);
                // The other writer checked against what it saw, which did not hold ours yet.
                if let Ok(next) = Registry::new(all) {
                    *reg = Ok(next);
                }
            }
            *self.version.lock().unwrap() += 1;
        }
        Ok((grants, version))
    }

    async fn activate(
        &self,
        account_id: &str,
        request_id: &str,
        by: &str,
        snapshot: &u64,
    ) -> Result<warden_core::ports::Activation, PortError> {
        use warden_core::ports::Activation;
        let pending = self
            .request(request_id)
            .is_some_and(|r| r.state == "pending" && r.grant.account_id.as_str() == account_id);
        if !pending {
            return Ok(Activation::NotPending);
        }
        if *self.version.lock().unwrap() != *snapshot {
            return Ok(Activation::Changed);
        }
        self.settle(account_id, request_id, "active", by).await?;
        Ok(Activation::Activated)
    }

    async fn put_pending(
        &self,
        request_id: &str,
        grant: &Grant,
        justification: &str,
    ) -> Result<(), PortError> {
        let mut requests = self.requests.lock().unwrap();
        // As the table's conditional put: a request ID is used once.
        if requests
            .iter()
            .any(|r| r.request_id == request_id && r.grant.account_id == grant.account_id)
        {
            return Err(PortError::new(
                "dynamodb",
                "PutItem",
                "ConditionalCheckFailedException: the request ID is already recorded",
            ));
        }
        requests.push(FakeRequest {
            request_id: request_id.to_owned(),
            grant: grant.clone(),
            justification: justification.to_owned(),
            state: "pending".to_owned(),
            decided_by: None,
            task_execution: None,
        });
        Ok(())
    }

    async fn settle(
        &self,
        account_id: &str,
        request_id: &str,
        state: &str,
        by: &str,
    ) -> Result<bool, PortError> {
        let mut requests = self.requests.lock().unwrap();
        let Some(r) = requests
            .iter_mut()
            .find(|r| r.request_id == request_id && r.grant.account_id.as_str() == account_id)
        else {
            return Ok(false);
        };
        if r.state != "pending" {
            return Ok(false);
        }
        r.state = state.to_owned();
        r.decided_by = Some(by.to_owned());
        *self.version.lock().unwrap() += 1;
        if state == "active" {
            let mut registry = self.grants.registry.lock().unwrap();
            if let Ok(current) = registry.as_ref() {
                let mut all = current.grants().to_vec();
                all.push(r.grant.clone());
                if let Ok(next) = Registry::new(all) {
                    *registry = Ok(next);
                }
            }
        }
        Ok(true)
    }
}

/// An answer to a task token: approve (`Ok(output)`) or reject (`Err((error, cause))`).
pub type TaskAnswer = Result<String, (String, String)>;

/// The approval workflow in memory: started executions and the answers to task tokens. A token
/// can be answered once (as Step Functions refuses a second answer to a finished task).
#[derive(Debug, Default)]
pub struct FakeWorkflow {
    /// `(execution name, input)` of each start.
    pub started: Mutex<Vec<(String, String)>>,
    /// `(task token, outcome)` of each accepted answer.
    pub answers: Mutex<Vec<(String, TaskAnswer)>>,
}

impl Workflow for FakeWorkflow {
    async fn start(&self, name: &str, input: &str) -> Result<(), PortError> {
        let mut started = self.started.lock().unwrap();
        if started.iter().any(|(n, _)| n == name) {
            return Err(PortError::new(
                "states",
                "StartExecution",
                format!("ExecutionAlreadyExists: {name}"),
            ));
        }
        started.push((name.to_owned(), input.to_owned()));
        Ok(())
    }
    async fn answer(
        &self,
        task_token: &str,
        outcome: Result<String, (String, String)>,
    ) -> Result<(), PortError> {
        let mut answers = self.answers.lock().unwrap();
        if answers.iter().any(|(t, _)| t == task_token) {
            return Err(PortError::new(
                "states",
                "SendTaskSuccess",
                "TaskTimedOut: the task is no longer waiting for this token",
            ));
        }
        answers.push((task_token.to_owned(), outcome));
        Ok(())
    }
}

/// Consumer roles held in memory, by governance role ARN (what governance-check inspects through
/// it). An unknown governance role answers like STS refusing AssumeRole.
#[derive(Debug, Default)]
pub struct FakeRoles {
    /// Governance role ARN → what the consumer role in that account looks like.
    pub roles: Mutex<BTreeMap<String, warden_core::ports::RoleFacts>>,
    /// Governance roles inspected, in order.
    pub inspected: Mutex<Vec<String>>,
}

impl FakeRoles {
    /// Set the consumer role seen through `governance_role`.
    pub fn put(&self, governance_role: &str, facts: warden_core::ports::RoleFacts) {
        self.roles
            .lock()
            .unwrap()
            .insert(governance_role.to_owned(), facts);
    }
}

impl warden_core::ports::RoleInspector for FakeRoles {
    async fn inspect(
        &self,
        governance_role_arn: &str,
        _role_name: &str,
    ) -> Result<warden_core::ports::RoleFacts, PortError> {
        self.inspected
            .lock()
            .unwrap()
            .push(governance_role_arn.to_owned());
        self.roles
            .lock()
            .unwrap()
            .get(governance_role_arn)
            .cloned()
            .ok_or_else(|| {
                PortError::new(
                    "sts",
                    "AssumeRole",
                    format!("AccessDenied: {governance_role_arn}"),
                )
            })
    }
}

/// EMF lines held in memory.
#[derive(Debug, Default)]
pub struct FakeMetrics {
    /// Lines emitted, in order.
    pub lines: Mutex<Vec<String>>,
}

impl warden_core::ports::Metrics for FakeMetrics {
    fn emit(&self, line: &str) {
        self.lines.lock().unwrap().push(line.to_owned());
    }
}

/// One alert-ledger entry of [`FakeLedger`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// `claimed`, `pending` or `sent`.
    pub state: &'static str,
    /// Who holds the claim.
    pub owner: String,
    /// Until when.
    pub lease_until: DateTime<Utc>,
    /// The alert.
    pub alert: warden_core::ports::LedgerAlert,
}

/// In-memory alert ledger with the adapter's semantics (conditional claim with a lease).
/// `fail_claims` refuses that many claim calls first, as a throttled table would.
#[derive(Debug, Default)]
pub struct FakeLedger {
    /// Entries by key.
    pub entries: Mutex<BTreeMap<warden_core::ports::AlertKey, LedgerEntry>>,
    /// Claim calls to refuse before answering.
    pub fail_claims: Mutex<usize>,
}

impl warden_core::ports::AlertLedger for FakeLedger {
    async fn claim(
        &self,
        alert: &warden_core::ports::LedgerAlert,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<warden_core::ports::Claim, PortError> {
        use warden_core::ports::Claim;
        {
            let mut f = self.fail_claims.lock().unwrap_or_else(|p| p.into_inner());
            if *f > 0 {
                *f -= 1;
                return Err(PortError::new(
                    "dynamodb",
                    "PutItem",
                    "ThrottlingException: Rate of requests exceeds the allowed throughput.",
                ));
            }
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = entries.get(&alert.key) {
            match e.state {
                "sent" => return Ok(Claim::Sent),
                "claimed" if e.owner == owner => return Ok(Claim::Mine),
                "claimed" if e.lease_until > now => return Ok(Claim::Busy),
                _ => {}
            }
        }
        entries.insert(
            alert.key.clone(),
            LedgerEntry {
                state: "claimed",
                owner: owner.to_owned(),
                lease_until,
                alert: alert.clone(),
            },
        );
        Ok(Claim::Mine)
    }

    async fn mark_sent(
        &self,
        key: &warden_core::ports::AlertKey,
        _owner: &str,
        _now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = entries.get_mut(key) {
            e.state = "sent";
        }
        Ok(())
    }

    async fn release(
        &self,
        key: &warden_core::ports::AlertKey,
        owner: &str,
    ) -> Result<(), PortError> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = entries.get_mut(key)
            && e.state == "claimed"
            && e.owner == owner
        {
            e.state = "pending";
        }
        Ok(())
    }

    async fn unsent(
        &self,
        event_id: &str,
    ) -> Result<Vec<warden_core::ports::LedgerAlert>, PortError> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Ok(entries
            .iter()
            .filter(|(k, e)| k.event_id == event_id && e.state != "sent")
            .map(|(_, e)| e.alert.clone())
            .collect())
    }

    async fn released(
        &self,
        limit: usize,
    ) -> Result<Vec<warden_core::ports::LedgerAlert>, PortError> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Ok(entries
            .values()
            .filter(|e| e.state == "pending")
            .take(limit)
            .map(|e| e.alert.clone())
            .collect())
    }
}

// --- Faults for the policy-reconciler (issue 14, item 4) -------------------------------------

/// The error S3 answers PutBucketPolicy with when a principal in the document does not exist (a
/// deleted role, or one not created yet), in the form the S3 adapter reports it (the SDK's
/// `DisplayErrorContext`). S3 names no statement and no principal.
#[must_use]
pub fn malformed_policy_error() -> PortError {
    PortError::new(
        "s3",
        "PutBucketPolicy",
        r#"service error: unhandled error (MalformedPolicy): Error { code: "MalformedPolicy", message: "Invalid principal in policy", s3_extended_request_id: "fake", aws_request_id: "fake" }"#,
    )
}

/// A bucket-policy store that refuses, as S3 does, every document naming one of `refused` (role
/// ARNs whose roles "do not exist"), and passes everything else to `inner` — a [`FakePolicies`]
/// or the real adapter on the emulator (moto stores any principal). Like S3, it shows a refused
/// role that is in the stored policy (deleted after it was applied) by a unique ID (`AROA…`)
/// rather than its ARN.
#[derive(Debug, Default)]
pub struct RefusingPolicies<P> {
    /// The store behind.
    pub inner: P,
    /// Principals S3 would refuse.
    pub refused: Mutex<Vec<String>>,
    /// PutBucketPolicy calls refused so far.
    pub refusals: Mutex<usize>,
}

impl<P> RefusingPolicies<P> {
    /// `inner`, refusing documents that name any of `refused`.
    pub fn new(inner: P, refused: &[&str]) -> Self {
        RefusingPolicies {
            inner,
            refused: Mutex::new(refused.iter().map(|r| (*r).to_owned()).collect()),
            refusals: Mutex::new(0),
        }
    }
}

/// The unique ID [`RefusingPolicies`] shows for a deleted role.
#[must_use]
pub fn deleted_role_id(role_arn: &str) -> String {
    let digits: String = role_arn.chars().filter(char::is_ascii_digit).collect();
    format!("AROA{digits}DELETED")
}

impl<P: PolicyStore + Sync> PolicyStore for RefusingPolicies<P> {
    async fn get_bucket_policy(&self, bucket: &str) -> Result<Option<String>, PortError> {
        let live = self.inner.get_bucket_policy(bucket).await?;
        let refused = self.refused.lock().unwrap().clone();
        Ok(live.map(|mut text| {
            for r in &refused {
                text = text.replace(&format!("\"{r}\""), &format!("\"{}\"", deleted_role_id(r)));
            }
            text
        }))
    }
    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> Result<(), PortError> {
        let refuse = self
            .refused
            .lock()
            .unwrap()
            .iter()
            .any(|p| policy.contains(&format!("\"{p}\"")));
        if refuse {
            *self.refusals.lock().unwrap() += 1;
            return Err(malformed_policy_error());
        }
        self.inner.put_bucket_policy(bucket, policy).await
    }
}

/// A bucket-policy store whose next `fail_puts` PutBucketPolicy calls fail as S3 does when the
/// SDK has given up retrying (500 InternalError), then passes calls to `inner`.
#[derive(Debug, Default)]
pub struct FlakyPolicies<P> {
    /// The store behind.
    pub inner: P,
    /// PutBucketPolicy calls still to fail.
    pub fail_puts: Mutex<usize>,
}

impl<P: PolicyStore + Sync> PolicyStore for FlakyPolicies<P> {
    async fn get_bucket_policy(&self, bucket: &str) -> Result<Option<String>, PortError> {
        self.inner.get_bucket_policy(bucket).await
    }
    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> Result<(), PortError> {
        {
            let mut f = self.fail_puts.lock().unwrap();
            if *f > 0 {
                *f -= 1;
                return Err(PortError::new(
                    "s3",
                    "PutBucketPolicy",
                    r#"service error: unhandled error (InternalError): Error { code: "InternalError", message: "We encountered an internal error. Please try again." }"#,
                ));
            }
        }
        self.inner.put_bucket_policy(bucket, policy).await
    }
}

/// KMS grants whose CreateGrant fails for the grant names in `fail_create` (as KMS answers when
/// it cannot resolve the grantee) and whose RevokeGrant fails for the grant IDs in `fail_revoke`;
/// every other call goes to `inner`.
#[derive(Debug, Default)]
pub struct FailingKeyGrants<K> {
    /// The grants behind.
    pub inner: K,
    /// Grant names whose CreateGrant fails.
    pub fail_create: Mutex<Vec<String>>,
    /// Grant IDs whose RevokeGrant fails.
    pub fail_revoke: Mutex<Vec<String>>,
}

impl<K: KeyGrants + Sync> KeyGrants for FailingKeyGrants<K> {
    async fn list_grants(&self, key_arn: &str) -> Result<Vec<LiveGrant>, PortError> {
        self.inner.list_grants(key_arn).await
    }
    async fn get_key_policy(&self, key_arn: &str) -> Result<String, PortError> {
        self.inner.get_key_policy(key_arn).await
    }
    async fn create_grant(&self, key_arn: &str, spec: &KmsGrantSpec) -> Result<String, PortError> {
        if self.fail_create.lock().unwrap().contains(&spec.name) {
            return Err(PortError::new(
                "kms",
                "CreateGrant",
                format!(
                    r#"service error: unhandled error (InvalidArnException): Error {{ code: "InvalidArnException", message: "ARN does not refer to a valid principal: {}" }}"#,
                    spec.grantee_principal
                ),
            ));
        }
        self.inner.create_grant(key_arn, spec).await
    }
    async fn revoke_grant(&self, key_arn: &str, grant_id: &str) -> Result<(), PortError> {
        if self
            .fail_revoke
            .lock()
            .unwrap()
            .iter()
            .any(|g| g == grant_id)
        {
            return Err(PortError::new(
                "kms",
                "RevokeGrant",
                r#"service error: unhandled error (KMSInternalException): Error { code: "KMSInternalException", message: "internal error" }"#,
            ));
        }
        self.inner.revoke_grant(key_arn, grant_id).await
    }
}

/// Log files in memory (an S3 bucket for [`LogArchive`]): objects by bucket and key, listed in
/// key order; GetObject can be made to fail for chosen keys, and every call is counted.
#[derive(Debug, Default)]
pub struct FakeArchive {
    /// (bucket, key) → body.
    pub objects: Mutex<BTreeMap<(String, String), Vec<u8>>>,
    /// Keys whose fetch fails (a throttled or failed GetObject after the SDK's retries).
    pub failing: Mutex<Vec<String>>,
    /// Calls made: `keys`, `folders`, `fetch`, `store`.
    pub calls: Mutex<BTreeMap<&'static str, usize>>,
}

impl FakeArchive {
    /// Put one object.
    pub fn put(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        lock(&self.objects).insert((bucket.to_owned(), key.to_owned()), body.into());
    }

    /// One object's body, if stored.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        lock(&self.objects)
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
    }

    /// Keys of `bucket` under `prefix`.
    pub fn keys_under(&self, bucket: &str, prefix: &str) -> Vec<String> {
        lock(&self.objects)
            .keys()
            .filter(|(b, k)| b == bucket && k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// Calls of one kind made so far.
    pub fn count(&self, call: &str) -> usize {
        lock(&self.calls).get(call).copied().unwrap_or(0)
    }

    fn called(&self, call: &'static str) {
        *lock(&self.calls).entry(call).or_default() += 1;
    }
}

impl LogArchive for FakeArchive {
    async fn keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, PortError> {
        self.called("keys");
        Ok(self.keys_under(bucket, prefix))
    }

    async fn folders(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, PortError> {
        self.called("folders");
        let mut out: Vec<String> = self
            .keys_under(bucket, prefix)
            .iter()
            .filter_map(|k| {
                let rest = k.get(prefix.len()..)?;
                let i = rest.find('/')?;
                Some(format!("{prefix}{}", &rest[..=i]))
            })
            .collect();
        out.dedup();
        Ok(out)
    }

    async fn fetch(&self, bucket: &str, key: &str) -> Result<Vec<u8>, PortError> {
        self.called("fetch");
        if lock(&self.failing).iter().any(|k| k == key) {
            return Err(PortError::new(
                "s3",
                "GetObject",
                format!("{key}: SlowDown"),
            ));
        }
        self.get(bucket, key)
            .ok_or_else(|| PortError::new("s3", "GetObject", format!("{key}: NoSuchKey")))
    }

    async fn store(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
    ) -> Result<(), PortError> {
        self.called("store");
        self.put(bucket, key, body);
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
