//! policy-reconciler: the one writer of the shared bucket's policy and the data key's grants.
//!
//! Every invocation — a registry stream batch, the expiration-enforcer, the approval workflow, a
//! Terraform apply — does the same idempotent thing: load the registry and the baseline, render
//! with warden-core, compare with what is live, apply the difference. A render over the 20 KB
//! budget is refused (alert published, nothing applied), never truncated. So is a baseline
//! parameter that holds anything but the known baseline Deny statements: an edit of the
//! parameter must not become a grant on the shared bucket.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use chrono::{DateTime, Utc};
use serde::Serialize;
use warden_core::policy::model::Policy;
use warden_core::policy::render::{RenderError, RenderSettings};
use warden_core::ports::{ConfigStore, GrantStore, KeyGrants, Notifier, PolicyStore, PortError};
use warden_core::reconcile;

/// What the function needs to know, read once from the environment in `main`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bucket, key, role name, region… for rendering.
    pub render: RenderSettings,
    /// SSM parameter holding Terraform's baseline statements.
    pub baseline_parameter: String,
}

/// Why a reconciliation did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A service call failed (retried by the SDK first).
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
    /// The render would exceed an AWS limit: nothing was applied.
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
}

/// What was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Whether the bucket policy was replaced.
    pub policy_applied: bool,
    /// Size of the rendered policy (bytes).
    pub policy_size: usize,
    /// Grants in the registry.
    pub grants_in_registry: usize,
    /// KMS grants created.
    pub kms_grants_created: usize,
    /// KMS grants revoked.
    pub kms_grants_revoked: usize,
}

/// Reconcile once.
///
/// # Errors
/// See [`ReconcileError`]; an over-budget render is also published to the notifier.
pub async fn reconcile<G, P, K, C, N>(
    grants: &G,
    policies: &P,
    keys: &K,
    config: &C,
    notifier: &N,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Report, ReconcileError>
where
    G: GrantStore,
    P: PolicyStore,
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
    if !skipped.is_empty() {
        // The others are applied as usual (the bad items' access is removed); a person fixes these.
        let lines: Vec<String> = skipped
            .iter()
            .map(|k| format!("- {}: {}", k.item, k.rule))
            .collect();
        notifier
            .publish(
                "Warden: registry items skipped, their access is not applied",
                &format!(
                    "{} registry item(s) are invalid or conflict with another grant; the policy-reconciler applied every other grant (and every removal) without them. Fix or delete each item in the registry table:\n{}",
                    skipped.len(),
                    lines.join("\n")
                ),
            )
            .await?;
    }
    let live_policy = policies.get_bucket_policy(&s.bucket).await?;
    let live_grants = keys.list_grants(&s.kms_key_arn).await?;
    let plan = match reconcile::plan(
        &registry,
        s,
        baseline,
        live_policy.as_deref(),
        &live_grants,
        now,
    ) {
        Ok(p) => p,
        Err(e) => {
            // Tell a person: access for new grants is blocked until the registry shrinks.
            notifier
                .publish(
                    "Warden: bucket policy over its size limit, nothing applied",
                    &e.to_string(),
                )
                .await?;
            return Err(e.into());
        }
    };
    if let Some(policy) = &plan.bucket_policy {
        policies.put_bucket_policy(&s.bucket, policy).await?;
    }
    for spec in &plan.create_grants {
        keys.create_grant(&s.kms_key_arn, spec).await?;
    }
    for g in &plan.retire_grants {
        keys.revoke_grant(&s.kms_key_arn, &g.grant_id).await?;
    }
    Ok(Report {
        policy_applied: plan.bucket_policy.is_some(),
        policy_size: plan.bucket_policy_size,
        grants_in_registry: registry.grants().len(),
        kms_grants_created: plan.create_grants.len(),
        kms_grants_revoked: plan.retire_grants.len(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use warden_core::grant::{AccountId, Grant, GrantInput, Registry, Timestamp};
    use warden_core::policy::render;
    use warden_testkit::{FakeConfig, FakeGrants, FakeKeyGrants, FakeNotifier, FakePolicies};

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
        let r = reconcile(&g, &p, &k, &c, &n, &s, now()).await.unwrap();
        assert!(r.policy_applied);
        assert_eq!(
            (
                r.grants_in_registry,
                r.kms_grants_created,
                r.kms_grants_revoked
            ),
            (20, 20, 0)
        );
        let again = reconcile(&g, &p, &k, &c, &n, &s, now()).await.unwrap();
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
        let r = reconcile(&g, &p, &k, &c, &n, &settings(), now())
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
        reconcile(&g, &p, &k, &c, &n, &s, now()).await.unwrap();
        *g.registry.lock().unwrap() = Ok(registry(2, 4));
        let r = reconcile(&g, &p, &k, &c, &n, &s, now()).await.unwrap();
        assert!(r.policy_applied);
        assert_eq!(r.kms_grants_revoked, 1);
        assert_eq!(k.grants.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn over_budget_is_refused_and_reported() {
        let (g, p, k, c, n) = (
            FakeGrants::new(registry(120, 200)),
            FakePolicies::default(),
            FakeKeyGrants::default(),
            config(),
            FakeNotifier::default(),
        );
        let e = reconcile(&g, &p, &k, &c, &n, &settings(), now())
            .await
            .unwrap_err();
        assert!(matches!(e, ReconcileError::OverBudget(_)), "{e}");
        assert!(p.policies.lock().unwrap().is_empty(), "nothing applied");
        assert!(k.grants.lock().unwrap().is_empty());
        assert_eq!(n.messages.lock().unwrap().len(), 1);
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
        let e = reconcile(&g, &p, &k, &c, &n, &s, now()).await.unwrap_err();
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
        let e = reconcile(&g, &p, &k, &c, &n, &s, now()).await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("baseline parameter /warden/test/bucket-policy-baseline"),
            "{e}"
        );
    }
}
