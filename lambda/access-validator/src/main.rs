//! Lambda entry point: typed settings once, JSON tracing, clients, serve API Gateway events.

use std::collections::HashMap;

use access_validator::{Settings, handle};
use anyhow::{Context as _, Result, anyhow};
use chrono::Utc;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use warden_aws::{DynamoAuditStore, DynamoGrantStore, SsmConfig, StsVendor};
use warden_core::grant::AccountId;
use warden_core::policy::access_point::Tiering;
use warden_core::policy::render::RenderSettings;
use warden_core::ports::ConfigStore;

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
    let key = env("KMS_KEY_ARN")?;
    let parts: Vec<&str> = key.split(':').collect();
    let (partition, region, account) = match parts.as_slice() {
        ["arn", p, "kms", r, a, _] => (*p, *r, *a),
        _ => return Err(anyhow!("KMS_KEY_ARN must be a key ARN, got {key}")),
    };
    let config = warden_aws::try_env_config().await?;
    // { "<account>": { "external_id": "...", ... } } written by Terraform (iam-cross-account.tf).
    let roles: HashMap<String, Value> = serde_json::from_str(
        &SsmConfig::new(&config)
            .get_parameter(&env("CONSUMER_ROLES_PARAMETER")?)
            .await?,
    )
    .context("CONSUMER_ROLES_PARAMETER must hold a JSON object per account")?;
    let external_ids = roles
        .iter()
        .filter_map(|(acct, v)| {
            v["external_id"]
                .as_str()
                .map(|e| (acct.clone(), e.to_owned()))
        })
        .collect();
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
        max_session_seconds: env("MAX_SESSION_SECONDS")?
            .parse()
            .context("MAX_SESSION_SECONDS must be a number")?,
        retention_days: env("ACCESS_LOG_TTL_DAYS")?
            .parse()
            .context("ACCESS_LOG_TTL_DAYS must be a number")?,
        external_ids,
        tiering: Tiering::from_settings(
            &env("SHARING_MODE")?,
            std::env::var("ACCESS_POINT_THRESHOLD").ok().as_deref(),
            &env("ACCESS_POINT_PREFIX")?,
        )
        .map_err(|e| anyhow!(e))?,
    };
    let grants = DynamoGrantStore::new(&config, &env("REGISTRY_TABLE")?);
    let audit = DynamoAuditStore::new(&config, &env("AUDIT_TABLE")?);
    let sts = StsVendor::new(&config);
    // Local runs: handle one API Gateway event from WARDEN_EVENT_FILE and print the response.
    if let Some(event) = warden_aws::local::event_from_env()? {
        println!(
            "{}",
            handle(
                &grants,
                &audit,
                &sts,
                &settings,
                &event,
                &format!(
                    "local-{}",
                    Utc::now().timestamp_nanos_opt().unwrap_or_default()
                ),
                Utc::now(),
            )
            .await
        );
        return Ok(());
    }
    let (grants, audit, sts, settings) = (&grants, &audit, &sts, &settings);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, lambda_runtime::Error>(
            handle(
                grants,
                audit,
                sts,
                settings,
                &event.payload,
                &event.context.request_id,
                Utc::now(),
            )
            .await,
        )
    }))
    .await
    .map_err(|e| anyhow!("lambda runtime: {e}"))
}
