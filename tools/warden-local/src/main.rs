//! `warden-local`: the resources Terraform creates, created on the local emulator through the same
//! adapters the functions use — for `make demo` and manual runs. Refuses to run without an
//! explicit local endpoint, so it can never touch a real account.
//!
//! ```text
//! warden-local ENDPOINT bootstrap GRANTS_FILE   prints KEY=VALUE settings for the functions
//! warden-local ENDPOINT bucket-policy BUCKET    prints the live bucket policy
//! warden-local ENDPOINT put-bucket-policy BUCKET FILE   replaces it (plants drift for the demo)
//! ```

use anyhow::{Context as _, Result, anyhow, bail};
use chrono::Utc;
use warden_aws::{DynamoGrantStore, S3PolicyStore, bootstrap, local_config};
use warden_core::grant::Registry;
use warden_core::policy::model::Policy;
use warden_core::policy::render::{RenderSettings, baseline_statements};
use warden_core::ports::PolicyStore;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (endpoint, rest) = args.split_first().ok_or_else(|| {
        anyhow!("usage: warden-local ENDPOINT bootstrap GRANTS_FILE | bucket-policy BUCKET")
    })?;
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
            // The consumer directory Terraform writes (iam-cross-account.tf), with external IDs.
            let directory: serde_json::Map<String, serde_json::Value> = raw["consumer_accounts"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|a| {
                            let id = a["account_id"].as_str()?;
                            Some((id.to_owned(), serde_json::json!({"name": a["name"], "external_id": a["external_id"]})))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let roles_parameter = "/warden/local/consumer-roles";
            bootstrap::put_parameter(
                &cfg,
                roles_parameter,
                &serde_json::Value::Object(directory).to_string(),
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
            println!(
                "PRICE_TABLE='{{\"per_gb_transfer_usd\":0.09,\"per_1000_requests_usd\":0.0004}}'"
            );
            eprintln!(
                "bootstrapped: registry {table} with {} grants, access-log table, buckets {bucket} and {audit_bucket}, key, baseline parameter, alert and owner topics",
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
        _ => bail!(
            "usage: warden-local ENDPOINT bootstrap GRANTS_FILE | bucket-policy BUCKET | put-bucket-policy BUCKET FILE"
        ),
    }
    Ok(())
}
