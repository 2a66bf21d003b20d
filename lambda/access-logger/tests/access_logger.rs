//! access-logger on the local emulator: CloudTrail events put on the bus, routed by the rule to the
//! queue, handed over as Lambda's event source mapping does, written to the access-log table and
//! alerted on through SNS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use access_logger::{LoggerState, Ports, Settings, SqsEvent, handle};
use chrono::Utc;
use serde_json::json;
use warden_aws::local::{
    Environment, EventSourceMapping, emulator_from_env, put_cloudtrail_events, unique,
};
use warden_aws::{
    DynamoAlertLedger, DynamoAuditStore, DynamoGrantStore, SnsNotifier, StdoutMetrics,
};
use warden_core::detect::{DetectConfig, Pipeline};
use warden_core::ports::{GrantStore, UsageQuery};

#[tokio::test]
async fn events_reach_the_table_once_and_alerts_reach_the_topic() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let grants = r#"{"consumer_accounts":[
 {"account_id":"360000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#;
    let env = Environment::create(&cfg, &unique("log"), grants, Utc::now())
        .await
        .unwrap();
    let now = Utc::now();
    let record = |id: &str, account: &str| {
        json!({"eventVersion": "1.09", "eventTime": now.to_rfc3339(), "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject", "eventID": format!("{}-{id}", env.bucket),
            "userIdentity": {"type": "AssumedRole", "accountId": account,
                "arn": format!("arn:aws:sts::{account}:assumed-role/warden-consumer/s")},
            "requestParameters": {"bucketName": env.bucket, "key": "sales/a.csv"},
            "additionalEventData": {"bytesTransferredOut": 10}})
    };
    let mut records = vec![record("a", "360000000001"), record("b", "999988887777")];
    // Another bucket's event: the rule does not route it.
    let mut other = record("c", "360000000001");
    other["requestParameters"]["bucketName"] = json!("someone-elses-bucket");
    records.push(other);
    assert_eq!(put_cloudtrail_events(&cfg, &records).await.unwrap(), 3);
    // The same event delivered twice (at-least-once).
    put_cloudtrail_events(&cfg, &records[..1]).await.unwrap();

    let mapping = EventSourceMapping::new(&cfg, &env.events_queue_url)
        .await
        .unwrap();
    let batch = mapping.receive(100).await.unwrap();
    assert_eq!(
        batch.len(),
        3,
        "two events of the shared bucket, one of them twice"
    );
    let event: SqsEvent = serde_json::from_value(batch.event.clone()).unwrap();
    let registry = DynamoGrantStore::new(&cfg, &env.registry_table)
        .load_registry(now)
        .await
        .unwrap();
    let detect = DetectConfig {
        shared_bucket: Some(env.bucket.clone()),
        ..DetectConfig::default()
    };
    let mut logger = LoggerState::new(Pipeline::new(&detect, Some(Arc::new(registry))).unwrap());
    let audit = DynamoAuditStore::new(&cfg, &env.audit_table);
    let ledger = DynamoAlertLedger::new(&cfg, &env.alert_ledger_table);
    let notifier = SnsNotifier::new(&cfg, &env.alert_topic);
    let ports = Ports {
        audit: &audit,
        ledger: &ledger,
        notifier: &notifier,
        metrics: &StdoutMetrics,
    };
    let settings = Settings {
        retention_days: 365,
        namespace: "Warden/test".into(),
    };
    let response = handle(&ports, &mut logger, &event, &settings, "i1", now).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let (deleted, left) = mapping
        .settle(&batch, &serde_json::to_value(&response).unwrap())
        .await
        .unwrap();
    assert_eq!((deleted, left), (3, 0));
    let day = chrono::Duration::days(1);
    let usage = audit
        .usage("360000000001", now - day, now + day)
        .await
        .unwrap();
    assert_eq!(usage.requests, 1, "one record despite two deliveries");
    let inbox = EventSourceMapping::new(&cfg, &env.security_inbox_url)
        .await
        .unwrap();
    let mail = inbox.receive(10).await.unwrap().event.to_string();
    assert!(mail.contains("unknown-account"), "{mail}");
}

#[tokio::test]
async fn the_alert_ledger_claims_once_across_invocations() {
    use warden_core::ports::{AlertKey, AlertLedger, Claim, LedgerAlert};
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let table = unique("alert-ledger");
    warden_aws::bootstrap::create_alert_ledger_table(&cfg, &table)
        .await
        .unwrap();
    let ledger = DynamoAlertLedger::new(&cfg, &table);
    let alert = LedgerAlert {
        key: AlertKey {
            event_id: "e1".into(),
            detector: "unknown-account".into(),
        },
        subject: "[warden unknown-account] High: …".into(),
        message: "{}".into(),
    };
    let now = Utc::now();
    let lease = now + chrono::Duration::seconds(120);
    assert_eq!(ledger.claim(&alert, "a", now, lease).await.unwrap(), Claim::Mine);
    // The holder's own retry (a lost response) is still its claim; anyone else waits.
    assert_eq!(ledger.claim(&alert, "a", now, lease).await.unwrap(), Claim::Mine);
    assert_eq!(ledger.claim(&alert, "b", now, lease).await.unwrap(), Claim::Busy);
    // A failed publish gives it back; it stays findable with its payload.
    ledger.release(&alert.key, "a").await.unwrap();
    assert_eq!(ledger.unsent("e1").await.unwrap(), vec![alert.clone()]);
    assert_eq!(ledger.claim(&alert, "b", now, lease).await.unwrap(), Claim::Mine);
    // A crashed holder: past its lease, another invocation takes over.
    let later = lease + chrono::Duration::seconds(1);
    assert_eq!(
        ledger
            .claim(&alert, "c", later, later + chrono::Duration::seconds(120))
            .await
            .unwrap(),
        Claim::Mine
    );
    // "b" lost the claim: its release does nothing.
    ledger.release(&alert.key, "b").await.unwrap();
    ledger.mark_sent(&alert.key, "c", later).await.unwrap();
    assert_eq!(ledger.claim(&alert, "d", later, lease).await.unwrap(), Claim::Sent);
    assert!(ledger.unsent("e1").await.unwrap().is_empty());
    assert!(ledger.unsent("other").await.unwrap().is_empty());
}
