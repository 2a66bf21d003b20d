//! policy-reconciler on the local emulator: the real S3, KMS and SSM adapters. Skipped (with a
//! note) when `make test` has not started moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::Utc;
use policy_reconciler::{Settings, reconcile};
use warden_aws::local::{Environment, emulator_from_env, unique};
use warden_aws::{DynamoGrantStore, KmsKeyGrants, S3PolicyStore, SnsNotifier, SsmConfig};
use warden_core::ports::PolicyStore;

const GRANTS: &str = r#"{"consumer_accounts":[
 {"account_id":"310000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"},
 {"account_id":"310000000002","allowed_prefixes":["ml/"],"access_level":"read-write","expiration_date":"2030-01-01T00:00:00Z"},
 {"account_id":"310000000003","allowed_prefixes":["old/"],"access_level":"read","expiration_date":"2020-01-01T00:00:00Z"}]}"#;

#[tokio::test]
async fn applies_the_registry_then_changes_nothing() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let env = Environment::create(&cfg, &unique("rec"), GRANTS, Utc::now())
        .await
        .unwrap();
    let (grants, policies, keys, ssm, notes) = (
        DynamoGrantStore::new(&cfg, &env.registry_table),
        S3PolicyStore::new(&cfg),
        KmsKeyGrants::new(&cfg),
        SsmConfig::new(&cfg),
        SnsNotifier::new(&cfg, &env.alert_topic),
    );
    let settings = Settings {
        render: env.render.clone(),
        baseline_parameter: env.baseline_parameter.clone(),
    };
    let first = reconcile(
        &grants,
        &policies,
        &keys,
        &ssm,
        &notes,
        &settings,
        Utc::now(),
    )
    .await
    .unwrap();
    assert!(first.policy_applied);
    assert_eq!(first.kms_grants_created, 2, "the expired grant gets none");
    let live = policies
        .get_bucket_policy(&env.bucket)
        .await
        .unwrap()
        .unwrap();
    assert!(live.contains("arn:aws:iam::310000000001:role/warden-consumer"));
    assert!(live.contains(&format!("arn:aws:s3:::{}/ml/*", env.bucket)));
    assert!(
        !live.contains("310000000003"),
        "expired grants are not rendered"
    );
    let second = reconcile(
        &grants,
        &policies,
        &keys,
        &ssm,
        &notes,
        &settings,
        Utc::now(),
    )
    .await
    .unwrap();
    assert!(!second.policy_applied);
    assert_eq!(
        (second.kms_grants_created, second.kms_grants_revoked),
        (0, 0)
    );
}

#[tokio::test]
async fn attack_ssm_baseline_with_allow_for_another_account_is_refused_and_alerted() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let env = Environment::create(&cfg, &unique("rec-baseline"), GRANTS, Utc::now())
        .await
        .unwrap();
    let ssm = SsmConfig::new(&cfg);
    // An insider with ssm:PutParameter adds an Allow for their own account to the baseline.
    let text = warden_core::ports::ConfigStore::get_parameter(&ssm, &env.baseline_parameter)
        .await
        .unwrap();
    let mut baseline: serde_json::Value = serde_json::from_str(&text).unwrap();
    baseline["Statement"].as_array_mut().unwrap().push(
        serde_json::json!({"Sid": "PartnerRead", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{}/*", env.bucket)}),
    );
    warden_aws::bootstrap::put_parameter(&cfg, &env.baseline_parameter, &baseline.to_string())
        .await
        .unwrap();
    let (grants, policies, keys, notes) = (
        DynamoGrantStore::new(&cfg, &env.registry_table),
        S3PolicyStore::new(&cfg),
        KmsKeyGrants::new(&cfg),
        SnsNotifier::new(&cfg, &env.alert_topic),
    );
    let settings = Settings {
        render: env.render.clone(),
        baseline_parameter: env.baseline_parameter.clone(),
    };
    let e = reconcile(
        &grants,
        &policies,
        &keys,
        &ssm,
        &notes,
        &settings,
        Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, policy_reconciler::ReconcileError::BaselineRefused { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("\"PartnerRead\""), "{e}");
    // Nothing applied: no bucket policy, no KMS grant.
    assert_eq!(policies.get_bucket_policy(&env.bucket).await.unwrap(), None);
    assert!(
        warden_core::ports::KeyGrants::list_grants(&keys, &env.key_arn)
            .await
            .unwrap()
            .is_empty()
    );
    // The security team is told, with the statement and the rule.
    let inbox = warden_aws::local::EventSourceMapping::new(&cfg, &env.security_inbox_url)
        .await
        .unwrap();
    let batch = inbox.receive(10).await.unwrap();
    let mail = batch.event.to_string();
    assert!(
        mail.contains("baseline refused")
            && mail.contains("PartnerRead")
            && mail.contains("Effect Deny"),
        "{mail}"
    );
}
