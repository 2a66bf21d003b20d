//! policy-reconciler on the local emulator: the real S3, KMS and SSM adapters. Skipped (with a
//! note) when `make test` has not started moto.
//!
//! moto stores any bucket policy: it does not resolve principals, so it neither refuses a role that
//! does not exist (`MalformedPolicy: Invalid principal in policy`) nor shows a deleted role by its
//! unique ID (`moto_stores_a_policy_naming_a_role_that_does_not_exist` pins that gap). The tests of
//! those failures wrap the real S3 adapter in warden-testkit's `RefusingPolicies`, which answers as
//! S3 does; the registry, the stored policy, the KMS grants and the alerts are moto's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::Utc;
use policy_reconciler::{Settings, reconcile};
use warden_aws::local::{Environment, emulator_from_env, unique};
use warden_aws::{
    DynamoGrantStore, KmsKeyGrants, S3AccessPoints, S3PolicyStore, SnsNotifier, SsmConfig,
};
use warden_core::policy::access_point::SharingMode;
use warden_core::ports::{GrantRef, GrantStore, KeyGrants, PolicyStore};
use warden_testkit::{FlakyPolicies, RefusingPolicies};

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
        sharing: SharingMode::BucketPolicy,
        access_point_prefix: "warden-test".into(),
    };
    let aps = S3AccessPoints::new(&cfg, &env.render.primary_account.to_string());
    let first = reconcile(
        &grants,
        &policies,
        &aps,
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
        &aps,
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
        sharing: SharingMode::BucketPolicy,
        access_point_prefix: "warden-test".into(),
    };
    let aps = S3AccessPoints::new(&cfg, &env.render.primary_account.to_string());
    let e = reconcile(
        &grants,
        &policies,
        &aps,
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

const GRANTS_4: &str = r#"{"consumer_accounts":[
 {"account_id":"320000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"},
 {"account_id":"320000000002","allowed_prefixes":["ml/"],"access_level":"read-write","expiration_date":"2030-01-01T00:00:00Z"},
 {"account_id":"320000000004","allowed_prefixes":["finance/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"},
 {"account_id":"320000000003","allowed_prefixes":["old/"],"access_level":"read","expiration_date":"2020-01-01T00:00:00Z"}]}"#;

fn role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/warden-consumer")
}

fn declared(account: &str, prefix: &str, level: &str) -> GrantRef {
    GrantRef {
        account_id: account.into(),
        grant_id: "declared".into(),
        expiration_date: "2030-01-01T00:00:00Z".into(),
        allowed_prefixes: vec![prefix.into()],
        access_level: level.into(),
    }
}

/// The emulator gap the next tests work around: moto accepts a principal that does not exist.
#[tokio::test]
async fn moto_stores_a_policy_naming_a_role_that_does_not_exist() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let bucket = unique("rec-moto-principal");
    warden_aws::bootstrap::create_bucket(&cfg, &bucket)
        .await
        .unwrap();
    let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::399999999999:role/does-not-exist"},
        "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]})
    .to_string();
    let s3 = S3PolicyStore::new(&cfg);
    s3.put_bucket_policy(&bucket, &doc).await.unwrap();
    let live = s3.get_bucket_policy(&bucket).await.unwrap().unwrap();
    assert!(live.contains("arn:aws:iam::399999999999:role/does-not-exist"));
}

/// A consumer role is deleted (S3 refuses it) while another grant is revoked in the registry: on
/// moto's S3, KMS, DynamoDB and SNS, the revocation is applied, the broken grant is left out and
/// named in the alert, the third grant stays; a second run changes nothing.
#[tokio::test]
async fn a_deleted_consumer_role_does_not_block_a_revocation() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let env = Environment::create(&cfg, &unique("rec-partial"), GRANTS_4, Utc::now())
        .await
        .unwrap();
    let (grants, keys, ssm, notes) = (
        DynamoGrantStore::new(&cfg, &env.registry_table),
        KmsKeyGrants::new(&cfg),
        SsmConfig::new(&cfg),
        SnsNotifier::new(&cfg, &env.alert_topic),
    );
    let policies = RefusingPolicies::new(S3PolicyStore::new(&cfg), &[]);
    let settings = Settings {
        render: env.render.clone(),
        baseline_parameter: env.baseline_parameter.clone(),
        sharing: SharingMode::BucketPolicy,
        access_point_prefix: "warden-test".into(),
    };
    let aps = S3AccessPoints::new(&cfg, &env.render.primary_account.to_string());
    let run = || {
        reconcile(
            &grants,
            &policies,
            &aps,
            &keys,
            &ssm,
            &notes,
            &settings,
            Utc::now(),
        )
    };
    let first = run().await.unwrap();
    assert_eq!((first.kms_grants_created, first.grants_applied), (3, 3));
    // 320000000001's consumer role is deleted; 320000000002's grant is revoked.
    policies.refused.lock().unwrap().push(role("320000000001"));
    assert!(
        grants
            .revoke(&declared("320000000002", "ml/", "read-write"), Utc::now())
            .await
            .unwrap()
    );
    let r = run().await.unwrap();
    assert!(r.partial && r.policy_applied && r.removals_applied, "{r:?}");
    assert_eq!(r.excluded.len(), 1, "{r:?}");
    assert_eq!(r.excluded[0].account_id, "320000000001");
    assert!(r.excluded[0].rule.contains("Invalid principal in policy"));
    assert_eq!(r.kms_grants_revoked, 2);
    let live = S3PolicyStore::new(&cfg)
        .get_bucket_policy(&env.bucket)
        .await
        .unwrap()
        .unwrap();
    assert!(!live.contains("320000000002"), "the revocation is applied");
    assert!(!live.contains("320000000001"));
    assert!(live.contains(&role("320000000004")));
    let kms: Vec<String> = keys
        .list_grants(&env.key_arn)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.grantee_principal)
        .collect();
    assert_eq!(kms, vec![role("320000000004")]);
    let inbox = warden_aws::local::EventSourceMapping::new(&cfg, &env.security_inbox_url)
        .await
        .unwrap();
    let mail = inbox.receive(10).await.unwrap().event.to_string();
    assert!(
        mail.contains("partial run")
            && mail.contains("320000000001")
            && mail.contains("consumer-role/"),
        "{mail}"
    );
    let again = run().await.unwrap();
    assert!(!again.policy_applied && again.partial);
    assert_eq!((again.kms_grants_created, again.kms_grants_revoked), (0, 0));
}

/// PutBucketPolicy fails after the SDK's retries: the KMS revocation is applied on moto anyway,
/// the run is incomplete (the invocation is retried) and the retry applies the policy.
#[tokio::test]
async fn a_failed_put_is_finished_by_the_retry() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let env = Environment::create(&cfg, &unique("rec-retry"), GRANTS_4, Utc::now())
        .await
        .unwrap();
    let (grants, keys, ssm, notes) = (
        DynamoGrantStore::new(&cfg, &env.registry_table),
        KmsKeyGrants::new(&cfg),
        SsmConfig::new(&cfg),
        SnsNotifier::new(&cfg, &env.alert_topic),
    );
    let policies = FlakyPolicies {
        inner: S3PolicyStore::new(&cfg),
        fail_puts: std::sync::Mutex::new(0),
    };
    let settings = Settings {
        render: env.render.clone(),
        baseline_parameter: env.baseline_parameter.clone(),
        sharing: SharingMode::BucketPolicy,
        access_point_prefix: "warden-test".into(),
    };
    let aps = S3AccessPoints::new(&cfg, &env.render.primary_account.to_string());
    let run = || {
        reconcile(
            &grants,
            &policies,
            &aps,
            &keys,
            &ssm,
            &notes,
            &settings,
            Utc::now(),
        )
    };
    run().await.unwrap();
    assert!(
        grants
            .revoke(&declared("320000000004", "finance/", "read"), Utc::now())
            .await
            .unwrap()
    );
    *policies.fail_puts.lock().unwrap() = 1;
    let e = run().await.unwrap_err();
    let policy_reconciler::ReconcileError::Incomplete(r) = e else {
        panic!("{e}");
    };
    assert!(!r.removals_applied && r.kms_grants_revoked == 1, "{r:?}");
    assert_eq!(r.failures[0].change, "PutBucketPolicy");
    let s3 = S3PolicyStore::new(&cfg);
    let stale = s3.get_bucket_policy(&env.bucket).await.unwrap().unwrap();
    assert!(stale.contains("320000000004"), "not replaced yet");
    let retry = run().await.unwrap();
    assert!(retry.policy_applied && retry.removals_applied && !retry.partial);
    let live = s3.get_bucket_policy(&env.bucket).await.unwrap().unwrap();
    assert!(!live.contains("320000000004"));
}

// --- Fault injection -------------------------------------------------------------------------
/// The real adapters on moto with KMS CreateGrant answering 500 InternalFailure on every try (the
/// fault layer under the SDK, so the SDK's own retries run and give up): the run applies the bucket
/// policy anyway and fails as `Incomplete`, naming each grant not created; a second run without
/// faults creates them; a third changes nothing.
#[tokio::test]
async fn kms_failing_under_the_sdk_fails_the_run_and_the_retry_finishes_it() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let Ok(endpoint) = std::env::var("WARDEN_MOTO_ENDPOINT") else {
        return;
    };
    let env = Environment::create(&cfg, &unique("rec-faults"), GRANTS, Utc::now())
        .await
        .unwrap();
    let layer = warden_aws::FaultPlan::parse("kms.CreateGrant:5xx=1.0,seed=3")
        .unwrap()
        .layer();
    let faulted = warden_aws::local_config_with_faults(&endpoint, "us-east-1", Some(&layer)).await;
    let (grants, policies, ssm, notes) = (
        DynamoGrantStore::new(&cfg, &env.registry_table),
        S3PolicyStore::new(&cfg),
        SsmConfig::new(&cfg),
        SnsNotifier::new(&cfg, &env.alert_topic),
    );
    let settings = Settings {
        render: env.render.clone(),
        baseline_parameter: env.baseline_parameter.clone(),
        sharing: SharingMode::BucketPolicy,
        access_point_prefix: "warden-test".into(),
    };
    let aps = S3AccessPoints::new(&cfg, &env.render.primary_account.to_string());
    let e = reconcile(
        &grants,
        &policies,
        &aps,
        &KmsKeyGrants::new(&faulted),
        &ssm,
        &notes,
        &settings,
        Utc::now(),
    )
    .await
    .unwrap_err();
    let policy_reconciler::ReconcileError::Incomplete(r) = e else {
        panic!("{e}");
    };
    assert!(
        r.policy_applied,
        "the bucket policy is applied whatever KMS does"
    );
    assert_eq!(r.kms_grants_created, 0);
    assert_eq!(
        r.failures
            .iter()
            .map(|f| f.change.as_str())
            .collect::<Vec<_>>(),
        ["CreateGrant", "CreateGrant"],
        "{r:?}"
    );
    assert!(
        r.failures.iter().all(|f| f.error.contains("warden-fault-")),
        "the SDK's error after its retries: {r:?}"
    );
    assert!(
        layer
            .stats()
            .injected_total(warden_aws::faults::Service::Kms)
            >= 4,
        "the SDK retried each of the two calls"
    );
    let keys = KmsKeyGrants::new(&cfg);
    let retry = reconcile(
        &grants,
        &policies,
        &aps,
        &keys,
        &ssm,
        &notes,
        &settings,
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!((retry.kms_grants_created, retry.policy_applied), (2, false));
    let third = reconcile(
        &grants,
        &policies,
        &aps,
        &keys,
        &ssm,
        &notes,
        &settings,
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            third.kms_grants_created,
            third.kms_grants_revoked,
            third.policy_applied
        ),
        (0, 0, false)
    );
}

// --- The access-point tier on the emulator (issue 16) ------------------------------------------
// moto 5 serves S3 Control's access point calls; scripts/moto_server.py roots its replies as AWS
// does, so the real adapter (the Rust SDK) reads them.

/// The S3 Control adapter against the emulator: create, list, put, get, delete, and the answers
/// for an access point without a policy and for a second delete.
#[tokio::test]
async fn the_s3_control_adapter_round_trips_on_the_emulator() {
    use warden_core::ports::AccessPoints;
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let bucket = unique("rec-ap-adapter");
    warden_aws::bootstrap::create_bucket(&cfg, &bucket)
        .await
        .unwrap();
    let aps = S3AccessPoints::new(&cfg, "123456789012");
    let name = format!("{bucket}-310000000001");
    aps.create_access_point(&name, &bucket).await.unwrap();
    let listed = aps.list_access_points(&bucket).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].name.as_str(), listed[0].bucket.as_str()),
        (name.as_str(), bucket.as_str())
    );
    assert!(
        listed[0]
            .alias
            .as_deref()
            .is_some_and(|a| a.ends_with("-s3alias"))
    );
    assert_eq!(aps.get_access_point_policy(&name).await.unwrap(), None);
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:us-east-1:123456789012:accesspoint/{name}/object/sales/*"}}]}}"#,
        role("310000000001")
    );
    aps.put_access_point_policy(&name, &doc).await.unwrap();
    let live = aps.get_access_point_policy(&name).await.unwrap().unwrap();
    assert!(warden_core::reconcile::same_policy(&live, &doc), "{live}");
    aps.delete_access_point_policy(&name).await.unwrap();
    assert_eq!(aps.get_access_point_policy(&name).await.unwrap(), None);
    aps.delete_access_point_policy(&name).await.unwrap();
    let missing = aps
        .get_access_point_policy("no-such-access-point")
        .await
        .unwrap_err();
    assert!(
        missing.to_string().contains("NoSuchAccessPoint"),
        "{missing}"
    );
}

/// Every consumer on its own access point, through the real adapters: the reconciler creates
/// the access points and writes their policies and KMS grants, changes nothing the second time,
/// and removes a revoked consumer's policy and KMS grant.
#[tokio::test]
async fn access_points_applied_then_unchanged_then_one_revoked_on_the_emulator() {
    use warden_core::ports::AccessPoints;
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let env = Environment::create(&cfg, &unique("rec-ap"), GRANTS_4, Utc::now())
        .await
        .unwrap();
    let (grants, policies, keys, ssm, notes) = (
        DynamoGrantStore::new(&cfg, &env.registry_table),
        S3PolicyStore::new(&cfg),
        KmsKeyGrants::new(&cfg),
        SsmConfig::new(&cfg),
        SnsNotifier::new(&cfg, &env.alert_topic),
    );
    let prefix = unique("wt");
    let settings = Settings {
        render: env.render.clone(),
        baseline_parameter: env.baseline_parameter.clone(),
        sharing: SharingMode::AccessPoints,
        access_point_prefix: prefix.clone(),
    };
    let aps = S3AccessPoints::new(&cfg, &env.render.primary_account.to_string());
    let run = || {
        reconcile(
            &grants,
            &policies,
            &aps,
            &keys,
            &ssm,
            &notes,
            &settings,
            Utc::now(),
        )
    };
    let first = run().await.unwrap();
    // Four consumers (one with only an expired grant): three policies, three KMS grants.
    assert_eq!(
        (
            first.access_point_consumers,
            first.access_points_created,
            first.access_point_policies_written,
            first.kms_grants_created
        ),
        (4, 3, 3, 3),
        "{first:?}"
    );
    let name = |acct: &str| format!("{prefix}-{acct}");
    let sales = aps
        .get_access_point_policy(&name("320000000001"))
        .await
        .unwrap()
        .unwrap();
    assert!(sales.contains(&role("320000000001")) && sales.contains("/object/sales/*"));
    let bucket_policy = policies
        .get_bucket_policy(&env.bucket)
        .await
        .unwrap()
        .unwrap();
    assert!(bucket_policy.contains("s3:DataAccessPointAccount"));
    assert!(!bucket_policy.contains(&role("320000000001")));

    let second = run().await.unwrap();
    assert_eq!(
        (
            second.access_points_created,
            second.access_point_policies_written,
            second.kms_grants_created,
            second.kms_grants_revoked
        ),
        (0, 0, 0, 0)
    );

    assert!(
        grants
            .revoke(&declared("320000000004", "finance/", "read"), Utc::now())
            .await
            .unwrap()
    );
    let third = run().await.unwrap();
    assert_eq!(
        (
            third.access_point_policies_removed,
            third.access_point_policies_written,
            third.kms_grants_revoked
        ),
        (1, 0, 1)
    );
    assert_eq!(
        aps.get_access_point_policy(&name("320000000004"))
            .await
            .unwrap(),
        None
    );
}
