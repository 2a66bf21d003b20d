//! `warden-local`: the resources Terraform creates, created on the local emulator through the same
//! adapters the functions use, and the AWS plumbing between the functions (CloudTrail → EventBridge,
//! Lambda's SQS event source mapping, the approvers' mailbox) — for `make demo` and manual runs.
//! Refuses to run without an explicit local endpoint, so it can never touch a real account.
//!
//! ```text
//! warden-local ENDPOINT bootstrap GRANTS_FILE          prints KEY=VALUE settings for the functions
//! warden-local ENDPOINT bucket-policy BUCKET           prints the live bucket policy
//! warden-local ENDPOINT put-bucket-policy BUCKET FILE  replaces it (plants drift for the demo)
//! warden-local ENDPOINT put-events FILE                CloudTrail records (JSON Lines) onto the event bus
//! warden-local ENDPOINT deliver QUEUE_URL FUNCTION     event source mapping: batches of ≤ 100 to FUNCTION
//! warden-local ENDPOINT inbox QUEUE_URL                prints (and removes) SNS messages on a queue
//! warden-local ENDPOINT await-execution EXECUTION_ARN  waits for a workflow run; prints status and output
//! warden-local ENDPOINT queue-depth QUEUE_URL          messages waiting on a queue
//! warden-local ENDPOINT usage AUDIT_TABLE ACCOUNT      S3 requests and bytes recorded for an account
//! warden-local ENDPOINT widen-consumer-role ACCOUNT BUCKET PREFIX   plants role drift
//! warden-local ENDPOINT restore-consumer-role ACCOUNT  undoes it
//! ```

use anyhow::{Context as _, Result, anyhow, bail};
use chrono::Utc;
use warden_aws::{DynamoGrantStore, S3PolicyStore, bootstrap, local, local_config};
use warden_core::grant::Registry;
use warden_core::policy::model::Policy;
use warden_core::policy::render::{RenderSettings, baseline_statements};
use warden_core::ports::PolicyStore;

/// The consumer role's trust policy (consumer-role/main.tf): the account's own principals, with
/// its external ID.
fn consumer_trust(account: &str, external_id: Option<&str>) -> String {
    let mut st = serde_json::json!({"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "sts:AssumeRole"});
    if let Some(x) = external_id {
        st["Condition"] = serde_json::json!({"StringEquals": {"sts:ExternalId": x}});
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": [st]}).to_string()
}

/// The consumer role's permissions on the shared bucket (consumer-role/main.tf).
fn consumer_policy(bucket: &str, prefixes: &[String]) -> String {
    let objects: Vec<String> = prefixes
        .iter()
        .map(|p| format!("arn:aws:s3:::{bucket}/{p}*"))
        .collect();
    let listing: Vec<String> = prefixes.iter().map(|p| format!("{p}*")).collect();
    serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "ObjectsUnderGrantedPrefixes", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": objects},
        {"Sid": "ListGrantedPrefixes", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": format!("arn:aws:s3:::{bucket}"),
         "Condition": {"StringLike": {"s3:prefix": listing}}}
    ]})
    .to_string()
}

const USAGE: &str = "usage: warden-local ENDPOINT bootstrap GRANTS_FILE | bucket-policy BUCKET | put-bucket-policy BUCKET FILE | put-events FILE | deliver QUEUE_URL FUNCTION | inbox QUEUE_URL | await-execution EXECUTION_ARN | queue-depth QUEUE_URL | usage AUDIT_TABLE ACCOUNT | widen-consumer-role ACCOUNT BUCKET PREFIX | restore-consumer-role ACCOUNT";

/// What the event source mapping of the access-logger does (batch size 100,
/// `ReportBatchItemFailures`): receive, invoke the function with the batch, delete what it did not
/// report as failed. Failed messages are made visible again (the visibility timeout, without the
/// wait) and retried; after the redrive policy's receive count SQS parks them in the DLQ.
async fn deliver(cfg: &aws_config::SdkConfig, queue: &str, function: &str) -> Result<()> {
    let mapping = local::EventSourceMapping::new(cfg, queue).await?;
    let dir = std::env::temp_dir().join(format!("warden-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (mut batches, mut deleted, mut retried) = (0, 0, 0);
    // Bounded: a poison message is received at most maxReceiveCount times before the DLQ takes it.
    for _ in 0..20 {
        let batch = mapping.receive(100).await?;
        if batch.is_empty() {
            break;
        }
        batches += 1;
        let file = dir.join(format!("batch-{batches}.json"));
        std::fs::write(&file, batch.event.to_string())?;
        let out = std::process::Command::new(function)
            .env("WARDEN_EVENT_FILE", &file)
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("running {function}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let response: serde_json::Value = stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_default();
        if !out.status.success() {
            eprintln!(
                "{function} exited with {}: the whole batch is retried",
                out.status
            );
        }
        let (d, r) = mapping.settle(&batch, &response).await?;
        deleted += d;
        retried += r;
        mapping.release(&batch).await?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{}",
        serde_json::json!({"batches": batches, "acknowledged": deleted, "retried": retried})
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (endpoint, rest) = args.split_first().ok_or_else(|| anyhow!("{USAGE}"))?;
    if !(endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:")) {
        bail!("ENDPOINT must be a local emulator (http://127.0.0.1:PORT), got {endpoint}");
    }
    let cfg = local_config(endpoint, "us-east-1").await;
    match rest {
        [cmd, grants] if cmd == "bootstrap" => {
            let text =
                std::fs::read_to_string(grants).with_context(|| format!("reading {grants}"))?;
            let now = Utc::now();
            let registry = Registry::from_json(&text, now).map_err(|e| anyhow!("{grants}: {e}"))?;
            let raw: serde_json::Value = serde_json::from_str(&text)?;
            let bucket = raw["bucket_name"]
                .as_str()
                .unwrap_or("warden-shared-data-111111111111")
                .to_owned();
            let table = "warden-local-access-control";
            bootstrap::create_registry_table(&cfg, table).await?;
            bootstrap::create_bucket(&cfg, &bucket).await?;
            let key = bootstrap::create_key(&cfg, "warden local data key").await?;
            let topic = bootstrap::create_topic(&cfg, "warden-local-security-alerts").await?;
            let owners = bootstrap::create_topic(&cfg, "warden-local-owner-notifications").await?;
            let audit_table = "warden-local-access-logs";
            let audit_bucket = "warden-local-audit";
            bootstrap::create_bucket(&cfg, audit_bucket).await?;
            bootstrap::create_audit_table(&cfg, audit_table).await?;
            let settings = RenderSettings {
                partition: "aws".into(),
                region: "us-east-1".into(),
                primary_account: warden_core::grant::AccountId::parse(
                    key.split(':').nth(4).unwrap_or_default(),
                )
                .map_err(|e| anyhow!("key ARN {key}: {e}"))?,
                bucket: bucket.clone(),
                kms_key_arn: key.clone(),
                consumer_role_name: "warden-consumer".into(),
                require_mfa: false,
                vending_role_arn: None,
            };
            // What Terraform stores for the reconciler (s3-bucket-policy.tf).
            let baseline = Policy::new(baseline_statements(&settings)).to_compact_json();
            let parameter = "/warden/local/bucket-policy-baseline";
            bootstrap::put_parameter(&cfg, parameter, &baseline).await?;
            // consumer-role/ in each consumer account (the consumer role, limited to its granted
            // prefixes, and the read-only governance role), and the directory of those roles
            // Terraform writes (iam-cross-account.tf), with external IDs.
            let primary = settings.primary_account.as_str().to_owned();
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
                let consumer_role = bootstrap::create_role_in_account(
                    &cfg,
                    id,
                    "warden-consumer",
                    &consumer_trust(id, a["external_id"].as_str()),
                    Some(("warden-shared-data", &consumer_policy(&bucket, &prefixes))),
                )
                .await?;
                let governance_role = bootstrap::create_role_in_account(
                    &cfg,
                    id,
                    "warden-governance",
                    &serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                        "Principal": {"AWS": format!("arn:aws:iam::{primary}:root")}, "Action": "sts:AssumeRole"}]})
                    .to_string(),
                    None,
                )
                .await?;
                directory.insert(
                    id.to_owned(),
                    serde_json::json!({"name": a["name"], "external_id": a["external_id"],
                        "consumer_role": consumer_role, "governance_role": governance_role}),
                );
            }
            let roles_parameter = "/warden/local/consumer-roles";
            bootstrap::put_parameter(
                &cfg,
                roles_parameter,
                &serde_json::Value::Object(directory).to_string(),
            )
            .await?;
            // Approval workflow: approvals topic, the approvers' mailbox (e-mail on AWS), and the
            // state machine of step-functions.tf. The emulator cannot invoke Lambda functions, so
            // the three Lambda tasks are Pass states producing the very payload Terraform's tasks
            // send; the demo hands that payload to approval-processor.
            let approvals = bootstrap::create_topic(&cfg, "warden-local-approvals").await?;
            let (inbox_url, inbox_arn) =
                bootstrap::create_queue(&cfg, "warden-local-approver-inbox", None).await?;
            bootstrap::subscribe_queue(&cfg, &approvals, &inbox_arn).await?;
            let task = |action: &str| serde_json::json!({"Type": "Pass", "Parameters": {"action": action, "request.$": "$"}, "End": true});
            let definition = serde_json::json!({
                "Comment": "Access request approval (local): notify approvers, wait for their decision.",
                "StartAt": "NotifyApprovers",
                "States": {
                    "NotifyApprovers": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                        "TimeoutSeconds": 72 * 3600,
                        "Parameters": {
                            "TopicArn": approvals,
                            "Message.$": "States.Format('Access request {} from account {} for {} ({}). Approve or reject with task token: {}', $.request_id, $.account_id, $.prefixes, $.access_level, $$.Task.Token)",
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
            });
            let state_machine = bootstrap::create_state_machine(
                &cfg,
                "warden-local-access-approval",
                &definition.to_string(),
                "arn:aws:iam::123456789012:role/warden-local-approval-workflow",
            )
            .await?;
            // The security team's mailbox: alerts (e-mail subscriptions on AWS).
            let (security_inbox_url, security_inbox_arn) =
                bootstrap::create_queue(&cfg, "warden-local-security-inbox", None).await?;
            bootstrap::subscribe_queue(&cfg, &topic, &security_inbox_arn).await?;
            // Audit pipeline: CloudTrail events → EventBridge rule → SQS (DLQ after 5 receives),
            // with the pattern of lambda-access-logger.tf.
            let (dlq_url, dlq_arn) =
                bootstrap::create_queue(&cfg, "warden-local-cloudtrail-events-dlq", None).await?;
            let (events_url, events_arn) = bootstrap::create_queue(
                &cfg,
                "warden-local-cloudtrail-events",
                Some((&dlq_arn, 5)),
            )
            .await?;
            let pattern = serde_json::json!({
                "detail-type": ["AWS API Call via CloudTrail"],
                "$or": [
                    {"detail": {"eventSource": ["s3.amazonaws.com"], "requestParameters": {"bucketName": [bucket]}}},
                    {"detail": {"eventSource": ["kms.amazonaws.com"], "resources": {"ARN": [key]}}},
                    {"detail": {"eventSource": ["iam.amazonaws.com", "cloudtrail.amazonaws.com"]}}
                ]
            });
            bootstrap::route_events_to_queue(
                &cfg,
                "warden-local-cloudtrail-to-logger",
                &pattern.to_string(),
                &events_arn,
            )
            .await?;
            let store = DynamoGrantStore::new(&cfg, table);
            for g in registry.grants() {
                store.put_grant(g, "declared").await?;
            }
            println!("REGISTRY_TABLE={table}");
            println!("SHARED_BUCKET={bucket}");
            println!("KMS_KEY_ARN={key}");
            println!("BASELINE_PARAMETER={parameter}");
            println!("CONSUMER_ROLE_NAME=warden-consumer");
            println!("ALERT_TOPIC_ARN={topic}");
            println!("OWNER_TOPIC_ARN={owners}");
            println!("AUDIT_TABLE={audit_table}");
            println!("ACCESS_LOG_TTL_DAYS=365");
            println!("AUDIT_BUCKET={audit_bucket}");
            println!("REPORT_PREFIX=cost-reports/");
            println!("CONSUMER_ROLES_PARAMETER={roles_parameter}");
            println!("MAX_SESSION_SECONDS=3600");
            println!("STATE_MACHINE_ARN={state_machine}");
            println!("APPROVER_INBOX_URL={inbox_url}");
            println!("EVENTS_QUEUE_URL={events_url}");
            println!("EVENTS_DLQ_URL={dlq_url}");
            println!("SECURITY_INBOX_URL={security_inbox_url}");
            println!(
                "PRICE_TABLE='{{\"per_gb_transfer_usd\":0.09,\"per_1000_requests_usd\":0.0004}}'"
            );
            eprintln!(
                "bootstrapped: registry {table} with {} grants, access-log table, buckets {bucket} and {audit_bucket}, key, baseline parameter, alert and owner topics, approval workflow, CloudTrail event rule and queues",
                registry.grants().len()
            );
        }
        [cmd, bucket, file] if cmd == "put-bucket-policy" => {
            let doc = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
            S3PolicyStore::new(&cfg)
                .put_bucket_policy(bucket, &doc)
                .await?;
            eprintln!("bucket policy of {bucket} replaced by hand (drift planted)");
        }
        [cmd, bucket] if cmd == "bucket-policy" => {
            let p = S3PolicyStore::new(&cfg)
                .get_bucket_policy(bucket)
                .await?
                .ok_or_else(|| anyhow!("{bucket} has no bucket policy"))?;
            println!("{p}");
        }
        [cmd, file] if cmd == "put-events" => {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
            let records = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| {
                    serde_json::from_str::<serde_json::Value>(l)
                        .with_context(|| format!("{file}:{}: not a JSON record", i + 1))
                })
                .collect::<Result<Vec<_>>>()?;
            let n = local::put_cloudtrail_events(&cfg, &records).await?;
            println!("{n}");
        }
        [cmd, queue, function] if cmd == "deliver" => deliver(&cfg, queue, function).await?,
        [cmd, queue] if cmd == "inbox" => {
            let mapping = local::EventSourceMapping::new(&cfg, queue).await?;
            let batch = mapping.receive(100).await?;
            for r in batch.event["Records"].as_array().into_iter().flatten() {
                // SNS → SQS wraps the message in an SNS envelope.
                let body: serde_json::Value =
                    serde_json::from_str(r["body"].as_str().unwrap_or("{}"))?;
                println!(
                    "{}",
                    serde_json::json!({"subject": body["Subject"], "message": body["Message"]})
                );
            }
            let all_done = serde_json::json!({"batchItemFailures": []});
            mapping.settle(&batch, &all_done).await?;
        }
        [cmd, arn] if cmd == "await-execution" => {
            let (status, output) =
                local::await_execution(&cfg, arn, std::time::Duration::from_secs(30)).await?;
            let output: serde_json::Value = output
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?
                .unwrap_or_default();
            println!(
                "{}",
                serde_json::json!({"status": status, "output": output})
            );
        }
        [cmd, account, bucket, extra] if cmd == "widen-consumer-role" => {
            bootstrap::put_role_policy_in_account(
                &cfg,
                account,
                "warden-consumer",
                "hand-edited",
                &consumer_policy(bucket, std::slice::from_ref(extra)),
            )
            .await?;
            eprintln!("consumer role of {account} now also reaches {extra} (drift planted)");
        }
        [cmd, account] if cmd == "restore-consumer-role" => {
            // What `terraform apply` of consumer-role/ does: the hand-made policy goes.
            bootstrap::delete_role_policy_in_account(
                &cfg,
                account,
                "warden-consumer",
                "hand-edited",
            )
            .await?;
        }
        [cmd, table, account] if cmd == "usage" => {
            use warden_core::ports::UsageQuery as _;
            let now = Utc::now();
            let u = warden_aws::DynamoAuditStore::new(&cfg, table)
                .usage(
                    account,
                    now - chrono::Duration::days(3650),
                    now + chrono::Duration::days(1),
                )
                .await?;
            println!(
                "{}",
                serde_json::json!({"account_id": account, "s3_requests": u.requests, "bytes_out": u.bytes_out})
            );
        }
        [cmd, queue] if cmd == "queue-depth" => {
            println!("{}", local::queue_depth(&cfg, queue).await?);
        }
        _ => bail!("{USAGE}"),
    }
    Ok(())
}
