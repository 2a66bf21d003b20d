//! cost-reporter on the local emulator: usage read through the access-log table's by-account-time
//! index, the report written to the audit bucket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::{Datelike, TimeZone, Utc};
use cost_reporter::run;
use warden_aws::local::{Environment, emulator_from_env, unique};
use warden_aws::{DynamoAuditStore, DynamoGrantStore, S3Reports, SnsNotifier};
use warden_core::cloudtrail::normalise::to_item;
use warden_core::cloudtrail::{normalise_owned, parse_text};
use warden_core::cost::PriceTable;
use warden_core::ports::AuditStore;

#[tokio::test]
async fn prices_last_months_usage_per_account() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let grants = r#"{"consumer_accounts":[
 {"account_id":"330000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"},
 {"account_id":"330000000002","allowed_prefixes":["ml/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#;
    let env = Environment::create(&cfg, &unique("cost"), grants, Utc::now())
        .await
        .unwrap();
    let audit = DynamoAuditStore::new(&cfg, &env.audit_table);
    // Three downloads of 1 GB by the first account in the previous month, one this month.
    let now = Utc::now();
    let this_month = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .unwrap();
    let last_month = this_month - chrono::Duration::days(10);
    let mut items = Vec::new();
    for (i, when) in [last_month, last_month, last_month, this_month]
        .iter()
        .enumerate()
    {
        let text = format!(
            r#"{{"eventVersion":"1.09","eventTime":"{}","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"cost-{i}-{}","userIdentity":{{"type":"AssumedRole","accountId":"330000000001","arn":"arn:aws:sts::330000000001:assumed-role/warden-consumer/s"}},"requestParameters":{{"bucketName":"{}","key":"sales/a"}},"additionalEventData":{{"bytesTransferredOut":1000000000}}}}"#,
            when.to_rfc3339(),
            env.audit_table,
            env.bucket
        );
        let parsed = parse_text("test", &text);
        for p in parsed.records {
            items.push(to_item(&normalise_owned(p).unwrap(), 365));
        }
    }
    assert_eq!(audit.write_records(items).await.unwrap().written, 4);
    let report = run(
        &DynamoGrantStore::new(&cfg, &env.registry_table),
        &audit,
        &S3Reports::new(&cfg, &env.audit_bucket),
        &SnsNotifier::new(&cfg, &env.alert_topic),
        PriceTable {
            per_gb_transfer_usd: 0.09,
            per_1000_requests_usd: 0.0004,
        },
        "cost-reports/",
        now,
    )
    .await
    .unwrap();
    let first = report
        .lines
        .iter()
        .find(|l| l.account_id == "330000000001")
        .unwrap();
    assert_eq!((first.requests, first.bytes_out), (3, 3_000_000_000));
    // 3 GB at $0.09 plus 3 requests (rounded to the cent by the report).
    assert!(
        (first.estimated_usd - 0.27).abs() < 0.01,
        "{}",
        first.estimated_usd
    );
    let other = report
        .lines
        .iter()
        .find(|l| l.account_id == "330000000002")
        .unwrap();
    assert_eq!(other.requests, 0);
}
