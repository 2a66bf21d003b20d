//! governance-check (daily): the live bucket policy must equal the render of the registry, the
//! KMS grants must match it, every consumer role must exist with no more than its grant (read
//! through the read-only governance role in each consumer account), and the registry itself must
//! be consistent. Any drift → one SNS message listing it, and a `Drift` metric.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use warden_core::governance::{self, Drift};
use warden_core::policy::model::Policy;
use warden_core::policy::render::RenderSettings;
use warden_core::ports::{
    ConfigStore, GrantStore, KeyGrants, Metrics, Notifier, PolicyStore, PortError, RoleInspector,
};

/// Settings read once at start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// For rendering.
    pub render: RenderSettings,
    /// SSM parameter with Terraform's baseline statements.
    pub baseline_parameter: String,
    /// SSM parameter with the consumer directory (governance role per account).
    pub consumer_roles_parameter: String,
    /// EMF namespace.
    pub namespace: String,
}

/// The outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Every drift found.
    pub drift: Vec<Drift>,
    /// Accounts whose role was inspected.
    pub roles_checked: usize,
    /// Accounts without a governance role in the directory (not inspected).
    pub roles_skipped: Vec<String>,
}

/// Run the check.
///
/// # Errors
/// A service call failed (the check could not complete; nothing is reported as drift).
#[allow(clippy::too_many_arguments)]
pub async fn check<G, P, K, C, R, N, M>(
    grants: &G,
    policies: &P,
    keys: &K,
    config: &C,
    roles: &R,
    notifier: &N,
    metrics: &M,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Report, PortError>
where
    G: GrantStore,
    P: PolicyStore,
    K: KeyGrants,
    C: ConfigStore,
    R: RoleInspector,
    N: Notifier,
    M: Metrics,
{
    let mut report = Report::default();
    let registry = match grants.load_registry(now).await {
        Ok(r) => r,
        Err(e) => {
            // An inconsistent registry (overlaps, invalid items) is itself drift.
            report.drift.push(Drift {
                kind: "registry",
                account_id: None,
                detail: e.to_string(),
            });
            warden_core::grant::Registry::default()
        }
    };
    let baseline = Policy::parse(&config.get_parameter(&settings.baseline_parameter).await?)
        .map_err(|e| {
            PortError::new(
                "ssm",
                "GetParameter",
                format!("{}: {e}", settings.baseline_parameter),
            )
        })?
        .statements;
    let s = &settings.render;
    let live_policy = policies.get_bucket_policy(&s.bucket).await?;
    let live_grants = keys.list_grants(&s.kms_key_arn).await?;
    match governance::policy_drift(
        &registry,
        s,
        baseline,
        live_policy.as_deref(),
        &live_grants,
        now,
    ) {
        Ok(d) => report.drift.extend(d),
        Err(e) => report.drift.push(Drift {
            kind: "bucket-policy",
            account_id: None,
            detail: e.to_string(),
        }),
    }
    let directory: BTreeMap<String, Value> = serde_json::from_str(
        &config
            .get_parameter(&settings.consumer_roles_parameter)
            .await?,
    )
    .map_err(|e| {
        PortError::new(
            "ssm",
            "GetParameter",
            format!("{}: {e}", settings.consumer_roles_parameter),
        )
    })?;
    for (account, entry) in &directory {
        let Some(gov) = entry["governance_role"].as_str() else {
            report.roles_skipped.push(account.clone());
            continue;
        };
        match roles.inspect(gov, &s.consumer_role_name).await {
            Ok(facts) => {
                report
                    .drift
                    .extend(governance::role_drift(account, &facts, &registry, s, now));
                report.roles_checked += 1;
            }
            Err(e) => report.drift.push(Drift {
                kind: "consumer-role",
                account_id: Some(account.clone()),
                detail: format!(
                    "cannot inspect through {gov}: {e} (apply consumer-role/ in that account)"
                ),
            }),
        }
    }
    metrics.emit(
        &serde_json::json!({
            "_aws": {"Timestamp": now.timestamp_millis(), "CloudWatchMetrics": [{"Namespace": settings.namespace, "Dimensions": [[]], "Metrics": [{"Name": "Drift", "Unit": "Count"}]}]},
            "Drift": report.drift.len()
        })
        .to_string(),
    );
    if !report.drift.is_empty() {
        let lines: Vec<String> = report
            .drift
            .iter()
            .map(|d| {
                format!(
                    "- [{}]{} {}",
                    d.kind,
                    d.account_id
                        .as_deref()
                        .map(|a| format!(" {a}"))
                        .unwrap_or_default(),
                    d.detail
                )
            })
            .collect();
        notifier
            .publish(
                &format!("Warden governance: {} drift finding(s)", report.drift.len()),
                &lines.join("\n"),
            )
            .await?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use warden_core::grant::{AccountId, Registry};
    use warden_core::policy::render;
    use warden_core::ports::RoleFacts;
    use warden_testkit::{FakeConfig, FakeGrants, FakeKeyGrants, FakeNotifier, FakePolicies};

    struct Roles(RoleFacts);
    impl RoleInspector for Roles {
        async fn inspect(&self, _g: &str, _r: &str) -> Result<RoleFacts, PortError> {
            Ok(self.0.clone())
        }
    }
    #[derive(Default)]
    struct M(Mutex<Vec<String>>);
    impl Metrics for M {
        fn emit(&self, line: &str) {
            self.0.lock().unwrap().push(line.into());
        }
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
            baseline_parameter: "/b".into(),
            consumer_roles_parameter: "/c".into(),
            namespace: "Warden/test".into(),
        }
    }

    #[tokio::test]
    async fn clean_then_planted_drift_is_reported() {
        let s = settings();
        let reg = Registry::from_json(r#"{"consumer_accounts":[{"account_id":"210000000000","allowed_prefixes":["analytics/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#, Utc::now()).unwrap();
        let baseline = Policy::new(render::baseline_statements(&s.render)).to_compact_json();
        let config = FakeConfig {
            values: BTreeMap::from([
                ("/b".to_owned(), baseline),
                ("/c".to_owned(), r#"{"210000000000":{"governance_role":"arn:aws:iam::210000000000:role/warden-governance-readonly"}}"#.to_owned()),
            ]),
        };
        let g = FakeGrants::new(reg.clone());
        let (p, k, n, m) = (
            FakePolicies::default(),
            FakeKeyGrants::default(),
            FakeNotifier::default(),
            M::default(),
        );
        // Apply what the reconciler would, so everything is in step.
        let plan = warden_core::reconcile::plan(
            &reg,
            &s.render,
            render::baseline_statements(&s.render),
            None,
            &[],
            Utc::now(),
        )
        .unwrap();
        p.put_bucket_policy("shared", plan.bucket_policy.as_deref().unwrap())
            .await
            .unwrap();
        for spec in &plan.create_grants {
            k.create_grant("k", spec).await.unwrap();
        }
        let role_ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/analytics/*"}]}"#;
        let roles = Roles(RoleFacts {
            exists: true,
            inline_policies: vec![role_ok.into()],
            attached_policies: vec![],
        });
        let clean = check(&g, &p, &k, &config, &roles, &n, &m, &s, Utc::now())
            .await
            .unwrap();
        assert!(clean.drift.is_empty(), "{clean:?}");
        assert_eq!(clean.roles_checked, 1);
        assert!(n.messages.lock().unwrap().is_empty());
        // Someone edits the bucket policy by hand.
        p.put_bucket_policy(
            "shared",
            &plan.bucket_policy.unwrap().replace("analytics/*", "*"),
        )
        .await
        .unwrap();
        let drifted = check(&g, &p, &k, &config, &roles, &n, &m, &s, Utc::now())
            .await
            .unwrap();
        assert_eq!(drifted.drift.len(), 1);
        assert_eq!(drifted.drift[0].kind, "bucket-policy");
        assert_eq!(n.messages.lock().unwrap().len(), 1);
        assert!(m.0.lock().unwrap().last().unwrap().contains("\"Drift\":1"));
    }
}
