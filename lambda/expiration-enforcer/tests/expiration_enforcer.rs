//! expiration-enforcer on the local emulator: the by-expiry index, conditional revocation and the
//! revocation record in the access-log table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::Utc;
use expiration_enforcer::enforce;
use warden_aws::local::{Environment, emulator_from_env, unique};
use warden_aws::{DynamoAlertLedger, DynamoAuditStore, DynamoGrantStore, SnsNotifier};
use warden_core::ports::GrantStore;

#[tokio::test]
async fn revokes_each_expired_grant_once() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let past = (Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let grants = format!(
        r#"{{"consumer_accounts":[
 {{"account_id":"320000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}},
 {{"account_id":"320000000002","allowed_prefixes":["ml/"],"access_level":"read","expiration_date":"{past}"}}]}}"#
    );
    let env = Environment::create(&cfg, &unique("exp"), &grants, Utc::now())
        .await
        .unwrap();
    let store = DynamoGrantStore::new(&cfg, &env.registry_table);
    let audit = DynamoAuditStore::new(&cfg, &env.audit_table);
    let owners = SnsNotifier::new(&cfg, &env.owner_topic);
    let r = enforce(
        &store,
        &audit,
        &owners,
        &DynamoAlertLedger::new(&cfg, &env.alert_ledger_table),
        365,
        &unique("run"),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(r.expired, 1);
    assert_eq!(r.revoked, vec!["320000000002/declared".to_owned()]);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let again = enforce(
        &store,
        &audit,
        &owners,
        &DynamoAlertLedger::new(&cfg, &env.alert_ledger_table),
        365,
        &unique("run"),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!((again.expired, again.revoked.len()), (0, 0));
    let left = store.load_registry(Utc::now()).await.unwrap();
    assert!(!left.allows("320000000002", "ml/x", false, Utc::now()));
    assert!(left.allows("320000000001", "sales/x", false, Utc::now()));
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

async fn audit_count(cfg: &aws_config::SdkConfig, table: &str) -> i32 {
    aws_sdk_dynamodb::Client::new(cfg)
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .count()
}

/// The revocation record cannot be written (BatchWriteItem throttled, after the SDK's retries):
/// the grant is left active and nobody is told. The next run, faults off, records it, revokes it
/// and notifies the owner — once; a third run has nothing to do.
#[tokio::test]
async fn an_unrecordable_revocation_is_left_whole_for_the_next_run_which_finishes_it_once() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let past = (Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let grants = format!(
        r#"{{"consumer_accounts":[
 {{"account_id":"320000000011","allowed_prefixes":["ml/"],"access_level":"read","expiration_date":"{past}"}}]}}"#
    );
    let env = Environment::create(&cfg, &unique("exp-faults"), &grants, Utc::now())
        .await
        .unwrap();
    let (owner_inbox, inbox_arn) =
        warden_aws::bootstrap::create_queue(&cfg, &unique("owner-inbox"), None)
            .await
            .unwrap();
    warden_aws::bootstrap::subscribe_queue(&cfg, &env.owner_topic, &inbox_arn)
        .await
        .unwrap();
    let notices = || warden_aws::local::queue_depth(&cfg, &owner_inbox);

    let bad = faulty("dynamodb.BatchWriteItem:throttle=1.0,seed=4").await;
    let r = enforce(
        &DynamoGrantStore::new(&bad, &env.registry_table),
        &DynamoAuditStore::new(&bad, &env.audit_table),
        &SnsNotifier::new(&bad, &env.owner_topic),
        &DynamoAlertLedger::new(&bad, &env.alert_ledger_table),
        365,
        &unique("run"),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(r.expired, 1);
    assert!(r.revoked.is_empty(), "{r:?}");
    assert_eq!(r.errors.len(), 1, "{r:?}");
    assert!(
        r.errors[0].contains("revocation record not written, grant left for the next run"),
        "{r:?}"
    );
    let store = DynamoGrantStore::new(&cfg, &env.registry_table);
    assert_eq!(
        store.expired(Utc::now()).await.unwrap().len(),
        1,
        "still active"
    );
    assert_eq!(notices().await.unwrap(), 0);
    assert_eq!(audit_count(&cfg, &env.audit_table).await, 0);

    let audit = DynamoAuditStore::new(&cfg, &env.audit_table);
    let owners = SnsNotifier::new(&cfg, &env.owner_topic);
    let next = enforce(
        &store,
        &audit,
        &owners,
        &DynamoAlertLedger::new(&cfg, &env.alert_ledger_table),
        365,
        &unique("run"),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(next.revoked, vec!["320000000011/declared".to_owned()]);
    assert!(next.errors.is_empty(), "{next:?}");
    assert_eq!(notices().await.unwrap(), 1, "the owner is told once");
    assert_eq!(audit_count(&cfg, &env.audit_table).await, 1);

    let third = enforce(
        &store,
        &audit,
        &owners,
        &DynamoAlertLedger::new(&cfg, &env.alert_ledger_table),
        365,
        &unique("run"),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!((third.expired, third.revoked.len()), (0, 0));
    assert_eq!(notices().await.unwrap(), 1);
}

/// The registry itself throttled: the run fails, naming the call, and changes nothing.
#[tokio::test]
async fn a_throttled_expiry_index_fails_the_run_and_changes_nothing() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let past = (Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let grants = format!(
        r#"{{"consumer_accounts":[
 {{"account_id":"320000000021","allowed_prefixes":["ml/"],"access_level":"read","expiration_date":"{past}"}}]}}"#
    );
    let env = Environment::create(&cfg, &unique("exp-index"), &grants, Utc::now())
        .await
        .unwrap();
    let bad = faulty("dynamodb:throttle=1.0").await;
    let e = enforce(
        &DynamoGrantStore::new(&bad, &env.registry_table),
        &DynamoAuditStore::new(&bad, &env.audit_table),
        &SnsNotifier::new(&bad, &env.owner_topic),
        &DynamoAlertLedger::new(&bad, &env.alert_ledger_table),
        365,
        &unique("run"),
        Utc::now(),
    )
    .await
    .unwrap_err();
    assert_eq!((e.service, e.operation), ("dynamodb", "Query"));
    assert!(
        e.message.contains("ProvisionedThroughputExceededException"),
        "{e}"
    );
    let store = DynamoGrantStore::new(&cfg, &env.registry_table);
    assert_eq!(store.expired(Utc::now()).await.unwrap().len(), 1);
}

/// SNS refuses the owner's notice after the grant was revoked: the next run (whose expiry query
/// no longer sees the grant) finds the notice in the ledger and sends it — once.
#[tokio::test]
async fn a_notice_sns_refused_after_the_revoke_is_sent_by_the_next_run_once() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let past = (Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let grants = format!(
        r#"{{"consumer_accounts":[
 {{"account_id":"320000000031","allowed_prefixes":["ml/"],"access_level":"read","expiration_date":"{past}"}}]}}"#
    );
    let env = Environment::create(&cfg, &unique("exp-notice"), &grants, Utc::now())
        .await
        .unwrap();
    let (owner_inbox, inbox_arn) =
        warden_aws::bootstrap::create_queue(&cfg, &unique("owner-inbox"), None)
            .await
            .unwrap();
    warden_aws::bootstrap::subscribe_queue(&cfg, &env.owner_topic, &inbox_arn)
        .await
        .unwrap();
    let notices = || warden_aws::local::queue_depth(&cfg, &owner_inbox);
    let store = DynamoGrantStore::new(&cfg, &env.registry_table);
    let audit = DynamoAuditStore::new(&cfg, &env.audit_table);
    let ledger = DynamoAlertLedger::new(&cfg, &env.alert_ledger_table);

    let sns_down = faulty("sns:5xx=1.0").await;
    let first = enforce(
        &store,
        &audit,
        &SnsNotifier::new(&sns_down, &env.owner_topic),
        &ledger,
        365,
        "run-1",
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(first.revoked, vec!["320000000031/declared".to_owned()]);
    assert_eq!(first.notices_sent, 0);
    assert!(first.errors[0].contains("owner not notified"), "{first:?}");
    assert_eq!(notices().await.unwrap(), 0);

    let owners = SnsNotifier::new(&cfg, &env.owner_topic);
    let second = enforce(&store, &audit, &owners, &ledger, 365, "run-2", Utc::now())
        .await
        .unwrap();
    assert_eq!(second.expired, 0, "the grant is revoked");
    assert_eq!(
        (second.notices_sent, second.notices_resumed),
        (1, 1),
        "{second:?}"
    );
    assert_eq!(notices().await.unwrap(), 1);
    let third = enforce(&store, &audit, &owners, &ledger, 365, "run-3", Utc::now())
        .await
        .unwrap();
    assert_eq!(third.notices_sent, 0);
    assert_eq!(notices().await.unwrap(), 1, "told once");
}
