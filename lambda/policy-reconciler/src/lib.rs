//! policy-reconciler: the one writer of the shared bucket's policy and the data key's grants.
//!
//! Every invocation — a registry stream batch, the expiration-enforcer, the approval workflow, a
//! Terraform apply — does the same idempotent thing: load the registry and the baseline, render
//! with warden-core, compare with what is live, apply the difference. A baseline parameter that
//! holds anything but the known baseline Deny statements is refused (alert, nothing applied): an
//! edit of the parameter must not become a grant on the shared bucket.
//!
//! Failures are per grant and per change, never for the whole plan (issue 14, item 4):
//! - a grant that does not fit the 20 KB budget (ranked: declared first, then self-service oldest
//!   first), or whose consumer role S3 refuses (`MalformedPolicy: Invalid principal in policy`:
//!   deleted, or never created), is left out of the bucket policy and gets no KMS grant; every
//!   other grant is applied. S3 does not say which principal it refuses, so
//!   [`warden_core::reconcile::PolicySearch`] finds it with at most
//!   [`warden_core::reconcile::MAX_POLICY_ATTEMPTS`] calls;
//! - removals (removed and expired grants) are in no document the reconciler puts, so every
//!   accepted PutBucketPolicy applies all of them; when nothing else is accepted the baseline alone
//!   is put. KMS grants to retire are revoked first, each on its own, then grants are created,
//!   each on its own: one failing call stops no other;
//! - one alert per run names every grant left out and every change that failed. Grants left out
//!   make the report `partial` (retrying cannot fix them: a person must). A change that failed
//!   (PutBucketPolicy after the SDK's retries, CreateGrant, RevokeGrant) or grants not decided
//!   within the attempt bound make the run [`ReconcileError::Incomplete`]: the invocation fails so
//!   that Lambda retries it, and the retry — the same idempotent plan — finishes the job.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use warden_core::grant::{AccountId, Registry};
use warden_core::policy::access_point::{self, SharingMode};
use warden_core::policy::model::Policy;
use warden_core::policy::render::{self, RenderError, RenderSettings};
use warden_core::ports::{
    AccessPoints, ConfigStore, GrantStore, KeyGrants, Notifier, PolicyStore, PortError,
};
use warden_core::reconcile::{self, AccessPointChange, ExcludedGrant, ExclusionKind};

/// What the function needs to know, read once from the environment in `main`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bucket, key, role name, region… for rendering.
    pub render: RenderSettings,
    /// SSM parameter holding Terraform's baseline statements.
    pub baseline_parameter: String,
    /// How consumers are spread over the bucket policy and access points.
    pub sharing: SharingMode,
    /// Access point names are `<access_point_prefix>-<account>` (`<project>-<env>`).
    pub access_point_prefix: String,
}

/// Why a reconciliation did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A service call failed before anything was applied (retried by the SDK first).
    #[error(transparent)]
    Port(#[from] PortError),
    /// The baseline parameter is not a policy document.
    #[error("baseline parameter {parameter}: {message}")]
    Baseline {
        /// Parameter name.
        parameter: String,
        /// Parse error.
        message: String,
    },
    /// The baseline alone exceeds an AWS limit: nothing was applied.
    #[error("refused to apply: {0}")]
    OverBudget(#[from] RenderError),
    /// The baseline parameter holds statements other than the known baseline Deny statements
    /// (or lacks one): nothing was applied.
    #[error("refused to apply the baseline parameter {parameter}: {rejected}")]
    BaselineRefused {
        /// Parameter name.
        parameter: String,
        /// Each statement refused and the rule it breaks.
        rejected: reconcile::BaselineRejected,
    },
    /// Everything that could be applied was; some changes failed or some grants were not
    /// decided. Retrying the invocation (the same idempotent plan) finishes the job.
    #[error("reconciliation incomplete, retry: {}", .0.summary())]
    Incomplete(Box<Report>),
}

/// A change that was planned and failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// What was not changed: `bucket policy <bucket>`, `KMS grant <name> (account <id>)`.
    pub item: String,
    /// The call: `PutBucketPolicy`, `CreateGrant`, `RevokeGrant`.
    pub change: String,
    /// The service's error.
    pub error: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {}: {}", self.change, self.item, self.error)
    }
}

/// What was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Whether the bucket policy was replaced.
    pub policy_applied: bool,
    /// Size of the policy rendered for the grants applied — or, when PutBucketPolicy failed, for
    /// the grants to apply (bytes).
    pub policy_size: usize,
    /// Grants in the registry.
    pub grants_in_registry: usize,
    /// Grants in the bucket policy now in force (active, fitting, not refused); 0 when the policy
    /// was not replaced (see `removals_applied`).
    pub grants_applied: usize,
    /// Whether the live bucket policy is the render of this run's registry, so every removed and
    /// expired grant is out of it. `false` only when no PutBucketPolicy succeeded.
    pub removals_applied: bool,
    /// PutBucketPolicy calls made.
    pub policy_attempts: usize,
    /// KMS grants created.
    pub kms_grants_created: usize,
    /// KMS grants revoked.
    pub kms_grants_revoked: usize,
    /// Whether anything was left out or failed.
    pub partial: bool,
    /// Grants left out of the bucket policy (and given no KMS grant), each with its rule.
    pub excluded: Vec<ExcludedGrant>,
    /// Changes that failed.
    pub failures: Vec<Failure>,
    /// Principals the live policy named by unique ID (`AROA…`) before this run: roles deleted
    /// since they were applied.
    pub deleted_principal_ids: Vec<String>,
    /// Registry items left out by the loader (unreadable, invalid, conflicting), alerted on by
    /// name and counted in the `RegistryItemsSkipped` metric.
    pub registry_items_skipped: usize,
    /// Consumers on the access-point tier.
    pub access_point_consumers: usize,
    /// Access points created (for consumers that had none: self-service ones).
    pub access_points_created: usize,
    /// PutAccessPointPolicy calls that succeeded (only policies that differed from the live one
    /// are written).
    pub access_point_policies_written: usize,
    /// Access point policies removed (the consumer has no active grant on that tier any more).
    pub access_point_policies_removed: usize,
}

impl Report {
    /// Whether a retry may finish what this run could not: a change failed, or grants were not
    /// decided within the attempt bound.
    #[must_use]
    pub fn retry_needed(&self) -> bool {
        !self.failures.is_empty()
            || self
                .excluded
                .iter()
                .any(|e| e.kind == ExclusionKind::Unverified)
    }

    /// One line: what was left out and what failed.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self.failures.iter().map(ToString::to_string).collect();
        parts.extend(self.excluded.iter().map(ToString::to_string));
        format!(
            "{} change(s) failed, {} grant(s) left out{}: {}",
            self.failures.len(),
            self.excluded.len(),
            if self.removals_applied {
                "; every removal applied"
            } else {
                "; the bucket policy was not replaced, removals in it are pending"
            },
            parts.join("; ")
        )
    }

    fn alert(&self, bucket: &str) -> (String, String) {
        let n = self.excluded.len() + self.failures.len();
        let subject = format!("Warden: policy-reconciler partial run, {n} item(s) not applied");
        let mut body = vec![format!(
            "The policy-reconciler applied every change it could to bucket {bucket} and its KMS key; these were not applied."
        )];
        if !self.excluded.is_empty() {
            body.push(if self.removals_applied {
                format!(
                    "\nGrants left out of the bucket policy (and given no KMS grant); {} of {} are applied:",
                    self.grants_applied,
                    self.grants_applied + self.excluded.len()
                )
            } else {
                "\nGrants left out of the bucket policy (and given no KMS grant):".to_owned()
            });
            body.extend(self.excluded.iter().map(|e| format!("- {e}")));
        }
        if !self.failures.is_empty() {
            body.push(
                "\nChanges that failed (the invocation fails so that Lambda retries it; the plan is idempotent):"
                    .to_owned(),
            );
            body.extend(self.failures.iter().map(|f| format!("- {f}")));
        }
        if !self.deleted_principal_ids.is_empty() {
            body.push(format!(
                "\nThe live bucket policy named {} principal(s) by unique ID, i.e. roles deleted since they were applied: {}.",
                self.deleted_principal_ids.len(),
                self.deleted_principal_ids.join(", ")
            ));
        }
        body.push(if self.removals_applied {
            "\nRemovals: every removed or expired grant is out of the bucket policy now in force.".to_owned()
        } else {
            "\nRemovals: THE BUCKET POLICY WAS NOT REPLACED; removed or expired grants stay in it until a retry succeeds.".to_owned()
        });
        (subject, body.join("\n"))
    }
}

/// How many GetAccessPointPolicy calls are in flight at once: 1,000 access points must take
/// neither 1,000 sequential round trips nor 1,000 concurrent calls against S3 Control's limits.
pub const AP_READ_CONCURRENCY: usize = 16;

/// How many access points are written at once (CreateAccessPoint then PutAccessPointPolicy, or
/// DeleteAccessPointPolicy): 1,000 consumers from empty take about 1,000 × 2 calls.
pub const AP_WRITE_CONCURRENCY: usize = 8;

/// What the access-point tier did.
#[derive(Debug, Default)]
struct ApOutcome {
    /// Consumers on the tier whose policy is in force (written now or already live) or whose
    /// change failed and will be retried: they keep or get their KMS grants (a KMS grant alone
    /// gives no access to the bucket).
    in_force: BTreeSet<AccountId>,
    created: usize,
    written: usize,
    removed: usize,
    excluded: Vec<ExcludedGrant>,
    failures: Vec<Failure>,
}

/// Every grant of `account` left out with `kind` and `rule`.
fn exclude_account(
    registry: &Registry,
    account: &AccountId,
    s: &RenderSettings,
    kind: ExclusionKind,
    rule: &str,
    now: DateTime<Utc>,
) -> Vec<ExcludedGrant> {
    registry
        .active(now)
        .filter(|g| g.account_id == *account)
        .map(|g| ExcludedGrant {
            account_id: g.account_id.to_string(),
            access_level: g.access_level.as_str().to_owned(),
            allowed_prefixes: g.allowed_prefixes.iter().map(ToString::to_string).collect(),
            principal: s.consumer_role_arn(&g.account_id),
            kind,
            rule: rule.to_owned(),
        })
        .collect()
}

/// Apply the access-point tier: one policy per consumer in `on_ap`, written only where it differs
/// from what is live; an access point created where a consumer has none; the policy removed from
/// every Warden access point whose consumer has no active grant on this tier.
async fn apply_access_points<A: AccessPoints + Sync>(
    aps: &A,
    registry: &Registry,
    on_ap: &BTreeSet<AccountId>,
    settings: &Settings,
    now: DateTime<Utc>,
) -> ApOutcome {
    use futures_util::stream::{self, StreamExt};
    let s = &settings.render;
    let prefix = &settings.access_point_prefix;
    let mut out = ApOutcome::default();
    let live_points = match aps.list_access_points(&s.bucket).await {
        Ok(l) => l,
        Err(e) => {
            // Nothing on this tier can be decided; the retry does it. Its consumers keep their
            // KMS grants meanwhile, and their access points keep the policies they have.
            out.failures.push(Failure {
                item: format!("access points of {}", s.bucket),
                change: "ListAccessPoints".into(),
                error: e.to_string(),
            });
            out.in_force.extend(on_ap.iter().cloned());
            return out;
        }
    };
    let ours: Vec<String> = live_points
        .into_iter()
        .filter(|p| reconcile::access_point_account(prefix, &p.name).is_some())
        .map(|p| p.name)
        .collect();
    let reads: Vec<(String, Result<Option<String>, PortError>)> = stream::iter(ours)
        .map(|name| async move {
            let policy = aps.get_access_point_policy(&name).await;
            (name, policy)
        })
        .buffer_unordered(AP_READ_CONCURRENCY)
        .collect()
        .await;
    let mut live: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut unreadable: BTreeSet<String> = BTreeSet::new();
    for (name, policy) in reads {
        match policy {
            Ok(p) => {
                live.insert(name, p);
            }
            Err(e) => {
                out.failures.push(Failure {
                    item: format!("access point policy of {name}"),
                    change: "GetAccessPointPolicy".into(),
                    error: e.to_string(),
                });
                unreadable.insert(name);
            }
        }
    }

    let mut desired: BTreeMap<String, (AccountId, Option<String>)> = BTreeMap::new();
    for account in on_ap {
        match access_point::policy(registry, account, s, prefix, now) {
            Ok(p) if unreadable.contains(&p.name) => {
                // Unknown live state: change nothing there this run; the retry decides.
                out.in_force.insert(account.clone());
            }
            Ok(p) => {
                let doc =
                    (!p.doc.policy.statements.is_empty()).then(|| p.doc.policy.to_compact_json());
                desired.insert(p.name, (account.clone(), doc));
            }
            Err(e) => {
                let kind = match e {
                    access_point::AccessPointError::OverBudget { .. } => ExclusionKind::OverBudget,
                    access_point::AccessPointError::Name { .. } => ExclusionKind::Refused,
                };
                out.excluded.extend(exclude_account(
                    registry,
                    account,
                    s,
                    kind,
                    &e.to_string(),
                    now,
                ));
            }
        }
    }
    // Unchanged policies are in force as they are.
    for (name, (account, doc)) in &desired {
        if let (Some(d), Some(Some(l))) = (doc, live.get(name))
            && reconcile::same_policy(l, d)
        {
            out.in_force.insert(account.clone());
        }
    }
    live.retain(|name, _| !unreadable.contains(name));
    // The changes of one access point run in order (create, then put); access points run
    // AP_WRITE_CONCURRENCY at a time.
    let mut per_point: BTreeMap<String, Vec<AccessPointChange>> = BTreeMap::new();
    for change in reconcile::access_point_changes(&desired, &live) {
        let name = match &change {
            AccessPointChange::Create { name }
            | AccessPointChange::Put { name, .. }
            | AccessPointChange::Delete { name } => name.clone(),
        };
        per_point.entry(name).or_default().push(change);
    }
    let bucket = s.bucket.as_str();
    let results: Vec<Vec<(AccessPointChange, Result<(), PortError>)>> =
        stream::iter(per_point.into_values())
            .map(|changes| async move {
                let mut done = Vec::with_capacity(changes.len());
                for change in changes {
                    let result = match &change {
                        AccessPointChange::Create { name } => {
                            aps.create_access_point(name, bucket).await
                        }
                        AccessPointChange::Put { name, policy, .. } => {
                            aps.put_access_point_policy(name, policy).await
                        }
                        AccessPointChange::Delete { name } => {
                            aps.delete_access_point_policy(name).await
                        }
                    };
                    let failed = result.is_err();
                    done.push((change, result));
                    // A failed create leaves nothing to put a policy on.
                    if failed {
                        break;
                    }
                }
                done
            })
            .buffer_unordered(AP_WRITE_CONCURRENCY)
            .collect()
            .await;
    // Access points whose new policy could not be written while an older one is live: the
    // older one may grant what the registry no longer does (a prefix removed, a level lowered),
    // so it is removed — the consumer loses access until the retry writes the new one, rather
    // than keeping access it no longer has.
    let mut fail_closed: Vec<(String, AccountId)> = Vec::new();
    for (change, result) in results.into_iter().flatten() {
        match (change, result) {
            (AccessPointChange::Create { .. }, Ok(())) => out.created += 1,
            (AccessPointChange::Create { name }, Err(e)) => out.failures.push(Failure {
                item: format!("access point {name}"),
                change: "CreateAccessPoint".into(),
                error: e.to_string(),
            }),
            (AccessPointChange::Put { account, .. }, Ok(())) => {
                out.written += 1;
                out.in_force.insert(account);
            }
            (AccessPointChange::Put { name, account, .. }, Err(e))
                if reconcile::is_policy_refusal(&e.message) =>
            {
                let rule = reconcile::rule_refused_access_point(
                    &s.consumer_role_arn(&account),
                    &account.to_string(),
                    &name,
                    reconcile::service_message(&e.message),
                );
                out.excluded.extend(exclude_account(
                    registry,
                    &account,
                    s,
                    ExclusionKind::Refused,
                    &rule,
                    now,
                ));
                if live.get(&name).is_some_and(Option::is_some) {
                    fail_closed.push((name, account));
                }
            }
            (AccessPointChange::Put { name, account, .. }, Err(e)) => {
                out.failures.push(Failure {
                    item: format!("access point policy of {name} (account {account})"),
                    change: "PutAccessPointPolicy".into(),
                    error: e.to_string(),
                });
                if live.get(&name).is_some_and(Option::is_some) {
                    fail_closed.push((name, account));
                }
            }
            (AccessPointChange::Delete { .. }, Ok(())) => out.removed += 1,
            (AccessPointChange::Delete { name }, Err(e)) => out.failures.push(Failure {
                item: format!("access point policy of {name}"),
                change: "DeleteAccessPointPolicy".into(),
                error: e.to_string(),
            }),
        }
    }
    for (name, account) in fail_closed {
        match aps.delete_access_point_policy(&name).await {
            Ok(()) => {
                out.removed += 1;
                out.in_force.remove(&account);
            }
            Err(e) => {
                out.failures.push(Failure {
                    item: format!(
                        "the stale policy of access point {name} (account {account}), left in force"
                    ),
                    change: "DeleteAccessPointPolicy".into(),
                    error: e.to_string(),
                });
                // Its old policy still admits the consumer: its KMS grant is kept with it.
                out.in_force.insert(account);
            }
        }
    }
    // Results arrive in completion order; report them in a stable one.
    out.failures.sort_by(|a, b| a.item.cmp(&b.item));
    out.excluded.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    out
}

/// Reconcile once: apply every grant and every removal that can be applied, report the rest.
///
/// # Errors
/// See [`ReconcileError`]: [`ReconcileError::Incomplete`] after applying everything else when a
/// change failed (so that the invocation is retried); the other variants before anything was
/// applied. Refusals and partial runs are also published to the notifier, once per run.
#[allow(clippy::too_many_arguments)]
pub async fn reconcile<G, P, A, K, C, N>(
    grants: &G,
    policies: &P,
    access_points: &A,
    keys: &K,
    config: &C,
    notifier: &N,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Report, ReconcileError>
where
    G: GrantStore,
    P: PolicyStore,
    A: AccessPoints + Sync,
    K: KeyGrants,
    C: ConfigStore,
    N: Notifier,
{
    let baseline_text = config.get_parameter(&settings.baseline_parameter).await?;
    let baseline = Policy::parse(&baseline_text)
        .map_err(|e| ReconcileError::Baseline {
            parameter: settings.baseline_parameter.clone(),
            message: e.to_string(),
        })?
        .statements;
    let s = &settings.render;
    if let Err(rejected) = reconcile::accept_baseline(&baseline, s) {
        // Tell a person: someone edited the parameter (or Terraform and the function disagree).
        let lines: Vec<String> = rejected
            .violations
            .iter()
            .map(|v| format!("- {v}"))
            .collect();
        notifier
            .publish(
                "Warden: bucket-policy baseline refused, nothing applied",
                &format!(
                    "The baseline parameter {} holds statements the policy-reconciler does not accept; the bucket policy and KMS grants were left as they are. Restore the parameter with terraform apply and find who changed it in CloudTrail (PutParameter).\n{}",
                    settings.baseline_parameter,
                    lines.join("\n")
                ),
            )
            .await?;
        return Err(ReconcileError::BaselineRefused {
            parameter: settings.baseline_parameter.clone(),
            rejected,
        });
    }
    let (registry, skipped) = grants.load_registry_checked(now).await?;
    let mut skipped_alert_failed: Option<String> = None;
    if !skipped.is_empty() {
        // The others are applied as usual (the bad items' access is removed); a person fixes these.
        let lines: Vec<String> = skipped
            .iter()
            .map(|k| format!("- {}: {}", k.item, k.rule))
            .collect();
        // A failed alert must not stop the run: removals still have to be applied. It is
        // reported as a failure below, so the invocation is retried (and the alert with it).
        if let Err(e) = notifier
            .publish(
                "Warden: registry items skipped, their access is not applied",
                &format!(
                    "{} registry item(s) are invalid or conflict with another grant; the policy-reconciler applied every other grant (and every removal) without them. Fix or delete each item in the registry table:\n{}",
                    skipped.len(),
                    lines.join("\n")
                ),
            )
            .await
        {
            skipped_alert_failed = Some(e.to_string());
        }
    }
    let live_policy = policies.get_bucket_policy(&s.bucket).await?;
    let live_grants = keys.list_grants(&s.kms_key_arn).await?;
    // The two tiers: consumers past the threshold (or all, or none) on their own access point,
    // the rest in the bucket policy, which then also delegates to Warden's access points.
    let on_ap = access_point::access_point_accounts(&registry, settings.sharing);
    let bucket_tier: Vec<usize> = (0..registry.grants().len())
        .filter(|&i| {
            registry
                .grants()
                .get(i)
                .is_some_and(|g| !on_ap.contains(&g.account_id))
        })
        .collect();
    let bucket_registry = registry.subset(&bucket_tier);
    let mut baseline = baseline;
    if !on_ap.is_empty() {
        baseline.push(access_point::delegation_statement(
            s,
            &settings.access_point_prefix,
        ));
    }
    let desired = reconcile::Desired::new(&bucket_registry, s, baseline, now);
    let fit = match desired.fit_budget() {
        Ok(f) => f,
        Err(e) => {
            // Only the baseline alone can be over budget; nothing can be applied.
            notifier
                .publish(
                    "Warden: bucket-policy baseline over its size limit, nothing applied",
                    &e.to_string(),
                )
                .await?;
            return Err(e.into());
        }
    };
    let mut excluded: Vec<ExcludedGrant> = fit
        .over_budget
        .iter()
        .filter_map(|&i| {
            desired.excluded(
                i,
                ExclusionKind::OverBudget,
                reconcile::RULE_OVER_BUDGET.to_owned(),
            )
        })
        .collect();
    let mut failures: Vec<Failure> = Vec::new();
    if let Some(error) = skipped_alert_failed {
        failures.push(Failure {
            item: "the registry-items-skipped alert".into(),
            change: "Publish".into(),
            error,
        });
    }

    // The bucket policy: the grants that fit, less the ones S3 refuses. Every document put holds
    // no removed grant, so the first one accepted applies every removal.
    let mut search = desired.search(
        &fit.fitted,
        live_policy.as_deref(),
        reconcile::MAX_POLICY_ATTEMPTS,
    );
    let mut live = live_policy.clone();
    let (mut policy_applied, mut policy_attempts, mut put_failed) = (false, 0, false);
    while let Some(set) = search.next_document() {
        let doc = match desired.render(&set) {
            Ok(r) => r.policy.to_compact_json(),
            // A subset of what fits fits; refuse rather than put an unchecked document.
            Err(e) => {
                search.refused(&e.to_string());
                continue;
            }
        };
        if live
            .as_deref()
            .is_some_and(|l| reconcile::same_policy(l, &doc))
        {
            search.unchanged();
            continue;
        }
        policy_attempts += 1;
        match policies.put_bucket_policy(&s.bucket, &doc).await {
            Ok(()) => {
                search.accepted();
                live = Some(doc);
                policy_applied = true;
            }
            Err(e) if reconcile::is_policy_refusal(&e.message) => {
                tracing::info!(grants = set.len(), error = %e, "bucket policy refused, narrowing down");
                search.refused(reconcile::service_message(&e.message));
            }
            Err(e) => {
                // The SDK has retried already; Lambda retries the invocation.
                failures.push(Failure {
                    item: format!("bucket policy of {}", s.bucket),
                    change: "PutBucketPolicy".into(),
                    error: e.to_string(),
                });
                put_failed = true;
                break;
            }
        }
    }
    let outcome = search.outcome();
    if let Some(message) = &outcome.baseline_refused {
        failures.push(Failure {
            item: format!("bucket policy of {} (baseline statements only)", s.bucket),
            change: "PutBucketPolicy".into(),
            error: message.clone(),
        });
    }
    excluded.extend(
        outcome
            .refused
            .iter()
            .filter_map(|(i, message)| desired.refused(*i, message)),
    );
    // After a failed put the undecided grants are not left out: the retry decides them, and their
    // KMS grants are kept or created meanwhile (without the bucket policy they give no access).
    let kms_set: Vec<usize> = if put_failed {
        let refused: std::collections::BTreeSet<usize> =
            outcome.refused.iter().map(|(i, _)| *i).collect();
        fit.fitted
            .iter()
            .copied()
            .filter(|i| !refused.contains(i))
            .collect()
    } else {
        excluded.extend(outcome.undecided.iter().filter_map(|&i| {
            desired.excluded(
                i,
                ExclusionKind::Unverified,
                reconcile::rule_unverified(reconcile::MAX_POLICY_ATTEMPTS),
            )
        }));
        outcome.included.clone()
    };

    // The access-point tier, then KMS for both tiers.
    let ap = apply_access_points(access_points, &registry, &on_ap, settings, now).await;
    excluded.extend(ap.excluded);
    failures.extend(ap.failures);
    let ap_in_force: Vec<usize> = (0..registry.grants().len())
        .filter(|&i| {
            registry
                .grants()
                .get(i)
                .is_some_and(|g| ap.in_force.contains(&g.account_id))
        })
        .collect();
    let mut kms_desired = desired.kms_grants(&kms_set);
    kms_desired.extend(render::kms_grants(&registry.subset(&ap_in_force), s, now));

    // KMS: retire first, then create; each call on its own.
    let (create, retire) = reconcile::kms_changes(&kms_desired, &live_grants);
    let mut kms_grants_revoked = 0;
    for g in &retire {
        match keys.revoke_grant(&s.kms_key_arn, &g.grant_id).await {
            Ok(()) => kms_grants_revoked += 1,
            Err(e) => failures.push(Failure {
                item: format!(
                    "KMS grant {} ({}) for {}",
                    g.name.as_deref().unwrap_or("?"),
                    g.grant_id,
                    g.grantee_principal
                ),
                change: "RevokeGrant".into(),
                error: e.to_string(),
            }),
        }
    }
    let mut kms_grants_created = 0;
    for spec in &create {
        match keys.create_grant(&s.kms_key_arn, spec).await {
            Ok(_) => kms_grants_created += 1,
            Err(e) => failures.push(Failure {
                item: format!("KMS grant {} (account {})", spec.name, spec.account_id),
                change: "CreateGrant".into(),
                error: e.to_string(),
            }),
        }
    }

    let mut report = Report {
        policy_applied,
        policy_size: desired
            .render(if put_failed {
                &kms_set
            } else {
                &outcome.included
            })
            .map_or(0, |r| r.size),
        grants_in_registry: registry.grants().len(),
        grants_applied: outcome.included.len(),
        removals_applied: outcome.applied,
        policy_attempts,
        kms_grants_created,
        kms_grants_revoked,
        partial: !excluded.is_empty() || !failures.is_empty(),
        excluded,
        failures,
        deleted_principal_ids: live_policy
            .as_deref()
            .map(reconcile::deleted_principal_ids)
            .unwrap_or_default(),
        registry_items_skipped: skipped.len(),
        access_point_consumers: on_ap.len(),
        access_points_created: ap.created,
        access_point_policies_written: ap.written,
        access_point_policies_removed: ap.removed,
    };
    for e in &report.excluded {
        tracing::warn!(account = %e.account_id, kind = ?e.kind, rule = %e.rule, "grant left out");
    }
    for f in &report.failures {
        tracing::warn!(item = %f.item, change = %f.change, error = %f.error, "change failed");
    }
    if report.partial {
        // One alert per run, listing everything not applied.
        let (subject, body) = report.alert(&s.bucket);
        if let Err(e) = notifier.publish(&subject, &body).await {
            report.failures.push(Failure {
                item: "the partial-run alert".into(),
                change: "Publish".into(),
                error: e.to_string(),
            });
        }
    }
    if report.retry_needed() {
        return Err(ReconcileError::Incomplete(Box::new(report)));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use warden_core::grant::{AccountId, Grant, GrantInput, Registry, Timestamp};
    use warden_core::policy::render;
    use warden_testkit::{
        FailingKeyGrants, FakeAccessPoints, FakeConfig, FakeGrants, FakeKeyGrants, FakeNotifier,
        FakePolicies, FlakyPolicies, RefusingPolicies,
    };

    fn now() -> DateTime<Utc> {
        Timestamp::parse("2026-11-22T12:00:00Z").unwrap().0
    }

    fn settings() -> Settings {
        Settings {
            render: RenderSettings {
                partition: "aws".into(),
                region: "us-east-1".into(),
                primary_account: AccountId::parse("111111111111").unwrap(),
                bucket: "shared".into(),
                kms_key_arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
                consumer_role_name: "warden-consumer".into(),
                require_mfa: false,
                vending_role_arn: None,
            },
            baseline_parameter: "/warden/test/bucket-policy-baseline".into(),
            sharing: SharingMode::BucketPolicy,
            access_point_prefix: "warden-test".into(),
        }
    }

    fn registry(n: usize, prefix_len: usize) -> Registry {
        Registry::new(
            (0..n)
                .map(|i| {
                    Grant::from_input(
                        &GrantInput {
                            account_id: format!("{:012}", 200_000_000_000u64 + i as u64),
                            name: None,
                            allowed_prefixes: vec![format!("{}-{i}/", "p".repeat(prefix_len))],
                            access_level: "read".into(),
                            expiration_date: "2027-01-01T00:00:00Z".into(),
                            owner_email: None,
                            external_id: None,
                            created_by: None,
                            created_at: None,
                        },
                        now(),
                    )
                    .unwrap()
                })
                .collect(),
        )
        .unwrap()
    }

    fn config() -> FakeConfig {
        let s = settings();
        let baseline = Policy::new(render::baseline_statements(&s.render)).to_compact_json();
        FakeConfig {
            values: BTreeMap::from([(s.baseline_parameter.clone(), baseline)]),
        }
    }

    #[tokio::test]
    async fn applies_once_then_is_idempotent() {
        let (g, p, k, c, n) = (
            FakeGrants::new(registry(20, 4)),
            FakePolicies::default(),
            FakeKeyGrants::default(),
            config(),
            FakeNotifier::default(),
        );
        let s = settings();
        let r = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        assert!(r.policy_applied);
        assert_eq!(
            (
                r.grants_in_registry,
                r.kms_grants_created,
                r.kms_grants_revoked
            ),
            (20, 20, 0)
        );
        let again = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        assert!(!again.policy_applied);
        assert_eq!((again.kms_grants_created, again.kms_grants_revoked), (0, 0));
        assert_eq!(*p.puts.lock().unwrap(), 1);
        // The applied policy is what warden-core renders.
        let live = p.policies.lock().unwrap()["shared"].clone();
        assert!(live.contains("DenyInsecureTransport") && live.contains("DateLessThan"));
    }

    /// Failure: the registry holds items that are invalid or in conflict. Every other grant (and
    /// every removal) is still applied, and a person is told which items and why.
    #[tokio::test]
    async fn skipped_registry_items_are_reported_and_the_rest_applied() {
        let (g, p, k, c, n) = (
            FakeGrants::new(registry(3, 4)),
            FakePolicies::default(),
            FakeKeyGrants::default(),
            config(),
            FakeNotifier::default(),
        );
        g.skipped.lock().unwrap().push(warden_core::grant::SkippedItem {
            item: "210000000099/request-7".into(),
            rule: "prefix team-0/a/ overlaps team-0/ of an earlier grant for the same account; merge them into one grant".into(),
        });
        let r = reconcile(
            &g,
            &p,
            &FakeAccessPoints::default(),
            &k,
            &c,
            &n,
            &settings(),
            now(),
        )
        .await
        .unwrap();
        assert!(r.policy_applied);
        assert_eq!(r.grants_in_registry, 3);
        let sent = n.messages.lock().unwrap();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(sent[0].0.contains("registry items skipped"), "{sent:?}");
        assert!(sent[0].1.contains("210000000099/request-7") && sent[0].1.contains("overlaps"));
    }

    #[tokio::test]
    async fn removed_grants_lose_their_kms_grant() {
        let (g, p, k, c, n) = (
            FakeGrants::new(registry(3, 4)),
            FakePolicies::default(),
            FakeKeyGrants::default(),
            config(),
            FakeNotifier::default(),
        );
        let s = settings();
        reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        *g.registry.lock().unwrap() = Ok(registry(2, 4));
        let r = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        assert!(r.policy_applied);
        assert_eq!(r.kms_grants_revoked, 1);
        assert_eq!(k.grants.lock().unwrap().len(), 2);
    }

    /// Over budget: the grants that fit (in rank order) are applied with their KMS grants, the
    /// rest are named in one alert; the run succeeds as partial (a retry cannot fix it).
    #[tokio::test]
    async fn over_budget_applies_what_fits_and_reports_the_rest() {
        let (g, p, k, c, n) = (
            FakeGrants::new(registry(120, 200)),
            FakePolicies::default(),
            FakeKeyGrants::default(),
            config(),
            FakeNotifier::default(),
        );
        let s = settings();
        let r = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        assert!(r.policy_applied && r.partial && r.removals_applied);
        assert!(r.policy_size <= render::BUCKET_POLICY_BUDGET);
        assert!(r.grants_applied > 0 && !r.excluded.is_empty());
        assert_eq!(r.grants_applied + r.excluded.len(), 120);
        assert!(
            r.excluded
                .iter()
                .all(|e| e.kind == ExclusionKind::OverBudget)
        );
        assert_eq!(
            r.kms_grants_created, r.grants_applied,
            "no KMS grant for a grant left out"
        );
        let live = p.policies.lock().unwrap()["shared"].clone();
        assert!(live.len() <= render::BUCKET_POLICY_BUDGET);
        assert!(!live.contains(&format!("::{}:role", r.excluded[0].account_id)));
        let msgs = n.messages.lock().unwrap().clone();
        assert_eq!(msgs.len(), 1, "one alert per run");
        assert!(
            msgs[0].0.contains("partial run") && msgs[0].1.contains("does not fit"),
            "{msgs:?}"
        );
        assert!(msgs[0].1.contains(&r.excluded[0].account_id));
        // Idempotent: the same registry again changes nothing.
        let again = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        assert!(!again.policy_applied);
        assert_eq!(
            (
                again.kms_grants_created,
                again.kms_grants_revoked,
                again.policy_attempts
            ),
            (0, 0, 0)
        );
        assert_eq!(again.excluded, r.excluded);
    }

    fn role(account: &str) -> String {
        format!("arn:aws:iam::{account}:role/warden-consumer")
    }

    fn account(i: usize) -> String {
        format!("{:012}", 200_000_000_000u64 + i as u64)
    }

    /// A consumer role deleted in its account: S3 refuses every policy naming it. That grant is
    /// left out (with its KMS grant) and named; every other grant stays, and the grant removed
    /// from the registry meanwhile is revoked anyway.
    #[tokio::test]
    async fn a_deleted_consumer_role_is_left_out_and_every_other_change_applied() {
        let (g, k, c, n) = (
            FakeGrants::new(registry(5, 4)),
            FakeKeyGrants::default(),
            config(),
            FakeNotifier::default(),
        );
        let p = RefusingPolicies::new(FakePolicies::default(), &[]);
        let s = settings();
        reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        // Account 2's role is deleted; account 4's grant is removed from the registry.
        p.refused.lock().unwrap().push(role(&account(2)));
        *g.registry.lock().unwrap() = Ok(registry(4, 4));
        let r = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        assert!(r.partial && r.policy_applied && r.removals_applied, "{r:?}");
        assert_eq!(r.excluded.len(), 1, "{r:?}");
        let e = &r.excluded[0];
        assert_eq!(
            (e.account_id.as_str(), e.kind),
            (account(2).as_str(), ExclusionKind::Refused)
        );
        assert!(
            e.rule.contains("Invalid principal in policy") && e.rule.contains("consumer-role/"),
            "{}",
            e.rule
        );
        assert_eq!(r.grants_applied, 3);
        let live = p.inner.policies.lock().unwrap()["shared"].clone();
        for (i, there) in [(0, true), (1, true), (2, false), (3, true), (4, false)] {
            assert_eq!(
                live.contains(&role(&account(i))),
                there,
                "account {i}: {live}"
            );
        }
        // KMS: the removed grant and the refused one lose theirs; the others keep theirs.
        assert_eq!(r.kms_grants_revoked, 2);
        let kms: Vec<String> = k
            .grants
            .lock()
            .unwrap()
            .iter()
            .map(|g| g.grantee_principal.clone())
            .collect();
        assert_eq!(kms.len(), 3);
        assert!(!kms.contains(&role(&account(2))) && !kms.contains(&role(&account(4))));
        // Full document, then the roles the live policy names (accepted); the role S3 shows as a
        // unique ID is then known refused without another call.
        assert_eq!((r.policy_attempts, *p.refusals.lock().unwrap()), (2, 1));
        assert_eq!(
            r.deleted_principal_ids,
            vec![warden_testkit::deleted_role_id(&role(&account(2)))]
        );
        let msgs = n.messages.lock().unwrap().clone();
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(
            msgs[0].1.contains(&account(2))
                && msgs[0].1.contains("every removed or expired grant is out"),
            "{}",
            msgs[0].1
        );
        // A second run changes nothing (one refused call), and still says why.
        let again = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        assert!(!again.policy_applied && again.partial);
        assert_eq!((again.kms_grants_created, again.kms_grants_revoked), (0, 0));
        assert_eq!(again.excluded, r.excluded);
        assert_eq!(p.inner.policies.lock().unwrap()["shared"], live);
        // The role is created again: the next run applies the grant.
        p.refused.lock().unwrap().clear();
        let fixed = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        assert!(fixed.policy_applied && !fixed.partial && fixed.excluded.is_empty());
        assert_eq!((fixed.grants_applied, fixed.kms_grants_created), (4, 1));
    }

    /// A new grant for an account whose consumer role does not exist yet never blocks the
    /// revocation of another grant, even among many new grants.
    #[tokio::test]
    async fn a_grant_without_consumer_role_does_not_block_a_revocation() {
        let (g, k, c, n) = (
            FakeGrants::new(registry(3, 4)),
            FakeKeyGrants::default(),
            config(),
            FakeNotifier::default(),
        );
        let p = RefusingPolicies::new(FakePolicies::default(), &[]);
        let s = settings();
        reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        // Account 0 leaves; 3..12 arrive, 7 has no consumer role yet.
        let mut next: Vec<Grant> = registry(12, 4).grants()[1..].to_vec();
        next.sort_by(|a, b| b.account_id.cmp(&a.account_id));
        *g.registry.lock().unwrap() = Ok(Registry::new(next).unwrap());
        p.refused.lock().unwrap().push(role(&account(7)));
        let r = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        let live = p.inner.policies.lock().unwrap()["shared"].clone();
        assert!(!live.contains(&role(&account(0))), "revoked");
        assert!(!live.contains(&role(&account(7))));
        assert!(
            (1..12)
                .filter(|&i| i != 7)
                .all(|i| live.contains(&role(&account(i))))
        );
        assert_eq!(r.excluded.len(), 1);
        assert_eq!(r.excluded[0].account_id, account(7));
        assert!(r.policy_attempts <= 2 + 4, "{} calls", r.policy_attempts);
        assert!(
            !k.grants
                .lock()
                .unwrap()
                .iter()
                .any(|g| g.grantee_principal == role(&account(0)))
        );
    }

    /// PutBucketPolicy fails (the SDK gave up): the KMS changes are applied all the same, the
    /// run is incomplete (so the invocation is retried) and says the removals are pending; the
    /// retry finishes the job, and a third run changes nothing.
    #[tokio::test]
    async fn a_failed_put_is_retried_and_the_retry_finishes_the_job() {
        let (g, k, c, n) = (
            FakeGrants::new(registry(3, 4)),
            FakeKeyGrants::default(),
            config(),
            FakeNotifier::default(),
        );
        let p = FlakyPolicies {
            inner: FakePolicies::default(),
            fail_puts: std::sync::Mutex::new(0),
        };
        let s = settings();
        reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        let before = p.inner.policies.lock().unwrap()["shared"].clone();
        *g.registry.lock().unwrap() = Ok(registry(2, 4));
        *p.fail_puts.lock().unwrap() = 1;
        let e = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap_err();
        let ReconcileError::Incomplete(r) = e else {
            panic!("{e}");
        };
        assert!(!r.policy_applied && !r.removals_applied && r.partial);
        assert_eq!(r.failures.len(), 1);
        assert_eq!(r.failures[0].change, "PutBucketPolicy");
        assert!(r.failures[0].error.contains("InternalError"));
        assert_eq!(
            r.kms_grants_revoked, 1,
            "the KMS revocation does not wait for the policy"
        );
        assert_eq!(p.inner.policies.lock().unwrap()["shared"], before);
        let msgs = n.messages.lock().unwrap().clone();
        assert!(
            msgs[0].1.contains("THE BUCKET POLICY WAS NOT REPLACED"),
            "{}",
            msgs[0].1
        );
        // The retry (Lambda's) applies the policy.
        let retry = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        assert!(retry.policy_applied && retry.removals_applied && !retry.partial);
        assert_eq!((retry.kms_grants_created, retry.kms_grants_revoked), (0, 0));
        assert!(!p.inner.policies.lock().unwrap()["shared"].contains(&role(&account(2))));
        let third = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        assert!(!third.policy_applied && third.policy_attempts == 0);
    }

    /// One CreateGrant fails: the other CreateGrants and the RevokeGrants are made; the run is
    /// incomplete, names the grant, and the retry creates it.
    #[tokio::test]
    async fn one_failing_create_grant_stops_no_other_kms_change() {
        let (g, p, c, n) = (
            FakeGrants::new(registry(3, 4)),
            FakePolicies::default(),
            config(),
            FakeNotifier::default(),
        );
        let k = FailingKeyGrants::<FakeKeyGrants>::default();
        let s = settings();
        reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        // Account 0 leaves, 3 and 4 arrive; CreateGrant fails for 3.
        *g.registry.lock().unwrap() =
            Ok(Registry::new(registry(5, 4).grants()[1..].to_vec()).unwrap());
        let failing = format!("warden-{}-read", account(3));
        k.fail_create.lock().unwrap().push(failing.clone());
        let e = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap_err();
        let ReconcileError::Incomplete(r) = e else {
            panic!("{e}");
        };
        assert!(r.policy_applied && r.removals_applied);
        assert_eq!((r.kms_grants_created, r.kms_grants_revoked), (1, 1));
        assert_eq!(r.failures.len(), 1);
        assert_eq!(r.failures[0].change, "CreateGrant");
        assert!(r.failures[0].item.contains(&failing), "{:?}", r.failures);
        let msgs = n.messages.lock().unwrap().clone();
        assert_eq!(msgs.len(), 1);
        assert!(
            msgs[0].1.contains(&failing) && msgs[0].1.contains("Lambda retries"),
            "{}",
            msgs[0].1
        );
        k.fail_create.lock().unwrap().clear();
        let retry = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        assert_eq!((retry.kms_grants_created, retry.kms_grants_revoked), (1, 0));
        assert!(!retry.partial && !retry.policy_applied);
    }

    /// A RevokeGrant that fails does not stop the others (nor the creates).
    #[tokio::test]
    async fn one_failing_revoke_grant_stops_no_other_kms_change() {
        let (g, p, c, n) = (
            FakeGrants::new(registry(3, 4)),
            FakePolicies::default(),
            config(),
            FakeNotifier::default(),
        );
        let k = FailingKeyGrants::<FakeKeyGrants>::default();
        let s = settings();
        reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap();
        let first = k.inner.grants.lock().unwrap()[0].grant_id.clone();
        k.fail_revoke.lock().unwrap().push(first);
        // Accounts 0 and 1 leave, 3 arrives.
        let mut next = registry(4, 4).grants()[2..].to_vec();
        next.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        *g.registry.lock().unwrap() = Ok(Registry::new(next).unwrap());
        let e = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap_err();
        let ReconcileError::Incomplete(r) = e else {
            panic!("{e}");
        };
        assert_eq!((r.kms_grants_created, r.kms_grants_revoked), (1, 1));
        assert_eq!(r.failures[0].change, "RevokeGrant");
        assert!(e_text(&r).contains("RevokeGrant"));
    }

    fn e_text(r: &Report) -> String {
        ReconcileError::Incomplete(Box::new(r.clone())).to_string()
    }

    #[tokio::test]
    async fn attack_ssm_baseline_with_allow_for_another_account_is_refused_and_alerted() {
        let (g, p, k, n) = (
            FakeGrants::new(registry(2, 4)),
            FakePolicies::default(),
            FakeKeyGrants::default(),
            FakeNotifier::default(),
        );
        let s = settings();
        let mut statements = render::baseline_statements(&s.render);
        statements.extend(
            Policy::parse(r#"{"Version":"2012-10-17","Statement":[{"Sid":"PartnerRead","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444444444444:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}"#)
                .unwrap()
                .statements,
        );
        let c = FakeConfig {
            values: BTreeMap::from([(
                s.baseline_parameter.clone(),
                Policy::new(statements).to_compact_json(),
            )]),
        };
        let e = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap_err();
        assert!(matches!(e, ReconcileError::BaselineRefused { .. }), "{e}");
        assert!(p.policies.lock().unwrap().is_empty(), "nothing applied");
        assert!(k.grants.lock().unwrap().is_empty(), "no KMS grant either");
        let msgs = n.messages.lock().unwrap();
        assert_eq!(msgs.len(), 1);
        let (subject, body) = &msgs[0];
        assert!(subject.contains("baseline refused"), "{subject}");
        assert!(
            body.contains("statement \"PartnerRead\" (#4): only the baseline Deny statements")
                && body.contains("Effect Deny")
                && body.contains("/warden/test/bucket-policy-baseline"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn bad_baseline_names_the_parameter() {
        let (g, p, k, n) = (
            FakeGrants::new(registry(1, 4)),
            FakePolicies::default(),
            FakeKeyGrants::default(),
            FakeNotifier::default(),
        );
        let s = settings();
        let c = FakeConfig {
            values: BTreeMap::from([(s.baseline_parameter.clone(), "{".into())]),
        };
        let e = reconcile(&g, &p, &FakeAccessPoints::default(), &k, &c, &n, &s, now())
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("baseline parameter /warden/test/bucket-policy-baseline"),
            "{e}"
        );
    }

    // --- The access-point tier (issue 16) ------------------------------------------------------

    fn ap_settings(mode: SharingMode) -> Settings {
        Settings {
            sharing: mode,
            ..settings()
        }
    }

    /// `n` consumers with two prefixes each (the layout spec 000 describes).
    fn two_prefix_registry(n: usize, level_of: impl Fn(usize) -> &'static str) -> Registry {
        Registry::new(
            (0..n)
                .map(|i| {
                    Grant::from_input(
                        &GrantInput {
                            account_id: account(i),
                            name: None,
                            allowed_prefixes: vec![
                                format!("consumer-{i}/inbound/"),
                                format!("consumer-{i}/shared/"),
                            ],
                            access_level: level_of(i).into(),
                            expiration_date: "2027-01-01T00:00:00Z".into(),
                            owner_email: None,
                            external_id: None,
                            created_by: None,
                            created_at: None,
                        },
                        now(),
                    )
                    .unwrap()
                })
                .collect(),
        )
        .unwrap()
    }

    fn ap_name(i: usize) -> String {
        format!("warden-test-{}", account(i))
    }

    /// 1,000 consumers from empty: 20 in the bucket policy, 980 on access points, every KMS
    /// grant. Then one grant changes level: exactly that consumer's access point policy and KMS
    /// grant are written, nothing else (the calls are counted).
    #[tokio::test]
    async fn a_thousand_consumers_then_one_changed_grant_writes_only_that_consumer() {
        let (g, p, a, k, c, n) = (
            FakeGrants::new(two_prefix_registry(1000, |_| "read")),
            FakePolicies::default(),
            FakeAccessPoints::default(),
            FakeKeyGrants::default(),
            config(),
            FakeNotifier::default(),
        );
        let s = ap_settings(SharingMode::Auto { threshold: 20 });
        let r = reconcile(&g, &p, &a, &k, &c, &n, &s, now()).await.unwrap();
        assert!(!r.partial, "{r:?}");
        assert_eq!(
            (
                r.access_point_consumers,
                r.access_points_created,
                r.access_point_policies_written,
                r.grants_applied,
                r.kms_grants_created
            ),
            (980, 980, 980, 20, 1000)
        );
        let live = p.policies.lock().unwrap().get("shared").cloned().unwrap();
        assert!(
            live.len() <= 20 * 1024,
            "bucket policy {} bytes",
            live.len()
        );
        assert!(live.contains("DelegateToWardenAccessPoints"));
        assert!(live.contains(&role(&account(19))));
        assert!(
            !live.contains(&role(&account(20))),
            "consumers past the threshold are not in the bucket policy"
        );
        let ap = a.policy(&ap_name(500)).unwrap();
        assert!(ap.contains(&role(&account(500))) && ap.contains("consumer-500/shared/*"));
        assert!(
            a.policy(&ap_name(19)).is_none(),
            "bucket-tier consumers get no access point"
        );

        // Nothing changed: nothing is written.
        a.reset_counts();
        let again = reconcile(&g, &p, &a, &k, &c, &n, &s, now()).await.unwrap();
        assert_eq!(
            (
                again.policy_applied,
                again.access_points_created,
                again.access_point_policies_written,
                again.access_point_policies_removed,
                again.kms_grants_created,
                again.kms_grants_revoked
            ),
            (false, 0, 0, 0, 0, 0)
        );
        assert_eq!(
            (a.calls("put"), a.calls("create"), a.calls("delete")),
            (0, 0, 0)
        );
        assert_eq!(a.calls("get"), 980, "one read per access point");

        // One grant changes: consumer 500 becomes read-write.
        *g.registry.lock().unwrap() = Ok(two_prefix_registry(1000, |i| {
            if i == 500 { "read-write" } else { "read" }
        }));
        a.reset_counts();
        let puts_before = *p.puts.lock().unwrap();
        let one = reconcile(&g, &p, &a, &k, &c, &n, &s, now()).await.unwrap();
        assert_eq!(*a.written.lock().unwrap(), vec![ap_name(500)]);
        assert_eq!(
            (a.calls("put"), a.calls("create"), a.calls("delete")),
            (1, 0, 0)
        );
        assert_eq!((one.kms_grants_created, one.kms_grants_revoked), (1, 1));
        assert_eq!(
            *p.puts.lock().unwrap(),
            puts_before,
            "the bucket policy is not written"
        );
        assert!(!one.policy_applied);
        let grants = k.grants.lock().unwrap();
        assert!(grants.iter().any(|x| x.name.as_deref()
            == Some(&*format!("warden-{}-read-write", account(500)))));
        assert_eq!(grants.len(), 1000);
    }

    /// Revoking a consumer on an access point removes that access point's policy and its KMS
    /// grant; the bucket policy and every other access point are left alone.
    #[tokio::test]
    async fn revoking_a_consumer_on_an_access_point_removes_its_policy_and_kms_grant() {
        let (g, p, a, k, c, n) = (
            FakeGrants::new(two_prefix_registry(30, |_| "read")),
            FakePolicies::default(),
            FakeAccessPoints::default(),
            FakeKeyGrants::default(),
            config(),
            FakeNotifier::default(),
        );
        let s = ap_settings(SharingMode::Auto { threshold: 20 });
        reconcile(&g, &p, &a, &k, &c, &n, &s, now()).await.unwrap();
        let kept: Vec<usize> = (0..30).filter(|&i| i != 25).collect();
        *g.registry.lock().unwrap() = Ok(two_prefix_registry(30, |_| "read").subset(&kept));
        a.reset_counts();
        let r = reconcile(&g, &p, &a, &k, &c, &n, &s, now()).await.unwrap();
        assert_eq!(
            (
                r.access_point_policies_removed,
                r.access_point_policies_written,
                r.kms_grants_revoked
            ),
            (1, 0, 1)
        );
        assert!(a.policy(&ap_name(25)).is_none());
        assert!(a.policy(&ap_name(26)).is_some());
        assert!(
            !k.grants
                .lock()
                .unwrap()
                .iter()
                .any(|x| x.grantee_principal == role(&account(25)))
        );
    }

    /// S3 refuses the access point policy of a consumer whose role does not exist: that
    /// consumer is left out (no KMS grant) and named; every other consumer is applied.
    #[tokio::test]
    async fn an_access_point_policy_s3_refuses_leaves_only_that_consumer_out() {
        let (g, p, a, k, c, n) = (
            FakeGrants::new(two_prefix_registry(5, |_| "read")),
            FakePolicies::default(),
            FakeAccessPoints::default(),
            FakeKeyGrants::default(),
            config(),
            FakeNotifier::default(),
        );
        a.refused.lock().unwrap().push(role(&account(3)));
        let s = ap_settings(SharingMode::AccessPoints);
        let r = reconcile(&g, &p, &a, &k, &c, &n, &s, now()).await.unwrap();
        assert!(r.partial);
        assert_eq!(r.excluded.len(), 1, "{r:?}");
        assert_eq!(r.excluded[0].account_id, account(3));
        assert_eq!(r.excluded[0].kind, ExclusionKind::Refused);
        assert!(
            r.excluded[0].rule.contains(&ap_name(3)),
            "{}",
            r.excluded[0].rule
        );
        assert_eq!(
            (r.access_point_policies_written, r.kms_grants_created),
            (4, 4)
        );
        assert!(
            n.messages
                .lock()
                .unwrap()
                .iter()
                .any(|(_, body)| body.contains(&account(3)))
        );
        // Every consumer is on an access point: the bucket policy holds no grant, only the
        // baseline and the delegation.
        let live = p.policies.lock().unwrap().get("shared").cloned().unwrap();
        assert!(
            live.contains("DelegateToWardenAccessPoints") && !live.contains(&role(&account(0)))
        );
    }

    /// A throttled PutAccessPointPolicy (after the SDK's retries) fails the run, so that Lambda
    /// retries it, with every other change applied; the retry finishes the job.
    #[tokio::test]
    async fn a_throttled_access_point_write_fails_the_run_and_the_retry_finishes() {
        let (g, p, a, k, c, n) = (
            FakeGrants::new(two_prefix_registry(4, |_| "read")),
            FakePolicies::default(),
            FakeAccessPoints::default(),
            FakeKeyGrants::default(),
            config(),
            FakeNotifier::default(),
        );
        *a.throttle_puts.lock().unwrap() = 1;
        let s = ap_settings(SharingMode::AccessPoints);
        let e = reconcile(&g, &p, &a, &k, &c, &n, &s, now())
            .await
            .unwrap_err();
        let ReconcileError::Incomplete(r) = e else {
            panic!("{e}")
        };
        assert_eq!(r.failures.len(), 1, "{r:?}");
        assert_eq!(r.failures[0].change, "PutAccessPointPolicy");
        assert_eq!(r.access_point_policies_written, 3);
        let retry = reconcile(&g, &p, &a, &k, &c, &n, &s, now()).await.unwrap();
        assert!(!retry.partial);
        assert_eq!(retry.access_point_policies_written, 1);
        assert!((0..4).all(|i| a.policy(&ap_name(i)).is_some()));
    }

    /// A narrowing change (a prefix removed) whose PutAccessPointPolicy fails must not leave the
    /// wider policy in force: it is removed (fail closed) and the consumer's KMS grant with it;
    /// the run fails, and the retry writes the narrower policy and grant back.
    #[tokio::test]
    async fn a_failed_narrowing_write_removes_the_wider_policy() {
        let (g, p, a, k, c, n) = (
            FakeGrants::new(two_prefix_registry(3, |_| "read")),
            FakePolicies::default(),
            FakeAccessPoints::default(),
            FakeKeyGrants::default(),
            config(),
            FakeNotifier::default(),
        );
        let s = ap_settings(SharingMode::AccessPoints);
        reconcile(&g, &p, &a, &k, &c, &n, &s, now()).await.unwrap();
        assert!(
            a.policy(&ap_name(1))
                .unwrap()
                .contains("consumer-1/inbound/")
        );
        // Consumer 1 loses consumer-1/inbound/.
        let mut grants: Vec<Grant> = two_prefix_registry(3, |_| "read").grants().to_vec();
        grants[1] = Grant::from_input(
            &GrantInput {
                account_id: account(1),
                name: None,
                allowed_prefixes: vec!["consumer-1/shared/".into()],
                access_level: "read".into(),
                expiration_date: "2027-01-01T00:00:00Z".into(),
                owner_email: None,
                external_id: None,
                created_by: None,
                created_at: None,
            },
            now(),
        )
        .unwrap();
        *g.registry.lock().unwrap() = Ok(Registry::new(grants).unwrap());
        *a.throttle_puts.lock().unwrap() = 1;
        let e = reconcile(&g, &p, &a, &k, &c, &n, &s, now())
            .await
            .unwrap_err();
        let ReconcileError::Incomplete(r) = e else {
            panic!("{e}")
        };
        assert_eq!(r.failures[0].change, "PutAccessPointPolicy", "{r:?}");
        assert_eq!(
            a.policy(&ap_name(1)),
            None,
            "the wider policy is not left in force"
        );
        assert_eq!(
            (r.access_point_policies_removed, r.kms_grants_revoked),
            (1, 1)
        );
        let retry = reconcile(&g, &p, &a, &k, &c, &n, &s, now()).await.unwrap();
        assert!(!retry.partial);
        let now_live = a.policy(&ap_name(1)).unwrap();
        assert!(
            now_live.contains("consumer-1/shared/") && !now_live.contains("consumer-1/inbound/")
        );
        assert_eq!(retry.kms_grants_created, 1);
    }

    /// Access points on the bucket that are not named `<prefix>-<account>` are someone else's:
    /// never read, written or emptied. A Warden access point whose consumer moved back to the
    /// bucket tier loses its policy.
    #[tokio::test]
    async fn only_warden_access_points_are_touched() {
        let (g, p, a, k, c, n) = (
            FakeGrants::new(two_prefix_registry(3, |_| "read")),
            FakePolicies::default(),
            FakeAccessPoints::default(),
            FakeKeyGrants::default(),
            config(),
            FakeNotifier::default(),
        );
        a.points.lock().unwrap().insert(
            "analytics-team".into(),
            (
                "shared".into(),
                Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into()),
            ),
        );
        reconcile(
            &g,
            &p,
            &a,
            &k,
            &c,
            &n,
            &ap_settings(SharingMode::AccessPoints),
            now(),
        )
        .await
        .unwrap();
        assert!(a.policy(&ap_name(2)).is_some());
        let back = reconcile(
            &g,
            &p,
            &a,
            &k,
            &c,
            &n,
            &ap_settings(SharingMode::BucketPolicy),
            now(),
        )
        .await
        .unwrap();
        assert_eq!(back.access_point_policies_removed, 3);
        assert_eq!(back.access_point_consumers, 0);
        assert!(
            a.policy("analytics-team").is_some(),
            "not Warden's: untouched"
        );
        let live = p.policies.lock().unwrap().get("shared").cloned().unwrap();
        assert!(
            live.contains(&role(&account(2))) && !live.contains("DelegateToWardenAccessPoints")
        );
        assert_eq!(k.grants.lock().unwrap().len(), 3);
    }
}
