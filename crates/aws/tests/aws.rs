//! Adapters against the local emulator (moto). `make test` starts moto and sets
//! WARDEN_MOTO_ENDPOINT; without it these tests say so and skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::Utc;
use warden_aws::{
    DynamoAuditStore, DynamoGrantStore, KmsKeyGrants, S3PolicyStore, SnsNotifier, SsmConfig,
    bootstrap, local_config,
};
use warden_core::grant::{Grant, GrantInput};
use warden_core::policy::render::KmsGrantSpec;
use warden_core::ports::{AuditStore, ConfigStore, GrantStore, KeyGrants, Notifier, PolicyStore};

async fn moto() -> Option<aws_config::SdkConfig> {
    match std::env::var("WARDEN_MOTO_ENDPOINT") {
        Ok(ep) => Some(local_config(&ep, "us-east-1").await),
        Err(_) => {
            eprintln!(
                "NOTE: WARDEN_MOTO_ENDPOINT not set (run `make test`, which starts moto): emulator tests skipped"
            );
            None
        }
    }
}

fn unique(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default() % 1_000_000_000
    )
}

#[tokio::test]
async fn registry_round_trip_through_dynamodb() {
    let Some(cfg) = moto().await else { return };
    let table = unique("registry");
    bootstrap::create_registry_table(&cfg, &table)
        .await
        .unwrap();
    let store = DynamoGrantStore::new(&cfg, &table);
    let now = Utc::now();
    for (i, level) in ["read", "read-write"].iter().enumerate() {
        let g = Grant::from_input(
            &GrantInput {
                account_id: format!("21000000000{i}"),
                name: None,
                allowed_prefixes: vec![format!("team-{i}/"), "shared/".into()],
                access_level: (*level).into(),
                expiration_date: "2030-01-01T00:00:00Z".into(),
                owner_email: None,
                external_id: None,
                created_by: Some("test".into()),
                created_at: None,
            },
            now,
        )
        .unwrap();
        store.put_grant(&g, "declared").await.unwrap();
    }
    let reg = store.load_registry(now).await.unwrap();
    assert_eq!(reg.grants().len(), 2);
    assert!(reg.allows("210000000001", "team-1/x", true, now));
    assert!(!reg.allows("210000000000", "team-0/x", true, now));
}

#[tokio::test]
async fn bucket_policy_kms_grants_ssm_and_sns() {
    let Some(cfg) = moto().await else { return };
    let bucket = unique("bucket");
    bootstrap::create_bucket(&cfg, &bucket).await.unwrap();
    let policies = S3PolicyStore::new(&cfg);
    assert_eq!(
        policies.get_bucket_policy(&bucket).await.unwrap(),
        None,
        "no policy yet"
    );
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"A","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123456789012:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    policies.put_bucket_policy(&bucket, &doc).await.unwrap();
    let live = policies.get_bucket_policy(&bucket).await.unwrap().unwrap();
    assert!(warden_core::reconcile::same_policy(&live, &doc));

    let key = bootstrap::create_key(&cfg, "test").await.unwrap();
    let keys = KmsKeyGrants::new(&cfg);
    let spec = KmsGrantSpec {
        name: "warden-210000000000-read".into(),
        account_id: "210000000000".into(),
        grantee_principal: "arn:aws:iam::210000000000:role/warden-consumer".into(),
        operations: vec!["Decrypt".into(), "DescribeKey".into()],
        encryption_context_subset: [("aws:s3:arn".to_owned(), format!("arn:aws:s3:::{bucket}"))]
            .into(),
    };
    let id = keys.create_grant(&key, &spec).await.unwrap();
    let listed = keys.list_grants(&key).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name.as_deref(), Some("warden-210000000000-read"));
    assert_eq!(listed[0].operations.len(), 2);
    // The constraint is read back: governance decides decrypt access from it.
    assert_eq!(
        listed[0].encryption_context_subset.as_ref(),
        Some(&spec.encryption_context_subset)
    );
    assert_eq!(listed[0].encryption_context_equals, None);
    let key_policy = keys.get_key_policy(&key).await.unwrap();
    assert!(
        warden_core::policy::model::Policy::parse(&key_policy).is_ok(),
        "{key_policy}"
    );
    keys.revoke_grant(&key, &id).await.unwrap();
    assert!(keys.list_grants(&key).await.unwrap().is_empty());

    let name = format!("/warden/test/{}", unique("param"));
    bootstrap::put_parameter(&cfg, &name, "value-1")
        .await
        .unwrap();
    assert_eq!(
        SsmConfig::new(&cfg).get_parameter(&name).await.unwrap(),
        "value-1"
    );
    let missing = SsmConfig::new(&cfg)
        .get_parameter("/nope")
        .await
        .unwrap_err();
    assert!(
        missing.to_string().starts_with("ssm GetParameter"),
        "{missing}"
    );

    let topic = bootstrap::create_topic(&cfg, &unique("alerts"))
        .await
        .unwrap();
    SnsNotifier::new(&cfg, &topic)
        .publish(&"s".repeat(300), "message")
        .await
        .unwrap();
}

#[tokio::test]
async fn alerts_are_published_in_batches_and_every_one_arrives() {
    let Some(cfg) = moto().await else { return };
    let topic = bootstrap::create_topic(&cfg, &unique("batch-alerts"))
        .await
        .unwrap();
    let (url, arn) = bootstrap::create_queue(&cfg, &unique("batch-inbox"), None)
        .await
        .unwrap();
    bootstrap::subscribe_queue(&cfg, &topic, &arn)
        .await
        .unwrap();
    // 23 messages: three PublishBatch requests (10 + 10 + 3); one subject over SNS's 100 characters.
    let messages: Vec<(String, String)> = (0..23)
        .map(|i| {
            let subject = if i == 7 {
                "s".repeat(300)
            } else {
                format!("alert {i}")
            };
            (subject, format!("{{\"n\":{i}}}"))
        })
        .collect();
    let notifier = SnsNotifier::new(&cfg, &topic);
    assert_eq!(notifier.publish_batch(&messages).await, vec![]);
    assert_eq!(
        warden_aws::local::queue_depth(&cfg, &url).await.unwrap(),
        23
    );
    // A topic that does not exist: every message is reported back, with the reason.
    let gone = SnsNotifier::new(&cfg, &format!("{topic}-gone"));
    let failed = gone.publish_batch(&messages[..12]).await;
    assert_eq!(
        failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    assert!(
        failed[0].1.starts_with("sns PublishBatch"),
        "{}",
        failed[0].1
    );
}

#[tokio::test]
async fn access_records_are_idempotent_by_event_id() {
    let Some(cfg) = moto().await else { return };
    let table = unique("access-logs");
    bootstrap::create_audit_table(&cfg, &table).await.unwrap();
    let store = DynamoAuditStore::new(&cfg, &table);
    let text: String = (0..60)
        .map(|i| format!(r#"{{"eventTime":"2026-11-23T10:00:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"ev-{i}","userIdentity":{{"type":"AssumedRole","accountId":"210000000000","arn":"arn:aws:sts::210000000000:assumed-role/warden-consumer/s"}},"requestParameters":{{"bucketName":"b","key":"k/{i}"}}}}"#, i % 60) + "\n")
        .collect();
    let parsed = warden_core::cloudtrail::parse_bytes("test", text.as_bytes());
    let items: Vec<_> = parsed
        .records
        .iter()
        .map(|p| {
            warden_core::cloudtrail::normalise::to_item(
                &warden_core::cloudtrail::normalise(p).unwrap(),
                365,
            )
        })
        .collect();
    let out = store.write_records(items.clone()).await.unwrap();
    assert_eq!((out.written, out.failed.len()), (60, 0));
    // Re-delivery of the same events overwrites, never duplicates.
    store.write_records(items).await.unwrap();
    let count = aws_sdk_dynamodb::Client::new(&cfg)
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .count();
    assert_eq!(count, 60);
}

#[tokio::test]
async fn expiry_index_and_conditional_revoke() {
    let Some(cfg) = moto().await else { return };
    let table = unique("registry-expiry");
    bootstrap::create_registry_table(&cfg, &table)
        .await
        .unwrap();
    let store = DynamoGrantStore::new(&cfg, &table);
    let now = Utc::now();
    for (acct, exp) in [
        ("210000000000", "2020-01-01T00:00:00Z"),
        ("210000000001", "2099-01-01T00:00:00Z"),
    ] {
        let g = Grant::from_input(
            &GrantInput {
                account_id: acct.into(),
                name: None,
                allowed_prefixes: vec!["p/".into()],
                access_level: "read".into(),
                expiration_date: exp.into(),
                owner_email: None,
                external_id: None,
                created_by: None,
                created_at: None,
            },
            now,
        )
        .unwrap();
        store.put_grant(&g, "declared").await.unwrap();
    }
    let expired = store.expired(now).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].account_id, "210000000000");
    assert!(
        store.revoke(&expired[0], now).await.unwrap(),
        "first revoke wins"
    );
    assert!(
        !store.revoke(&expired[0], now).await.unwrap(),
        "second is a no-op"
    );
    assert!(store.expired(now).await.unwrap().is_empty());
    // Revoked grants leave the registry the reconciler renders.
    assert_eq!(store.load_registry(now).await.unwrap().grants().len(), 1);
}

/// A registry item written as Terraform writes one (`aws_dynamodb_table_item`, values verbatim),
/// bypassing the store's own normalisation.
async fn put_raw_grant(
    cfg: &aws_config::SdkConfig,
    table: &str,
    (account, grant, prefix, level, expiry): (&str, &str, &str, &str, &str),
) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let s = |v: &str| AttributeValue::S(v.to_owned());
    aws_sdk_dynamodb::Client::new(cfg)
        .put_item()
        .table_name(table)
        .item("account_id", s(account))
        .item("grant_id", s(grant))
        .item("allowed_prefixes", AttributeValue::L(vec![s(prefix)]))
        .item("access_level", s(level))
        .item("expiration_date", s(expiry))
        .item("grant_state", s("active"))
        .item("created_by", s("terraform"))
        .item("created_at", s("2026-01-01T00:00:00Z"))
        .send()
        .await
        .unwrap();
}

/// Expiry with a UTC offset, as Terraform used to store it verbatim: the index compares text,
/// so `…T18:00:00+09:00` (09:00Z) sorted nine hours late. It must be revoked on time, and a
/// future expiry written with a negative offset (textually earlier) never early.
#[tokio::test]
async fn expiry_with_a_utc_offset_is_revoked_on_time() {
    use chrono::{Duration, FixedOffset, SecondsFormat};
    let Some(cfg) = moto().await else { return };
    let table = unique("registry-offsets");
    bootstrap::create_registry_table(&cfg, &table)
        .await
        .unwrap();
    let now = Utc::now();
    let tokyo = FixedOffset::east_opt(9 * 3600).unwrap();
    let new_york = FixedOffset::west_opt(5 * 3600).unwrap();
    let past_in_tokyo = (now - Duration::hours(1))
        .with_timezone(&tokyo)
        .to_rfc3339_opts(SecondsFormat::Secs, false);
    let future_in_new_york = (now + Duration::hours(1))
        .with_timezone(&new_york)
        .to_rfc3339_opts(SecondsFormat::Secs, false);
    for (acct, exp) in [
        ("210000000010", past_in_tokyo.as_str()),
        ("210000000011", future_in_new_york.as_str()),
    ] {
        put_raw_grant(&cfg, &table, (acct, "declared", "p/", "read", exp)).await;
    }
    let store = DynamoGrantStore::new(&cfg, &table);
    let expired = store.expired(now).await.unwrap();
    let accounts: Vec<&str> = expired.iter().map(|g| g.account_id.as_str()).collect();
    assert_eq!(
        accounts,
        ["210000000010"],
        "{past_in_tokyo} / {future_in_new_york}"
    );
}

/// One bad registry item never stops the others: an invalid item and an overlapping pair are
/// left out (and named), every other consumer is still in the registry the validator serves.
#[tokio::test]
async fn a_bad_registry_item_is_skipped_and_reported_not_fatal() {
    let Some(cfg) = moto().await else { return };
    let table = unique("registry-poison");
    bootstrap::create_registry_table(&cfg, &table)
        .await
        .unwrap();
    for (acct, grant, prefix, level) in [
        ("210000000020", "declared", "sales/", "read"),
        ("210000000020", "request-1", "sales/eu/", "read"),
        ("210000000021", "declared", "hr/", "superuser"),
        ("210000000022", "declared", "ops/", "read-write"),
    ] {
        put_raw_grant(
            &cfg,
            &table,
            (acct, grant, prefix, level, "2099-01-01T00:00:00Z"),
        )
        .await;
    }
    let store = DynamoGrantStore::new(&cfg, &table);
    let now = Utc::now();
    let (reg, skipped) = store.load_registry_checked(now).await.unwrap();
    let kept: Vec<String> = reg
        .grants()
        .iter()
        .map(|g| g.account_id.to_string())
        .collect();
    assert_eq!(kept, ["210000000020", "210000000022"], "{skipped:?}");
    let names: Vec<&str> = skipped.iter().map(|s| s.item.as_str()).collect();
    assert!(names.contains(&"210000000021/declared"), "{skipped:?}");
    assert!(names.contains(&"210000000020/request-1"), "{skipped:?}");
    assert!(
        skipped.iter().any(|s| s.rule.contains("access_level")),
        "{skipped:?}"
    );
    // The plain loader serves the same registry instead of failing.
    assert_eq!(store.load_registry(now).await.unwrap().grants().len(), 2);
}

// --- the fault layer (issue 14) ---------------------------------------------------------------

/// A clean config (for setup and checks) and one under `spec`, with its layer; retries keep the
/// SDK's standard mode and attempts, with a short backoff so the tests stay fast.
async fn faulted(
    spec: &str,
) -> Option<(
    aws_config::SdkConfig,
    aws_config::SdkConfig,
    warden_aws::FaultLayer,
)> {
    let ep = std::env::var("WARDEN_MOTO_ENDPOINT").ok()?;
    let clean = warden_aws::local_config_with_faults(&ep, "us-east-1", None).await;
    let layer = warden_aws::FaultPlan::parse(spec).unwrap().layer();
    let faulty = warden_aws::local_config_with_faults(&ep, "us-east-1", Some(&layer))
        .await
        .to_builder()
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_initial_backoff(std::time::Duration::from_millis(5)),
        )
        .build();
    Some((clean, faulty, layer))
}

#[tokio::test]
async fn throttled_dynamodb_fails_with_the_sdks_own_error_after_its_retries() {
    use warden_aws::faults::Service;
    let Some((clean, faulty, layer)) = faulted("dynamodb:throttle=1.0,seed=7").await else {
        return;
    };
    let table = unique("registry-throttled");
    bootstrap::create_registry_table(&clean, &table)
        .await
        .unwrap();
    let err = aws_sdk_dynamodb::Client::new(&faulty)
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap_err();
    let service = err
        .as_service_error()
        .expect("a service error, as AWS sends it");
    assert!(
        service.is_provisioned_throughput_exceeded_exception(),
        "{service:?}"
    );
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);
    let stats = layer.stats();
    assert_eq!(
        stats.requests(Service::DynamoDb),
        3,
        "the SDK retried (standard mode: 3 attempts): {stats}"
    );
    assert_eq!(
        stats.injected(Service::DynamoDb, warden_aws::FaultKind::Throttle),
        3
    );
    // Through the adapter: the port error names the service, operation and AWS's error code.
    let e = DynamoGrantStore::new(&faulty, &table)
        .load_registry(Utc::now())
        .await
        .unwrap_err();
    assert_eq!((e.service, e.operation), ("dynamodb", "Scan"));
    assert!(
        e.message.contains("ProvisionedThroughputExceededException"),
        "{e}"
    );
    assert!(e.message.contains("warden-fault-dynamodb"), "{e}");
}

#[tokio::test]
async fn occasional_throttling_is_absorbed_by_the_sdks_retries() {
    use warden_aws::faults::Service;
    let Some((clean, faulty, layer)) = faulted("dynamodb:throttle=0.3,seed=7").await else {
        return;
    };
    let table = unique("registry-flaky");
    bootstrap::create_registry_table(&clean, &table)
        .await
        .unwrap();
    let store = DynamoGrantStore::new(&faulty, &table);
    let now = Utc::now();
    for i in 0..10 {
        let g = Grant::from_input(
            &GrantInput {
                account_id: format!("2200000000{i:02}"),
                name: None,
                allowed_prefixes: vec![format!("team-{i}/")],
                access_level: "read".into(),
                expiration_date: "2030-01-01T00:00:00Z".into(),
                owner_email: None,
                external_id: None,
                created_by: Some("test".into()),
                created_at: None,
            },
            now,
        )
        .unwrap();
        store.put_grant(&g, "declared").await.unwrap();
    }
    let stats = layer.stats();
    assert!(
        stats.injected(Service::DynamoDb, warden_aws::FaultKind::Throttle) > 0,
        "{stats}"
    );
    assert!(stats.requests(Service::DynamoDb) > 10, "{stats}");
    eprintln!("{stats}");
    assert_eq!(
        DynamoGrantStore::new(&clean, &table)
            .load_registry(now)
            .await
            .unwrap()
            .grants()
            .len(),
        10
    );
}

#[tokio::test]
async fn sns_5xx_surfaces_as_snss_internal_error() {
    use warden_aws::faults::Service;
    let Some((clean, faulty, layer)) = faulted("sns:5xx=1.0").await else {
        return;
    };
    let topic = bootstrap::create_topic(&clean, &unique("faulty-topic"))
        .await
        .unwrap();
    let err = aws_sdk_sns::Client::new(&faulty)
        .publish()
        .topic_arn(&topic)
        .message("m")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_internal_error_exception()),
        "{err:?}"
    );
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 500);
    assert_eq!(layer.stats().requests(Service::Sns), 3, "retried as a 5xx");
    let e = SnsNotifier::new(&faulty, &topic)
        .publish("s", "m")
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("sns Publish"), "{e}");
    assert!(e.message.contains("InternalError"), "{e}");
    // Batches: every message comes back failed, with the reason.
    let failed = SnsNotifier::new(&faulty, &topic)
        .publish_batch(&[("a".into(), "1".into()), ("b".into(), "2".into())])
        .await;
    assert_eq!(failed.len(), 2, "{failed:?}");
}

#[tokio::test]
async fn an_sts_timeout_surfaces_as_a_timeout() {
    use warden_aws::faults::Service;
    use warden_core::ports::CredentialVendor;
    let Some((_clean, faulty, layer)) = faulted("sts:timeout=1.0,seed=3").await else {
        return;
    };
    let err = aws_sdk_sts::Client::new(&faulty)
        .assume_role()
        .role_arn("arn:aws:iam::210000000000:role/warden-consumer")
        .role_session_name("s")
        .send()
        .await
        .unwrap_err();
    match &err {
        aws_sdk_sts::error::SdkError::DispatchFailure(d) => assert!(d.is_timeout(), "{err:?}"),
        other => panic!("expected a dispatch timeout, got {other:?}"),
    }
    assert_eq!(
        layer.stats().requests(Service::Sts),
        3,
        "timeouts are retried"
    );
    assert_eq!(
        layer
            .stats()
            .injected(Service::Sts, warden_aws::FaultKind::Timeout),
        3
    );
    let e = warden_aws::StsVendor::new(&faulty)
        .assume(
            "arn:aws:iam::210000000000:role/warden-consumer",
            "s",
            None,
            "{}",
            900,
            &[],
            "si",
        )
        .await
        .unwrap_err();
    assert_eq!((e.service, e.operation), ("sts", "AssumeRole"));
    // Other services of the same config are untouched.
    assert!(
        bootstrap::create_topic(&faulty, &unique("untouched"))
            .await
            .is_ok()
    );
}

fn access_items(
    n: usize,
    tag: &str,
) -> Vec<std::collections::BTreeMap<String, warden_core::cloudtrail::normalise::Attr>> {
    let text: String = (0..n)
        .map(|i| format!(r#"{{"eventTime":"2026-11-23T10:00:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"{tag}-{i}","userIdentity":{{"type":"AssumedRole","accountId":"210000000000","arn":"arn:aws:sts::210000000000:assumed-role/warden-consumer/s"}},"requestParameters":{{"bucketName":"b","key":"k/{i}"}}}}"#, i % 60) + "\n")
        .collect();
    let parsed = warden_core::cloudtrail::parse_bytes("test", text.as_bytes());
    parsed
        .records
        .iter()
        .map(|p| {
            warden_core::cloudtrail::normalise::to_item(
                &warden_core::cloudtrail::normalise(p).unwrap(),
                365,
            )
        })
        .collect()
}

async fn count_items(cfg: &aws_config::SdkConfig, table: &str) -> i32 {
    aws_sdk_dynamodb::Client::new(cfg)
        .scan()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .count()
}

/// A chunk whose BatchWriteItem fails (after the SDK's retries) is reported item by item; the
/// other chunks' writes stand and the call itself succeeds.
#[tokio::test]
async fn a_failed_chunk_is_reported_failed_and_the_other_chunks_stand() {
    let Some(cfg) = moto().await else { return };
    let table = unique("access-logs-chunks");
    bootstrap::create_audit_table(&cfg, &table).await.unwrap();
    let store = DynamoAuditStore::new(&cfg, &table);
    // 50 items: two chunks. Item 25 lacks its key, so DynamoDB rejects the second chunk's call
    // (ValidationException, not retried); the first chunk is written. (First in its chunk: moto,
    // unlike DynamoDB, writes the items before a bad one.)
    let mut items = access_items(50, "chunk");
    items[25].remove("event_id");
    let out = store.write_records(items).await.unwrap();
    assert_eq!(out.written, 25, "{out:?}");
    let mut failed = out.failed.clone();
    failed.sort();
    let mut want: Vec<String> = (25..50)
        .filter(|i| *i != 25)
        .map(|i| format!("chunk-{i}"))
        .collect();
    want.sort();
    assert_eq!(failed, want);
    assert_eq!(count_items(&cfg, &table).await, 25);
}

#[tokio::test]
async fn throttled_batch_writes_are_reported_failed_not_an_error() {
    let Some((clean, faulty, layer)) = faulted("dynamodb.BatchWriteItem:throttle=1.0,seed=7").await
    else {
        return;
    };
    let table = unique("access-logs-throttled");
    bootstrap::create_audit_table(&clean, &table).await.unwrap();
    let out = DynamoAuditStore::new(&faulty, &table)
        .write_records(access_items(60, "thr"))
        .await
        .expect("chunk failures are an outcome, not an error");
    assert_eq!(out.written, 0);
    assert_eq!(out.failed.len(), 60);
    assert!(out.clone().require_all().is_err());
    // Three chunks; each throttled call is the SDK's three attempts, and the adapter tries a
    // throttled chunk again (six times in all) before reporting it failed.
    assert_eq!(
        layer
            .stats()
            .requests(warden_aws::faults::Service::DynamoDb),
        3 * 3 * 6,
        "three chunks, six tries of three attempts each"
    );
    // Other DynamoDB operations are not faulted by an operation term.
    assert_eq!(count_items(&faulty, &table).await, 0);
    // Faults off: the same records go in.
    let again = DynamoAuditStore::new(&clean, &table)
        .write_records(access_items(60, "thr"))
        .await
        .unwrap();
    assert_eq!((again.written, again.failed.len()), (60, 0));
}
