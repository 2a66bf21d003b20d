//! governance-check (daily): the live bucket policy must equal the render of the registry on the
//! baseline compiled into warden-core, the baseline parameter must equal that baseline, the KMS
//! grants must match, every consumer role — of every account with a grant (declared or
//! self-service) and every account in the consumer directory — must exist with the trust policy
//! and permissions boundary `consumer-role/` renders and no more than its grant (decided by the
//! evaluator, read through the read-only governance role in each consumer account), every
//! consumer the bucket admits must also be able to decrypt (the whole path on the live key policy
//! and grants), and the registry itself must be consistent. Any drift, or any role that could not be inspected → one
//! SNS message listing it, and `Drift` / `RolesSkipped` metrics.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use warden_core::governance::{self, Drift, RoleExpectation};
use warden_core::grant::AccountId;
use warden_core::policy::access_point::Tiering;
use warden_core::policy::render::RenderSettings;
use warden_core::ports::{
    AccessPoints, ConfigStore, GrantStore, KeyGrants, Metrics, Notifier, PolicyStore, PortError,
    RoleInspector,
};

/// The access points on `bucket`: every Warden-named one (`<name_prefix>-<account>`) with its
/// policy, read 16 at a time, and the names of the others (not Warden's, not read).
///
/// # Errors
/// A ListAccessPoints or GetAccessPointPolicy call failed.
pub async fn warden_access_points<A: AccessPoints + Sync>(
    aps: &A,
    bucket: &str,
    name_prefix: &str,
) -> Result<(BTreeMap<String, Option<String>>, Vec<String>), PortError> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    let (ours, others): (Vec<String>, Vec<String>) = aps
        .list_access_points(bucket)
        .await?
        .into_iter()
        .map(|p| p.name)
        .partition(|n| warden_core::reconcile::access_point_account(name_prefix, n).is_some());
    let policies = stream::iter(ours)
        .map(|name| async move {
            let policy = aps.get_access_point_policy(&name).await?;
            Ok::<_, PortError>((name, policy))
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    Ok((policies, others))
}

/// Settings read once at start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// For rendering; `vending_role_arn` is the access-validator role the consumer roles'
    /// trust admits (through the primary account root and `aws:PrincipalArn`).
    pub render: RenderSettings,
    /// SSM parameter with Terraform's baseline statements.
    pub baseline_parameter: String,
    /// SSM parameter with the consumer directory (governance role per account).
    pub consumer_roles_parameter: String,
    /// EMF namespace.
    pub namespace: String,
    /// Aliases of the data key (`kms:ResourceAliases` the consumer roles' KMS statement names).
    pub key_aliases: Vec<String>,
    /// The permissions boundary consumer roles must carry (`consumer-role/` sets none).
    pub permissions_boundary: Option<String>,
    /// How consumers are placed on the bucket policy and access points (as the reconciler).
    pub tiering: Tiering,
}

/// A consumer role that was not inspected, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The account.
    pub account_id: String,
    /// Why its role was not inspected, and what to do.
    pub reason: String,
}

/// The outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Every drift found.
    pub drift: Vec<Drift>,
    /// Accounts whose role was inspected.
    pub roles_checked: usize,
    /// Accounts whose role was not inspected (no governance role in the directory…).
    pub roles_skipped: Vec<Skipped>,
}

fn skip(account: &str, reason: String) -> Skipped {
    Skipped {
        account_id: account.to_owned(),
        reason,
    }
}

/// Run the check.
///
/// # Errors
/// A service call failed (the check could not complete; nothing is reported as drift).
#[allow(clippy::too_many_arguments)]
pub async fn check<G, P, A, K, C, R, N, M>(
    grants: &G,
    policies: &P,
    access_points: &A,
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
    A: AccessPoints + Sync,
    K: KeyGrants,
    C: ConfigStore,
    R: RoleInspector,
    N: Notifier,
    M: Metrics,
{
    let mut report = Report::default();
    // A registry that cannot be read fails the check: compared with an empty registry, every
    // live statement, KMS grant and consumer role would be reported as drift. An inconsistent
    // registry (invalid items, overlaps) is itself drift: each item left out is reported.
    let (registry, left_out) = grants.load_registry_checked(now).await?;
    report.drift.extend(left_out.into_iter().map(|s| Drift {
        kind: "registry",
        account_id: None,
        detail: format!("item {} left out of the registry: {}", s.item, s.rule),
    }));
    let s = &settings.render;
    // The baseline parameter is compared with the baseline compiled into warden-core, and the
    // live policy with the render on the compiled baseline: an edited parameter is reported,
    // never trusted.
    let baseline_text = config.get_parameter(&settings.baseline_parameter).await?;
    report.drift.extend(governance::baseline_drift(
        &settings.baseline_parameter,
        &baseline_text,
        s,
    ));
    let live_policy = policies.get_bucket_policy(&s.bucket).await?;
    let live_grants = keys.list_grants(&s.kms_key_arn).await?;
    let key_policy = keys.get_key_policy(&s.kms_key_arn).await?;
    let (live_access_points, foreign) =
        warden_access_points(access_points, &s.bucket, &settings.tiering.name_prefix).await?;
    // Not Warden's: the delegation does not trust them, but someone made an entry point to the
    // shared bucket, and a person should know who and why.
    report.drift.extend(foreign.into_iter().map(|name| Drift {
        kind: "access-point",
        account_id: None,
        detail: format!(
            "access point {name} on the shared bucket is not Warden's (<project>-<env>-<account>): the bucket policy does not delegate to it, so it reaches no object unless the bucket policy is widened; find who created it in CloudTrail (CreateAccessPoint) and delete it"
        ),
    }));
    match governance::policy_drift(
        &registry,
        s,
        &settings.tiering,
        live_policy.as_deref(),
        &live_grants,
        &live_access_points,
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
    // Every account the registry holds a grant for (declared or self-service) and every account
    // of the directory: a consumer role nobody inspects is reported, not passed over.
    let accounts: BTreeSet<String> = registry
        .grants()
        .iter()
        .map(|g| g.account_id.as_str().to_owned())
        .chain(directory.keys().cloned())
        .collect();
    for account in &accounts {
        if AccountId::parse(account).is_err() {
            report.roles_skipped.push(skip(
                account,
                format!(
                    "the directory {} names {account:?}, which is not an account ID",
                    settings.consumer_roles_parameter
                ),
            ));
            continue;
        }
        let Some(entry) = directory.get(account) else {
            report.roles_skipped.push(skip(
                account,
                format!(
                    "no entry in the consumer directory {} (a self-service grant for an account Terraform does not declare?): add it to consumer_accounts and apply consumer-role/ there",
                    settings.consumer_roles_parameter
                ),
            ));
            continue;
        };
        let Some(gov) = entry["governance_role"].as_str() else {
            report.roles_skipped.push(skip(
                account,
                format!(
                    "no governance role in the consumer directory {} for this account: apply consumer-role/ there",
                    settings.consumer_roles_parameter
                ),
            ));
            continue;
        };
        // The role read must be the one in this account: a directory entry pointing at a role
        // elsewhere would inspect someone else's (clean) role.
        if gov.split(':').nth(4) != Some(account.as_str()) {
            report.roles_skipped.push(skip(
                account,
                format!(
                    "the directory's governance role {gov} is not in account {account}: restore the directory with terraform apply"
                ),
            ));
            continue;
        }
        let expect = RoleExpectation {
            external_id: entry["external_id"].as_str().map(str::to_owned),
            permissions_boundary: settings.permissions_boundary.clone(),
            key_aliases: settings.key_aliases.clone(),
        };
        match roles.inspect(gov, &s.consumer_role_name).await {
            Ok(facts) => {
                report.drift.extend(governance::role_drift(
                    account, &facts, &expect, &registry, s, now,
                ));
                // The same engine along the whole path: a consumer S3 admits but KMS refuses.
                if facts.exists {
                    report.drift.extend(governance::decrypt_drift(
                        account,
                        &facts.inline_policies,
                        governance::LiveKeyPath {
                            bucket_policy: live_policy.as_deref(),
                            key_policy: &key_policy,
                            grants: &live_grants,
                        },
                        &settings.key_aliases,
                        &registry,
                        s,
                        now,
                    ));
                }
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
            "_aws": {"Timestamp": now.timestamp_millis(), "CloudWatchMetrics": [{"Namespace": settings.namespace, "Dimensions": [[]], "Metrics": [{"Name": "Drift", "Unit": "Count"}, {"Name": "RolesSkipped", "Unit": "Count"}]}]},
            "Drift": report.drift.len(),
            "RolesSkipped": report.roles_skipped.len()
        })
        .to_string(),
    );
    if !report.drift.is_empty() || !report.roles_skipped.is_empty() {
        let mut lines: Vec<String> = report
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
        lines.extend(
            report
                .roles_skipped
                .iter()
                .map(|k| format!("- [not inspected] {} {}", k.account_id, k.reason)),
        );
        let mut subject = format!("Warden governance: {} drift finding(s)", report.drift.len());
        if !report.roles_skipped.is_empty() {
            subject.push_str(&format!(
                ", {} consumer role(s) not inspected",
                report.roles_skipped.len()
            ));
        }
        notifier.publish(&subject, &lines.join("\n")).await?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use warden_core::grant::Registry;
    use warden_core::policy::model::Policy;
    use warden_core::policy::render;
    use warden_core::ports::RoleFacts;
    use warden_testkit::{
        FakeAccessPoints, FakeConfig, FakeGrants, FakeKeyGrants, FakeMetrics, FakeNotifier,
        FakePolicies, FakeRoles,
    };

    const ACCOUNT: &str = "210000000000";
    const GOV: &str = "arn:aws:iam::210000000000:role/warden-governance-readonly";
    const EXTERNAL_ID: &str = "ext-210";

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
                vending_role_arn: Some(
                    "arn:aws:iam::111111111111:role/warden-test-access-validator".into(),
                ),
            },
            baseline_parameter: "/b".into(),
            consumer_roles_parameter: "/c".into(),
            namespace: "Warden/test".into(),
            key_aliases: vec!["alias/warden-test-data".into()],
            permissions_boundary: None,
            tiering: Tiering::bucket_only(),
        }
    }

    fn registry(extra: &str) -> Registry {
        Registry::from_json(&format!(r#"{{"consumer_accounts":[{{"account_id":"{ACCOUNT}","allowed_prefixes":["analytics/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}}{extra}]}}"#), Utc::now()).unwrap()
    }

    fn directory() -> String {
        json!({ACCOUNT: {"governance_role": GOV, "external_id": EXTERNAL_ID,
            "consumer_role": "arn:aws:iam::210000000000:role/warden-consumer"}})
        .to_string()
    }

    fn config(baseline: String, directory: String) -> FakeConfig {
        FakeConfig {
            values: BTreeMap::from([("/b".to_owned(), baseline), ("/c".to_owned(), directory)]),
        }
    }

    fn compiled_baseline() -> String {
        Policy::new(render::baseline_statements(&settings().render)).to_compact_json()
    }

    fn trust(account: &str) -> String {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}]})
        .to_string()
    }

    fn good_role(account: &str) -> RoleFacts {
        RoleFacts {
            exists: true,
            inline_policies: vec![r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/analytics/*"}]}"#.into()],
            attached_policies: vec![],
            trust_policy: Some(trust(account)),
            permissions_boundary: None,
        }
    }

    struct World {
        g: FakeGrants,
        p: FakePolicies,
        a: FakeAccessPoints,
        k: FakeKeyGrants,
        c: FakeConfig,
        r: FakeRoles,
        n: FakeNotifier,
        m: FakeMetrics,
    }

    impl World {
        /// Everything in step: the reconciler's plan applied, the role as rendered.
        async fn new(reg: Registry, c: FakeConfig) -> Self {
            let s = settings();
            let w = World {
                g: FakeGrants::new(reg.clone()),
                p: FakePolicies::default(),
                a: FakeAccessPoints::default(),
                k: FakeKeyGrants::default(),
                c,
                r: FakeRoles::default(),
                n: FakeNotifier::default(),
                m: FakeMetrics::default(),
            };
            let plan = warden_core::reconcile::plan(
                &reg,
                &s.render,
                render::baseline_statements(&s.render),
                None,
                &[],
                Utc::now(),
            )
            .unwrap();
            w.p.put_bucket_policy("shared", plan.bucket_policy.as_deref().unwrap())
                .await
                .unwrap();
            for spec in &plan.create_grants {
                w.k.create_grant("k", spec).await.unwrap();
            }
            w.r.put(GOV, good_role(ACCOUNT));
            w
        }
        async fn run(&self) -> Report {
            check(
                &self.g,
                &self.p,
                &self.a,
                &self.k,
                &self.c,
                &self.r,
                &self.n,
                &self.m,
                &settings(),
                Utc::now(),
            )
            .await
            .unwrap()
        }
    }

    /// An access point someone created on the shared bucket outside Warden's names is reported
    /// (the delegation does not trust it, but it is an entry point nobody asked for).
    #[tokio::test]
    async fn attack_a_foreign_access_point_on_the_bucket_is_reported() {
        let w = World::new(registry(""), config(compiled_baseline(), directory())).await;
        w.a.points
            .lock()
            .unwrap()
            .insert("exfil".into(), ("shared".into(), Some("{}".into())));
        let r = w.run().await;
        assert_eq!(r.drift.len(), 1, "{r:?}");
        assert_eq!(r.drift[0].kind, "access-point");
        assert!(
            r.drift[0].detail.contains("exfil") && r.drift[0].detail.contains("CreateAccessPoint")
        );
    }

    #[tokio::test]
    async fn clean_then_planted_drift_is_reported() {
        let w = World::new(registry(""), config(compiled_baseline(), directory())).await;
        let clean = w.run().await;
        assert!(clean.drift.is_empty(), "{clean:?}");
        assert!(clean.roles_skipped.is_empty(), "{clean:?}");
        assert_eq!(clean.roles_checked, 1);
        assert!(w.n.messages.lock().unwrap().is_empty());
        // Someone edits the bucket policy by hand.
        let live = w.p.policies.lock().unwrap()["shared"].clone();
        w.p.put_bucket_policy("shared", &live.replace("analytics/*", "*"))
            .await
            .unwrap();
        let drifted = w.run().await;
        assert_eq!(drifted.drift.len(), 1);
        assert_eq!(drifted.drift[0].kind, "bucket-policy");
        assert_eq!(w.n.messages.lock().unwrap().len(), 1);
        let last = w.m.lines.lock().unwrap().last().unwrap().clone();
        assert!(
            last.contains("\"Drift\":1") && last.contains("\"RolesSkipped\":0"),
            "{last}"
        );
    }

    #[tokio::test]
    async fn a_consumer_the_bucket_admits_but_kms_refuses_is_drift() {
        let w = World::new(registry(""), config(compiled_baseline(), directory())).await;
        // Someone with kms:RevokeGrant removes the consumer's grant: S3 still lets it in.
        w.k.grants.lock().unwrap().clear();
        let r = w.run().await;
        let kinds: Vec<&str> = r.drift.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, ["kms-grants", "kms-decrypt"], "{r:#?}");
        let d = &r.drift[1];
        assert_eq!(d.account_id.as_deref(), Some(ACCOUNT));
        assert!(
            d.detail
                .contains("but kms:Decrypt on the key is not allowed")
                && d.detail.contains("run the policy-reconciler"),
            "{}",
            d.detail
        );
        let msg = w.n.messages.lock().unwrap().last().unwrap().clone();
        assert!(format!("{msg:?}").contains("[kms-decrypt]"), "{msg:?}");
    }

    #[tokio::test]
    async fn an_unreadable_registry_fails_the_check_instead_of_reporting_everything_as_drift() {
        let w = World::new(registry(""), config(compiled_baseline(), directory())).await;
        *w.g.registry.lock().unwrap() = Err(PortError::new(
            "dynamodb",
            "Scan",
            "ProvisionedThroughputExceededException: throttled",
        ));
        let e = check(
            &w.g,
            &w.p,
            &w.a,
            &w.k,
            &w.c,
            &w.r,
            &w.n,
            &w.m,
            &settings(),
            Utc::now(),
        )
        .await
        .unwrap_err();
        assert_eq!((e.service, e.operation), ("dynamodb", "Scan"));
        assert!(
            w.n.messages.lock().unwrap().is_empty(),
            "no alert of false drift"
        );
        assert!(
            w.m.lines.lock().unwrap().is_empty(),
            "no Drift metric either"
        );
    }

    #[tokio::test]
    async fn registry_items_left_out_are_drift() {
        let w = World::new(registry(""), config(compiled_baseline(), directory())).await;
        w.g.skipped
            .lock()
            .unwrap()
            .push(warden_core::grant::SkippedItem {
                item: "220000000000/declared".into(),
                rule: "access_level: must be read or read-write".into(),
            });
        let r = w.run().await;
        assert_eq!(r.drift.len(), 1, "{r:?}");
        assert_eq!(r.drift[0].kind, "registry");
        assert!(
            r.drift[0].detail.contains("220000000000/declared")
                && r.drift[0].detail.contains("access_level"),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn attack_trust_policy_widened_to_star_is_reported() {
        let w = World::new(registry(""), config(compiled_baseline(), directory())).await;
        let mut role = good_role(ACCOUNT);
        role.trust_policy = Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}"#.into());
        w.r.put(GOV, role);
        let r = w.run().await;
        assert_eq!(r.drift.len(), 1, "{r:?}");
        let d = &r.drift[0];
        assert_eq!(
            (d.kind, d.account_id.as_deref()),
            ("consumer-role", Some(ACCOUNT))
        );
        assert!(
            d.detail.contains(
                "admits principals beyond account 210000000000: arn:aws:iam::111111111111:root"
            ) && d.detail.contains("without sts:ExternalId"),
            "{}",
            d.detail
        );
        let (subject, body) = w.n.messages.lock().unwrap()[0].clone();
        assert!(subject.contains("1 drift finding"), "{subject}");
        assert!(body.contains("[consumer-role] 210000000000"), "{body}");
    }

    #[tokio::test]
    async fn attack_permissions_boundary_set_on_the_consumer_role_is_reported() {
        let w = World::new(registry(""), config(compiled_baseline(), directory())).await;
        let mut role = good_role(ACCOUNT);
        role.permissions_boundary = Some("arn:aws:iam::210000000000:policy/whatever".into());
        w.r.put(GOV, role);
        let r = w.run().await;
        assert!(
            r.drift[0]
                .detail
                .contains("permissions boundary arn:aws:iam::210000000000:policy/whatever is set"),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn attack_self_service_account_outside_the_directory_is_reported_as_skipped() {
        // A self-service grant for an account Terraform never declared: its role is not in the
        // directory, so nobody could inspect it — say so, with the reason.
        let extra = r#",{"account_id":"230000000000","allowed_prefixes":["campaigns/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z","created_by":"arn:aws:sts::230000000000:assumed-role/analyst/eve"}"#;
        let w = World::new(registry(extra), config(compiled_baseline(), directory())).await;
        let r = w.run().await;
        assert_eq!(r.roles_checked, 1);
        assert_eq!(r.roles_skipped.len(), 1, "{r:?}");
        assert_eq!(r.roles_skipped[0].account_id, "230000000000");
        assert!(
            r.roles_skipped[0]
                .reason
                .contains("no entry in the consumer directory /c"),
            "{r:?}"
        );
        let (subject, body) = w.n.messages.lock().unwrap()[0].clone();
        assert!(
            subject.contains("1 consumer role(s) not inspected"),
            "{subject}"
        );
        assert!(body.contains("[not inspected] 230000000000"), "{body}");
        assert!(
            w.m.lines
                .lock()
                .unwrap()
                .last()
                .unwrap()
                .contains("\"RolesSkipped\":1")
        );
    }

    #[tokio::test]
    async fn directory_accounts_without_a_grant_and_without_a_governance_role_are_handled() {
        // 240… lapsed (in the directory, no grant: its role must reach nothing); 250… has no
        // governance role; 260… names a governance role in another account.
        let mut dir: serde_json::Map<String, Value> = serde_json::from_str(&directory()).unwrap();
        let lapsed_gov = "arn:aws:iam::240000000000:role/warden-governance-readonly";
        dir.insert(
            "240000000000".into(),
            json!({"governance_role": lapsed_gov, "external_id": EXTERNAL_ID}),
        );
        dir.insert("250000000000".into(), json!({"governance_role": null}));
        dir.insert("260000000000".into(), json!({"governance_role": GOV}));
        let w = World::new(
            registry(""),
            config(compiled_baseline(), Value::Object(dir).to_string()),
        )
        .await;
        let mut lapsed = good_role("240000000000");
        lapsed.inline_policies = vec![r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/old/*"}]}"#.into()];
        w.r.put(lapsed_gov, lapsed);
        let r = w.run().await;
        assert_eq!(r.roles_checked, 2, "{r:?}");
        assert_eq!(
            r.drift
                .iter()
                .map(|d| d.account_id.as_deref())
                .collect::<Vec<_>>(),
            vec![Some("240000000000")]
        );
        assert!(
            r.drift[0].detail.contains("shared/old/warden-probe"),
            "{r:?}"
        );
        let skipped: Vec<(&str, &str)> = r
            .roles_skipped
            .iter()
            .map(|k| (k.account_id.as_str(), k.reason.as_str()))
            .collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped[0].0 == "250000000000" && skipped[0].1.contains("no governance role"));
        assert!(
            skipped[1].0 == "260000000000"
                && skipped[1].1.contains("is not in account 260000000000")
        );
        assert_eq!(
            *w.r.inspected.lock().unwrap(),
            vec![GOV.to_owned(), lapsed_gov.to_owned()]
        );
    }

    #[tokio::test]
    async fn attack_ssm_baseline_edit_is_reported() {
        // The parameter gains an Allow for another account; a reconciler without the baseline
        // check applied it. Governance reports both the parameter and the live policy.
        let mut baseline: Value = serde_json::from_str(&compiled_baseline()).unwrap();
        let partner = json!({"Sid": "PartnerRead", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/*"});
        baseline["Statement"]
            .as_array_mut()
            .unwrap()
            .push(partner.clone());
        let w = World::new(registry(""), config(baseline.to_string(), directory())).await;
        let mut live: Value =
            serde_json::from_str(&w.p.policies.lock().unwrap()["shared"].clone()).unwrap();
        live["Statement"].as_array_mut().unwrap().push(partner);
        w.p.put_bucket_policy("shared", &live.to_string())
            .await
            .unwrap();
        let r = w.run().await;
        let kinds: Vec<&str> = r.drift.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, vec!["baseline", "bucket-policy"], "{r:?}");
        assert!(
            r.drift[0].detail.contains("\"PartnerRead\"")
                && r.drift[0].detail.contains("444444444444"),
            "{}",
            r.drift[0].detail
        );
    }
}
