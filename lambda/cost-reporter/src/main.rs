//! Lambda entry point (monthly schedule). `WARDEN_RUN_ONCE=1` runs once and prints the report.

use anyhow::{Result, anyhow};
use chrono::Utc;
use cost_reporter::run;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use warden_aws::{DynamoAuditStore, DynamoGrantStore, S3Reports, SnsNotifier};
use warden_core::cost::PriceTable;

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
    let prices: PriceTable =
        serde_json::from_str(&env("PRICE_TABLE")?).map_err(|e| anyhow!("PRICE_TABLE: {e}"))?;
    let prefix = env("REPORT_PREFIX")?;
    let config = warden_aws::try_env_config().await?;
    let grants = DynamoGrantStore::new(&config, &env("REGISTRY_TABLE")?);
    let usage = DynamoAuditStore::new(&config, &env("AUDIT_TABLE")?);
    let reports = S3Reports::new(&config, &env("AUDIT_BUCKET")?);
    let notifier = SnsNotifier::new(&config, &env("ALERT_TOPIC_ARN")?);
    if std::env::var("WARDEN_RUN_ONCE").is_ok_and(|v| v == "1") {
        let report = run(
            &grants,
            &usage,
            &reports,
            &notifier,
            prices,
            &prefix,
            Utc::now(),
        )
        .await?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let (grants, usage, reports, notifier, prefix) =
        (&grants, &usage, &reports, &notifier, &prefix);
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let report = run(grants, usage, reports, notifier, prices, prefix, Utc::now())
            .await
            .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
        Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
    }))
    .await
    .map_err(|e| anyhow!("lambda runtime: {e}"))
}
