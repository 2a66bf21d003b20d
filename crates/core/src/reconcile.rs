//! Reconciliation: what the policy-reconciler must change so that the bucket policy and the KMS
//! grants equal the render of the registry. Pure planning; the Lambda applies the plan through
//! its ports. Idempotent: a second run over an applied plan plans nothing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::grant::Registry;
use crate::policy::model::{Policy, Statement};
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
    let desired = render::kms(registry, settings, now)?.grants;
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
    };
    let create_grants = desired
        .iter()
        .filter(|d| !ours.iter().any(|g| matches(d, g)))
        .cloned()
        .collect();
    let retire_grants = ours
        .into_iter()
        .filter(|g| !desired.iter().any(|d| matches(d, g)))
        .cloned()
        .collect();
    Ok(Plan {
        bucket_policy,
        bucket_policy_size: rendered.size,
        create_grants,
        retire_grants,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::{AccountId, Grant, GrantInput, Timestamp};

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

    #[test]
    fn policies_compare_by_meaning() {
        let a = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let b = r#"{ "Statement": [ { "Resource": "*", "Action": "s3:GetObject", "Effect": "Allow" } ], "Version": "2012-10-17" }"#;
        assert!(same_policy(a, b));
        assert!(!same_policy(a, &a.replace("GetObject", "PutObject")));
    }
}
