//! Lambda entry point: read typed settings from the environment once, set up JSON tracing, build
//! the clients, serve. Every event (stream batch, direct invocation) triggers one reconciliation.
//!
//! `WARDEN_RUN_ONCE=1` runs one reconciliation and prints the report instead of serving the
//! Lambda runtime API — for the local emulator and the demo. A run that could not apply every
//! change (some call failed: a retry finishes the job) prints its report and exits non-zero; on
//! Lambda it fails the invocation, so that it is retried. A partial run whose left-out grants need
//! a person (over budget, consumer role missing) succeeds with `"partial": true` and one alert.

use anyhow::{Context as _, Result, anyhow};
use chrono::Utc;
use lambda_runtime::{LambdaEvent, service_fn};
use policy_reconciler::{ReconcileError, Settings, reconcile};
use serde_json::Value;
use warden_aws::{
    DynamoGrantStore, KmsKeyGrants, S3AccessPoints, S3PolicyStore, SnsNotifier, SsmConfig,
};
use warden_core::grant::AccountId;
use warden_core::policy::access_point::Tiering;
use warden_core::policy::render::RenderSettings;

fn env(name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| anyhow!("environment variable {name} is required"))
}

struct App {
    grants: DynamoGrantStore,
    policies: S3PolicyStore,
    access_points: S3AccessPoints,
    keys: KmsKeyGrants,
    config: SsmConfig,
    notifier: SnsNotifier,
    settings: Settings,
    /// EMF namespace, `Warden/<environment>`.
    namespace: String,
}

/// The tiers: `SHARING_MODE`, `ACCESS_POINT_THRESHOLD`, `ACCESS_POINT_PREFIX`.
fn tiering() -> Result<Tiering> {
    Tiering::from_settings(
        &env("SHARING_MODE")?,
        std::env::var("ACCESS_POINT_THRESHOLD").ok().as_deref(),
        &env("ACCESS_POINT_PREFIX")?,
    )
    .map_err(|e| anyhow!(e))
}

async fn app() -> Result<App> {
    let key = env("KMS_KEY_ARN")?;
    // arn:<partition>:kms:<region>:<account>:key/<id>
    let parts: Vec<&str> = key.split(':').collect();
    let (partition, region, account) = match parts.as_slice() {
        ["arn", p, "kms", r, a, _] => (*p, *r, *a),
        _ => {
            return Err(anyhow!(
                "KMS_KEY_ARN must be a key ARN (arn:aws:kms:<region>:<account>:key/<id>), got {key}"
            ));
        }
    };
    let tiering = tiering()?;
    let settings = Settings {
        render: RenderSettings {
            partition: partition.to_owned(),
            region: region.to_owned(),
            primary_account: AccountId::parse(account).map_err(|e| anyhow!("KMS_KEY_ARN: {e}"))?,
            bucket: env("SHARED_BUCKET")?,
            kms_key_arn: key.clone(),
            consumer_role_name: env("CONSUMER_ROLE_NAME")?,
            require_mfa: false,
            vending_role_arn: None,
        },
        baseline_parameter: env("BASELINE_PARAMETER")?,
        sharing: tiering.mode,
        access_point_prefix: tiering.name_prefix,
    };
    let config = warden_aws::env_config().await;
    Ok(App {
        grants: DynamoGrantStore::new(&config, &env("REGISTRY_TABLE")?),
        policies: S3PolicyStore::new(&config),
        access_points: S3AccessPoints::new(&config, account),
        keys: KmsKeyGrants::new(&config),
        config: SsmConfig::new(&config),
        notifier: SnsNotifier::new(&config, &env("ALERT_TOPIC_ARN")?),
        settings,
        namespace: env("METRICS_NAMESPACE")?,
    })
}

/// The run's counters as one EMF line (alarmed on in cloudwatch.tf): registry items skipped,
/// grants left out, changes failed.
fn emit_metrics(app: &App, report: &policy_reconciler::Report) {
    use warden_core::ports::Metrics as _;
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    warden_aws::StdoutMetrics.emit(&warden_core::emf::counters(
        &app.namespace,
        Utc::now().timestamp_millis(),
        &[
            ("RegistryItemsSkipped", n(report.registry_items_skipped)),
            ("GrantsExcluded", n(report.excluded.len())),
            ("ReconcileFailures", n(report.failures.len())),
        ],
    ));
}

/// One reconciliation: the report, or — when some change failed and a retry must finish the job
/// — the report with the error, so that it is printed (and logged) before the invocation fails.
async fn run_once(app: &App) -> Result<Value, (Option<Value>, anyhow::Error)> {
    match reconcile(
        &app.grants,
        &app.policies,
        &app.access_points,
        &app.keys,
        &app.config,
        &app.notifier,
        &app.settings,
        Utc::now(),
    )
    .await
    {
        Ok(report) => {
            emit_metrics(app, &report);
            if report.partial {
                tracing::warn!(?report, "reconciled, partially");
            } else {
                tracing::info!(?report, "reconciled");
            }
            serde_json::to_value(report).map_err(|e| (None, e.into()))
        }
        Err(ReconcileError::Incomplete(report)) => {
            emit_metrics(app, &report);
            tracing::error!(
                ?report,
                "reconciliation incomplete; failing the invocation so that Lambda retries it"
            );
            let value = serde_json::to_value(&*report).ok();
            Err((value, ReconcileError::Incomplete(report).into()))
        }
        Err(e) => Err((None, e.into())),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_current_span(false)
        .without_time()
        .init();
    let app = app().await.context("reading settings")?;
    if std::env::var("WARDEN_RUN_ONCE").is_ok_and(|v| v == "1") {
        return match run_once(&app).await {
            Ok(report) => {
                println!("{report}");
                Ok(())
            }
            Err((report, e)) => {
                // The report first (what was applied, what was not), then a failing exit.
                if let Some(report) = report {
                    println!("{report}");
                }
                Err(e)
            }
        };
    }
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let trigger = event
            .payload
            .get("source")
            .and_then(|v| v.as_str())
            .unwrap_or("stream")
            .to_owned();
        tracing::info!(%trigger, "reconciling");
        // An incomplete run fails the invocation (the stream batch, the asynchronous invocation
        // or Terraform's invoke is retried); the error carries the report.
        run_once(app).await.map_err(|(report, e)| {
            lambda_runtime::Error::from(match report {
                Some(r) => format!("{e:#}; report: {r}"),
                None => format!("{e:#}"),
            })
        })
    }))
    .await
    .map_err(|e| anyhow!("lambda runtime: {e}"))
}
