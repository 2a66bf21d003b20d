//! SNS notifications ([`SnsNotifier`]).

use aws_config::SdkConfig;
use futures_util::StreamExt as _;
use warden_core::ports::{Notifier, PortError};

use crate::util::IN_FLIGHT;

/// SNS notifications.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    /// A notifier publishing to `topic_arn`.
    #[must_use]
    pub fn new(config: &SdkConfig, topic_arn: &str) -> Self {
        SnsNotifier {
            client: aws_sdk_sns::Client::new(config),
            topic_arn: topic_arn.to_owned(),
        }
    }

    /// One PublishBatch request for `messages[range]`; returns the entries not published.
    async fn publish_entries(
        &self,
        messages: &[(String, String)],
        range: std::ops::Range<usize>,
    ) -> Vec<(usize, String)> {
        use aws_sdk_sns::types::PublishBatchRequestEntry;
        let entries: Result<Vec<_>, _> = range
            .clone()
            .map(|i| {
                PublishBatchRequestEntry::builder()
                    .id(i.to_string())
                    .subject(messages[i].0.chars().take(100).collect::<String>())
                    .message(&messages[i].1)
                    .build()
            })
            .collect();
        let sent = match entries {
            Ok(entries) => self
                .client
                .publish_batch()
                .topic_arn(&self.topic_arn)
                .set_publish_batch_request_entries(Some(entries))
                .send()
                .await
                .map_err(|e| format!("{}", aws_sdk_sns::error::DisplayErrorContext(&e))),
            Err(e) => Err(e.to_string()),
        };
        match sent {
            Ok(out) => out
                .failed()
                .iter()
                .filter_map(|f| {
                    let i = f.id().parse::<usize>().ok()?;
                    let why = f.message().unwrap_or_default();
                    Some((i, format!("sns PublishBatch: {}: {why}", f.code())))
                })
                .collect(),
            Err(e) => range
                .map(|i| (i, format!("sns PublishBatch: {e}")))
                .collect(),
        }
    }
}

/// SNS PublishBatch limits: entries per request, and bytes of all messages together.
const SNS_BATCH_ENTRIES: usize = 10;
const SNS_BATCH_BYTES: usize = 262_144;

impl Notifier for SnsNotifier {
    async fn publish(&self, subject: &str, message: &str) -> Result<(), PortError> {
        // SNS subjects are limited to 100 characters.
        let subject: String = subject.chars().take(100).collect();
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "sns",
                    "Publish",
                    format!("{}", aws_sdk_sns::error::DisplayErrorContext(&e)),
                )
            })?;
        Ok(())
    }

    async fn publish_batch(&self, messages: &[(String, String)]) -> Vec<(usize, String)> {
        // Requests of at most 10 entries and 256 KiB of messages, sent concurrently.
        let mut ranges = Vec::new();
        let mut start = 0;
        while start < messages.len() {
            let (mut end, mut bytes) = (start, 0);
            while end < messages.len()
                && end - start < SNS_BATCH_ENTRIES
                && (end == start || bytes + messages[end].1.len() <= SNS_BATCH_BYTES)
            {
                bytes += messages[end].1.len();
                end += 1;
            }
            ranges.push(start..end);
            start = end;
        }
        let requests: Vec<_> = ranges
            .into_iter()
            .map(|r| self.publish_entries(messages, r))
            .collect();
        let mut failed: Vec<(usize, String)> = futures_util::stream::iter(requests)
            .buffer_unordered(IN_FLIGHT)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .flatten()
            .collect();
        failed.sort_by_key(|(i, _)| *i);
        failed
    }

    async fn publish_for_account(
        &self,
        account_id: &str,
        subject: &str,
        message: &str,
    ) -> Result<(), PortError> {
        let attr = aws_sdk_sns::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(account_id)
            .build()
            .map_err(|e| PortError::new("sns", "Publish", e.to_string()))?;
        let subject: String = subject.chars().take(100).collect();
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message)
            .message_attributes("account_id", attr)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "sns",
                    "Publish",
                    format!("{}", aws_sdk_sns::error::DisplayErrorContext(&e)),
                )
            })?;
        Ok(())
    }
}
