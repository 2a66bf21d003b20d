//! `warden-local`: the resources Terraform creates, created on the local emulator through the same
//! adapters the functions use, and the AWS plumbing between the functions (CloudTrail → EventBridge,
//! Lambda's SQS event source mapping, the approvers' mailbox) — for `make demo` and manual runs.
//! Refuses to run without an explicit local endpoint, so it can never touch a real account.
//!
//! ```text
//! warden-local ENDPOINT bootstrap GRANTS_FILE [NAME]   prints KEY=VALUE settings for the functions
//! warden-local ENDPOINT bucket-policy BUCKET           prints the live bucket policy
//! warden-local ENDPOINT access-point-policy ACCOUNT NAME  prints an access point's live policy
//! warden-local ENDPOINT revoke-declared TABLE ACCOUNT  revokes an account's declared grant
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
use warden_aws::{S3PolicyStore, bootstrap, local, local_config};
use warden_core::ports::PolicyStore;

const USAGE: &str = "usage: warden-local ENDPOINT bootstrap GRANTS_FILE [NAME] | bucket-policy BUCKET | access-point-policy ACCOUNT NAME | revoke-declared TABLE ACCOUNT | put-bucket-policy BUCKET FILE | put-events FILE | deliver QUEUE_URL FUNCTION | inbox QUEUE_URL | await-execution EXECUTION_ARN | queue-depth QUEUE_URL | usage AUDIT_TABLE ACCOUNT | widen-consumer-role ACCOUNT BUCKET PREFIX | restore-consumer-role ACCOUNT | trail NAME BUCKET";

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
    // A bad WARDEN_FAULTS stops here, named, rather than failing every call.
    warden_aws::FaultPlan::from_env()?;
    let cfg = local_config(endpoint, "us-east-1").await;
    match rest {
        [cmd, grants, name @ ..] if cmd == "bootstrap" && name.len() <= 1 => {
            let text =
                std::fs::read_to_string(grants).with_context(|| format!("reading {grants}"))?;
            let name = name.first().map_or("warden-local", String::as_str);
            let env = local::Environment::create(&cfg, name, &text, Utc::now())
                .await
                .map_err(|e| anyhow!("{grants}: {e}"))?;
            // Shell-quoted, for `set -a; . FILE`.
            for (k, v) in env.settings() {
                println!("{k}='{}'", v.replace('\'', r"'\''"));
            }
            eprintln!(
                "bootstrapped: registry {} with {} grants, access-log table, buckets {} and {}, key, baseline parameter, consumer and governance roles in each consumer account, alert and owner topics, approval workflow, CloudTrail event rule and queues",
                env.registry_table, env.grants, env.bucket, env.audit_bucket
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
                &local::consumer_policy(bucket, std::slice::from_ref(extra)),
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
        [cmd, account, name] if cmd == "access-point-policy" => {
            use warden_core::ports::AccessPoints as _;
            match warden_aws::S3AccessPoints::new(&cfg, account)
                .get_access_point_policy(name)
                .await?
            {
                Some(p) => println!("{p}"),
                None => bail!("access point {name} has no policy"),
            }
        }
        [cmd, table, account] if cmd == "revoke-declared" => {
            use warden_core::ports::GrantStore as _;
            // What removing the account from consumer_accounts and applying does to its item.
            let revoked = warden_aws::DynamoGrantStore::new(&cfg, table)
                .revoke(
                    &warden_core::ports::GrantRef {
                        account_id: account.clone(),
                        grant_id: "declared".into(),
                        expiration_date: String::new(),
                        allowed_prefixes: Vec::new(),
                        access_level: String::new(),
                    },
                    Utc::now(),
                )
                .await?;
            if !revoked {
                bail!("{account} has no active declared grant in {table}");
            }
            eprintln!("declared grant of {account} revoked");
        }
        [cmd, queue] if cmd == "queue-depth" => {
            println!("{}", local::queue_depth(&cfg, queue).await?);
        }
        [cmd, name, bucket] if cmd == "trail" => {
            // What security-baseline/ creates: a logging trail into the audit bucket.
            let arn = warden_aws::bootstrap::create_trail(&cfg, name, bucket).await?;
            println!("{arn}");
        }
        _ => bail!("{USAGE}"),
    }
    Ok(())
}
