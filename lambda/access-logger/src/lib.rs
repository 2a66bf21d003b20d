//! access-logger: a batch of SQS messages (EventBridge "AWS API Call via CloudTrail" envelopes)
//! → warden-core parse and normalise → idempotent items in the access-log table → detectors on
//! what was written → alerts to SNS, once each → metrics as Embedded Metric Format lines → a
//! partial batch failure response.
//!
//! Nothing is lost, doubled or repeated under retries:
//! - items are keyed by CloudTrail's `eventID`, so a redelivered message overwrites its own items;
//! - the detectors run only on events whose item was written, and each event once per window
//!   horizon ([`Pipeline::observe_once`]), so a redelivery never counts twice in a window;
//! - each alert is claimed in the alert ledger (a conditional write keyed by detector and event)
//!   before it is published, marked sent after, and released on a failed publish; the ledger keeps
//!   the alert until it is sent, so a redelivered message publishes what its first delivery found
//!   and nothing it already published;
//! - a message is reported failed only when one of its own events was not written or one of its
//!   own alerts not published; SQS retries it and, after `maxReceiveCount`, parks it in the DLQ
//!   with the reason in the logs. One bad message never fails the others.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use warden_core::cloudtrail::normalise::{AccessRecord, to_item};
use warden_core::cloudtrail::{normalise_owned, parse_text};
use warden_core::detect::{Alert, DENIED_CODES, Pipeline};
use warden_core::emf::{self, AccountCounts};
use warden_core::ports::{
    AlertKey, AlertLedger, AuditStore, Claim, LedgerAlert, Metrics, Notifier,
};

/// How long a claim on an alert holds off other invocations: longer than the function's timeout
/// (60 s), shorter than the queue's visibility timeout (360 s), so a crashed invocation's claim
/// has expired by the time its message is delivered again.
pub const ALERT_LEASE_SECONDS: i64 = 120;

/// Released alerts each batch picks up from the ledger's sweep index.
const SWEEP_PER_BATCH: usize = 10;

/// Claims and ledger look-ups in flight at once.
const LEDGER_IN_FLIGHT: usize = 16;

/// One SQS message (the fields of the Lambda SQS event Warden uses).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// SQS message ID (what a partial batch failure names).
    pub message_id: String,
    /// The EventBridge envelope.
    pub body: String,
    /// System attributes (`ApproximateReceiveCount`).
    #[serde(default)]
    pub attributes: MessageAttributes,
}

/// The SQS system attributes Warden reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessageAttributes {
    /// How many times the message has been received, as SQS sends it (a decimal string).
    #[serde(rename = "ApproximateReceiveCount", default)]
    pub approximate_receive_count: Option<String>,
}

impl Message {
    /// Whether SQS has delivered this message before (its first delivery may have found alerts
    /// it could not publish).
    #[must_use]
    pub fn is_redelivery(&self) -> bool {
        self.attributes
            .approximate_receive_count
            .as_deref()
            .and_then(|c| c.parse::<u32>().ok())
            .is_some_and(|c| c > 1)
    }
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

/// The ports one batch uses.
#[derive(Debug)]
pub struct Ports<'a, A, L, N, M> {
    /// The access-log table.
    pub audit: &'a A,
    /// The alert ledger table.
    pub ledger: &'a L,
    /// The alerts topic.
    pub notifier: &'a N,
    /// EMF output.
    pub metrics: &'a M,
}

/// What one function instance keeps between batches: the detectors (with their windows and
/// the events they have counted) and the alerts it found but could not claim in the ledger (a
/// throttled ledger): the detectors will not find those again, so the redelivery of their
/// message takes them from here.
#[derive(Debug)]
pub struct LoggerState {
    /// The detectors.
    pub pipeline: Pipeline,
    held: HashMap<String, Vec<LedgerAlert>>,
    held_order: std::collections::VecDeque<String>,
}

/// Most events with held alerts an instance keeps (oldest forgotten first).
pub const MAX_HELD_EVENTS: usize = 100_000;

impl LoggerState {
    /// A fresh state around `pipeline`.
    #[must_use]
    pub fn new(pipeline: Pipeline) -> Self {
        LoggerState {
            pipeline,
            held: HashMap::new(),
            held_order: std::collections::VecDeque::new(),
        }
    }

    /// Events whose alerts are held.
    #[must_use]
    pub fn held_events(&self) -> usize {
        self.held.len()
    }

    fn hold(&mut self, alert: LedgerAlert) {
        let id = alert.key.event_id.clone();
        let list = self.held.entry(id.clone()).or_default();
        if list.is_empty() {
            self.held_order.push_back(id);
        }
        if !list.iter().any(|a| a.key == alert.key) {
            list.push(alert);
        }
        while self.held.len() > MAX_HELD_EVENTS {
            match self.held_order.pop_front() {
                Some(old) => {
                    if let Some(lost) = self.held.remove(&old) {
                        tracing::error!(event_id = %old, alerts = lost.len(), "held alerts forgotten (too many held)");
                    }
                }
                None => break,
            }
        }
    }

    fn take(&mut self, event_id: &str) -> Vec<LedgerAlert> {
        // The order queue keeps the ID until it reaches the front; a missing entry is skipped.
        self.held.remove(event_id).unwrap_or_default()
    }
}

/// One distinct event of the batch and the messages carrying it.
struct Event<'a> {
    record: AccessRecord<'a>,
    /// Indexes into the batch's messages. At-least-once delivery can put one event in two
    /// messages of a batch; it is written, counted and alerted on once, and both messages share
    /// its fate.
    messages: Vec<usize>,
}

fn subject_and_message(a: &Alert) -> LedgerAlert {
    LedgerAlert {
        key: AlertKey {
            event_id: a.event_id.clone(),
            detector: a.detector.to_owned(),
        },
        subject: format!("[warden {}] {:?}: {}", a.detector, a.severity, a.summary),
        message: serde_json::to_string_pretty(a).unwrap_or_else(|_| a.summary.clone()),
    }
}

/// Process one batch. `invocation` names this invocation in the alert ledger (the Lambda
/// request ID); it must differ between invocations.
pub async fn handle<A: AuditStore, L: AlertLedger, N: Notifier, M: Metrics>(
    ports: &Ports<'_, A, L, N, M>,
    state: &mut LoggerState,
    event: &SqsEvent,
    settings: &Settings,
    invocation: &str,
    now: DateTime<Utc>,
) -> BatchResponse {
    let msgs = &event.records;
    let mut failed: BTreeSet<usize> = BTreeSet::new();
    let mut events: Vec<Event<'_>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut items = Vec::new();
    for (mi, msg) in msgs.iter().enumerate() {
        let parsed = parse_text(&msg.message_id, &msg.body);
        for e in &parsed.errors {
            tracing::error!(message_id = %msg.message_id, error = %e, "unreadable event; the message will be retried, then parked in the DLQ");
            failed.insert(mi);
        }
        for p in parsed.records {
            let record = match normalise_owned(p) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(message_id = %msg.message_id, error = %e, "event cannot be normalised");
                    failed.insert(mi);
                    continue;
                }
            };
            if let Some(&i) = index.get(record.event_id.as_ref()) {
                if let Some(ev) = events.get_mut(i) {
                    ev.messages.push(mi);
                }
                continue;
            }
            index.insert(record.event_id.to_string(), events.len());
            items.push(to_item(&record, settings.retention_days));
            events.push(Event {
                record,
                messages: vec![mi],
            });
        }
    }

    // 1. Write. Only what was written goes on: an event whose item is missing is neither
    // counted nor alerted on, and its messages come back.
    let (written, unwritten): (usize, HashSet<String>) = match ports
        .audit
        .write_records(items)
        .await
    {
        Ok(outcome) => (outcome.written, outcome.failed.into_iter().collect()),
        Err(e) => {
            tracing::error!(error = %e, "access-log table unavailable; the batch will be retried");
            (
                0,
                events
                    .iter()
                    .map(|e| e.record.event_id.to_string())
                    .collect(),
            )
        }
    };
    let fail_event = |failed: &mut BTreeSet<usize>, ev: &Event<'_>| {
        failed.extend(ev.messages.iter().copied());
    };

    // 2. Detect, each event once.
    let mut counts: BTreeMap<String, AccountCounts> = BTreeMap::new();
    let mut found: Vec<(usize, LedgerAlert)> = Vec::new();
    let mut keys: HashSet<AlertKey> = HashSet::new();
    let mut out = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        if unwritten.contains(ev.record.event_id.as_ref()) {
            tracing::warn!(event_id = %ev.record.event_id, "not written after retries; its messages will be retried");
            fail_event(&mut failed, ev);
            continue;
        }
        for la in state.take(&ev.record.event_id) {
            if keys.insert(la.key.clone()) {
                found.push((i, la));
            }
        }
        out.clear();
        if !state.pipeline.observe_once(&ev.record, &mut out) {
            continue;
        }
        let rec = &ev.record;
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
        for a in &out {
            let la = subject_and_message(a);
            if keys.insert(la.key.clone()) {
                found.push((i, la));
            }
        }
    }

    // 3. A redelivered message may carry alerts its first delivery found but did not publish
    // (the detectors will not find them again: the windows already counted the event).
    let lookups: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, ev)| {
            !unwritten.contains(ev.record.event_id.as_ref())
                && ev
                    .messages
                    .iter()
                    .any(|&m| msgs.get(m).is_some_and(Message::is_redelivery))
        })
        .map(|(i, _)| i)
        .collect();
    let pending = run_bounded(lookups.iter().map(|&i| {
        let id = events.get(i).map(|e| e.record.event_id.to_string());
        async move {
            let r = match &id {
                Some(id) => ports.ledger.unsent(id).await,
                None => Ok(Vec::new()),
            };
            (i, r)
        }
    }))
    .await;
    for (i, r) in pending {
        match r {
            Ok(list) => {
                for la in list {
                    if keys.insert(la.key.clone()) {
                        found.push((i, la));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "alert ledger unreadable; the message will be retried");
                if let Some(ev) = events.get(i) {
                    fail_event(&mut failed, ev);
                }
            }
        }
    }

    // 4. Claim, publish, mark. Only alerts this invocation holds are published.
    let lease_until = now + Duration::seconds(ALERT_LEASE_SECONDS);
    let claims = run_bounded(found.iter().map(|(i, la)| async move {
        (
            *i,
            la,
            ports.ledger.claim(la, invocation, now, lease_until).await,
        )
    }))
    .await;
    // (event index, alert, whether the ledger holds a claim on it)
    let mut mine: Vec<(usize, &LedgerAlert, bool)> = Vec::new();
    for (i, la, r) in claims {
        match r {
            Ok(Claim::Mine) => mine.push((i, la, true)),
            Ok(Claim::Sent) => {}
            Ok(Claim::Busy) => {
                tracing::info!(event_id = %la.key.event_id, detector = %la.key.detector, "alert held by another invocation; the message will be retried");
                if let Some(ev) = events.get(i) {
                    fail_event(&mut failed, ev);
                }
            }
            Err(e) => {
                // The ledger stayed unavailable through the adapter's retries. A security alert
                // published twice beats one never published: send it without a claim.
                tracing::warn!(error = %e, event_id = %la.key.event_id, detector = %la.key.detector, "alert not claimed; publishing it without the ledger");
                mine.push((i, la, false));
            }
        }
    }
    let batch: Vec<(String, String)> = mine
        .iter()
        .map(|(_, la, _)| (la.subject.clone(), la.message.clone()))
        .collect();
    let refused: BTreeMap<usize, String> = ports
        .notifier
        .publish_batch(&batch)
        .await
        .into_iter()
        .collect();
    let mut by_detector: BTreeMap<String, u64> = BTreeMap::new();
    let settle = run_bounded(mine.iter().enumerate().map(|(n, (i, la, claimed))| {
        let error = refused.get(&n).cloned();
        async move {
            match (error, *claimed) {
                (Some(e), true) => {
                    tracing::error!(error = %e, event_id = %la.key.event_id, detector = %la.key.detector, "alert not published; the message will be retried");
                    if let Err(re) = ports.ledger.release(&la.key, invocation).await {
                        // The lease runs out instead; the retry publishes it then.
                        tracing::warn!(error = %re, "claim not released");
                    }
                    (*i, la, false, false)
                }
                // Neither published nor in the ledger: only this instance remembers it.
                (Some(e), false) => {
                    tracing::error!(error = %e, event_id = %la.key.event_id, detector = %la.key.detector, "alert neither published nor recorded; held for the message's retry");
                    (*i, la, false, true)
                }
                (None, true) => {
                    if let Err(me) = ports.ledger.mark_sent(&la.key, invocation, now).await {
                        // Published: the message is done. Only a redelivery of this very event
                        // after the lease could repeat it.
                        tracing::error!(error = %me, event_id = %la.key.event_id, detector = %la.key.detector, "alert published but not marked sent");
                    }
                    (*i, la, true, false)
                }
                // Published without a claim: record it as sent (an upsert), so a redelivery
                // that finds the alert again does not repeat it.
                (None, false) => {
                    if let Err(me) = ports.ledger.mark_sent(&la.key, invocation, now).await {
                        tracing::error!(error = %me, event_id = %la.key.event_id, detector = %la.key.detector, "unclaimed alert published but not recorded");
                    }
                    (*i, la, true, false)
                }
            }
        }
    }))
    .await;
    for (i, la, published, hold) in settle {
        if published {
            *by_detector.entry(la.key.detector.clone()).or_default() += 1;
            continue;
        }
        if hold {
            state.hold((*la).clone());
        }
        if let Some(ev) = events.get(i) {
            fail_event(&mut failed, ev);
        }
    }

    // 5. Alerts released by earlier publishes whose messages may never come back counting
    // their receives (a DLQ redrive sends them as new messages): a few per batch.
    match ports.ledger.released(SWEEP_PER_BATCH).await {
        Ok(list) => {
            for la in list.into_iter().filter(|la| !keys.contains(&la.key)) {
                if !matches!(
                    ports.ledger.claim(&la, invocation, now, lease_until).await,
                    Ok(Claim::Mine)
                ) {
                    continue;
                }
                match ports.notifier.publish(&la.subject, &la.message).await {
                    Ok(()) => {
                        if let Err(e) = ports.ledger.mark_sent(&la.key, invocation, now).await {
                            tracing::error!(error = %e, event_id = %la.key.event_id, "swept alert published but not marked sent");
                        }
                        *by_detector.entry(la.key.detector.clone()).or_default() += 1;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, event_id = %la.key.event_id, "swept alert still not published");
                        let _ = ports.ledger.release(&la.key, invocation).await;
                    }
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "released alerts not read; the next batch sweeps them")
        }
    }

    for line in emf::lines(
        &settings.namespace,
        now.timestamp_millis(),
        &counts,
        written as u64,
        &by_detector,
    ) {
        ports.metrics.emit(&line);
    }
    BatchResponse {
        batch_item_failures: failed
            .into_iter()
            .filter_map(|i| msgs.get(i).map(|m| m.message_id.clone()))
            .collect::<BTreeSet<String>>()
            .into_iter()
            .map(|item_identifier| ItemFailure { item_identifier })
            .collect(),
    }
}

/// Runs futures with at most [`LEDGER_IN_FLIGHT`] at once, results in input order.
async fn run_bounded<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    use futures_util::StreamExt as _;
    futures_util::stream::iter(futures)
        .buffered(LEDGER_IN_FLIGHT)
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use warden_core::cloudtrail::normalise::Attr;
    use warden_core::detect::DetectConfig;
    use warden_core::grant::Registry;
    use warden_core::ports::{PortError, WriteOutcome};
    use warden_testkit::{FakeLedger, FakeNotifier};

    #[derive(Default)]
    struct FakeAudit {
        rows: Mutex<BTreeMap<String, BTreeMap<String, Attr>>>,
        /// Event IDs never written (as items left unprocessed after retries).
        fail_ids: Mutex<Vec<String>>,
        /// Items offered, in total (a second delivery offers its items again).
        offered: Mutex<usize>,
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
            *self.offered.lock().unwrap() += items.len();
            for item in items {
                let Some(Attr::S(id)) = item.get("event_id").cloned() else {
                    panic!("no key")
                };
                if self.fail_ids.lock().unwrap().contains(&id) {
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

    fn pipeline_with(cfg: DetectConfig) -> LoggerState {
        let text = r#"{"consumer_accounts":[{"account_id":"210000000000","allowed_prefixes":["analytics/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#;
        let reg = Registry::from_json(text, Utc::now()).unwrap();
        LoggerState::new(Pipeline::new(&cfg, Some(Arc::new(reg))).unwrap())
    }

    fn pipeline() -> LoggerState {
        pipeline_with(DetectConfig {
            shared_bucket: Some("shared".into()),
            ..DetectConfig::default()
        })
    }

    /// `request-spike` above two requests in five minutes (only the known account, so no
    /// `unknown-account` alerts).
    fn spiky() -> LoggerState {
        pipeline_with(DetectConfig {
            shared_bucket: Some("shared".into()),
            request_spike_threshold: 2,
            ..DetectConfig::default()
        })
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
            attributes: MessageAttributes::default(),
        }
    }

    /// The same messages as SQS hands them over again.
    fn again(event: &SqsEvent, receive_count: u32) -> SqsEvent {
        SqsEvent {
            records: event
                .records
                .iter()
                .map(|m| Message {
                    attributes: MessageAttributes {
                        approximate_receive_count: Some(receive_count.to_string()),
                    },
                    ..m.clone()
                })
                .collect(),
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

    struct World<N = FakeNotifier> {
        audit: FakeAudit,
        ledger: FakeLedger,
        notes: N,
        metrics: FakeMetrics,
    }

    impl World<FakeNotifier> {
        fn new() -> Self {
            World::with_notifier(FakeNotifier::default())
        }
        fn subjects(&self) -> Vec<String> {
            self.notes
                .messages
                .lock()
                .unwrap()
                .iter()
                .map(|(s, _)| s.clone())
                .collect()
        }
    }

    impl<N: Notifier> World<N> {
        fn with_notifier(notes: N) -> Self {
            World {
                audit: FakeAudit::default(),
                ledger: FakeLedger::default(),
                notes,
                metrics: FakeMetrics::default(),
            }
        }
        async fn run(
            &self,
            p: &mut LoggerState,
            event: &SqsEvent,
            invocation: &str,
        ) -> Vec<String> {
            let ports = Ports {
                audit: &self.audit,
                ledger: &self.ledger,
                notifier: &self.notes,
                metrics: &self.metrics,
            };
            handle(&ports, p, event, &settings(), invocation, Utc::now())
                .await
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect()
        }
    }

    #[tokio::test]
    async fn writes_records_alerts_and_metrics() {
        let w = World::new();
        let failed = w
            .run(
                &mut pipeline(),
                &reads_by(&["210000000000", "999988887777"]),
                "i1",
            )
            .await;
        assert!(failed.is_empty());
        assert_eq!(w.audit.rows.lock().unwrap().len(), 2);
        let subjects = w.subjects();
        assert_eq!(subjects.len(), 1, "{subjects:?}");
        assert!(subjects[0].contains("unknown-account"));
        let lines = w.metrics.0.lock().unwrap();
        assert!(
            lines
                .iter()
                .any(|l| l.contains(r#""AccountId":"999988887777""#))
        );
        let entry = w.ledger.entries.lock().unwrap();
        assert_eq!(entry.len(), 1);
        assert!(entry.values().all(|e| e.state == "sent"));
    }

    /// Refuses alerts about one account, as a throttled or unreachable topic would, `times`
    /// times (then publishes, recording what it published).
    struct RefusingNotifier {
        account: &'static str,
        times: Mutex<usize>,
        published: Mutex<Vec<String>>,
    }
    impl RefusingNotifier {
        fn new(account: &'static str, times: usize) -> Self {
            RefusingNotifier {
                account,
                times: Mutex::new(times),
                published: Mutex::default(),
            }
        }
    }
    impl Notifier for RefusingNotifier {
        async fn publish(&self, subject: &str, message: &str) -> Result<(), PortError> {
            let mut t = self.times.lock().unwrap();
            if message.contains(self.account) && *t > 0 {
                *t -= 1;
                return Err(PortError::new(
                    "sns",
                    "Publish",
                    "Throttling: Rate exceeded",
                ));
            }
            self.published.lock().unwrap().push(subject.to_owned());
            Ok(())
        }
        async fn publish_for_account(&self, _: &str, s: &str, m: &str) -> Result<(), PortError> {
            self.publish(s, m).await
        }
    }

    #[tokio::test]
    async fn an_alert_that_is_not_published_fails_only_its_message_and_goes_out_once_on_retry() {
        let w = World::with_notifier(RefusingNotifier::new("999911112222", 1));
        let event = reads_by(&["999988887777", "999911112222"]);
        let mut p = pipeline();
        // Both records are written; only m2, whose alert was refused, is retried.
        assert_eq!(w.run(&mut p, &event, "i1").await, vec!["m2"]);
        assert_eq!(w.audit.rows.lock().unwrap().len(), 2);
        // SQS redelivers m2 only; its alert goes out; m1's is not repeated.
        let retry = again(
            &SqsEvent {
                records: vec![event.records[1].clone()],
            },
            2,
        );
        assert!(w.run(&mut p, &retry, "i2").await.is_empty());
        // A late third delivery of both (say, a DLQ redrive) publishes nothing more.
        assert!(w.run(&mut p, &again(&event, 3), "i3").await.is_empty());
        let published = w.notes.published.lock().unwrap().clone();
        assert_eq!(published.len(), 2, "{published:?}");
        assert!(published.iter().all(|s| s.contains("unknown-account")));
    }

    #[tokio::test]
    async fn a_windowed_alert_whose_publish_failed_is_published_by_the_redelivery() {
        // request-spike fires on the third request (threshold 2); its message's publish fails.
        let w = World::with_notifier(RefusingNotifier::new("request-spike", 1));
        let mut p = spiky();
        let event = reads_by(&["210000000000", "210000000000", "210000000000"]);
        assert_eq!(w.run(&mut p, &event, "i1").await, vec!["m3"]);
        // The redelivery does not count m3's event again (the window would see 4), and the
        // detectors would not find the alert again: the ledger still holds it.
        let retry = again(
            &SqsEvent {
                records: vec![event.records[2].clone()],
            },
            2,
        );
        assert!(w.run(&mut p, &retry, "i2").await.is_empty());
        let published = w.notes.published.lock().unwrap().clone();
        assert_eq!(published.len(), 1, "{published:?}");
        assert!(published[0].contains("request-spike"));
    }

    #[tokio::test]
    async fn a_redelivered_batch_does_not_count_twice_in_a_window() {
        let w = World::new();
        let mut p = spiky();
        let event = reads_by(&["210000000000", "210000000000"]);
        assert!(w.run(&mut p, &event, "i1").await.is_empty());
        // Two requests: at the threshold, not above. Counting the redelivery would make four.
        assert!(w.run(&mut p, &again(&event, 2), "i2").await.is_empty());
        assert!(w.subjects().is_empty(), "{:?}", w.subjects());
    }

    #[tokio::test]
    async fn an_event_not_written_is_not_counted_or_alerted_until_it_is() {
        let w = World::new();
        w.audit.fail_ids.lock().unwrap().push("e1".into());
        let mut p = pipeline();
        let event = reads_by(&["999988887777"]);
        assert_eq!(w.run(&mut p, &event, "i1").await, vec!["m1"]);
        assert!(
            w.subjects().is_empty(),
            "no alert about an unrecorded event"
        );
        w.audit.fail_ids.lock().unwrap().clear();
        assert!(w.run(&mut p, &again(&event, 2), "i2").await.is_empty());
        assert_eq!(w.subjects().len(), 1);
        assert!(w.audit.rows.lock().unwrap().contains_key("e1"));
    }

    #[tokio::test]
    async fn a_ledger_that_stays_unavailable_does_not_hold_the_alert_back() {
        // The adapter retries a claim itself; when the ledger still refuses, the alert goes out
        // unclaimed (a security alert twice beats never) and the message is done.
        let w = World::new();
        *w.ledger.fail_claims.lock().unwrap() = 1;
        let mut p = pipeline();
        let event = reads_by(&["999988887777"]);
        assert!(w.run(&mut p, &event, "i1").await.is_empty());
        assert_eq!(w.subjects().len(), 1);
        // Its redelivery (say, a duplicate) does not repeat it: the event was counted.
        assert!(w.run(&mut p, &again(&event, 2), "i2").await.is_empty());
        assert_eq!(w.subjects().len(), 1, "{:?}", w.subjects());
    }

    #[tokio::test]
    async fn a_released_alert_whose_message_never_returns_is_swept_by_a_later_batch() {
        // m3's windowed alert was refused and released; its message then went to the DLQ and
        // a redrive brings it back as a new message (receive count 1) to a fresh container —
        // or never. Any later batch publishes it from the ledger.
        let w = World::with_notifier(RefusingNotifier::new("request-spike", 1));
        let mut p = spiky();
        let event = reads_by(&["210000000000", "210000000000", "210000000000"]);
        assert_eq!(w.run(&mut p, &event, "i1").await, vec!["m3"]);
        let unrelated = SqsEvent {
            records: vec![msg(
                "other",
                envelope("e9", "210000000000", "analytics/z", "2026-11-23T11:00:00Z"),
            )],
        };
        assert!(w.run(&mut spiky(), &unrelated, "i2").await.is_empty());
        let published = w.notes.published.lock().unwrap().clone();
        assert_eq!(published.len(), 1, "{published:?}");
        assert!(published[0].contains("request-spike"));
        // The redriven message later: nothing repeated.
        assert!(w.run(&mut spiky(), &event, "i3").await.is_empty());
        let published = w.notes.published.lock().unwrap().clone();
        assert_eq!(
            published
                .iter()
                .filter(|s| s.contains("request-spike"))
                .count(),
            1,
            "{published:?}"
        );
    }

    #[tokio::test]
    async fn another_container_does_not_repeat_a_sent_alert() {
        let w = World::new();
        let event = reads_by(&["999988887777"]);
        assert!(w.run(&mut pipeline(), &event, "i1").await.is_empty());
        // A redelivery to a fresh container (empty windows, empty memory of events) finds the
        // alert again; the ledger says it was sent.
        assert!(
            w.run(&mut pipeline(), &again(&event, 2), "i2")
                .await
                .is_empty()
        );
        assert_eq!(w.subjects().len(), 1);
    }

    #[tokio::test]
    async fn an_alert_held_by_a_live_claim_is_left_to_its_holder() {
        let w = World::new();
        let event = reads_by(&["999988887777"]);
        let key = AlertKey {
            event_id: "e1".into(),
            detector: "unknown-account".into(),
        };
        // Another invocation claimed it a moment ago and is still publishing.
        w.ledger.entries.lock().unwrap().insert(
            key.clone(),
            warden_testkit::LedgerEntry {
                state: "claimed",
                owner: "other".into(),
                lease_until: Utc::now() + Duration::seconds(60),
                alert: LedgerAlert {
                    key,
                    subject: "s".into(),
                    message: "m".into(),
                },
            },
        );
        assert_eq!(w.run(&mut pipeline(), &event, "i1").await, vec!["m1"]);
        assert!(w.subjects().is_empty());
    }

    #[tokio::test]
    async fn poison_and_unwritten_messages_fail_alone() {
        let w = World::new();
        w.audit.fail_ids.lock().unwrap().push("e3".into());
        let event = SqsEvent {
            records: vec![
                msg("ok", envelope("e1", "210000000000", "analytics/a", "2026-11-23T10:00:00Z")),
                msg("poison", "{not json".into()),
                msg("no-time", r#"{"detail-type":"AWS API Call via CloudTrail","detail":{"eventID":"e2","eventName":"GetObject"}}"#.into()),
                msg("throttled", envelope("e3", "210000000000", "analytics/b", "2026-11-23T10:00:00Z")),
            ],
        };
        let failed = w.run(&mut pipeline(), &event, "i1").await;
        assert_eq!(failed, vec!["no-time", "poison", "throttled"]);
        assert!(w.audit.rows.lock().unwrap().contains_key("e1"));
        // Metrics count what was written, not what was offered.
        let lines = w.metrics.0.lock().unwrap().join("\n");
        assert!(lines.contains(r#""RecordsWritten":1"#), "{lines}");
    }

    #[tokio::test]
    async fn redelivery_does_not_duplicate() {
        let w = World::new();
        let event = SqsEvent {
            records: vec![msg(
                "m1",
                envelope("e1", "210000000000", "analytics/a", "2026-11-23T10:00:00Z"),
            )],
        };
        let mut p = pipeline();
        w.run(&mut p, &event, "i1").await;
        w.run(&mut p, &again(&event, 2), "i2").await;
        assert_eq!(w.audit.rows.lock().unwrap().len(), 1);
        assert_eq!(*w.audit.offered.lock().unwrap(), 2);
    }

    #[tokio::test]
    async fn one_event_in_two_messages_of_a_batch_is_written_once() {
        let w = World::new();
        let body = envelope("e1", "999988887777", "analytics/a", "2026-11-23T10:00:00Z");
        let event = SqsEvent {
            records: vec![msg("m1", body.clone()), msg("m2", body)],
        };
        let failed = w.run(&mut pipeline(), &event, "i1").await;
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(w.audit.rows.lock().unwrap().len(), 1);
        let unknown = w
            .subjects()
            .iter()
            .filter(|subject| subject.contains("unknown-account"))
            .count();
        assert_eq!(unknown, 1, "one alert for one event");
    }

    #[test]
    fn receive_count_comes_from_the_sqs_attributes() {
        let e: SqsEvent = serde_json::from_str(
            r#"{"Records":[{"messageId":"a","body":"{}","attributes":{"ApproximateReceiveCount":"3","SentTimestamp":"1"}},{"messageId":"b","body":"{}"}]}"#,
        )
        .unwrap();
        assert!(e.records[0].is_redelivery());
        assert!(!e.records[1].is_redelivery());
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
