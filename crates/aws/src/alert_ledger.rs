//! The alert ledger table (`<project>-<env>-alert-ledger`): one item per alert, key
//! `event_id` (hash) + `detector` (range), so the access-logger publishes each alert once
//! whatever SQS redelivers and however many instances run.
//!
//! | attribute | meaning |
//! |---|---|
//! | `state` | `claimed` (an invocation is publishing it), `pending` (a publish failed), `sent` |
//! | `owner` | the invocation holding the claim |
//! | `lease_until` | epoch seconds; a `claimed` item past it may be claimed again (a crashed holder) |
//! | `subject`, `message` | the alert, kept until sent so a redelivery can publish it |
//! | `expires_at` | TTL: [`RETENTION_DAYS`] after the claim, longer than SQS keeps a message |
//! | `released` | `"1"` while a released alert waits (GSI `by-released`, sparse: only those) |
//!
//! A claim is one conditional `PutItem`; the condition is what makes two deliveries of one
//! event race safely (DynamoDB evaluates it atomically with the write:
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html>).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use warden_core::ports::{AlertKey, AlertLedger, Claim, LedgerAlert, PortError};

use crate::util::{backoff, is_transient, s_attr, sdk_err};

/// Attempts for a claim or a `sent` mark beyond the SDK's own (whose retry quota drains under
/// sustained throttling): a claim or mark that never lands can repeat an alert.
const LEDGER_ATTEMPTS: u32 = 10;

/// Days a ledger item is kept: SQS keeps a message at most 14 days, a DLQ redrive can bring it
/// back within the DLQ's 14 days, so 30 days outlives every redelivery.
pub const RETENTION_DAYS: i64 = 30;

/// The sparse index of released alerts (`released` hash, `event_id` range): written only when
/// a publish fails, so it stays small and cold.
pub const RELEASED_INDEX: &str = "by-released";

/// The alert ledger on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoAlertLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoAlertLedger {
    /// A ledger on `table`.
    #[must_use]
    pub fn new(config: &aws_config::SdkConfig, table: &str) -> Self {
        DynamoAlertLedger {
            client: aws_sdk_dynamodb::Client::new(config),
            table: table.to_owned(),
        }
    }

    fn key(key: &AlertKey) -> [(String, AttributeValue); 2] {
        [
            ("event_id".into(), AttributeValue::S(key.event_id.clone())),
            ("detector".into(), AttributeValue::S(key.detector.clone())),
        ]
    }

    async fn put_claim(
        &self,
        item: std::collections::HashMap<String, AttributeValue>,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<
        aws_sdk_dynamodb::operation::put_item::PutItemOutput,
        aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError>,
    > {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(event_id) OR #s = :pending OR (#s = :claimed AND (lease_until < :now OR #o = :me))",
            )
            .expression_attribute_names("#s", "state")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .expression_attribute_values(":claimed", AttributeValue::S("claimed".into()))
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .expression_attribute_values(":me", AttributeValue::S(owner.to_owned()))
            .send()
            .await
    }

    async fn state_of(&self, key: &AlertKey) -> Result<Option<(String, String)>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key).into_iter().collect()))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_err("dynamodb", "GetItem"))?;
        Ok(out.item().map(|i| {
            (
                s_attr(i, "state").unwrap_or_default().to_owned(),
                s_attr(i, "owner").unwrap_or_default().to_owned(),
            )
        }))
    }
}

impl AlertLedger for DynamoAlertLedger {
    async fn claim(
        &self,
        alert: &LedgerAlert,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, PortError> {
        let mut item: std::collections::HashMap<String, AttributeValue> =
            Self::key(&alert.key).into_iter().collect();
        item.insert("state".into(), AttributeValue::S("claimed".into()));
        item.insert("owner".into(), AttributeValue::S(owner.to_owned()));
        item.insert(
            "lease_until".into(),
            AttributeValue::N(lease_until.timestamp().to_string()),
        );
        item.insert("subject".into(), AttributeValue::S(alert.subject.clone()));
        item.insert("message".into(), AttributeValue::S(alert.message.clone()));
        item.insert(
            "expires_at".into(),
            AttributeValue::N((now.timestamp() + RETENTION_DAYS * 86_400).to_string()),
        );
        // Beyond the SDK's own attempts (a drained retry quota makes those one): a claim that
        // cannot be made leaves the caller choosing between a delayed and a repeated alert.
        let mut attempt = 0;
        let r = loop {
            let r = self.put_claim(item.clone(), owner, now).await;
            attempt += 1;
            match r {
                Err(e) if attempt < LEDGER_ATTEMPTS && is_transient(&e) => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                r => break r,
            }
        };
        match r {
            Ok(_) => Ok(Claim::Mine),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                // Sent already, or another invocation's live claim.
                match self.state_of(&alert.key).await? {
                    Some((state, _)) if state == "sent" => Ok(Claim::Sent),
                    Some((state, o)) if state == "claimed" && o == owner => Ok(Claim::Mine),
                    _ => Ok(Claim::Busy),
                }
            }
            Err(e) => Err(sdk_err("dynamodb", "PutItem")(e)),
        }
    }

    async fn mark_sent(
        &self,
        key: &AlertKey,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        // Beyond the SDK's own attempts: a mark that never lands leaves a claim that a much
        // later redelivery could take again and publish twice.
        let mut last = None;
        for attempt in 0..LEDGER_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let r = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::key(key).into_iter().collect()))
                .update_expression(
                    "SET #s = :sent, sent_at = :t, #o = :me REMOVE lease_until, released",
                )
                .expression_attribute_names("#s", "state")
                .expression_attribute_names("#o", "owner")
                .expression_attribute_values(":sent", AttributeValue::S("sent".into()))
                .expression_attribute_values(":t", AttributeValue::S(now.to_rfc3339()))
                .expression_attribute_values(":me", AttributeValue::S(owner.to_owned()))
                .send()
                .await;
            match r {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(sdk_err("dynamodb", "UpdateItem")(e)),
            }
        }
        Err(last.unwrap_or_else(|| PortError::new("dynamodb", "UpdateItem", "no attempt made")))
    }

    async fn release(&self, key: &AlertKey, owner: &str) -> Result<(), PortError> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key).into_iter().collect()))
            .update_expression("SET #s = :pending, released = :one REMOVE lease_until")
            .expression_attribute_values(":one", AttributeValue::S("1".into()))
            .condition_expression("#s = :claimed AND #o = :me")
            .expression_attribute_names("#s", "state")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .expression_attribute_values(":claimed", AttributeValue::S("claimed".into()))
            .expression_attribute_values(":me", AttributeValue::S(owner.to_owned()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            // Not ours any more (or already sent): nothing to give back.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_err("dynamodb", "UpdateItem")(e)),
        }
    }

    async fn unsent(&self, event_id: &str) -> Result<Vec<LedgerAlert>, PortError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("event_id = :e")
                .expression_attribute_values(":e", AttributeValue::S(event_id.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_err("dynamodb", "Query"))?;
            for item in page.items() {
                if s_attr(item, "state") == Some("sent") {
                    continue;
                }
                out.push(LedgerAlert {
                    key: AlertKey {
                        event_id: event_id.to_owned(),
                        detector: s_attr(item, "detector").unwrap_or_default().to_owned(),
                    },
                    subject: s_attr(item, "subject").unwrap_or_default().to_owned(),
                    message: s_attr(item, "message").unwrap_or_default().to_owned(),
                });
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn released(&self, limit: usize) -> Result<Vec<LedgerAlert>, PortError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(RELEASED_INDEX)
            .key_condition_expression("released = :one")
            .expression_attribute_values(":one", AttributeValue::S("1".into()))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(sdk_err("dynamodb", "Query"))?;
        Ok(page
            .items()
            .iter()
            .filter_map(|item| {
                Some(LedgerAlert {
                    key: AlertKey {
                        event_id: s_attr(item, "event_id")?.to_owned(),
                        detector: s_attr(item, "detector")?.to_owned(),
                    },
                    subject: s_attr(item, "subject").unwrap_or_default().to_owned(),
                    message: s_attr(item, "message").unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }
}
