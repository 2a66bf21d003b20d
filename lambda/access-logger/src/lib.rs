//! access-logger: a batch of SQS messages (EventBridge "AWS API Call via CloudTrail" envelopes)
//! → warden-core parse, normalise and detect → idempotent items in the access-log table → alerts
//! to SNS → metrics as Embedded Metric Format lines → a partial batch failure response.
//!
//! Nothing is lost or duplicated: items are keyed by CloudTrail's `eventID` (a retried message
//! overwrites its own items); a message is acknowledged only when every record in it was written
//! and every alert published; otherwise it is reported as failed, retried by SQS and, after the
//! queue's `maxReceiveCount`, parked in the DLQ with the reason in the logs. A bad message never
//! blocks the others.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use warden_core::cloudtrail::normalise::to_item;
use warden_core::cloudtrail::{normalise_owned, parse_text};
use warden_core::detect::{Alert, DENIED_CODES, Pipeline};
use warden_core::emf::{self, AccountCounts};
use warden_core::ports::{AuditStore, Metrics, Notifier};

/// One SQS message (the fields of the Lambda SQS event Warden uses).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// SQS message ID (what a partial batch failure names).
    pub message_id: String,
    /// The EventBridge envelope.
    pub body: String,
}

/// The Lambda SQS event.
#[derive(Debug, Clone, Deserialize)]
pub struct SqsEvent {
    /// Messages of the batch.
    #[serde(rename = "Records", default)]
    pub records: Vec<Message>,
}

/// `{"batchItemFailures": [{"itemIdentifier": id}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchResponse {
    /// Messages to retry.
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

/// One failed message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFailure {
    /// Its SQS message ID.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// Settings read once from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// TTL of access records (days).
    pub retention_days: u32,
    /// EMF namespace, `Warden/<environment>`.
    pub namespace: String,
}

/// Process one batch.
pub async fn handle<A: AuditStore, N: Notifier, M: Metrics>(
    audit: &A,
    notifier: &N,
    metrics: &M,
    pipeline: &mut Pipeline,
    event: &SqsEvent,
    settings: &Settings,
    now: DateTime<Utc>,
) -> BatchResponse {
    let mut failed: BTreeSet<String> = BTreeSet::new();
    // event_id → the messages carrying it. At-least-once delivery can put one event in two
    // messages of a batch; it is written, counted and checked once (BatchWriteItem rejects a
    // request with duplicate keys), and both messages share its fate.
    let mut owners: HashMap<String, Vec<String>> = HashMap::new();
    let mut items = Vec::new();
    let mut alerts: Vec<(String, Alert)> = Vec::new();
    let mut counts: BTreeMap<String, AccountCounts> = BTreeMap::new();
    for msg in &event.records {
        let parsed = parse_text(&msg.message_id, &msg.body);
        for e in &parsed.errors {
            tracing::error!(message_id = %msg.message_id, error = %e, "unreadable event; the message will be retried, then parked in the DLQ");
            failed.insert(msg.message_id.clone());
        }
        for p in parsed.records {
            let rec = match normalise_owned(p) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(message_id = %msg.message_id, error = %e, "event cannot be normalised");
                    failed.insert(msg.message_id.clone());
                    continue;
                }
            };
            match owners.entry(rec.event_id.to_string()) {
                std::collections::hash_map::Entry::Occupied(mut o) => {
                    o.get_mut().push(msg.message_id.clone());
                    continue;
                }
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(vec![msg.message_id.clone()]);
                }
            }
            let c = counts.entry(rec.account_id.to_string()).or_default();
            if rec.event_source == "s3.amazonaws.com" {
                c.requests += 1;
            }
            c.bytes_out += rec.bytes_out;
            if rec
                .error_code
                .as_deref()
                .is_some_and(|code| DENIED_CODES.contains(&code))
            {
                c.failed_auth += 1;
            }
            let mut found = Vec::new();
            pipeline.observe(&rec, &mut found);
            alerts.extend(found.into_iter().map(|a| (msg.message_id.clone(), a)));
            items.push(to_item(&rec, settings.retention_days));
        }
    }
    let written = items.len();
    match audit.write_records(items).await {
        Ok(outcome) => {
            for id in &outcome.failed {
                for m in owners.get(id).into_iter().flatten() {
                    tracing::warn!(event_id = %id, message_id = %m, "not written after retries; message will be retried");
                    failed.insert(m.clone());
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "access-log table unavailable; the whole batch will be retried");
            failed.extend(event.records.iter().map(|m| m.message_id.clone()));
        }
    }
    let mut by_detector: BTreeMap<String, u64> = BTreeMap::new();
    let messages: Vec<(String, String)> = alerts
        .iter()
        .map(|(_, a)| {
            *by_detector.entry(a.detector.to_owned()).or_default() += 1;
            (
                format!("[warden {}] {:?}: {}", a.detector, a.severity, a.summary),
                serde_json::to_string_pretty(a).unwrap_or_else(|_| a.summary.clone()),
            )
        })
        .collect();
    for (i, e) in notifier.publish_batch(&messages).await {
        if let Some((message_id, a)) = alerts.get(i) {
            tracing::error!(error = %e, detector = a.detector, "alert not published; message will be retried");
            failed.insert(message_id.clone());
        }
    }
    for line in emf::lines(
        &settings.namespace,
        now.timestamp_millis(),
        &counts,
        written as u64,
        &by_detector,
    ) {
        metrics.emit(&line);
    }
    BatchResponse {
        batch_item_failures: failed
            .into_iter()
            .map(|item_identifier| ItemFailure { item_identifier })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use warden_core::cloudtrail::normalise::Attr;
    use warden_core::detect::DetectConfig;
    use warden_core::grant::Registry;
    use warden_core::ports::{PortError, WriteOutcome};
    use warden_testkit::FakeNotifier;

    #[derive(Default)]
    struct FakeAudit {
        rows: Mutex<BTreeMap<String, BTreeMap<String, Attr>>>,
        fail_ids: Vec<String>,
    }

    impl AuditStore for FakeAudit {
        async fn write_records(
            &self,
            items: Vec<BTreeMap<String, Attr>>,
        ) -> Result<WriteOutcome, PortError> {
            let mut out = WriteOutcome::default();
            // Like BatchWriteItem: a request with two items of one key is refused whole.
            let mut keys = BTreeSet::new();
            for item in &items {
                if !keys.insert(format!("{:?}", item.get("event_id"))) {
                    return Err(PortError::new(
                        "dynamodb",
                        "BatchWriteItem",
                        "Provided list of item keys contains duplicates",
                    ));
                }
            }
            for item in items {
                let Some(Attr::S(id)) = item.get("event_id").cloned() else {
                    panic!("no key")
                };
                if self.fail_ids.contains(&id) {
                    out.failed.push(id);
                } else {
                    self.rows.lock().unwrap().insert(id, item);
                    out.written += 1;
                }
            }
            Ok(out)
        }
    }

    #[derive(Default)]
    struct FakeMetrics(Mutex<Vec<String>>);
    impl Metrics for FakeMetrics {
        fn emit(&self, line: &str) {
            self.0.lock().unwrap().push(line.to_owned());
        }
    }

    fn envelope(id: &str, account: &str, key: &str, time: &str) -> String {
        format!(
            r#"{{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{{"eventTime":"{time}","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"{id}","userIdentity":{{"type":"AssumedRole","accountId":"{account}","arn":"arn:aws:sts::{account}:assumed-role/warden-consumer/s"}},"requestParameters":{{"bucketName":"shared","key":"{key}"}},"additionalEventData":{{"bytesTransferredOut":100}}}}}}"#
        )
    }

    fn pipeline() -> Pipeline {
        let text = r#"{"consumer_accounts":[{"account_id":"210000000000","allowed_prefixes":["analytics/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#;
        let reg = Registry::from_json(text, Utc::now()).unwrap();
        let cfg = DetectConfig {
            shared_bucket: Some("shared".into()),
            ..DetectConfig::default()
        };
        Pipeline::new(&cfg, Some(Arc::new(reg))).unwrap()
    }

    fn settings() -> Settings {
        Settings {
            retention_days: 365,
            namespace: "Warden/test".into(),
        }
    }

    fn msg(id: &str, body: String) -> Message {
        Message {
            message_id: id.into(),
            body,
        }
    }

    /// One message per account (`m1`, `m2`…), each a read of `analytics/a` (events `e1`, `e2`…).
    fn reads_by(accounts: &[&str]) -> SqsEvent {
        SqsEvent {
            records: accounts
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let n = i + 1;
                    msg(
                        &format!("m{n}"),
                        envelope(&format!("e{n}"), a, "analytics/a", "2026-11-23T10:00:00Z"),
                    )
                })
                .collect(),
        }
    }

    #[tokio::test]
    async fn writes_records_alerts_and_metrics() {
        let (audit, notes, metrics) = (
            FakeAudit::default(),
            FakeNotifier::default(),
            FakeMetrics::default(),
        );
        let event = reads_by(&["210000000000", "999988887777"]);
        let r = handle(
            &audit,
            &notes,
            &metrics,
            &mut pipeline(),
            &event,
            &settings(),
            Utc::now(),
        )
        .await;
        assert!(r.batch_item_failures.is_empty());
        assert_eq!(audit.rows.lock().unwrap().len(), 2);
        let subjects: Vec<String> = notes
            .messages
            .lock()
            .unwrap()
            .iter()
            .map(|(s, _)| s.clone())
            .collect();
        assert_eq!(subjects.len(), 1, "{subjects:?}");
        assert!(subjects[0].contains("unknown-account"));
        assert!(
            metrics
                .0
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(r#""AccountId":"999988887777""#))
        );
    }

    /// Refuses alerts about one account, as a throttled or unreachable topic would.
    struct RefusingNotifier(&'static str);
    impl Notifier for RefusingNotifier {
        async fn publish(&self, _subject: &str, message: &str) -> Result<(), PortError> {
            if message.contains(self.0) {
                Err(PortError::new("sns", "Publish", "throttled"))
            } else {
                Ok(())
            }
        }
        async fn publish_for_account(&self, _: &str, s: &str, m: &str) -> Result<(), PortError> {
            self.publish(s, m).await
        }
    }

    #[tokio::test]
    async fn an_alert_that_is_not_published_fails_only_its_message() {
        let audit = FakeAudit::default();
        let event = reads_by(&["999988887777", "999911112222"]);
        let r = handle(
            &audit,
            &RefusingNotifier("999911112222"),
            &FakeMetrics::default(),
            &mut pipeline(),
            &event,
            &settings(),
            Utc::now(),
        )
        .await;
        // Both records are written (a retry rewrites e2 idempotently); only m2 is retried.
        assert_eq!(audit.rows.lock().unwrap().len(), 2);
        assert_eq!(
            r.batch_item_failures
                .iter()
                .map(|f| f.item_identifier.as_str())
                .collect::<Vec<_>>(),
            vec!["m2"]
        );
    }

    #[tokio::test]
    async fn poison_and_unwritten_messages_fail_alone() {
        let (notes, metrics) = (FakeNotifier::default(), FakeMetrics::default());
        let audit = FakeAudit {
            fail_ids: vec!["e3".into()],
            ..FakeAudit::default()
        };
        let event = SqsEvent {
            records: vec![
                msg("ok", envelope("e1", "210000000000", "analytics/a", "2026-11-23T10:00:00Z")),
                msg("poison", "{not json".into()),
                msg("no-time", r#"{"detail-type":"AWS API Call via CloudTrail","detail":{"eventID":"e2","eventName":"GetObject"}}"#.into()),
                msg("throttled", envelope("e3", "210000000000", "analytics/b", "2026-11-23T10:00:00Z")),
            ],
        };
        let r = handle(
            &audit,
            &notes,
            &metrics,
            &mut pipeline(),
            &event,
            &settings(),
            Utc::now(),
        )
        .await;
        let failed: Vec<&str> = r
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, vec!["no-time", "poison", "throttled"]);
        assert!(audit.rows.lock().unwrap().contains_key("e1"));
    }

    #[tokio::test]
    async fn redelivery_does_not_duplicate() {
        let (audit, notes, metrics) = (
            FakeAudit::default(),
            FakeNotifier::default(),
            FakeMetrics::default(),
        );
        let event = SqsEvent {
            records: vec![msg(
                "m1",
                envelope("e1", "210000000000", "analytics/a", "2026-11-23T10:00:00Z"),
            )],
        };
        let mut p = pipeline();
        handle(
            &audit,
            &notes,
            &metrics,
            &mut p,
            &event,
            &settings(),
            Utc::now(),
        )
        .await;
        handle(
            &audit,
            &notes,
            &metrics,
            &mut p,
            &event,
            &settings(),
            Utc::now(),
        )
        .await;
        assert_eq!(audit.rows.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn one_event_in_two_messages_of_a_batch_is_written_once() {
        let (audit, notes, metrics) = (
            FakeAudit::default(),
            FakeNotifier::default(),
            FakeMetrics::default(),
        );
        let body = envelope("e1", "999988887777", "analytics/a", "2026-11-23T10:00:00Z");
        let event = SqsEvent {
            records: vec![msg("m1", body.clone()), msg("m2", body)],
        };
        let r = handle(
            &audit,
            &notes,
            &metrics,
            &mut pipeline(),
            &event,
            &settings(),
            Utc::now(),
        )
        .await;
        assert!(r.batch_item_failures.is_empty(), "{r:?}");
        assert_eq!(audit.rows.lock().unwrap().len(), 1);
        let unknown = notes
            .messages
            .lock()
            .unwrap()
            .iter()
            .filter(|(subject, _)| subject.contains("unknown-account"))
            .count();
        assert_eq!(unknown, 1, "one alert for one event");
    }

    #[test]
    fn response_shape() {
        let r = BatchResponse {
            batch_item_failures: vec![ItemFailure {
                item_identifier: "m1".into(),
            }],
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"batchItemFailures":[{"itemIdentifier":"m1"}]}"#
        );
    }
}
