//! What AWS's managed plumbing does between Warden's functions, done on the local emulator for
//! `make demo` and the integration tests: CloudTrail handing events to EventBridge, Lambda's SQS
//! event source mapping (batch, invoke, delete what succeeded), and reading a function's event from
//! a file. Never used by a deployed function except [`event_from_env`], which is inert without its
//! variable.

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use warden_core::ports::PortError;

fn e<E: std::error::Error + 'static, R: std::fmt::Debug>(
    service: &'static str,
    op: &'static str,
) -> impl Fn(aws_sdk_sqs::error::SdkError<E, R>) -> PortError {
    move |err| {
        PortError::new(
            service,
            op,
            format!("{}", aws_sdk_sqs::error::DisplayErrorContext(&err)),
        )
    }
}

/// The event in the file named by `WARDEN_EVENT_FILE`, if that variable is set: a local run
/// handles that one event, prints the function's response and exits instead of serving.
///
/// # Errors
/// The file cannot be read or is not JSON (the message names the file).
pub fn event_from_env() -> Result<Option<Value>, PortError> {
    let Ok(path) = std::env::var("WARDEN_EVENT_FILE") else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|x| PortError::new("local", "WARDEN_EVENT_FILE", format!("{path}: {x}")))?;
    serde_json::from_str(&text).map(Some).map_err(|x| {
        PortError::new(
            "local",
            "WARDEN_EVENT_FILE",
            format!("{path}: not JSON: {x}"),
        )
    })
}

/// CloudTrail delivering API calls to EventBridge: each record becomes an "AWS API Call via
/// CloudTrail" event whose source is `aws.<service>`, as on AWS. Returns the number accepted.
///
/// # Errors
/// PutEvents failed or refused an entry.
pub async fn put_cloudtrail_events(
    config: &SdkConfig,
    records: &[Value],
) -> Result<usize, PortError> {
    let events = aws_sdk_eventbridge::Client::new(config);
    let mut accepted = 0;
    // PutEvents takes at most 10 entries per call.
    for chunk in records.chunks(10) {
        let mut call = events.put_events();
        for r in chunk {
            let service = r["eventSource"]
                .as_str()
                .and_then(|s| s.strip_suffix(".amazonaws.com"))
                .unwrap_or("unknown");
            call = call.entries(
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .source(format!("aws.{service}"))
                    .detail_type("AWS API Call via CloudTrail")
                    .detail(r.to_string())
                    .build(),
            );
        }
        let out = call.send().await.map_err(e("events", "PutEvents"))?;
        if out.failed_entry_count() > 0 {
            return Err(PortError::new(
                "events",
                "PutEvents",
                format!(
                    "{} of {} entries refused",
                    out.failed_entry_count(),
                    chunk.len()
                ),
            ));
        }
        accepted += chunk.len();
    }
    Ok(accepted)
}

/// Lambda's SQS event source mapping for one queue.
#[derive(Debug, Clone)]
pub struct EventSourceMapping {
    client: aws_sdk_sqs::Client,
    url: String,
    arn: String,
}

/// Messages handed to a function, with what is needed to delete them afterwards.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The Lambda SQS event (`{"Records": [{messageId, receiptHandle, body, eventSourceARN, …}]}`).
    pub event: Value,
    receipts: Vec<(String, String)>,
}

impl Batch {
    /// Number of messages.
    #[must_use]
    pub fn len(&self) -> usize {
        self.receipts.len()
    }

    /// No messages.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.receipts.is_empty()
    }
}

impl EventSourceMapping {
    /// The mapping for the queue at `url`.
    ///
    /// # Errors
    /// The queue's ARN cannot be read.
    pub async fn new(config: &SdkConfig, url: &str) -> Result<Self, PortError> {
        let client = aws_sdk_sqs::Client::new(config);
        let arn = client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(e("sqs", "GetQueueAttributes"))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| PortError::new("sqs", "GetQueueAttributes", "no queue ARN"))?;
        Ok(EventSourceMapping {
            client,
            url: url.to_owned(),
            arn,
        })
    }

    /// Receives up to `max` messages (10 per call, as SQS allows), like a mapping with
    /// `batch_size = max`.
    ///
    /// # Errors
    /// ReceiveMessage failed.
    pub async fn receive(&self, max: usize) -> Result<Batch, PortError> {
        let mut records = Vec::new();
        let mut receipts = Vec::new();
        while receipts.len() < max {
            let want = i32::try_from((max - receipts.len()).min(10)).unwrap_or(10);
            let out = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(want)
                .message_system_attribute_names(
                    aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
                )
                .send()
                .await
                .map_err(e("sqs", "ReceiveMessage"))?;
            let msgs = out.messages();
            if msgs.is_empty() {
                break;
            }
            for m in msgs {
                let (Some(id), Some(receipt)) = (m.message_id(), m.receipt_handle()) else {
                    continue;
                };
                let count = m
                    .attributes()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                    })
                    .cloned()
                    .unwrap_or_else(|| "1".into());
                records.push(json!({
                    "messageId": id, "receiptHandle": receipt, "body": m.body().unwrap_or_default(),
                    "attributes": {"ApproximateReceiveCount": count},
                    "eventSource": "aws:sqs", "eventSourceARN": self.arn, "awsRegion": "us-east-1",
                }));
                receipts.push((id.to_owned(), receipt.to_owned()));
            }
        }
        Ok(Batch {
            event: json!({ "Records": records }),
            receipts,
        })
    }

    /// Applies the function's response as Lambda does with `ReportBatchItemFailures`: deletes every
    /// message not named in `batchItemFailures` (those become visible again and are retried, then
    /// parked in the DLQ). A response that is not a batch response fails the whole batch. Returns
    /// (deleted, left for retry).
    ///
    /// # Errors
    /// DeleteMessage failed.
    pub async fn settle(
        &self,
        batch: &Batch,
        response: &Value,
    ) -> Result<(usize, usize), PortError> {
        let Some(failures) = response["batchItemFailures"].as_array() else {
            return Ok((0, batch.len()));
        };
        let failed: Vec<&str> = failures
            .iter()
            .filter_map(|f| f["itemIdentifier"].as_str())
            .collect();
        let mut deleted = 0;
        for (id, receipt) in &batch.receipts {
            if failed.contains(&id.as_str()) {
                continue;
            }
            self.client
                .delete_message()
                .queue_url(&self.url)
                .receipt_handle(receipt)
                .send()
                .await
                .map_err(e("sqs", "DeleteMessage"))?;
            deleted += 1;
        }
        Ok((deleted, batch.len() - deleted))
    }

    /// Makes every message still in flight visible again at once (what the visibility timeout does,
    /// without waiting for it).
    ///
    /// # Errors
    /// ChangeMessageVisibility failed.
    pub async fn release(&self, batch: &Batch) -> Result<(), PortError> {
        for (_, receipt) in &batch.receipts {
            // A message already deleted answers with an error: nothing to release.
            let _ = self
                .client
                .change_message_visibility()
                .queue_url(&self.url)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await;
        }
        Ok(())
    }
}

/// Messages on a queue right now (approximate, as SQS reports it).
///
/// # Errors
/// GetQueueAttributes failed.
pub async fn queue_depth(config: &SdkConfig, url: &str) -> Result<u64, PortError> {
    let out = aws_sdk_sqs::Client::new(config)
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(e("sqs", "GetQueueAttributes"))?;
    Ok(out
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

/// Waits (up to `timeout`) until an execution leaves `RUNNING`; returns its status and output.
///
/// # Errors
/// DescribeExecution failed, or the execution was still running at the timeout.
pub async fn await_execution(
    config: &SdkConfig,
    execution_arn: &str,
    timeout: std::time::Duration,
) -> Result<(String, Option<String>), PortError> {
    let sfn = aws_sdk_sfn::Client::new(config);
    let start = std::time::Instant::now();
    loop {
        let out = sfn
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .map_err(e("states", "DescribeExecution"))?;
        let status = out.status().as_str().to_owned();
        if status != "RUNNING" {
            return Ok((status, out.output().map(str::to_owned)));
        }
        if start.elapsed() > timeout {
            return Err(PortError::new(
                "states",
                "DescribeExecution",
                format!("{execution_arn} still RUNNING after {timeout:?}"),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
