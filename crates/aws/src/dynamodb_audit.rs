//! The access-log table: audit records ([`DynamoAuditStore`]) and usage queries on it.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use warden_core::cloudtrail::normalise::Attr;
use warden_core::ports::{AuditStore, PortError, WriteOutcome};

use crate::util::{ATTEMPTS, IN_FLIGHT, backoff, is_transient, s_attr, sdk_err, to_attr};

/// BatchWriteItem accepts at most 25 items per call.
const BATCH: usize = 25;

/// The access-log table.
#[derive(Debug, Clone)]
pub struct DynamoAuditStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoAuditStore {
    /// A store on `table`.
    #[must_use]
    pub fn new(config: &SdkConfig, table: &str) -> Self {
        DynamoAuditStore {
            client: aws_sdk_dynamodb::Client::new(config),
            table: table.to_owned(),
        }
    }

    /// One BatchWriteItem of at most 25 items, retrying unprocessed items with backoff and
    /// jitter. A call that fails (after the SDK's own retries) ends the chunk: the items it
    /// carried are reported failed along with the error.
    async fn write_chunk(&self, chunk: Vec<aws_sdk_dynamodb::types::WriteRequest>) -> ChunkResult {
        let mut pending = chunk;
        let (mut written, mut attempt) = (0, 0);
        while !pending.is_empty() && attempt < ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            attempt += 1;
            let sent = pending.len();
            let sent_ids = event_ids(&pending);
            let copy = pending.clone();
            let out = match self
                .client
                .batch_write_item()
                .request_items(&self.table, std::mem::take(&mut pending))
                .send()
                .await
            {
                Ok(out) => out,
                // Throttled (or a 5xx, a timeout) through the SDK's attempts: like unprocessed
                // items, tried again after a backoff while attempts last.
                Err(e) if is_transient(&e) && attempt < ATTEMPTS => {
                    tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&e), "BatchWriteItem failed; retrying the chunk");
                    pending = copy;
                    continue;
                }
                Err(e) => {
                    return ChunkResult {
                        written,
                        failed: sent_ids,
                        error: Some(sdk_err("dynamodb", "BatchWriteItem")(e)),
                    };
                }
            };
            pending = out
                .unprocessed_items()
                .and_then(|u| u.get(&self.table))
                .cloned()
                .unwrap_or_default();
            written += sent - pending.len();
        }
        ChunkResult {
            written,
            failed: event_ids(&pending),
            error: None,
        }
    }
}

/// What one chunk came to.
struct ChunkResult {
    written: usize,
    /// `event_id`s not written (unprocessed after the attempts, or in a failed call).
    failed: Vec<String>,
    /// The call that failed, if one did.
    error: Option<PortError>,
}

fn event_ids(requests: &[aws_sdk_dynamodb::types::WriteRequest]) -> Vec<String> {
    requests
        .iter()
        .filter_map(|w| {
            w.put_request()
                .and_then(|p| p.item().get("event_id"))
                .and_then(|v| v.as_s().ok())
                .cloned()
        })
        .collect()
}

impl AuditStore for DynamoAuditStore {
    /// Items are written in chunks of 25, concurrently. A chunk whose call fails (after the
    /// SDK's retries: throttling, 5xx, timeouts…) puts its `event_id`s in
    /// [`WriteOutcome::failed`] — logged as a warning naming the error — and the other chunks'
    /// results stand; `Err` only for what affects every item (building the requests).
    async fn write_records(
        &self,
        items: Vec<std::collections::BTreeMap<String, Attr>>,
    ) -> Result<WriteOutcome, PortError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let mut outcome = WriteOutcome::default();
        let requests: Vec<WriteRequest> = items
            .into_iter()
            .map(|item| {
                let item: HashMap<String, AttributeValue> =
                    item.into_iter().map(|(k, v)| (k, to_attr(v))).collect();
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(|e| PortError::new("dynamodb", "BatchWriteItem", e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        // The chunks go out concurrently (a 100-record batch is four requests in flight, not
        // four in a row); each retries its own unprocessed items.
        let chunks: Vec<Vec<WriteRequest>> = requests.chunks(BATCH).map(<[_]>::to_vec).collect();
        let writes: Vec<_> = chunks.into_iter().map(|c| self.write_chunk(c)).collect();
        let results: Vec<ChunkResult> = futures_util::stream::iter(writes)
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for r in results {
            if let Some(e) = &r.error {
                tracing::warn!(
                    error = %e,
                    table = %self.table,
                    records = r.failed.len(),
                    "BatchWriteItem failed after the SDK's retries; the chunk's records are reported failed"
                );
            }
            outcome.written += r.written;
            outcome.failed.extend(r.failed);
        }
        Ok(outcome)
    }
}

/// Which index an audit query goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditKey {
    /// `by-account-time`: everything one account did.
    Account(String),
    /// `by-object-time`: everyone who touched one object (`bucket/key`).
    Object(String),
}

/// One access record as the audit table holds it (the columns `warden audit query` shows).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    /// Event time (RFC 3339, milliseconds).
    pub timestamp: String,
    /// Calling account.
    pub account_id: String,
    /// Calling principal.
    pub principal_arn: String,
    /// `service:Action`.
    pub action: String,
    /// `bucket/key`, for object calls.
    pub object_ref: Option<String>,
    /// Bytes in + out.
    pub bytes_transferred: u64,
    /// Source IP.
    pub source_ip: String,
    /// Whether it succeeded.
    pub success_status: bool,
    /// `errorCode` when it failed.
    pub error_code: Option<String>,
    /// CloudTrail's event ID.
    pub event_id: String,
}

impl DynamoAuditStore {
    /// The records of `key` with `from <= timestamp < to`, oldest first, through the key's index
    /// (a Query per page, never a Scan), at most `limit`.
    ///
    /// # Errors
    /// A Query failed (after the SDK's retries).
    pub async fn query(
        &self,
        key: &AuditKey,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
        mut keep: impl FnMut(&AuditRow) -> bool,
    ) -> Result<Vec<AuditRow>, PortError> {
        let mut out = Vec::new();
        self.query_each(key, from, to, |row| {
            if keep(&row) {
                out.push(row);
            }
            out.len() < limit
        })
        .await?;
        Ok(out)
    }

    /// Each record of `key` with `from <= timestamp < to`, oldest first, handed to `each` as its
    /// page arrives (nothing is collected: a report over months stays in bounded memory) until
    /// `each` answers `false`.
    ///
    /// # Errors
    /// A Query failed (after the SDK's retries).
    pub async fn query_each(
        &self,
        key: &AuditKey,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut each: impl FnMut(AuditRow) -> bool,
    ) -> Result<(), PortError> {
        let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let (index, attr, value) = match key {
            AuditKey::Account(a) => ("by-account-time", "account_id", a),
            AuditKey::Object(o) => ("by-object-time", "object_ref", o),
        };
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#k = :k AND #t BETWEEN :from AND :to")
                .expression_attribute_names("#k", attr)
                .expression_attribute_names("#t", "timestamp")
                .expression_attribute_values(":k", AttributeValue::S(value.clone()))
                .expression_attribute_values(":from", AttributeValue::S(fmt(from)))
                // BETWEEN is inclusive: stop just before the end instant.
                .expression_attribute_values(
                    ":to",
                    AttributeValue::S(fmt(to - chrono::Duration::milliseconds(1))),
                )
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_err("dynamodb", "Query"))?;
            for item in page.items() {
                let s = |k: &str| s_attr(item, k).map(str::to_owned);
                let row = AuditRow {
                    timestamp: s("timestamp").unwrap_or_default(),
                    account_id: s("account_id").unwrap_or_default(),
                    principal_arn: s("principal_arn").unwrap_or_default(),
                    action: s("action").unwrap_or_default(),
                    object_ref: s("object_ref"),
                    bytes_transferred: item
                        .get("bytes_transferred")
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0),
                    source_ip: s("source_ip").unwrap_or_default(),
                    success_status: item
                        .get("success_status")
                        .and_then(|v| v.as_bool().ok())
                        .copied()
                        .unwrap_or(false),
                    error_code: s("error_code"),
                    event_id: s("event_id").unwrap_or_default(),
                };
                if !each(row) {
                    return Ok(());
                }
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(()),
            }
        }
    }
}

impl warden_core::ports::UsageQuery for DynamoAuditStore {
    async fn usage(
        &self,
        account_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<warden_core::cost::Usage, PortError> {
        let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut usage = warden_core::cost::Usage::default();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("by-account-time")
                .key_condition_expression("account_id = :a AND #t BETWEEN :from AND :to")
                .expression_attribute_names("#t", "timestamp")
                .expression_attribute_values(":a", AttributeValue::S(account_id.to_owned()))
                .expression_attribute_values(":from", AttributeValue::S(fmt(from)))
                // BETWEEN is inclusive: stop just before the end instant.
                .expression_attribute_values(
                    ":to",
                    AttributeValue::S(fmt(to - chrono::Duration::milliseconds(1))),
                )
                .projection_expression("bytes_out, event_source")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_err("dynamodb", "Query"))?;
            for item in page.items() {
                if s_attr(item, "event_source") == Some("s3.amazonaws.com") {
                    usage.requests += 1;
                }
                usage.bytes_out += item
                    .get("bytes_out")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(usage)
    }
}
