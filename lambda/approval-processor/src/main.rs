//! Lambda entry point: API Gateway events (approver decisions) and workflow tasks
//! (`WARDEN_EVENT_FILE`: handle one event from a file and print the result).

use anyhow::{Result, anyhow};
use approval_processor::{DynamoPendingRequests, Settings, decide, task};
use chrono::Utc;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use warden_aws::{DynamoGrantStore, SfnWorkflow};
use warden_core::ports::PortError;

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
    let approvers = std::env::var("APPROVER_PRINCIPAL_ARNS").ok();
    let max_days = std::env::var("MAX_GRANT_DAYS").ok();
    let settings = Settings::from_values(
        approvers.as_deref(),
        max_days.as_deref(),
        &env("STATE_MACHINE_ARN")?,
    )?;
    if settings.approvers.is_empty() {
        tracing::warn!("APPROVER_PRINCIPAL_ARNS is empty: every approval decision is refused");
    }
    let config = warden_aws::try_env_config().await?;
    let table = env("REGISTRY_TABLE")?;
    let store = DynamoGrantStore::new(&config, &table);
    let pending = DynamoPendingRequests::new(&config, &table);
    // Answering a task token needs no state machine ARN.
    let workflow = SfnWorkflow::new(&config, "");
    // Local runs: one event (API request or workflow task) from WARDEN_EVENT_FILE.
    if let Some(event) = warden_aws::local::event_from_env()? {
        println!(
            "{}",
            dispatch(&store, &pending, &workflow, &settings, event).await?
        );
        return Ok(());
    }
    let (store, pending, workflow, settings) = (&store, &pending, &workflow, &settings);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        dispatch(store, pending, workflow, settings, event.payload)
            .await
            .map_err(|e| lambda_runtime::Error::from(e.to_string()))
    }))
    .await
    .map_err(|e| anyhow!("lambda runtime: {e}"))
}

/// API Gateway requests carry a `requestContext`; workflow tasks do not (and are checked
/// against the stored request and their execution).
async fn dispatch(
    store: &DynamoGrantStore,
    pending: &DynamoPendingRequests,
    workflow: &SfnWorkflow,
    settings: &Settings,
    payload: Value,
) -> Result<Value, PortError> {
    if payload.get("requestContext").is_some() {
        Ok(decide(workflow, settings, &payload).await)
    } else {
        task(store, pending, settings, &payload, Utc::now()).await
    }
}
