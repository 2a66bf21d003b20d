//! Lambda entry point: typed settings from the environment once, JSON tracing, clients, serve.
//! The registry (for the detectors that need it) is reloaded every five minutes without losing
//! the windowed detectors' state. `WARDEN_EVENT_FILE`: handle one batch from a file and print the
//! batch response.

use std::sync::Arc;
use std::time::{Duration, Instant};

use access_logger::{BatchResponse, LoggerState, Ports, Settings, SqsEvent, handle};
use anyhow::{Context as _, Result, anyhow};
use chrono::Utc;
use lambda_runtime::{LambdaEvent, service_fn};
use tokio::sync::Mutex;
use warden_aws::{
    DynamoAlertLedger, DynamoAuditStore, DynamoGrantStore, SnsNotifier, StdoutMetrics,
};
use warden_core::detect::{DetectConfig, Pipeline};
use warden_core::ports::GrantStore;

const REGISTRY_REFRESH: Duration = Duration::from_secs(300);

fn env(name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| anyhow!("environment variable {name} is required"))
}

struct State {
    logger: LoggerState,
    loaded: Instant,
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
    let retention_days: u32 = env("ACCESS_LOG_TTL_DAYS")?
        .parse()
        .context("ACCESS_LOG_TTL_DAYS must be a number of days")?;
    let settings = Settings {
        retention_days,
        namespace: env("METRICS_NAMESPACE")?,
    };
    let detect: DetectConfig =
        serde_json::from_str(&env("DETECT_CONFIG")?).map_err(|e| anyhow!("DETECT_CONFIG: {e}"))?;
    let config = warden_aws::env_config().await;
    let audit = DynamoAuditStore::new(&config, &env("AUDIT_TABLE")?);
    let grants = DynamoGrantStore::new(&config, &env("REGISTRY_TABLE")?);
    let notifier = SnsNotifier::new(&config, &env("ALERT_TOPIC_ARN")?);
    let ledger = DynamoAlertLedger::new(&config, &env("ALERT_LEDGER_TABLE")?);
    let registry = Arc::new(
        grants
            .load_registry(Utc::now())
            .await
            .context("loading the registry")?,
    );
    let pipeline =
        Pipeline::new(&detect, Some(registry)).map_err(|e| anyhow!("DETECT_CONFIG: {e}"))?;
    // Local runs: one SQS batch from WARDEN_EVENT_FILE, the batch response on stdout.
    if let Some(event) = warden_aws::local::event_from_env()? {
        let mut logger = LoggerState::new(pipeline);
        let event: SqsEvent =
            serde_json::from_value(event).context("WARDEN_EVENT_FILE: not an SQS event")?;
        let ports = Ports {
            audit: &audit,
            ledger: &ledger,
            notifier: &notifier,
            metrics: &StdoutMetrics,
        };
        // One invocation per process run: the process ID and the clock name it.
        let invocation = format!(
            "local-{}-{}",
            std::process::id(),
            Utc::now().timestamp_micros()
        );
        let response = handle(
            &ports,
            &mut logger,
            &event,
            &settings,
            &invocation,
            Utc::now(),
        )
        .await;
        println!("{}", serde_json::to_string(&response)?);
        return Ok(());
    }
    let state = Mutex::new(State {
        logger: LoggerState::new(pipeline),
        loaded: Instant::now(),
    });
    let ports = Ports {
        audit: &audit,
        ledger: &ledger,
        notifier: &notifier,
        metrics: &StdoutMetrics,
    };
    let (ports, grants, settings, state) = (&ports, &grants, &settings, &state);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let mut st = state.lock().await;
        if st.loaded.elapsed() > REGISTRY_REFRESH {
            match grants.load_registry(Utc::now()).await {
                Ok(r) => {
                    st.logger.pipeline.set_registry(&Arc::new(r));
                    st.loaded = Instant::now();
                }
                // Keep the previous registry: a stale registry beats no detection.
                Err(e) => tracing::warn!(error = %e, "registry refresh failed"),
            }
        }
        let response: BatchResponse = handle(
            ports,
            &mut st.logger,
            &event.payload,
            settings,
            &event.context.request_id,
            Utc::now(),
        )
        .await;
        Ok::<_, lambda_runtime::Error>(response)
    }))
    .await
    .map_err(|e| anyhow!("lambda runtime: {e}"))
}
