//! Lambda entry point (hourly schedule). `WARDEN_RUN_ONCE=1` runs once and prints the report.

use anyhow::{Context as _, Result, anyhow};
use chrono::Utc;
use expiration_enforcer::enforce;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use warden_aws::{DynamoAlertLedger, DynamoAuditStore, DynamoGrantStore, SnsNotifier};

fn env(name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| anyhow!("environment variable {name} is required"))
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .without_time()
        .init();
    let retention: u32 = env("ACCESS_LOG_TTL_DAYS")?
        .parse()
        .context("ACCESS_LOG_TTL_DAYS must be a number of days")?;
    let config = warden_aws::try_env_config().await?;
    let grants = DynamoGrantStore::new(&config, &env("REGISTRY_TABLE")?);
    let audit = DynamoAuditStore::new(&config, &env("AUDIT_TABLE")?);
    let owners = SnsNotifier::new(&config, &env("OWNER_TOPIC_ARN")?);
    let ledger = DynamoAlertLedger::new(&config, &env("ALERT_LEDGER_TABLE")?);
    if std::env::var("WARDEN_RUN_ONCE").is_ok_and(|v| v == "1") {
        let run = format!(
            "local-{}-{}",
            std::process::id(),
            Utc::now().timestamp_micros()
        );
        let report = enforce(
            &grants,
            &audit,
            &owners,
            &ledger,
            retention,
            &run,
            Utc::now(),
        )
        .await?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let (grants, audit, owners, ledger) = (&grants, &audit, &owners, &ledger);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let run = event.context.request_id;
        let report = enforce(grants, audit, owners, ledger, retention, &run, Utc::now())
            .await
            .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
        if !report.errors.is_empty() {
            tracing::error!(errors = ?report.errors, "some grants were not fully processed; the next run retries them");
        }
        Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
    }))
    .await
    .map_err(|e| anyhow!("lambda runtime: {e}"))
}
