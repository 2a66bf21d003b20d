//! Lambda entry point: settings once, JSON tracing, clients, serve API Gateway events
//! (`WARDEN_EVENT_FILE`: handle one event from a file and print the response).

use access_request::{Settings, handle};
use anyhow::{Result, anyhow};
use chrono::Utc;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use warden_aws::{DynamoGrantStore, SfnWorkflow};

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
    let settings = Settings::from_values(std::env::var("MAX_GRANT_DAYS").ok().as_deref())?;
    let config = warden_aws::try_env_config().await?;
    let store = DynamoGrantStore::new(&config, &env("REGISTRY_TABLE")?);
    let workflow = SfnWorkflow::new(&config, &env("STATE_MACHINE_ARN")?);
    // Local runs: one API Gateway event from WARDEN_EVENT_FILE, response on stdout.
    if let Some(event) = warden_aws::local::event_from_env()? {
        println!(
            "{}",
            handle(&store, &workflow, &settings, &event, Utc::now()).await
        );
        return Ok(());
    }
    let (store, workflow, settings) = (&store, &workflow, &settings);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, lambda_runtime::Error>(
            handle(store, workflow, settings, &event.payload, Utc::now()).await,
        )
    }))
    .await
    .map_err(|e| anyhow!("lambda runtime: {e}"))
}
