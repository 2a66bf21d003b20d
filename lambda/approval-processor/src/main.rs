//! Lambda entry point: API Gateway events (approver decisions) and workflow tasks
//! (`WARDEN_EVENT_FILE`: handle one event from a file and print the result).

use anyhow::{Result, anyhow};
use approval_processor::{decide, task};
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
    let config = warden_aws::env_config().await;
    let store = DynamoGrantStore::new(&config, &env("REGISTRY_TABLE")?);
    // Answering a task token needs no state machine ARN.
    let workflow = SfnWorkflow::new(&config, "");
    // Local runs: one event (API request or workflow task) from WARDEN_EVENT_FILE.
    if let Some(event) = warden_aws::local::event_from_env()? {
        println!("{}", dispatch(&store, &workflow, event).await?);
        return Ok(());
    }
    let (store, workflow) = (&store, &workflow);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        dispatch(store, workflow, event.payload)
            .await
            .map_err(|e| lambda_runtime::Error::from(e.to_string()))
    }))
    .await
    .map_err(|e| anyhow!("lambda runtime: {e}"))
}

/// API Gateway requests carry a `requestContext`; workflow tasks do not.
async fn dispatch(
    store: &DynamoGrantStore,
    workflow: &SfnWorkflow,
    payload: Value,
) -> Result<Value, warden_core::ports::PortError> {
    if payload.get("requestContext").is_some() {
        Ok(decide(workflow, &payload).await)
    } else {
        task(store, &payload, Utc::now()).await
    }
}
