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
