//! Lambda entry point: the archive replay's plan and its Distributed Map children.
//! `WARDEN_EVENT_FILE`: handle one event from a file and print the result (local runs: the demo
//! runs the plan and every item this way against the emulator).

use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow};
use audit_replay::{Settings, handle};
use chrono::Utc;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use warden_aws::{DynamoGrantStore, S3LogSource};
use warden_core::detect::DetectConfig;
use warden_core::ports::GrantStore as _;

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
    let detect: DetectConfig =
        serde_json::from_str(&env("DETECT_CONFIG")?).map_err(|e| anyhow!("DETECT_CONFIG: {e}"))?;
    let results_prefix = std::env::var("RESULTS_PREFIX").unwrap_or_else(|_| "replay/".into());
    if !results_prefix.is_empty() && !results_prefix.ends_with('/') {
        anyhow::bail!("RESULTS_PREFIX: must end with / (got {results_prefix:?})");
    }
    let trail_prefix = env("TRAIL_PREFIX")?;
    if !trail_prefix.is_empty() && !trail_prefix.ends_with('/') {
        anyhow::bail!("TRAIL_PREFIX: must end with / (got {trail_prefix:?})");
    }
    let settings = Settings {
        trail_bucket: env("TRAIL_BUCKET")?,
        trail_prefix,
        results_bucket: env("RESULTS_BUCKET")?,
        results_prefix,
        detect,
    };
    let config = warden_aws::try_env_config().await?;
    let archive = S3LogSource::new(&config);
    let grants = DynamoGrantStore::new(&config, &env("REGISTRY_TABLE")?);
    // The registry as of now (the replayed days' grants are not kept): the registry detectors
    // judge old events against today's grants, as `warden audit replay --grants` does.
    let registry = || async {
        grants
            .load_registry(Utc::now())
            .await
            .map(Arc::new)
            .map_err(|e| anyhow!("registry: {e}"))
    };
    if let Ok(file) = std::env::var("WARDEN_EVENT_FILE") {
        let event: Value = serde_json::from_str(
            &std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?,
        )
        .with_context(|| format!("{file}: not JSON"))?;
        let out = handle(&archive, &settings, Some(registry().await?), &event)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        println!("{out}");
        return Ok(());
    }
    let (archive, settings, registry) = (&archive, &settings, &registry);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // The plan needs no registry; a child loads it once.
        let reg = if event.payload.get("item").is_some() {
            Some(registry().await.map_err(|e| lambda_runtime::Diagnostic {
                error_type: "ServiceFailed".into(),
                error_message: e.to_string(),
            })?)
        } else {
            None
        };
        // Typed errors, so the state machine retries service failures and not bad input.
        handle(archive, settings, reg, &event.payload)
            .await
            .map_err(|e| lambda_runtime::Diagnostic {
                error_type: e.error_type().to_owned(),
                error_message: e.to_string(),
            })
    }))
    .await
    .map_err(|e| anyhow!("{e}"))
}
