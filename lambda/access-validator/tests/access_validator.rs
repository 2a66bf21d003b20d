//! access-validator on the local emulator: registry lookup, STS AssumeRole with a session policy,
//! and the decision written to the access-log table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashMap;

use access_validator::{Settings, handle};
use chrono::Utc;
use serde_json::{Value, json};
use warden_aws::local::{Environment, emulator_from_env, unique};
use warden_aws::{DynamoAuditStore, DynamoGrantStore, StsVendor};

#[tokio::test]
async fn vends_inside_the_grant_and_refuses_outside() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let grants = r#"{"consumer_accounts":[
 {"account_id":"350000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z","external_id":"x-350000000001"}]}"#;
    let env = Environment::create(&cfg, &unique("val"), grants, Utc::now())
        .await
        .unwrap();
    let settings = Settings {
        render: env.render.clone(),
        max_session_seconds: 3600,
        retention_days: 365,
        external_ids: HashMap::from([("350000000001".into(), "x-350000000001".into())]),
        tiering: warden_core::policy::access_point::Tiering::bucket_only(),
    };
    let (store, audit, sts) = (
        DynamoGrantStore::new(&cfg, &env.registry_table),
        DynamoAuditStore::new(&cfg, &env.audit_table),
        StsVendor::new(&cfg),
    );
    let event = |prefix: &str| {
        json!({"requestContext": {"requestId": unique("req"), "identity": {"accountId": "350000000001",
            "userArn": "arn:aws:sts::350000000001:assumed-role/analyst/alice"}},
            "body": json!({"prefix": prefix}).to_string()})
    };
    let ok = handle(
        &store,
        &audit,
        &sts,
        &settings,
        &event("sales/2026/"),
        "inv-1",
        Utc::now(),
    )
    .await;
    assert_eq!(ok["statusCode"], 200, "{ok}");
    let body: Value = serde_json::from_str(ok["body"].as_str().unwrap()).unwrap();
    assert!(body["credentials"]["access_key_id"].as_str().unwrap().len() > 10);
    let no = handle(
        &store,
        &audit,
        &sts,
        &settings,
        &event("finance/"),
        "inv-1",
        Utc::now(),
    )
    .await;
    assert_eq!(no["statusCode"], 403, "{no}");
}

/// The emulator's config under `spec` (SDK retries as in production, shorter backoff), and its
/// layer for the counts.
async fn faulty(spec: &str) -> (aws_config::SdkConfig, warden_aws::FaultLayer) {
    let ep = std::env::var("WARDEN_MOTO_ENDPOINT").unwrap();
    let layer = warden_aws::FaultPlan::parse(spec).unwrap().layer();
    let cfg = warden_aws::local_config_with_faults(&ep, "us-east-1", Some(&layer))
        .await
        .to_builder()
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_initial_backoff(std::time::Duration::from_millis(5)),
        )
        .build();
    (cfg, layer)
}

/// Every record in the access-log table.
async fn audit_records(
    cfg: &aws_config::SdkConfig,
    table: &str,
) -> Vec<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    aws_sdk_dynamodb::Client::new(cfg)
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items()
        .to_vec()
}

async fn environment(cfg: &aws_config::SdkConfig, name: &str) -> (Environment, Settings) {
    let grants = r#"{"consumer_accounts":[
 {"account_id":"350000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z","external_id":"x-350000000001"}]}"#;
    let env = Environment::create(cfg, &unique(name), grants, Utc::now())
        .await
        .unwrap();
    let settings = Settings {
        render: env.render.clone(),
        max_session_seconds: 3600,
        retention_days: 365,
        external_ids: HashMap::from([("350000000001".into(), "x-350000000001".into())]),
        tiering: warden_core::policy::access_point::Tiering::bucket_only(),
    };
    (env, settings)
}

fn request(request_id: &str) -> Value {
    json!({"requestContext": {"requestId": request_id, "identity": {"accountId": "350000000001",
        "userArn": "arn:aws:sts::350000000001:assumed-role/analyst/alice"}},
        "body": json!({"prefix": "sales/2026/"}).to_string()})
}

/// The access log throttled (BatchWriteItem, after the SDK's retries): no credentials without
/// their record — a 503 the caller retries. Faults off, the retried request is served and
/// recorded exactly once.
#[tokio::test]
async fn an_unrecordable_decision_vends_nothing_and_its_retry_is_recorded_once() {
    use warden_aws::faults::Service;
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let (env, settings) = environment(&cfg, "val-faults").await;
    let (bad, layer) = faulty("dynamodb.BatchWriteItem:throttle=1.0,seed=11").await;
    let event = request(&unique("req"));
    let refused = handle(
        &DynamoGrantStore::new(&bad, &env.registry_table),
        &DynamoAuditStore::new(&bad, &env.audit_table),
        &StsVendor::new(&bad),
        &settings,
        &event,
        "inv-1",
        Utc::now(),
    )
    .await;
    assert_eq!(refused["statusCode"], 503, "{refused}");
    assert!(
        !refused["body"].as_str().unwrap().contains("credentials"),
        "{refused}"
    );
    let stats = layer.stats();
    // The SDK's three attempts, times the adapter's own retries of a throttled chunk.
    assert!(
        stats.injected(Service::DynamoDb, warden_aws::FaultKind::Throttle) >= 3,
        "{stats}"
    );
    assert_eq!(
        stats.requests(Service::Sts),
        0,
        "no AssumeRole without a record"
    );
    assert!(audit_records(&cfg, &env.audit_table).await.is_empty());

    let served = handle(
        &DynamoGrantStore::new(&cfg, &env.registry_table),
        &DynamoAuditStore::new(&cfg, &env.audit_table),
        &StsVendor::new(&cfg),
        &settings,
        &event,
        "inv-2",
        Utc::now(),
    )
    .await;
    assert_eq!(served["statusCode"], 200, "{served}");
    let records = audit_records(&cfg, &env.audit_table).await;
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(
        r.get("success_status").and_then(|v| v.as_bool().ok()),
        Some(&true)
    );
    assert_eq!(
        r.get("invocation_id")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str),
        Some("inv-2")
    );
}

/// STS timing out (after the SDK's retries): nothing is handed out, and the access log holds the
/// decision and the outcome saying no credentials were vended.
#[tokio::test]
async fn an_sts_timeout_vends_nothing_and_says_so_in_the_log() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let (env, settings) = environment(&cfg, "val-sts").await;
    let (bad, _layer) = faulty("sts:timeout=1.0,seed=2").await;
    let r = handle(
        &DynamoGrantStore::new(&bad, &env.registry_table),
        &DynamoAuditStore::new(&bad, &env.audit_table),
        &StsVendor::new(&bad),
        &settings,
        &request(&unique("req")),
        "inv-1",
        Utc::now(),
    )
    .await;
    assert_eq!(r["statusCode"], 502, "{r}");
    let records = audit_records(&cfg, &env.audit_table).await;
    assert_eq!(records.len(), 2, "{records:?}");
    let outcome = records
        .iter()
        .find(|r| r.get("success_status").and_then(|v| v.as_bool().ok()) == Some(&false))
        .expect("the outcome record");
    let why = outcome["error_code"].as_s().unwrap();
    assert!(why.contains("no credentials vended"), "{why}");
}
