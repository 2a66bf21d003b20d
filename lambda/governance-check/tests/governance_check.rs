//! governance-check on the local emulator: the live bucket policy and KMS grants against the
//! registry's render, the baseline parameter against the compiled baseline, and each consumer
//! role — trust policy, permissions boundary and permissions — read through that account's
//! governance role (STS + IAM in the consumer account). The `attack_*` tests plant what an
//! insider with one permission could do and assert governance reports it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::Utc;
use governance_check::{Report, Settings, check};
use serde_json::json;
use warden_aws::local::{Environment, consumer_policy, emulator_from_env, unique};
use warden_aws::{
    DynamoGrantStore, IamRoleInspector, KmsKeyGrants, S3PolicyStore, SnsNotifier, SsmConfig,
    StdoutMetrics, bootstrap,
};
use warden_core::grant::{Grant, GrantInput};

/// Consumer accounts of their own for each test and run: IAM state (roles, boundaries, inline
/// policies) lives per account on the shared emulator and outlives a run.
fn account(slot: u32, n: u32) -> String {
    format!("3{:06}{:03}{n:02}", std::process::id() % 1_000_000, slot)
}

fn grants(reader: &str, other: &str) -> String {
    json!({"consumer_accounts": [
        {"account_id": reader, "allowed_prefixes": ["sales/"], "access_level": "read",
         "expiration_date": "2030-01-01T00:00:00Z", "external_id": "ext-sales-4f1"},
        {"account_id": other, "allowed_prefixes": ["ml/"], "access_level": "read",
         "expiration_date": "2030-01-01T00:00:00Z", "external_id": "ext-ml-4f1"}]})
    .to_string()
}

struct Local {
    cfg: aws_config::SdkConfig,
    env: Environment,
    reader: String,
    other: String,
}

impl Local {
    async fn new(name: &str, slot: u32) -> Option<Self> {
        let cfg = emulator_from_env().await?;
        let (reader, other) = (account(slot, 1), account(slot, 2));
        let env = Environment::create(&cfg, &unique(name), &grants(&reader, &other), Utc::now())
            .await
            .unwrap();
        Some(Local {
            cfg,
            env,
            reader,
            other,
        })
    }

    async fn run(&self) -> Report {
        self.run_with(&self.cfg).await.unwrap()
    }

    /// A run whose clients are built from `cfg` (e.g. under the fault layer).
    async fn run_with(
        &self,
        cfg: &aws_config::SdkConfig,
    ) -> Result<Report, warden_core::ports::PortError> {
        let env = &self.env;
        let settings = Settings {
            render: env.render.clone(),
            baseline_parameter: env.baseline_parameter.clone(),
            consumer_roles_parameter: env.roles_parameter.clone(),
            namespace: "Warden/test".into(),
            key_aliases: vec![],
            permissions_boundary: None,
            tiering: warden_core::policy::access_point::Tiering::bucket_only(),
        };
        check(
            &DynamoGrantStore::new(cfg, &env.registry_table),
            &S3PolicyStore::new(cfg),
            &warden_aws::S3AccessPoints::new(cfg, &env.render.primary_account.to_string()),
            &KmsKeyGrants::new(cfg),
            &SsmConfig::new(cfg),
            &IamRoleInspector::new(cfg),
            &SnsNotifier::new(cfg, &env.alert_topic),
            &StdoutMetrics,
            &settings,
            Utc::now(),
        )
        .await
    }

    /// The one consumer-role finding of `account`, or a panic naming the report.
    async fn role_finding(&self, account: &str) -> String {
        let r = self.run().await;
        let found: Vec<&str> = r
            .drift
            .iter()
            .filter(|d| d.kind == "consumer-role" && d.account_id.as_deref() == Some(account))
            .map(|d| d.detail.as_str())
            .collect();
        assert_eq!(found.len(), 1, "{r:?}");
        found[0].to_owned()
    }

    async fn no_role_drift(&self) {
        let r = self.run().await;
        assert!(r.drift.iter().all(|d| d.kind != "consumer-role"), "{r:?}");
    }

    /// The consumer role's trust policy replaced in its account (UpdateAssumeRolePolicy).
    async fn set_trust(&self, account: &str, trust: &serde_json::Value) {
        bootstrap::create_role_in_account(
            &self.cfg,
            account,
            "warden-consumer",
            &trust.to_string(),
            None,
        )
        .await
        .unwrap();
    }

    /// An IAM client acting as the administrator of `account`.
    async fn iam_in(&self, account: &str) -> aws_sdk_iam::Client {
        let out = aws_sdk_sts::Client::new(&self.cfg)
            .assume_role()
            .role_arn(format!(
                "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
            ))
            .role_session_name("attacker")
            .send()
            .await
            .unwrap();
        let c = out.credentials().unwrap();
        let creds = aws_credential_types::Credentials::from_keys(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
        );
        aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::config::Builder::from(&self.cfg)
                .credentials_provider(creds)
                .build(),
        )
    }
}

fn trust_with_external_id(account: &str, external_id: &str) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": external_id}}}]})
}

#[tokio::test]
async fn finds_unapplied_policy_and_a_widened_role() {
    let Some(l) = Local::new("gov", 1).await else {
        return;
    };
    // Nothing applied yet: the bucket policy and both KMS grants are missing; the roles are as
    // consumer-role/ renders them (trust with the external ID, no boundary, grant-sized policy).
    let before = l.run().await;
    assert_eq!(before.roles_checked, 2);
    assert!(before.roles_skipped.is_empty(), "{before:?}");
    assert!(
        before.drift.iter().any(|d| d.kind == "bucket-policy"),
        "{before:?}"
    );
    assert!(
        before
            .drift
            .iter()
            .all(|d| d.kind != "consumer-role" && d.kind != "baseline"),
        "{before:?}"
    );
    // A role edited by hand to reach another prefix.
    bootstrap::put_role_policy_in_account(
        &l.cfg,
        &l.other,
        "warden-consumer",
        "hand-edited",
        &consumer_policy(&l.env.bucket, &["finance/".to_owned()]),
    )
    .await
    .unwrap();
    let detail = l.role_finding(&l.other).await;
    assert!(detail.contains("finance/"), "{detail}");
}

#[tokio::test]
async fn attack_trust_policy_widened_to_star_is_reported() {
    let Some(l) = Local::new("gov-trust", 2).await else {
        return;
    };
    l.no_role_drift().await;
    l.set_trust(
        &l.reader,
        &json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Anyone", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}),
    )
    .await;
    let detail = l.role_finding(&l.reader).await;
    assert!(
        // Anonymous callers cannot call AssumeRole, so "*" shows as the accounts it admits.
        detail.contains(&format!(
            "admits principals beyond account {}: arn:aws:iam::",
            l.reader
        )) && detail.contains("without sts:ExternalId")
            && detail.contains("\"Anyone\" (#0)"),
        "{detail}"
    );
}

#[tokio::test]
async fn attack_trust_policy_admitting_another_account_is_reported() {
    let Some(l) = Local::new("gov-trust2", 3).await else {
        return;
    };
    let mut trust = trust_with_external_id(&l.reader, "ext-sales-4f1");
    trust["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Sid": "Partner", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "sts:AssumeRole"}));
    l.set_trust(&l.reader, &trust).await;
    let detail = l.role_finding(&l.reader).await;
    assert!(
        detail.contains("arn:aws:iam::444455556666:root") && detail.contains("\"Partner\" (#1)"),
        "{detail}"
    );
}

#[tokio::test]
async fn attack_trust_policy_without_external_id_is_reported() {
    let Some(l) = Local::new("gov-trust3", 4).await else {
        return;
    };
    l.set_trust(
        &l.reader,
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{}:root", l.reader)}, "Action": "sts:AssumeRole"}]}),
    )
    .await;
    let detail = l.role_finding(&l.reader).await;
    assert!(detail.contains("without sts:ExternalId"), "{detail}");
}

#[tokio::test]
async fn attack_permissions_boundary_added_is_reported() {
    let Some(l) = Local::new("gov-boundary", 5).await else {
        return;
    };
    let iam = l.iam_in(&l.reader).await;
    let boundary = iam
        .create_policy()
        .policy_name("anything-goes")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap()
        .policy()
        .and_then(|p| p.arn())
        .unwrap()
        .to_owned();
    iam.put_role_permissions_boundary()
        .role_name("warden-consumer")
        .permissions_boundary(&boundary)
        .send()
        .await
        .unwrap();
    let detail = l.role_finding(&l.reader).await;
    assert!(
        detail.contains(&format!("permissions boundary {boundary} is set")),
        "{detail}"
    );
}

#[tokio::test]
async fn attack_consumer_role_widened_seven_ways_is_each_reported() {
    let Some(l) = Local::new("gov-widen", 6).await else {
        return;
    };
    let b = &l.env.bucket;
    let key = &l.env.key_arn;
    // (scenario, the hand-made statement, what the finding must name)
    let scenarios = [
        (
            "Resource \"*\"",
            json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
            format!("s3:GetObject on arn:aws:s3:::{b}/sales-outside/warden-probe"),
        ),
        (
            "bucket-name wildcard",
            json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{b}*")}),
            format!("on arn:aws:s3:::{b}-warden-probe/warden-probe"),
        ),
        (
            "every bucket",
            json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"}),
            "on arn:aws:s3:::warden-probe/warden-probe".to_owned(),
        ),
        (
            "NotResource",
            json!({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": format!("arn:aws:s3:::{b}/sales/*")}),
            format!("s3:GetObject on arn:aws:s3:::{b}/sales-outside/warden-probe"),
        ),
        (
            "writes under a read grant",
            json!({"Effect": "Allow", "Action": "s3:PutObject", "Resource": format!("arn:aws:s3:::{b}/sales/*")}),
            format!("s3:PutObject on arn:aws:s3:::{b}/sales/warden-probe"),
        ),
        (
            "ListBucket without s3:prefix",
            json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{b}")}),
            format!("s3:ListBucket on arn:aws:s3:::{b} without s3:prefix"),
        ),
        (
            "KMS statement",
            json!({"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key}),
            format!("kms:Decrypt, kms:GenerateDataKey on {key} directly (not via S3)"),
        ),
    ];
    l.no_role_drift().await;
    for (scenario, statement, needle) in scenarios {
        bootstrap::put_role_policy_in_account(
            &l.cfg,
            &l.reader,
            "warden-consumer",
            "hand-edited",
            &json!({"Version": "2012-10-17", "Statement": [statement]}).to_string(),
        )
        .await
        .unwrap();
        let detail = l.role_finding(&l.reader).await;
        assert!(
            detail.contains(&needle) && detail.contains("which the registry does not grant"),
            "{scenario}: {needle:?} not in {detail}"
        );
    }
}

#[tokio::test]
async fn attack_self_service_account_without_a_governance_role_is_reported_as_skipped() {
    let Some(l) = Local::new("gov-self", 7).await else {
        return;
    };
    // An approved self-service grant for an account the directory does not know.
    let g = Grant::from_input(
        &GrantInput {
            account_id: account(7, 9),
            name: None,
            allowed_prefixes: vec!["campaigns/".into()],
            access_level: "read".into(),
            expiration_date: "2030-01-01T00:00:00Z".into(),
            owner_email: None,
            external_id: None,
            created_by: Some(format!(
                "arn:aws:sts::{}:assumed-role/analyst/eve",
                account(7, 9)
            )),
            created_at: None,
        },
        Utc::now(),
    )
    .unwrap();
    DynamoGrantStore::new(&l.cfg, &l.env.registry_table)
        .put_grant(&g, "request-self-1")
        .await
        .unwrap();
    let r = l.run().await;
    assert_eq!(r.roles_checked, 2, "{r:?}");
    assert_eq!(r.roles_skipped.len(), 1, "{r:?}");
    assert_eq!(r.roles_skipped[0].account_id, account(7, 9));
    assert!(
        r.roles_skipped[0]
            .reason
            .contains("no entry in the consumer directory"),
        "{r:?}"
    );
}

#[tokio::test]
async fn attack_ssm_baseline_edit_is_reported() {
    let Some(l) = Local::new("gov-baseline", 8).await else {
        return;
    };
    let ssm = SsmConfig::new(&l.cfg);
    let text = warden_core::ports::ConfigStore::get_parameter(&ssm, &l.env.baseline_parameter)
        .await
        .unwrap();
    let mut baseline: serde_json::Value = serde_json::from_str(&text).unwrap();
    baseline["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Sid": "PartnerRead",
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
        "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{}/*", l.env.bucket)}));
    bootstrap::put_parameter(&l.cfg, &l.env.baseline_parameter, &baseline.to_string())
        .await
        .unwrap();
    let r = l.run().await;
    let found: Vec<&str> = r
        .drift
        .iter()
        .filter(|d| d.kind == "baseline")
        .map(|d| d.detail.as_str())
        .collect();
    assert_eq!(found.len(), 1, "{r:?}");
    assert!(
        found[0].contains("\"PartnerRead\"") && found[0].contains("444455556666"),
        "{}",
        found[0]
    );
}

/// The emulator's config under `spec` (SDK retries as in production, shorter backoff).
async fn faulty(spec: &str) -> aws_config::SdkConfig {
    let ep = std::env::var("WARDEN_MOTO_ENDPOINT").unwrap();
    let layer = warden_aws::FaultPlan::parse(spec).unwrap().layer();
    warden_aws::local_config_with_faults(&ep, "us-east-1", Some(&layer))
        .await
        .to_builder()
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_initial_backoff(std::time::Duration::from_millis(5)),
        )
        .build()
}

/// Under faults the check either fails, naming the call, or names each role it could not read —
/// never an all-clear, and never drift invented from a registry it could not read. The next run
/// without faults reports what it reported before.
#[tokio::test]
async fn faults_fail_the_check_or_name_what_was_not_read_never_a_false_all_clear() {
    let Some(l) = Local::new("gov-faults", 9).await else {
        return;
    };
    let before = l.run().await;
    assert_eq!(before.roles_checked, 2, "{before:?}");
    let alerts = warden_aws::local::queue_depth(&l.cfg, &l.env.security_inbox_url)
        .await
        .unwrap();
    for (spec, service, operation, code) in [
        (
            "dynamodb:throttle=1.0",
            "dynamodb",
            "Scan",
            "ProvisionedThroughputExceededException",
        ),
        (
            "ssm:throttle=1.0",
            "ssm",
            "GetParameter",
            "ThrottlingException",
        ),
        ("s3:5xx=1.0", "s3", "GetBucketPolicy", "InternalError"),
        ("kms:timeout=1.0", "kms", "ListGrants", "timeout"),
    ] {
        let e = l.run_with(&faulty(spec).await).await.unwrap_err();
        assert_eq!(
            (e.service, e.operation),
            (service, operation),
            "{spec}: {e}"
        );
        assert!(e.message.contains(code), "{spec}: {e}");
    }
    assert_eq!(
        warden_aws::local::queue_depth(&l.cfg, &l.env.security_inbox_url)
            .await
            .unwrap(),
        alerts,
        "a check that could not complete sends no alert"
    );
    // IAM throttled in the consumer accounts: each role not read is a finding, by name.
    let partial = l
        .run_with(&faulty("iam:throttle=1.0,seed=5").await)
        .await
        .unwrap();
    assert_eq!(partial.roles_checked, 0, "{partial:?}");
    for account in [&l.reader, &l.other] {
        assert!(
            partial.drift.iter().any(|d| d.kind == "consumer-role"
                && d.account_id.as_deref() == Some(account.as_str())
                && d.detail.contains("Throttling")),
            "{partial:?}"
        );
    }
    let after = l.run().await;
    assert_eq!(after, before);
}
