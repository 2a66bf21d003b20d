//! governance-check on the local emulator: the live bucket policy and KMS grants against the
//! registry's render, and each consumer role read through that account's governance role (STS +
//! IAM in the consumer account).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::Utc;
use governance_check::{Settings, check};
use warden_aws::local::{Environment, emulator_from_env, unique};
use warden_aws::{
    DynamoGrantStore, IamRoleInspector, KmsKeyGrants, S3PolicyStore, SnsNotifier, SsmConfig,
    StdoutMetrics, bootstrap,
};

const GRANTS: &str = r#"{"consumer_accounts":[
 {"account_id":"340000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"},
 {"account_id":"340000000002","allowed_prefixes":["ml/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#;

#[tokio::test]
async fn finds_unapplied_policy_and_a_widened_role() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let env = Environment::create(&cfg, &unique("gov"), GRANTS, Utc::now())
        .await
        .unwrap();
    let (grants, policies, keys, ssm, roles, notes) = (
        DynamoGrantStore::new(&cfg, &env.registry_table),
        S3PolicyStore::new(&cfg),
        KmsKeyGrants::new(&cfg),
        SsmConfig::new(&cfg),
        IamRoleInspector::new(&cfg),
        SnsNotifier::new(&cfg, &env.alert_topic),
    );
    let settings = Settings {
        render: env.render.clone(),
        baseline_parameter: env.baseline_parameter.clone(),
        consumer_roles_parameter: env.roles_parameter.clone(),
        namespace: "Warden/test".into(),
    };
    let run = || {
        check(
            &grants,
            &policies,
            &keys,
            &ssm,
            &roles,
            &notes,
            &StdoutMetrics,
            &settings,
            Utc::now(),
        )
    };
    // Nothing applied yet: the bucket policy and both KMS grants are missing.
    let before = run().await.unwrap();
    assert_eq!(before.roles_checked, 2);
    assert!(
        before.drift.iter().any(|d| d.kind == "bucket-policy"),
        "{before:?}"
    );
    assert!(
        before.drift.iter().all(|d| d.kind != "consumer-role"),
        "{before:?}"
    );
    // A role edited by hand to reach another prefix.
    bootstrap::put_role_policy_in_account(
        &cfg,
        "340000000002",
        "warden-consumer",
        "hand-edited",
        &warden_aws::local::consumer_policy(&env.bucket, &["finance/".to_owned()]),
    )
    .await
    .unwrap();
    let after = run().await.unwrap();
    let role = after
        .drift
        .iter()
        .find(|d| d.kind == "consumer-role")
        .unwrap();
    assert_eq!(role.account_id.as_deref(), Some("340000000002"));
    assert!(role.detail.contains("finance/"), "{}", role.detail);
}
