//! What AWS's managed plumbing does between Warden's functions, done on the local emulator for
//! `make demo` and the integration tests: CloudTrail handing events to EventBridge, Lambda's SQS
//! event source mapping (batch, invoke, delete what succeeded), and reading a function's event from
//! a file. Never used by a deployed function except [`event_from_env`], which is inert without its
//! variable.

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use warden_core::grant::{AccountId, Registry};
use warden_core::policy::model::Policy;
use warden_core::policy::render::{RenderSettings, baseline_statements};
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
        let arn = queue_arn(&client, url).await?;
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

/// A queue's ARN from its URL.
pub(crate) async fn queue_arn(
    client: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<String, PortError> {
    client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(e("sqs", "GetQueueAttributes"))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| PortError::new("sqs", "GetQueueAttributes", "no queue ARN"))
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

/// Everything Terraform creates that the functions touch, created on the emulator through the same
/// adapters: registry and access-log tables, shared and audit buckets, the data key, the baseline
/// and consumer-directory parameters, consumer and governance roles in each consumer account,
/// alert/owner/approval topics (with queues standing in for the e-mail subscribers), the approval
/// state machine, and the CloudTrail rule → queue (with DLQ) feeding the access-logger.
#[derive(Debug, Clone)]
pub struct Environment {
    /// Registry table.
    pub registry_table: String,
    /// Access-log table.
    pub audit_table: String,
    /// Alert ledger table (each alert published once).
    pub alert_ledger_table: String,
    /// Shared bucket.
    pub bucket: String,
    /// Audit bucket (cost reports).
    pub audit_bucket: String,
    /// Data key ARN.
    pub key_arn: String,
    /// SSM parameter with the baseline statements.
    pub baseline_parameter: String,
    /// SSM parameter with the consumer directory.
    pub roles_parameter: String,
    /// Security alerts topic.
    pub alert_topic: String,
    /// Owner notifications topic.
    pub owner_topic: String,
    /// Approval workflow.
    pub state_machine_arn: String,
    /// The approvers' mailbox (subscribed to the approvals topic).
    pub approver_inbox_url: String,
    /// The security team's mailbox (subscribed to the alerts topic).
    pub security_inbox_url: String,
    /// The access-logger's queue (target of the CloudTrail rule).
    pub events_queue_url: String,
    /// Its dead-letter queue.
    pub events_dlq_url: String,
    /// What the renderer needs.
    pub render: RenderSettings,
    /// Grants written to the registry.
    pub grants: usize,
}

/// The consumer role's permissions on the shared bucket, as `consumer-role/main.tf` writes them.
#[must_use]
pub fn consumer_policy(bucket: &str, prefixes: &[String]) -> String {
    let objects: Vec<String> = prefixes
        .iter()
        .map(|p| format!("arn:aws:s3:::{bucket}/{p}*"))
        .collect();
    let listing: Vec<String> = prefixes.iter().map(|p| format!("{p}*")).collect();
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "ObjectsUnderGrantedPrefixes", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": objects},
        {"Sid": "ListGrantedPrefixes", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": format!("arn:aws:s3:::{bucket}"),
         "Condition": {"StringLike": {"s3:prefix": listing}}}
    ]})
    .to_string()
}

/// The consumer role's trust policy: the account's own principals, with its external ID.
fn consumer_trust(account: &str, external_id: Option<&str>) -> String {
    let mut st = json!({"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "sts:AssumeRole"});
    if let Some(x) = external_id {
        st["Condition"] = json!({"StringEquals": {"sts:ExternalId": x}});
    }
    json!({"Version": "2012-10-17", "Statement": [st]}).to_string()
}

/// The approval state machine of `step-functions.tf` for the emulator, which cannot invoke Lambda
/// functions: its three Lambda tasks are Pass states whose output is the very payload Terraform's
/// tasks send to approval-processor (`{"action": …, "request": <state>, "execution":
/// $$.Execution.Id}`).
#[must_use]
pub fn approval_definition(approvals_topic: &str, timeout_seconds: u32) -> String {
    let task = |action: &str| json!({"Type": "Pass", "Parameters": {"action": action, "request.$": "$", "execution.$": "$$.Execution.Id"}, "End": true});
    json!({
        "Comment": "Access request approval (local): notify approvers, wait for their decision.",
        "StartAt": "NotifyApprovers",
        "States": {
            "NotifyApprovers": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                "TimeoutSeconds": timeout_seconds,
                "Parameters": {
                    "TopicArn": approvals_topic,
                    "Message.$": "States.Format('Access request {} from account {} for {} ({}) until {}, requested by {}. Justification: {}. Approve or reject with task token: {}', $.request_id, $.account_id, $.prefixes, $.access_level, $.expiration_date, $.requester, $.justification, $$.Task.Token)",
                    "Subject": "Warden access request awaiting approval"
                },
                "ResultPath": "$.decision",
                "Catch": [
                    {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Expire"},
                    {"ErrorEquals": ["Rejected"], "ResultPath": "$.error", "Next": "Reject"}
                ],
                "Next": "ApplyGrant"
            },
            "ApplyGrant": task("apply"),
            "Reject": task("reject"),
            "Expire": task("expire"),
        }
    })
    .to_string()
}

impl Environment {
    /// Creates it all, names prefixed with `name`, from a grants file's text (the Terraform
    /// variable shape; `bucket_name` is used when present, else `<name>-shared`).
    ///
    /// # Errors
    /// The grants do not validate (the message names the field) or a call failed.
    pub async fn create(
        cfg: &SdkConfig,
        name: &str,
        grants_json: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self, PortError> {
        use crate::bootstrap as b;
        let bad = |e: String| PortError::new("local", "grants", e);
        let registry = Registry::from_json(grants_json, now).map_err(|e| bad(e.to_string()))?;
        let raw: Value = serde_json::from_str(grants_json).map_err(|e| bad(e.to_string()))?;
        let bucket = raw["bucket_name"]
            .as_str()
            .map_or_else(|| format!("{name}-shared"), str::to_owned);
        let registry_table = format!("{name}-access-control");
        let audit_table = format!("{name}-access-logs");
        let alert_ledger_table = format!("{name}-alert-ledger");
        let audit_bucket = format!("{name}-audit");
        b::create_registry_table(cfg, &registry_table).await?;
        b::create_audit_table(cfg, &audit_table).await?;
        b::create_alert_ledger_table(cfg, &alert_ledger_table).await?;
        b::create_bucket(cfg, &bucket).await?;
        b::create_bucket(cfg, &audit_bucket).await?;
        let key_arn = b::create_key(cfg, &format!("{name} data key")).await?;
        let alert_topic = b::create_topic(cfg, &format!("{name}-security-alerts")).await?;
        let owner_topic = b::create_topic(cfg, &format!("{name}-owner-notifications")).await?;
        let primary = AccountId::parse(key_arn.split(':').nth(4).unwrap_or_default())
            .map_err(|e| bad(format!("key ARN {key_arn}: {e}")))?;
        let render = RenderSettings {
            partition: "aws".into(),
            region: "us-east-1".into(),
            primary_account: primary.clone(),
            bucket: bucket.clone(),
            kms_key_arn: key_arn.clone(),
            consumer_role_name: "warden-consumer".into(),
            require_mfa: false,
            vending_role_arn: None,
        };
        // What Terraform stores for the reconciler (s3-bucket-policy.tf).
        let baseline_parameter = format!("/{name}/bucket-policy-baseline");
        b::put_parameter(
            cfg,
            &baseline_parameter,
            &Policy::new(baseline_statements(&render)).to_compact_json(),
        )
        .await?;
        // consumer-role/ in each consumer account, and the directory Terraform writes
        // (iam-cross-account.tf) with external IDs and role ARNs.
        let mut directory = serde_json::Map::new();
        for a in raw["consumer_accounts"].as_array().into_iter().flatten() {
            let Some(id) = a["account_id"].as_str() else {
                continue;
            };
            let prefixes: Vec<String> = a["allowed_prefixes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect();
            let consumer_role = b::create_role_in_account(
                cfg,
                id,
                &render.consumer_role_name,
                &consumer_trust(id, a["external_id"].as_str()),
                Some(("warden-shared-data", &consumer_policy(&bucket, &prefixes))),
            )
            .await?;
            let governance_trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{}:root", primary.as_str())}, "Action": "sts:AssumeRole"}]});
            let governance_role = b::create_role_in_account(
                cfg,
                id,
                "warden-governance",
                &governance_trust.to_string(),
                None,
            )
            .await?;
            directory.insert(
                id.to_owned(),
                json!({"name": a["name"], "external_id": a["external_id"],
                    "consumer_role": consumer_role, "governance_role": governance_role}),
            );
        }
        let roles_parameter = format!("/{name}/consumer-roles");
        b::put_parameter(cfg, &roles_parameter, &Value::Object(directory).to_string()).await?;
        let store = crate::DynamoGrantStore::new(cfg, &registry_table);
        for g in registry.grants() {
            store.put_grant(g, "declared").await?;
        }
        // Approval workflow, with the approvers' mailbox on the approvals topic.
        let approvals = b::create_topic(cfg, &format!("{name}-approvals")).await?;
        let (approver_inbox_url, inbox_arn) =
            b::create_queue(cfg, &format!("{name}-approver-inbox"), None).await?;
        b::subscribe_queue(cfg, &approvals, &inbox_arn).await?;
        let state_machine_arn = b::create_state_machine(
            cfg,
            &format!("{name}-access-approval"),
            &approval_definition(&approvals, 72 * 3600),
            &format!(
                "arn:aws:iam::{}:role/{name}-approval-workflow",
                primary.as_str()
            ),
        )
        .await?;
        // The security team's mailbox on the alerts topic.
        let (security_inbox_url, security_arn) =
            b::create_queue(cfg, &format!("{name}-security-inbox"), None).await?;
        b::subscribe_queue(cfg, &alert_topic, &security_arn).await?;
        // CloudTrail events → EventBridge rule (lambda-access-logger.tf's pattern) → SQS, DLQ
        // after 5 receives.
        let (events_dlq_url, dlq_arn) =
            b::create_queue(cfg, &format!("{name}-cloudtrail-events-dlq"), None).await?;
        let (events_queue_url, events_arn) = b::create_queue(
            cfg,
            &format!("{name}-cloudtrail-events"),
            Some((&dlq_arn, 5)),
        )
        .await?;
        let pattern = json!({
            "detail-type": ["AWS API Call via CloudTrail"],
            "$or": [
                {"detail": {"eventSource": ["s3.amazonaws.com"], "requestParameters": {"bucketName": [bucket]}}},
                {"detail": {"eventSource": ["kms.amazonaws.com"], "resources": {"ARN": [key_arn]}}},
                {"detail": {"eventSource": ["iam.amazonaws.com", "cloudtrail.amazonaws.com"], "readOnly": [false]}}
            ]
        });
        b::route_events_to_queue(
            cfg,
            &format!("{name}-cloudtrail-to-logger"),
            &pattern.to_string(),
            &events_arn,
        )
        .await?;
        Ok(Environment {
            registry_table,
            audit_table,
            alert_ledger_table,
            bucket,
            audit_bucket,
            key_arn,
            baseline_parameter,
            roles_parameter,
            alert_topic,
            owner_topic,
            state_machine_arn,
            approver_inbox_url,
            security_inbox_url,
            events_queue_url,
            events_dlq_url,
            render,
            grants: registry.grants().len(),
        })
    }

    /// The functions' environment variables for this environment (what Terraform sets).
    #[must_use]
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("REGISTRY_TABLE", self.registry_table.clone()),
            ("SHARED_BUCKET", self.bucket.clone()),
            ("KMS_KEY_ARN", self.key_arn.clone()),
            ("BASELINE_PARAMETER", self.baseline_parameter.clone()),
            ("CONSUMER_ROLE_NAME", self.render.consumer_role_name.clone()),
            ("ALERT_TOPIC_ARN", self.alert_topic.clone()),
            ("OWNER_TOPIC_ARN", self.owner_topic.clone()),
            ("AUDIT_TABLE", self.audit_table.clone()),
            ("ALERT_LEDGER_TABLE", self.alert_ledger_table.clone()),
            ("ACCESS_LOG_TTL_DAYS", "365".into()),
            ("METRICS_NAMESPACE", "Warden/local".into()),
            ("AUDIT_BUCKET", self.audit_bucket.clone()),
            ("REPORT_PREFIX", "cost-reports/".into()),
            ("CONSUMER_ROLES_PARAMETER", self.roles_parameter.clone()),
            // What lambda-governance.tf sets: the validator role the consumer trusts may admit and
            // the data key's alias (no alias exists locally; the local consumer policies name none).
            (
                "VALIDATOR_ROLE_ARN",
                format!(
                    "arn:{}:iam::{}:role/{}-access-validator",
                    self.render.partition,
                    self.render.primary_account,
                    self.roles_parameter
                        .trim_start_matches('/')
                        .trim_end_matches("/consumer-roles")
                ),
            ),
            (
                "DATA_KEY_ALIAS",
                format!(
                    "alias/{}-data",
                    self.roles_parameter
                        .trim_start_matches('/')
                        .trim_end_matches("/consumer-roles")
                ),
            ),
            ("MAX_SESSION_SECONDS", "3600".into()),
            // What Terraform's defaults set: the first 20 consumers in the bucket policy, the
            // rest on access points named <name>-<account>.
            ("SHARING_MODE", "auto".into()),
            ("ACCESS_POINT_THRESHOLD", "20".into()),
            (
                "ACCESS_POINT_PREFIX",
                self.roles_parameter
                    .trim_start_matches('/')
                    .trim_end_matches("/consumer-roles")
                    .to_owned(),
            ),
            (
                "PRICE_TABLE",
                r#"{"per_gb_transfer_usd":0.09,"per_1000_requests_usd":0.0004}"#.into(),
            ),
            ("STATE_MACHINE_ARN", self.state_machine_arn.clone()),
            ("APPROVER_INBOX_URL", self.approver_inbox_url.clone()),
            ("EVENTS_QUEUE_URL", self.events_queue_url.clone()),
            ("EVENTS_DLQ_URL", self.events_dlq_url.clone()),
            ("SECURITY_INBOX_URL", self.security_inbox_url.clone()),
        ]
    }
}

/// The emulator named by `WARDEN_MOTO_ENDPOINT` (set by `make test`), for integration tests;
/// `None` (and a note on stderr) when it is not set.
pub async fn emulator_from_env() -> Option<SdkConfig> {
    match std::env::var("WARDEN_MOTO_ENDPOINT") {
        Ok(ep) => Some(crate::local_config(&ep, "us-east-1").await),
        Err(_) => {
            eprintln!(
                "NOTE: WARDEN_MOTO_ENDPOINT not set (run `make test`, which starts moto): emulator tests skipped"
            );
            None
        }
    }
}

/// A name no other test run uses on a shared emulator.
#[must_use]
pub fn unique(name: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}
