//! Lambda entry point: read typed settings from the environment once, set up JSON tracing, build
//! the clients, serve. Every event (stream batch, direct invocation) triggers one reconciliation.
//!
//! `WARDEN_RUN_ONCE=1` runs one reconciliation and prints the report instead of serving the
//! Lambda runtime API — for the local emulator and the demo.

use anyhow::{Context as _, Result, anyhow};
use chrono::Utc;
use lambda_runtime::{LambdaEvent, service_fn};
use policy_reconciler::{Settings, reconcile};
use serde_json::Value;
use warden_aws::{DynamoGrantStore, KmsKeyGrants, S3PolicyStore, SnsNotifier, SsmConfig};
use warden_core::grant::AccountId;
use warden_core::policy::render::RenderSettings;

fn env(name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| anyhow!("environment variable {name} is required"))
}

struct App {
    grants: DynamoGrantStore,
    policies: S3PolicyStore,
    keys: KmsKeyGrants,
    config: SsmConfig,
    notifier: SnsNotifier,
    settings: Settings,
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
    };
    let config = warden_aws::env_config().await;
    Ok(App {
        grants: DynamoGrantStore::new(&config, &env("REGISTRY_TABLE")?),
        policies: S3PolicyStore::new(&config),
        keys: KmsKeyGrants::new(&config),
        config: SsmConfig::new(&config),
        notifier: SnsNotifier::new(&config, &env("ALERT_TOPIC_ARN")?),
        settings,
    })
}

async fn run_once(app: &App) -> Result<Value> {
    let report = reconcile(
        &app.grants,
        &app.policies,
        &app.keys,
        &app.config,
        &app.notifier,
        &app.settings,
        Utc::now(),
    )
    .await?;
    tracing::info!(?report, "reconciled");
    Ok(serde_json::to_value(report)?)
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
        let report = run_once(&app).await?;
        println!("{report}");
        return Ok(());
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
        run_once(app)
            .await
            .map_err(|e| lambda_runtime::Error::from(format!("{e:#}")))
    }))
    .await
    .map_err(|e| anyhow!("lambda runtime: {e}"))
}
