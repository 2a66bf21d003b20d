//! Reconciliation: what the policy-reconciler must change so that the bucket policy and the KMS
//! grants equal the render of the registry. Pure planning; the Lambda applies the plan through
//! its ports. Idempotent: a second run over an applied plan plans nothing.
//!
//! [`plan`] compares the whole render with what is live (governance-check reports the
//! difference). The reconciler applies per grant: [`Desired`] ranks the active grants and keeps
//! the ones that fit the budget, [`PolicySearch`] finds the grants S3 refuses with bounded
//! `PutBucketPolicy` calls, [`kms_changes`] diffs the KMS grants of what is applied; a grant left
//! out is an [`ExcludedGrant`], named with its rule, and never holds back a removal.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::grant::{AccountId, Grant, Registry, Timestamp};
use crate::policy::model::{Effect, Policy, Principal, Statement};
use crate::policy::render::{self, KmsGrantSpec, RenderError, RenderSettings};

/// A KMS grant as it exists on the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveGrant {
    /// KMS grant ID (needed to retire it).
    pub grant_id: String,
    /// Grant name (Warden names its grants `warden-<account>-<level>`).
    pub name: Option<String>,
    /// Grantee principal.
    pub grantee_principal: String,
    /// Operations, as KMS reports them.
    pub operations: Vec<String>,
    /// The `EncryptionContextSubset` constraint, when the grant has one.
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
    /// The `EncryptionContextEquals` constraint, when the grant has one.
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
}

/// What to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The new bucket policy, when it differs from the live one.
    pub bucket_policy: Option<String>,
    /// Size of the rendered bucket policy in bytes.
    pub bucket_policy_size: usize,
    /// KMS grants to create.
    pub create_grants: Vec<KmsGrantSpec>,
    /// KMS grants to retire (Warden-named grants no longer in the registry, or changed).
    pub retire_grants: Vec<LiveGrant>,
}

impl Plan {
    /// Whether nothing needs to change.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bucket_policy.is_none()
            && self.create_grants.is_empty()
            && self.retire_grants.is_empty()
    }
}

/// Prefix of every KMS grant name Warden owns; grants with other names are never touched.
pub const GRANT_NAME_PREFIX: &str = "warden-";

/// Canonical form of a policy document for comparison (key order and shapes normalised).
fn canonical(text: &str) -> Option<String> {
    Policy::parse(text).ok().map(|p| {
        let mut v = p.to_value();
        sort_value(&mut v);
        v.to_string()
    })
}

fn sort_value(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            let mut entries: Vec<(String, serde_json::Value)> =
                std::mem::take(m).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, mut val) in entries {
                sort_value(&mut val);
                m.insert(k, val);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(sort_value),
        _ => {}
    }
}

/// Whether two policy documents say the same thing (ignoring key order and formatting).
#[must_use]
pub fn same_policy(a: &str, b: &str) -> bool {
    match (canonical(a), canonical(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// One baseline statement the reconciler refuses, and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaselineViolation {
    /// The statement (`"Sid" (#index)`, `#index`, or the missing Sid).
    pub statement: String,
    /// The rule.
    pub rule: String,
}

impl std::fmt::Display for BaselineViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "statement {}: {}", self.statement, self.rule)
    }
}

/// The baseline handed to the reconciler is not the known baseline: nothing may be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct BaselineRejected {
    /// Every violation found.
    pub violations: Vec<BaselineViolation>,
}

/// Rule: Deny only.
pub const RULE_DENY: &str =
    "a baseline statement must have Effect Deny (grants come from the registry only)";
/// Rule: every principal.
pub const RULE_EVERYONE: &str =
    "a baseline statement must apply to every principal: Principal \"*\" and no NotPrincipal";
/// Rule: each known statement once.
pub const RULE_ONCE: &str = "each baseline statement may appear only once";
/// Rule: none missing.
pub const RULE_PRESENT: &str =
    "this baseline statement is missing; without it the bucket policy would be weaker";

/// Sids of the baseline statements Terraform owns (`terraform/data-sharing/s3-bucket-policy.tf`,
/// the same statements as [`render::baseline_statements`]): the only statements the reconciler
/// accepts from the baseline parameter.
#[must_use]
pub fn baseline_sids(settings: &RenderSettings) -> Vec<String> {
    render::baseline_statements(settings)
        .into_iter()
        .filter_map(|st| st.sid)
        .collect()
}

fn everyone(p: Option<&Principal>) -> bool {
    match p {
        Some(Principal::Any) => true,
        Some(Principal::Map(m)) => {
            m.len() == 1
                && m.get("AWS")
                    .is_some_and(|v| !v.items.is_empty() && v.items.iter().all(|s| s == "*"))
        }
        None => false,
    }
}

/// Accept the baseline statements only if they are the known baseline Deny statements
/// ([`baseline_sids`], each once, `Effect: Deny`, `Principal: "*"`). A Deny for everyone can
/// only take access away; anything else (an `Allow` for another account, a statement with
/// another Sid, a Deny narrowed to some principals) would be applied to the shared bucket
/// without the registry knowing, so it is refused — as is a baseline missing one of its
/// statements, which would weaken the policy silently.
///
/// # Errors
/// [`BaselineRejected`] listing every statement refused and the rule it breaks.
pub fn accept_baseline(
    statements: &[Statement],
    settings: &RenderSettings,
) -> Result<(), BaselineRejected> {
    let known = baseline_sids(settings);
    let known_rule = format!(
        "only the baseline Deny statements {} are accepted",
        known.join(", ")
    );
    let mut violations = Vec::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for (i, st) in statements.iter().enumerate() {
        let label = st.label(i);
        let mut refuse = |rule: &str| {
            violations.push(BaselineViolation {
                statement: label.clone(),
                rule: rule.to_owned(),
            });
        };
        match st.sid.as_deref() {
            Some(sid) if known.iter().any(|k| k == sid) => {
                if !seen.insert(sid) {
                    refuse(RULE_ONCE);
                }
            }
            _ => refuse(&known_rule),
        }
        if st.effect != Effect::Deny {
            refuse(RULE_DENY);
        }
        if !everyone(st.principal.as_ref()) || st.not_principal.is_some() {
            refuse(RULE_EVERYONE);
        }
    }
    for sid in &known {
        if !seen.contains(sid.as_str()) {
            violations.push(BaselineViolation {
                statement: format!("{sid:?}"),
                rule: RULE_PRESENT.to_owned(),
            });
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(BaselineRejected { violations })
    }
}

fn sorted<I: IntoIterator<Item = String>>(items: I) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().collect();
    v.sort();
    v.dedup();
    v
}

fn normal_principal(p: &Principal) -> serde_json::Value {
    match p {
        Principal::Any => serde_json::json!({"AWS": ["*"]}),
        Principal::Map(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), serde_json::json!(sorted(v.items.clone()))))
                .collect(),
        ),
    }
}

/// A statement in a canonical form that compares by meaning: lists as sorted sets, a single
/// value equal to a one-element list, `"*"` equal to `{"AWS": "*"}`, actions and condition keys
/// case-insensitive (as IAM treats them).
#[must_use]
pub fn normal_statement(st: &Statement) -> serde_json::Value {
    let list = |l: &Option<crate::policy::model::StrList>, lower: bool| {
        l.as_ref().map(|l| {
            sorted(l.items.iter().map(|s| {
                if lower {
                    s.to_ascii_lowercase()
                } else {
                    s.clone()
                }
            }))
        })
    };
    let condition: Option<BTreeMap<String, BTreeMap<String, Vec<String>>>> =
        st.condition.as_ref().map(|c| {
            c.iter()
                .map(|(op, keys)| {
                    (
                        op.clone(),
                        keys.iter()
                            .map(|(k, v)| {
                                (
                                    k.to_ascii_lowercase(),
                                    sorted(v.items.iter().map(|x| x.as_text())),
                                )
                            })
                            .collect(),
                    )
                })
                .collect()
        });
    serde_json::json!({
        "Sid": st.sid,
        "Effect": st.effect.as_str(),
        "Principal": st.principal.as_ref().map(normal_principal),
        "NotPrincipal": st.not_principal.as_ref().map(normal_principal),
        "Action": list(&st.action, true),
        "NotAction": list(&st.not_action, true),
        "Resource": list(&st.resource, false),
        "NotResource": list(&st.not_resource, false),
        "Condition": condition,
    })
}

/// Plan the changes.
///
/// # Errors
/// The rendered policy would exceed an AWS size limit; nothing must be applied.
pub fn plan(
    registry: &Registry,
    settings: &RenderSettings,
    baseline: Vec<Statement>,
    live_policy: Option<&str>,
    live_grants: &[LiveGrant],
    now: DateTime<Utc>,
) -> Result<Plan, RenderError> {
    let rendered = render::bucket_policy_with_baseline(registry, settings, baseline, now)?;
    let json = rendered.policy.to_compact_json();
    let bucket_policy = match live_policy {
        Some(live) if same_policy(live, &json) => None,
        _ => Some(json),
    };
    // The key policy is rendered for its size check (governance reports it over budget).
    let desired = render::kms(registry, settings, now)?.grants;
    let (create_grants, retire_grants) = kms_changes(&desired, live_grants);
    Ok(Plan {
        bucket_policy,
        bucket_policy_size: rendered.size,
        create_grants,
        retire_grants,
    })
}

/// The KMS changes that make the Warden-named grants on the key equal `desired`: the specs to
/// create and the live grants to retire (no longer desired, or changed). Grants whose names do not
/// start with [`GRANT_NAME_PREFIX`] are never touched.
#[must_use]
pub fn kms_changes(
    desired: &[KmsGrantSpec],
    live_grants: &[LiveGrant],
) -> (Vec<KmsGrantSpec>, Vec<LiveGrant>) {
    let ours: Vec<&LiveGrant> = live_grants
        .iter()
        .filter(|g| {
            g.name
                .as_deref()
                .is_some_and(|n| n.starts_with(GRANT_NAME_PREFIX))
        })
        .collect();
    let matches = |d: &KmsGrantSpec, g: &LiveGrant| {
        g.name.as_deref() == Some(d.name.as_str())
            && g.grantee_principal == d.grantee_principal
            && g.operations.iter().collect::<BTreeSet<_>>()
                == d.operations.iter().collect::<BTreeSet<_>>()
            // A grant constrained to another context (or to none) is replaced: with the wrong
            // constraint the consumer reads the bucket but cannot decrypt.
            && g.encryption_context_subset.as_ref() == Some(&d.encryption_context_subset)
            && g.encryption_context_equals.is_none()
    };
    let create = desired
        .iter()
        .filter(|d| !ours.iter().any(|g| matches(d, g)))
        .cloned()
        .collect();
    let retire = ours
        .into_iter()
        .filter(|g| !desired.iter().any(|d| matches(d, g)))
        .cloned()
        .collect();
    (create, retire)
}

// ---------------------------------------------------------------------------------------------
// Per-grant reconciliation (issue 14, item 4). One broken grant must not hold back every other
// change: a grant that does not fit the bucket-policy budget, or whose principal S3 refuses, is
// left out of the applied policy (and gets no KMS grant) and reported by name; every other grant is
// applied, and every removal with it — removed and expired grants are simply not in any document
// the reconciler puts, so each accepted PutBucketPolicy applies every removal.
//
// S3 refuses a whole document (`MalformedPolicy: Invalid principal in policy`) when a principal in
// it does not exist, e.g. a consumer role that was deleted or not created yet, without saying which
// one (https://repost.aws/knowledge-center/s3-invalid-principal-in-policy-error). The offending
// grants are found with [`PolicySearch`], adaptive group testing over bounded PutBucketPolicy calls:
// the grants whose role ARN the live policy already names are tried first (S3 stores a role ARN as
// the role's unique ID and shows the ARN again only while the role exists: a deleted role shows up
// in the live policy as `AROA…`, https://repost.aws/knowledge-center/iam-resource-policy-format and
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html),
// then the others are bisected.

/// Most `PutBucketPolicy` calls one run makes while looking for the grants S3 refuses (plus, when
/// no document was accepted at all, one call with the baseline alone, so that removals still
/// happen; documents equal to the live policy are not put and not counted). One broken consumer
/// role among `n` unknown ones costs about `2 + log2(n)` calls, each further one about as many
/// again. Grants not decided within the bound are left out, reported, and tried again by the next
/// run, which starts from what this run applied: the grants accepted here are then named by the
/// live policy and tried first. A run can stall only when so many roles are broken (about a dozen
/// new consumers without their consumer role) that every part it can afford to try holds one.
pub const MAX_POLICY_ATTEMPTS: usize = 32;

/// Whether a failed `PutBucketPolicy` (its error text, as the adapter reports it) is S3 refusing
/// the document for its content (`MalformedPolicy`: an invalid principal, …), which the same
/// document will get again, rather than a failure a retry may fix (throttling, 5xx, network).
#[must_use]
pub fn is_policy_refusal(error: &str) -> bool {
    error.contains("MalformedPolicy")
}

/// The service's own message in an SDK error text (`message: "…"`), or the whole text.
#[must_use]
pub fn service_message(error: &str) -> &str {
    const KEY: &str = "message: \"";
    error
        .find(KEY)
        .and_then(|i| error.get(i + KEY.len()..))
        .and_then(|rest| rest.find('"').and_then(|j| rest.get(..j)))
        .unwrap_or(error)
}

fn aws_of(st: &Statement) -> &[String] {
    match &st.principal {
        Some(Principal::Map(m)) => m.get("AWS").map_or(&[], |v| v.items.as_slice()),
        _ => &[],
    }
}

fn aws_principals(text: &str) -> Vec<String> {
    let Ok(policy) = Policy::parse(text) else {
        return Vec::new();
    };
    policy
        .statements
        .iter()
        .flat_map(|st| aws_of(st).iter().cloned())
        .collect()
}

/// A principal that is a unique ID rather than an ARN, an account ID or `*`.
fn is_unique_id(p: &str) -> bool {
    p != "*" && !p.starts_with("arn:") && !p.chars().all(|c| c.is_ascii_digit())
}

/// The `AWS` principals a policy document names, verbatim (empty when it does not parse).
#[must_use]
pub fn policy_principals(text: &str) -> BTreeSet<String> {
    aws_principals(text).into_iter().collect()
}

/// Principals of a live policy that are unique IDs (`AROA…` for roles, `AIDA…` for users) rather
/// than ARNs, account IDs or `*`: S3 shows the unique ID once the role or user it stood for was
/// deleted (https://repost.aws/knowledge-center/iam-resource-policy-format).
#[must_use]
pub fn deleted_principal_ids(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = aws_principals(text)
        .into_iter()
        .filter(|p| is_unique_id(p))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Why a grant was left out of the applied bucket policy (it gets no KMS grant either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExclusionKind {
    /// It does not fit in the bucket-policy budget after the grants ranked before it.
    OverBudget,
    /// S3 refused every bucket policy that contained it (for a grant, an invalid principal: its
    /// consumer role does not exist).
    Refused,
    /// Not decided within [`MAX_POLICY_ATTEMPTS`]; the next run tries again.
    Unverified,
}

/// A grant left out of the applied bucket policy, by name, with the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExcludedGrant {
    /// Consumer account.
    pub account_id: String,
    /// `read` / `read-write`.
    pub access_level: String,
    /// Granted prefixes.
    pub allowed_prefixes: Vec<String>,
    /// The consumer role the grant names.
    pub principal: String,
    /// Why, in one word.
    pub kind: ExclusionKind,
    /// Why, for a person, with what to do.
    pub rule: String,
}

impl std::fmt::Display for ExcludedGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "grant of {} ({} on {}): {}",
            self.account_id,
            self.access_level,
            self.allowed_prefixes.join(", "),
            self.rule
        )
    }
}

/// Rule of [`ExclusionKind::OverBudget`].
pub const RULE_OVER_BUDGET: &str = "does not fit in the 20480-byte bucket policy after the grants ranked before it (declared grants first, then self-service grants oldest first); give grants that share prefixes and level the same expiry so they pack into one statement, shorten prefixes, or move consumers to one S3 Access Point each (DESIGN.md, decision 3)";

/// Rule of [`ExclusionKind::Refused`], with S3's message.
#[must_use]
pub fn rule_refused(principal: &str, account: &str, message: &str) -> String {
    if message.contains("Invalid principal") {
        format!(
            "S3 refuses every bucket policy naming {principal} ({message}): the consumer role does not exist — it was deleted, or consumer-role/ has not been applied in account {account} yet. Apply consumer-role/ in that account; the next run applies the grant"
        )
    } else {
        format!(
            "S3 refuses every bucket policy containing this grant ({message}); fix or delete the grant in the registry"
        )
    }
}

/// Rule of [`ExclusionKind::Unverified`].
#[must_use]
pub fn rule_unverified(max_attempts: usize) -> String {
    format!(
        "not verified: the run reached its limit of {max_attempts} PutBucketPolicy attempts while looking for the grants S3 refuses; left out for now, the next run tries again"
    )
}

/// The order in which grants take the bucket-policy budget: declared grants (Terraform, reviewed
/// as code) first, then self-service grants oldest first (a new grant never pushes out one that is
/// already in force), then account and prefixes. It depends on the registry alone, so which grants
/// fit never depends on the live state.
fn rank_key(g: &Grant) -> (bool, Timestamp, String, Vec<String>) {
    (
        g.created_by != "terraform",
        g.created_at,
        g.account_id.to_string(),
        g.allowed_prefixes.iter().map(ToString::to_string).collect(),
    )
}

/// The grants one run wants applied: the registry's active grants in rank order (declared first,
/// then self-service oldest first), with renders of any subset of them. Grants are named by their
/// position in [`Desired::grants`].
#[derive(Debug, Clone)]
pub struct Desired {
    settings: RenderSettings,
    baseline: Vec<Statement>,
    grants: Registry,
    now: DateTime<Utc>,
}

/// Which grants fit the bucket-policy budget ([`Desired::fit_budget`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    /// Positions of the grants that fit, in rank order.
    pub fitted: Vec<usize>,
    /// Positions of the grants left out, in rank order.
    pub over_budget: Vec<usize>,
}

impl Desired {
    /// The active grants of `registry` at `now`, ranked, on top of `baseline`.
    #[must_use]
    pub fn new(
        registry: &Registry,
        settings: &RenderSettings,
        baseline: Vec<Statement>,
        now: DateTime<Utc>,
    ) -> Self {
        let all = registry.grants();
        let mut order: Vec<usize> = (0..all.len())
            .filter(|&i| all.get(i).is_some_and(|g| g.is_active(now)))
            .collect();
        order.sort_by_cached_key(|&i| all.get(i).map(rank_key));
        Desired {
            settings: settings.clone(),
            baseline,
            grants: registry.subset(&order),
            now,
        }
    }

    /// The active grants, in rank order.
    #[must_use]
    pub fn grants(&self) -> &[Grant] {
        self.grants.grants()
    }

    /// The consumer role of the grant at `i`.
    #[must_use]
    pub fn principal(&self, i: usize) -> Option<String> {
        self.grants()
            .get(i)
            .map(|g| self.settings.consumer_role_arn(&g.account_id))
    }

    /// The bucket policy of the baseline and the grants at `include`.
    ///
    /// # Errors
    /// The document would exceed the bucket-policy budget.
    pub fn render(&self, include: &[usize]) -> Result<render::Rendered, RenderError> {
        render::bucket_policy_with_baseline(
            &self.grants.subset(include),
            &self.settings,
            self.baseline.clone(),
            self.now,
        )
    }

    /// The KMS grant specs of the grants at `include`.
    #[must_use]
    pub fn kms_grants(&self, include: &[usize]) -> Vec<KmsGrantSpec> {
        render::kms_grants(&self.grants.subset(include), &self.settings, self.now)
    }

    /// Keep the grants that fit the 20 KB bucket-policy budget, in rank order: a grant is kept
    /// when the policy of every grant kept before it plus this one fits, otherwise left out (a
    /// later, smaller grant or one that packs into an existing statement may still fit). Every
    /// subset of what fits fits too: leaving grants out only merges or drops statements.
    ///
    /// # Errors
    /// The baseline alone is over the budget: nothing can be applied.
    pub fn fit_budget(&self) -> Result<Fit, RenderError> {
        let n = self.grants().len();
        let all: Vec<usize> = (0..n).collect();
        if self.render(&all).is_ok() {
            return Ok(Fit {
                fitted: all,
                over_budget: Vec::new(),
            });
        }
        self.render(&[])?;
        // The longest ranked prefix that fits (lo fits, hi does not), then the rest one by one.
        let (mut lo, mut hi) = (0, n);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.render(all.get(..mid).unwrap_or_default()).is_ok() {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let mut fitted: Vec<usize> = all.get(..lo).unwrap_or_default().to_vec();
        let mut over_budget = vec![lo];
        for i in lo + 1..n {
            fitted.push(i);
            if self.render(&fitted).is_err() {
                fitted.pop();
                over_budget.push(i);
            }
        }
        Ok(Fit {
            fitted,
            over_budget,
        })
    }

    /// The search for the grants S3 refuses among `fitted`: one unit per consumer role (S3
    /// validates principals, and every grant of an account names the same role), with what
    /// `live_policy` shows of each role ([`Evidence`]).
    #[must_use]
    pub fn search(
        &self,
        fitted: &[usize],
        live_policy: Option<&str>,
        max_attempts: usize,
    ) -> PolicySearch {
        let live = live_policy
            .and_then(|t| Policy::parse(t).ok())
            .map(|p| p.statements)
            .unwrap_or_default();
        let named: BTreeSet<String> = live
            .iter()
            .flat_map(|st| aws_of(st).iter().cloned())
            .collect();
        // Object resources of the live statements that name a principal by unique ID.
        let orphaned: BTreeSet<String> = live
            .iter()
            .filter(|st| aws_of(st).iter().any(|p| is_unique_id(p)))
            .flat_map(|st| st.resource.iter().flat_map(|r| r.items.iter().cloned()))
            .collect();
        let bucket = self.settings.bucket_arn();
        let mut units: Vec<Vec<usize>> = Vec::new();
        let mut evidence: Vec<Evidence> = Vec::new();
        let mut by_role: BTreeMap<String, usize> = BTreeMap::new();
        for &i in fitted {
            let (Some(role), Some(g)) = (self.principal(i), self.grants().get(i)) else {
                continue;
            };
            let shown_deleted = g
                .allowed_prefixes
                .iter()
                .any(|p| orphaned.contains(&format!("{bucket}/{p}*")));
            let unit = match by_role.get(&role) {
                Some(&u) => u,
                None => {
                    by_role.insert(role.clone(), units.len());
                    units.push(Vec::new());
                    evidence.push(if named.contains(&role) {
                        Evidence::Named
                    } else {
                        Evidence::Unknown
                    });
                    units.len() - 1
                }
            };
            if let Some(u) = units.get_mut(unit) {
                u.push(i);
            }
            if let Some(e) = evidence.get_mut(unit)
                && *e == Evidence::Unknown
                && shown_deleted
            {
                *e = Evidence::ShownDeleted;
            }
        }
        PolicySearch::new(units, evidence, max_attempts)
    }

    /// The grant at `i`, refused by S3 with `message` (see [`rule_refused`]).
    #[must_use]
    pub fn refused(&self, i: usize, message: &str) -> Option<ExcludedGrant> {
        let account = self.grants().get(i)?.account_id.to_string();
        let principal = self.principal(i)?;
        self.excluded(
            i,
            ExclusionKind::Refused,
            rule_refused(&principal, &account, message),
        )
    }

    /// The grant at `i`, left out for `kind` with `rule`.
    #[must_use]
    pub fn excluded(&self, i: usize, kind: ExclusionKind, rule: String) -> Option<ExcludedGrant> {
        let g = self.grants().get(i)?;
        Some(ExcludedGrant {
            account_id: g.account_id.to_string(),
            access_level: g.access_level.as_str().to_owned(),
            allowed_prefixes: g.allowed_prefixes.iter().map(ToString::to_string).collect(),
            principal: self.settings.consumer_role_arn(&g.account_id),
            kind,
            rule,
        })
    }
}

/// What the live bucket policy shows of a consumer role, which orders the search: the roles it
/// names are tried first, the roles it shows as deleted last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    /// The live policy names the role's ARN: S3 resolved it, the role exists.
    Named,
    /// The live policy does not name it (a new grant, or no policy yet).
    Unknown,
    /// A live statement for one of the grant's prefixes names a unique ID (`AROA…`) and not
    /// this role: most likely the role was deleted (or deleted and created again, which S3
    /// accepts).
    ShownDeleted,
}

#[derive(Debug, Clone)]
enum Task {
    /// Decide `units` on top of the accepted ones (test number `id`).
    Test { id: usize, units: Vec<usize> },
    /// The second part of a refused set: refused too (with `message`) when its first part, test
    /// `after`, was accepted; otherwise tested in turn.
    Rest {
        after: usize,
        units: Vec<usize>,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Test(usize, Vec<usize>),
    Settle,
}

/// Finding the grants S3 refuses with bounded `PutBucketPolicy` calls: adaptive group testing
/// over units (one per consumer role). The caller asks [`PolicySearch::next_document`] for the
/// grants to render, puts the document, and answers [`PolicySearch::accepted`],
/// [`PolicySearch::unchanged`] or [`PolicySearch::refused`].
///
/// The whole set is tried first. A refused set is split — by [`Evidence`] first (the roles the
/// live policy names, then the unknown ones, then the ones it shows as deleted), then in halves —
/// and its first part is tried on top of what was accepted; when that part is accepted, the second
/// is known refused without another call (binary splitting, depth first: one broken role among `n`
/// costs about `log2(n)` calls, each further one about as many again). Each accepted document
/// holds every unit accepted before it, so the live policy only grows towards the desired one,
/// never holds a removed grant, and at the end is the render of [`SearchOutcome::included`].
/// When no document was accepted, the baseline alone is put last, so that removals happen even
/// then. Deterministic: the same answers give the same calls.
#[derive(Debug, Clone)]
pub struct PolicySearch {
    units: Vec<Vec<usize>>,
    evidence: Vec<Evidence>,
    base: Vec<usize>,
    refused: Vec<(usize, String)>,
    tasks: VecDeque<Task>,
    accepted_tests: BTreeSet<usize>,
    next_id: usize,
    pending: Option<Pending>,
    applied: bool,
    settled: bool,
    baseline_refused: Option<String>,
    attempts: usize,
    max_attempts: usize,
}

/// What a [`PolicySearch`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchOutcome {
    /// Grants in the last accepted document (positions in [`Desired::grants`], sorted).
    pub included: Vec<usize>,
    /// Grants S3 refused, with S3's message.
    pub refused: Vec<(usize, String)>,
    /// Grants neither accepted nor refused: the attempt bound was reached, or the caller stopped.
    pub undecided: Vec<usize>,
    /// Whether a document was accepted (or found equal to the live one): the live policy is the
    /// render of `included`, so every removal is applied.
    pub applied: bool,
    /// S3's message when even the baseline alone was refused.
    pub baseline_refused: Option<String>,
    /// Documents put, not counting the baseline-alone settle nor documents equal to the live one.
    pub attempts: usize,
}

impl PolicySearch {
    /// A search over `units` (each a list of grant positions), `evidence[u]` being what the live
    /// policy shows of unit `u`'s role.
    #[must_use]
    pub fn new(units: Vec<Vec<usize>>, evidence: Vec<Evidence>, max_attempts: usize) -> Self {
        let all: Vec<usize> = (0..units.len()).collect();
        PolicySearch {
            units,
            evidence,
            base: Vec::new(),
            refused: Vec::new(),
            tasks: VecDeque::from([Task::Test { id: 0, units: all }]),
            accepted_tests: BTreeSet::new(),
            next_id: 1,
            pending: None,
            applied: false,
            settled: false,
            baseline_refused: None,
            attempts: 0,
            max_attempts,
        }
    }

    fn grants_of<'a>(&self, units: impl IntoIterator<Item = &'a usize>) -> Vec<usize> {
        let mut g: Vec<usize> = units
            .into_iter()
            .filter_map(|&u| self.units.get(u))
            .flatten()
            .copied()
            .collect();
        g.sort_unstable();
        g
    }

    fn document(&self, p: &Pending) -> Vec<usize> {
        match p {
            Pending::Test(_, units) => self.grants_of(self.base.iter().chain(units)),
            Pending::Settle => self.grants_of(&self.base),
        }
    }

    /// The grants (positions, sorted) of the next document to put, or `None` when done. Asking
    /// again before answering returns the same document.
    pub fn next_document(&mut self) -> Option<Vec<usize>> {
        if let Some(p) = &self.pending {
            return Some(self.document(p));
        }
        while let Some(task) = self.tasks.pop_front() {
            let (id, units) = match task {
                Task::Rest {
                    after,
                    units,
                    message,
                } if self.accepted_tests.contains(&after) => {
                    self.split(units, message);
                    continue;
                }
                Task::Rest { units, .. } => {
                    let id = self.next_id;
                    self.next_id += 1;
                    (id, units)
                }
                Task::Test { id, units } => (id, units),
            };
            if units.is_empty() || self.attempts >= self.max_attempts {
                // Left undecided: neither in `base` nor refused.
                continue;
            }
            self.attempts += 1;
            let p = Pending::Test(id, units);
            let doc = self.document(&p);
            self.pending = Some(p);
            return Some(doc);
        }
        if !self.applied && !self.settled {
            self.settled = true;
            let p = Pending::Settle;
            let doc = self.document(&p);
            self.pending = Some(p);
            return Some(doc);
        }
        None
    }

    /// Split a refused set of units (one unit: it is refused).
    fn split(&mut self, units: Vec<usize>, message: String) {
        if let [u] = units.as_slice() {
            self.refused.push((*u, message));
            return;
        }
        let evidence = |u: usize| self.evidence.get(u).copied().unwrap_or(Evidence::Unknown);
        let best = units.iter().map(|&u| evidence(u)).min();
        let (first, rest): (Vec<usize>, Vec<usize>) =
            if units.iter().any(|&u| Some(evidence(u)) != best) {
                // The roles the live policy vouches for most first, then the others.
                units.iter().partition(|&&u| Some(evidence(u)) == best)
            } else {
                let mid = units.len().div_ceil(2);
                (
                    units.get(..mid).unwrap_or_default().to_vec(),
                    units.get(mid..).unwrap_or_default().to_vec(),
                )
            };
        let id = self.next_id;
        self.next_id += 1;
        // Depth first: the parts of this set before anything queued earlier.
        self.tasks.push_front(Task::Rest {
            after: id,
            units: rest,
            message,
        });
        self.tasks.push_front(Task::Test { id, units: first });
    }

    /// The document of the last [`PolicySearch::next_document`] equals the live policy: accepted
    /// without a call, so it does not count against the attempt bound.
    pub fn unchanged(&mut self) {
        if matches!(self.pending, Some(Pending::Test(..))) {
            self.attempts = self.attempts.saturating_sub(1);
        }
        self.accepted();
    }

    /// S3 accepted the document of the last [`PolicySearch::next_document`].
    pub fn accepted(&mut self) {
        match self.pending.take() {
            Some(Pending::Test(id, units)) => {
                self.base.extend(units);
                self.accepted_tests.insert(id);
                self.applied = true;
            }
            Some(Pending::Settle) => self.applied = true,
            None => {}
        }
    }

    /// S3 refused the document of the last [`PolicySearch::next_document`] for its content, with
    /// `message`.
    pub fn refused(&mut self, message: &str) {
        match self.pending.take() {
            Some(Pending::Test(_, units)) => self.split(units, message.to_owned()),
            Some(Pending::Settle) => self.baseline_refused = Some(message.to_owned()),
            None => {}
        }
    }

    /// What was found so far (a search may be stopped at any point: what is neither accepted nor
    /// refused is undecided).
    #[must_use]
    pub fn outcome(&self) -> SearchOutcome {
        let refused_units: BTreeSet<usize> = self.refused.iter().map(|(u, _)| *u).collect();
        let decided: BTreeSet<usize> = self.base.iter().copied().chain(refused_units).collect();
        let undecided_units: Vec<usize> = (0..self.units.len())
            .filter(|u| !decided.contains(u))
            .collect();
        let mut refused: Vec<(usize, String)> = self
            .refused
            .iter()
            .flat_map(|(u, m)| {
                self.units
                    .get(*u)
                    .into_iter()
                    .flatten()
                    .map(move |&g| (g, m.clone()))
            })
            .collect();
        refused.sort();
        SearchOutcome {
            included: self.grants_of(&self.base),
            refused,
            undecided: self.grants_of(&undecided_units),
            applied: self.applied,
            baseline_refused: self.baseline_refused.clone(),
            attempts: self.attempts,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The access-point tier (issue 16, DESIGN.md decision 3). Each consumer past the threshold has its
// own access point, named `<project>-<env>-<account>`; the reconciler writes only the policies
// that differ from what is live, creates a missing access point (self-service consumers have none
// from Terraform), and removes the policy of an access point whose consumer has no active grant
// left or has moved back to the bucket tier. Access points whose names are not Warden's are never
// touched (governance reports them).

/// One change to the access-point tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessPointChange {
    /// Create the access point `name` (then [`AccessPointChange::Put`] its policy).
    Create {
        /// Access point name.
        name: String,
    },
    /// Replace the policy of `name`, owned by consumer `account`.
    Put {
        /// Access point name.
        name: String,
        /// Consumer account.
        account: AccountId,
        /// Compact JSON.
        policy: String,
    },
    /// Remove the policy of `name`: its consumer has no active grant on this tier.
    Delete {
        /// Access point name.
        name: String,
    },
}

/// Whether `name` is a Warden access point name under `name_prefix` (`<name_prefix>-<12 digits>`),
/// and the account it belongs to.
#[must_use]
pub fn access_point_account(name_prefix: &str, name: &str) -> Option<AccountId> {
    let rest = name.strip_prefix(name_prefix)?.strip_prefix('-')?;
    if rest.len() == 12 && rest.bytes().all(|b| b.is_ascii_digit()) {
        AccountId::parse(rest).ok()
    } else {
        None
    }
}

/// The changes that make the Warden access points equal `desired` (name → the consumer and its
/// policy, or `None` when the consumer has no active grant: no policy), given `live` (every
/// Warden access point on the bucket → its policy, `None` when it has none). A live policy that
/// says the same as the desired one is not written again; a live Warden access point not in
/// `desired` loses its policy.
#[must_use]
pub fn access_point_changes(
    desired: &BTreeMap<String, (AccountId, Option<String>)>,
    live: &BTreeMap<String, Option<String>>,
) -> Vec<AccessPointChange> {
    let mut changes = Vec::new();
    for (name, (account, policy)) in desired {
        match (live.get(name), policy) {
            (None, Some(p)) => {
                changes.push(AccessPointChange::Create { name: name.clone() });
                changes.push(AccessPointChange::Put {
                    name: name.clone(),
                    account: account.clone(),
                    policy: p.clone(),
                });
            }
            (Some(Some(l)), Some(p)) if same_policy(l, p) => {}
            (Some(_), Some(p)) => changes.push(AccessPointChange::Put {
                name: name.clone(),
                account: account.clone(),
                policy: p.clone(),
            }),
            (Some(Some(_)), None) => {
                changes.push(AccessPointChange::Delete { name: name.clone() });
            }
            (Some(None) | None, None) => {}
        }
    }
    for (name, policy) in live {
        if policy.is_some() && !desired.contains_key(name) {
            changes.push(AccessPointChange::Delete { name: name.clone() });
        }
    }
    changes
}

/// Rule of an access point policy S3 refused, with S3's message.
#[must_use]
pub fn rule_refused_access_point(
    principal: &str,
    account: &str,
    access_point: &str,
    message: &str,
) -> String {
    if message.contains("Invalid principal") {
        format!(
            "S3 refuses the policy of access point {access_point} naming {principal} ({message}): the consumer role does not exist — it was deleted, or consumer-role/ has not been applied in account {account} yet. Apply consumer-role/ in that account; the next run applies the grant"
        )
    } else {
        format!(
            "S3 refuses the policy of access point {access_point} ({message}); fix or delete the grant in the registry"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::GrantInput;

    #[test]
    fn access_point_names_of_warden_only() {
        let a = |n: &str| access_point_account("warden-prod", n).map(|a| a.to_string());
        assert_eq!(
            a("warden-prod-222222222222").as_deref(),
            Some("222222222222")
        );
        for other in [
            "warden-prod-shared-111111111111",
            "warden-prod-22222222222",
            "warden-prod-2222222222223",
            "warden-prodx-222222222222",
            "analytics",
            "warden-staging-222222222222",
        ] {
            assert_eq!(a(other), None, "{other}");
        }
    }

    #[test]
    fn access_point_changes_write_only_what_differs() {
        let acct = |a: &str| AccountId::parse(a).unwrap();
        let doc = |sid: &str| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{sid}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::222222222222:role/r"}},"Action":"s3:GetObject","Resource":"*"}}]}}"#
            )
        };
        let desired = BTreeMap::from([
            ("ap-new".to_owned(), (acct("222222222222"), Some(doc("a")))),
            ("ap-same".to_owned(), (acct("333333333333"), Some(doc("b")))),
            (
                "ap-changed".to_owned(),
                (acct("444444444444"), Some(doc("c"))),
            ),
            (
                "ap-nopolicy".to_owned(),
                (acct("555555555555"), Some(doc("d"))),
            ),
            ("ap-emptied".to_owned(), (acct("666666666666"), None)),
            ("ap-never".to_owned(), (acct("777777777777"), None)),
        ]);
        // The live "same" policy differs only in formatting and key order.
        let same_reordered = doc("b").replace(
            r#""Sid":"b","Effect":"Allow""#,
            r#""Effect":"Allow", "Sid":"b""#,
        );
        let live = BTreeMap::from([
            ("ap-same".to_owned(), Some(same_reordered)),
            ("ap-changed".to_owned(), Some(doc("old"))),
            ("ap-nopolicy".to_owned(), None),
            ("ap-emptied".to_owned(), Some(doc("e"))),
            ("ap-gone".to_owned(), Some(doc("f"))),
            ("ap-gone-empty".to_owned(), None),
        ]);
        let names: Vec<String> = access_point_changes(&desired, &live)
            .into_iter()
            .map(|c| match c {
                AccessPointChange::Create { name } => format!("create {name}"),
                AccessPointChange::Put { name, .. } => format!("put {name}"),
                AccessPointChange::Delete { name } => format!("delete {name}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "put ap-changed",
                "delete ap-emptied",
                "create ap-new",
                "put ap-new",
                "put ap-nopolicy",
                "delete ap-gone"
            ]
        );
    }

    fn settings() -> RenderSettings {
        RenderSettings {
            partition: "aws".into(),
            region: "us-east-1".into(),
            primary_account: AccountId::parse("111111111111").unwrap(),
            bucket: "shared".into(),
            kms_key_arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
            consumer_role_name: "warden-consumer".into(),
            require_mfa: false,
            vending_role_arn: None,
        }
    }

    fn registry(accounts: &[&str]) -> Registry {
        let now = Timestamp::parse("2026-11-22T00:00:00Z").unwrap().0;
        Registry::new(
            accounts
                .iter()
                .map(|a| {
                    Grant::from_input(
                        &GrantInput {
                            account_id: (*a).into(),
                            name: None,
                            allowed_prefixes: vec!["data/".into()],
                            access_level: "read".into(),
                            expiration_date: "2027-01-01T00:00:00Z".into(),
                            owner_email: None,
                            external_id: None,
                            created_by: None,
                            created_at: None,
                        },
                        now,
                    )
                    .unwrap()
                })
                .collect(),
        )
        .unwrap()
    }

    fn live(spec: &KmsGrantSpec, id: &str) -> LiveGrant {
        LiveGrant {
            grant_id: id.into(),
            name: Some(spec.name.clone()),
            grantee_principal: spec.grantee_principal.clone(),
            operations: spec.operations.clone(),
            encryption_context_subset: Some(spec.encryption_context_subset.clone()),
            encryption_context_equals: None,
        }
    }

    #[test]
    fn first_run_creates_everything_second_run_nothing() {
        let now = Timestamp::parse("2026-11-22T00:00:00Z").unwrap().0;
        let s = settings();
        let reg = registry(&["222222222222", "333333333333"]);
        let p = plan(&reg, &s, render::baseline_statements(&s), None, &[], now).unwrap();
        assert!(p.bucket_policy.is_some());
        assert_eq!(p.create_grants.len(), 2);
        let live: Vec<LiveGrant> = p
            .create_grants
            .iter()
            .enumerate()
            .map(|(i, g)| live(g, &format!("g{i}")))
            .collect();
        let again = plan(
            &reg,
            &s,
            render::baseline_statements(&s),
            p.bucket_policy.as_deref(),
            &live,
            now,
        )
        .unwrap();
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn removed_accounts_are_retired_foreign_grants_untouched() {
        let now = Timestamp::parse("2026-11-22T00:00:00Z").unwrap().0;
        let s = settings();
        let before = plan(
            &registry(&["222222222222", "333333333333"]),
            &s,
            render::baseline_statements(&s),
            None,
            &[],
            now,
        )
        .unwrap();
        let mut live: Vec<LiveGrant> = before
            .create_grants
            .iter()
            .enumerate()
            .map(|(i, g)| live(g, &format!("g{i}")))
            .collect();
        live.push(LiveGrant {
            grant_id: "other".into(),
            name: Some("backup-tool".into()),
            grantee_principal: "x".into(),
            operations: vec![],
            encryption_context_subset: None,
            encryption_context_equals: None,
        });
        let after = plan(
            &registry(&["222222222222"]),
            &s,
            render::baseline_statements(&s),
            before.bucket_policy.as_deref(),
            &live,
            now,
        )
        .unwrap();
        assert!(after.bucket_policy.is_some());
        assert!(after.create_grants.is_empty());
        assert_eq!(after.retire_grants.len(), 1);
        assert!(
            after.retire_grants[0]
                .name
                .as_deref()
                .unwrap()
                .contains("333333333333")
        );
    }

    fn baseline_with(extra: &str) -> Vec<Statement> {
        let mut statements = render::baseline_statements(&settings());
        statements.extend(Policy::parse(extra).unwrap().statements);
        statements
    }

    #[test]
    fn the_compiled_baseline_is_accepted() {
        let s = settings();
        assert_eq!(
            accept_baseline(&render::baseline_statements(&s), &s),
            Ok(())
        );
        assert!(baseline_sids(&s).contains(&"DenyInsecureTransport".to_owned()));
    }

    #[test]
    fn attack_baseline_allow_for_another_account_is_refused() {
        let s = settings();
        let statements = baseline_with(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"PartnerRead","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444444444444:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}"#,
        );
        let e = accept_baseline(&statements, &s).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("statement \"PartnerRead\" (#4): only the baseline Deny statements DenyInsecureTransport"),
            "{text}"
        );
        assert!(
            text.contains(RULE_DENY) && text.contains(RULE_EVERYONE),
            "{text}"
        );
        assert_eq!(e.violations.len(), 3);
    }

    #[test]
    fn attack_baseline_statement_disguised_with_a_known_sid_is_refused() {
        // A known Sid on an Allow, and a known Sid repeated on a Deny narrowed to one principal.
        let s = settings();
        let mut statements = render::baseline_statements(&s);
        statements[0].effect = Effect::Allow;
        let mut narrowed = render::baseline_statements(&s)[1].clone();
        narrowed.principal = Some(Principal::aws(["arn:aws:iam::444444444444:root"]));
        statements.push(narrowed);
        let e = accept_baseline(&statements, &s).unwrap_err();
        let rules: Vec<&str> = e.violations.iter().map(|v| v.rule.as_str()).collect();
        assert_eq!(rules, vec![RULE_DENY, RULE_ONCE, RULE_EVERYONE], "{e}");
        assert_eq!(e.violations[0].statement, "\"DenyInsecureTransport\" (#0)");
    }

    #[test]
    fn attack_baseline_statement_removed_is_refused() {
        let s = settings();
        let statements: Vec<Statement> = render::baseline_statements(&s)
            .into_iter()
            .filter(|st| st.sid.as_deref() != Some("DenyInsecureTransport"))
            .collect();
        let e = accept_baseline(&statements, &s).unwrap_err();
        assert_eq!(e.violations.len(), 1);
        assert_eq!(e.violations[0].statement, "\"DenyInsecureTransport\"");
        assert_eq!(e.violations[0].rule, RULE_PRESENT);
    }

    #[test]
    fn statements_compare_by_meaning() {
        let a = Policy::parse(r#"{"Statement":{"Sid":"X","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":["arn:aws:s3:::b/*","arn:aws:s3:::b"],"Condition":{"StringNotEquals":{"S3:x":["2","1"]}}}}"#).unwrap();
        let b = Policy::parse(r#"{"Statement":[{"Sid":"X","Effect":"Deny","Principal":{"AWS":["*"]},"Action":["S3:PutObject"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"StringNotEquals":{"s3:x":["1","2"]}}}]}"#).unwrap();
        assert_eq!(
            normal_statement(&a.statements[0]),
            normal_statement(&b.statements[0])
        );
        let mut c = b.statements[0].clone();
        c.resource = Some(crate::policy::model::StrList::of(["arn:aws:s3:::b/*"]));
        assert_ne!(normal_statement(&a.statements[0]), normal_statement(&c));
    }

    // --- per-grant reconciliation ------------------------------------------------------------

    fn now() -> DateTime<Utc> {
        Timestamp::parse("2026-11-22T00:00:00Z").unwrap().0
    }

    fn grant(account: &str, prefix: &str, by: Option<&str>, at: Option<&str>) -> Grant {
        Grant::from_input(
            &GrantInput {
                account_id: account.into(),
                name: None,
                allowed_prefixes: vec![prefix.into()],
                access_level: "read".into(),
                expiration_date: "2027-01-01T00:00:00Z".into(),
                owner_email: None,
                external_id: None,
                created_by: by.map(str::to_owned),
                created_at: at.map(str::to_owned),
            },
            now(),
        )
        .unwrap()
    }

    fn account(i: usize) -> String {
        format!("{:012}", 400_000_000_000u64 + i as u64)
    }

    fn role(i: usize) -> String {
        settings().consumer_role_arn(&AccountId::parse(&account(i)).unwrap())
    }

    fn accounts(ids: &[usize]) -> Registry {
        Registry::new(
            ids.iter()
                .map(|&i| grant(&account(i), &format!("team-{i}/"), None, None))
                .collect(),
        )
        .unwrap()
    }

    /// S3 as the search meets it: refuses (`MalformedPolicy`) any document naming a role in
    /// `broken`, accepts the rest. The caller skips documents equal to the live one.
    fn drive(
        desired: &Desired,
        live: Option<String>,
        broken: &[String],
        max_attempts: usize,
    ) -> (SearchOutcome, Option<String>, usize) {
        let fit = desired.fit_budget().unwrap();
        let mut search = desired.search(&fit.fitted, live.as_deref(), max_attempts);
        let mut live = live;
        let mut puts = 0;
        while let Some(set) = search.next_document() {
            let doc = desired.render(&set).unwrap().policy.to_compact_json();
            if live.as_deref().is_some_and(|l| same_policy(l, &doc)) {
                search.unchanged();
                continue;
            }
            puts += 1;
            if broken.iter().any(|b| doc.contains(&format!("\"{b}\""))) {
                search.refused("Invalid principal in policy");
            } else {
                search.accepted();
                live = Some(doc);
            }
        }
        (search.outcome(), live, puts)
    }

    fn names(desired: &Desired, grants: &[usize]) -> Vec<String> {
        grants
            .iter()
            .map(|&i| desired.grants()[i].account_id.to_string())
            .collect()
    }

    #[test]
    fn s3_errors_are_classified_and_their_message_extracted() {
        let text = r#"service error: unhandled error (MalformedPolicy): Error { code: "MalformedPolicy", message: "Invalid principal in policy", aws_request_id: "R1" }"#;
        assert!(is_policy_refusal(text));
        assert_eq!(service_message(text), "Invalid principal in policy");
        let slow = r#"service error: unhandled error (SlowDown): Error { code: "SlowDown", message: "Please reduce your request rate." }"#;
        assert!(!is_policy_refusal(slow));
        assert_eq!(service_message("dispatch failure"), "dispatch failure");
    }

    #[test]
    fn a_deleted_role_shows_as_a_unique_id_in_the_live_policy() {
        let live = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::400000000001:role/warden-consumer","AROAEXAMPLEDELETED1"]},"Action":"s3:GetObject","Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"},{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"s3:GetObject","Resource":"*"}]}"#;
        assert_eq!(deleted_principal_ids(live), vec!["AROAEXAMPLEDELETED1"]);
        assert!(policy_principals(live).contains("arn:aws:iam::400000000001:role/warden-consumer"));
        assert!(policy_principals("not json").is_empty());
    }

    /// Budget: grants are kept in rank order — declared first, then self-service oldest first —
    /// and the rest are reported; a later grant that still fits is kept.
    #[test]
    fn over_budget_keeps_declared_then_oldest_and_reports_the_rest() {
        let long = |i: usize| format!("{}-{i}/", "p".repeat(200));
        let mut grants = Vec::new();
        // 50 self-service grants, newest first in the registry, then 10 declared ones.
        for i in 0..50 {
            let at = format!("2026-01-{:02}T00:00:00Z", 28 - (i % 28));
            let at = if i < 28 {
                at
            } else {
                format!("2025-{:02}-01T00:00:00Z", 1 + i % 12)
            };
            grants.push(grant(
                &account(i),
                &long(i),
                Some("arn:aws:iam::111111111111:role/approver"),
                Some(&at),
            ));
        }
        for i in 50..60 {
            grants.push(grant(&account(i), &long(i), None, None));
        }
        let reg = Registry::new(grants).unwrap();
        let s = settings();
        let desired = Desired::new(&reg, &s, render::baseline_statements(&s), now());
        let fit = desired.fit_budget().unwrap();
        assert!(!fit.over_budget.is_empty() && !fit.fitted.is_empty());
        assert_eq!(fit.fitted.len() + fit.over_budget.len(), 60);
        assert!(desired.render(&fit.fitted).unwrap().size <= render::BUCKET_POLICY_BUDGET);
        // Every declared grant is kept before any self-service one.
        let kept = |i: usize| desired.grants()[i].created_by == "terraform";
        assert!(fit.fitted.iter().take(10).all(|&i| kept(i)), "{fit:?}");
        assert!(fit.over_budget.iter().all(|&i| !kept(i)));
        // Self-service grants that made it are never younger than ones left out.
        let at = |i: usize| desired.grants()[i].created_at;
        let youngest_kept = fit
            .fitted
            .iter()
            .filter(|&&i| !kept(i))
            .map(|&i| at(i))
            .max();
        let oldest_out = fit.over_budget.iter().map(|&i| at(i)).min();
        assert!(
            youngest_kept <= oldest_out,
            "{youngest_kept:?} {oldest_out:?}"
        );
        // Deterministic, whatever the registry order.
        let mut reversed: Vec<Grant> = reg.grants().to_vec();
        reversed.reverse();
        let again = Desired::new(
            &Registry::new(reversed).unwrap(),
            &s,
            render::baseline_statements(&s),
            now(),
        );
        let fit2 = again.fit_budget().unwrap();
        assert_eq!(
            names(&desired, &fit.over_budget),
            names(&again, &fit2.over_budget)
        );
        let e = desired
            .excluded(
                fit.over_budget[0],
                ExclusionKind::OverBudget,
                RULE_OVER_BUDGET.into(),
            )
            .unwrap();
        assert!(
            e.to_string()
                .contains("does not fit in the 20480-byte bucket policy"),
            "{e}"
        );
    }

    /// One new consumer whose role does not exist: it is found with a handful of calls, every
    /// other grant is applied and the removed grant is gone.
    #[test]
    fn the_grant_s3_refuses_is_found_and_everything_else_applied() {
        let s = settings();
        let before = accounts(&(0..20).collect::<Vec<_>>());
        let live = render::bucket_policy(&before, &s, now())
            .unwrap()
            .policy
            .to_compact_json();
        // Account 3 leaves, 20 and 21 arrive; 21 has no consumer role yet.
        let after = accounts(&(0..22).filter(|&i| i != 3).collect::<Vec<_>>());
        let desired = Desired::new(&after, &s, render::baseline_statements(&s), now());
        let (out, live, puts) = drive(&desired, Some(live), &[role(21)], MAX_POLICY_ATTEMPTS);
        let live = live.unwrap();
        assert!(out.applied && out.undecided.is_empty() && out.baseline_refused.is_none());
        assert_eq!(
            names(
                &desired,
                &out.refused.iter().map(|r| r.0).collect::<Vec<_>>()
            ),
            vec![account(21)]
        );
        assert_eq!(out.included.len(), 20);
        assert!(!live.contains(&role(3)), "the removal is applied");
        assert!(live.contains(&role(20)) && !live.contains(&role(21)));
        // Full set, the 19 verified ones, then the two suspects: one call each.
        assert!(puts <= 4, "{puts} calls");
        assert_eq!(
            live,
            desired
                .render(&out.included)
                .unwrap()
                .policy
                .to_compact_json()
        );
    }

    /// Idempotent: a second run over what the first applied changes nothing (the one refused
    /// document is the only call).
    #[test]
    fn a_second_run_changes_nothing() {
        let s = settings();
        let reg = accounts(&(0..10).collect::<Vec<_>>());
        let desired = Desired::new(&reg, &s, render::baseline_statements(&s), now());
        let broken = [role(4), role(7)];
        let (first, live, _) = drive(&desired, None, &broken, MAX_POLICY_ATTEMPTS);
        let (second, live2, puts) = drive(&desired, live.clone(), &broken, MAX_POLICY_ATTEMPTS);
        assert_eq!(live, live2);
        assert_eq!(first.included, second.included);
        assert_eq!(first.refused, second.refused);
        assert!(puts <= 1 + 2 * 2, "{puts} refused calls, no change");
    }

    /// Nothing but broken roles: the baseline alone is applied, so the removals still happen.
    #[test]
    fn when_every_grant_is_refused_the_baseline_alone_is_applied() {
        let s = settings();
        let old = accounts(&[0, 1, 2]);
        let live = render::bucket_policy(&old, &s, now())
            .unwrap()
            .policy
            .to_compact_json();
        let reg = accounts(&[1, 2]);
        let desired = Desired::new(&reg, &s, render::baseline_statements(&s), now());
        let (out, live, _) = drive(
            &desired,
            Some(live),
            &[role(1), role(2)],
            MAX_POLICY_ATTEMPTS,
        );
        let live = live.unwrap();
        assert!(out.applied && out.included.is_empty() && out.refused.len() == 2);
        assert!(!live.contains(&role(0)) && !live.contains(&role(1)));
        assert!(live.contains("DenyInsecureTransport"));
    }

    /// The attempt bound: what is not decided is left out (never applied untested), what was
    /// accepted stays applied, and the next runs carry on from there until every sound grant is
    /// applied.
    #[test]
    fn the_attempt_bound_leaves_the_rest_undecided_for_the_next_run() {
        let s = settings();
        let reg = accounts(&(0..16).collect::<Vec<_>>());
        let desired = Desired::new(&reg, &s, render::baseline_statements(&s), now());
        let broken: Vec<String> = [1, 6, 11].iter().map(|&i| role(i)).collect();
        let (out, live, puts) = drive(&desired, None, &broken, 8);
        assert_eq!(out.attempts, 8);
        assert!(puts <= 9);
        assert!(!out.undecided.is_empty());
        assert!(out.applied);
        let mut live = live;
        let mut included = out.included.len();
        for run in 2.. {
            let l = live.clone().unwrap();
            assert!(
                broken.iter().all(|b| !l.contains(b.as_str())),
                "never applied"
            );
            let (o, next, _) = drive(&desired, live, &broken, 8);
            assert!(
                o.included.len() >= included,
                "what was applied stays applied"
            );
            included = o.included.len();
            live = next;
            if included == 13 {
                // Only broken ones are left out, refused or still undecided.
                let out: Vec<usize> = o.refused.iter().map(|r| r.0).chain(o.undecided).collect();
                assert!(
                    out.iter()
                        .all(|&i| broken.contains(&desired.principal(i).unwrap()))
                );
                break;
            }
            assert!(run < 8, "no progress");
        }
    }

    proptest::proptest! {
        /// For any registry with some consumer roles broken — deleted since they were applied
        /// (the live policy shows their unique ID, as AWS does) or never created (new consumers)
        /// — and some grants removed: every removal is applied, every grant that is not broken is
        /// applied, no broken one is, and the attempt bound holds.
        #[test]
        fn every_removal_and_every_sound_grant_is_applied(
            n in 1usize..13,
            removed in proptest::collection::vec(proptest::bool::ANY, 13),
            // 0: sound, 1: role deleted after it was applied, 2: new consumer without a role.
            kind in proptest::collection::vec(0u8..3, 13),
        ) {
            let s = settings();
            let old = accounts(&(0..n).filter(|&i| kind[i] != 2).collect::<Vec<_>>());
            let mut live = render::bucket_policy(&old, &s, now()).unwrap().policy.to_compact_json();
            for i in (0..n).filter(|&i| kind[i] == 1) {
                live = live.replace(role(i).as_str(), &format!("AROAEXAMPLE{i:08}"));
            }
            let broken_roles: Vec<String> = (0..n).filter(|&i| kind[i] != 0).map(role).collect();
            let kept: Vec<usize> = (0..n).filter(|&i| !removed[i]).collect();
            let desired = Desired::new(&accounts(&kept), &s, render::baseline_statements(&s), now());
            let (out, live, puts) = drive(&desired, Some(live), &broken_roles, MAX_POLICY_ATTEMPTS);
            let live = live.unwrap();
            proptest::prop_assert!(out.applied && out.undecided.is_empty());
            proptest::prop_assert!(puts <= MAX_POLICY_ATTEMPTS + 1);
            for i in 0..n {
                let there = live.contains(&format!("\"{}\"", role(i)));
                proptest::prop_assert_eq!(there, !removed[i] && kind[i] == 0, "account {}", i);
            }
            proptest::prop_assert_eq!(
                out.refused.len(),
                kept.iter().filter(|&&i| kind[i] != 0).count()
            );
        }
    }

    #[test]
    fn policies_compare_by_meaning() {
        let a = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let b = r#"{ "Statement": [ { "Resource": "*", "Action": "s3:GetObject", "Effect": "Allow" } ], "Version": "2012-10-17" }"#;
        assert!(same_policy(a, b));
        assert!(!same_policy(a, &a.replace("GetObject", "PutObject")));
    }
}
