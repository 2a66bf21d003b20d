//! Lambda entry point (daily schedule). `WARDEN_RUN_ONCE=1` runs once and prints the report.

use anyhow::{Result, anyhow};
use chrono::Utc;
use governance_check::{Settings, check};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use warden_aws::{
    DynamoGrantStore, IamRoleInspector, KmsKeyGrants, S3AccessPoints, S3PolicyStore, SnsNotifier,
    SsmConfig, StdoutMetrics,
};
use warden_core::grant::AccountId;
use warden_core::policy::access_point::Tiering;
use warden_core::policy::render::RenderSettings;

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
    let consumer_roles_parameter = env("CONSUMER_ROLES_PARAMETER")?;
    // The access-validator role the consumer roles' trust admits, and the key alias their KMS
    // statement names, as Terraform set them (never derived from other names).
    let validator_role_arn = env("VALIDATOR_ROLE_ARN")?;
    if !validator_role_arn.starts_with(&format!("arn:{partition}:iam::{account}:role/")) {
        return Err(anyhow!(
            "VALIDATOR_ROLE_ARN must be a role of account {account}, got {validator_role_arn}"
        ));
    }
    let key_alias = env("DATA_KEY_ALIAS")?;
    if !key_alias.starts_with("alias/") {
        return Err(anyhow!(
            "DATA_KEY_ALIAS must start with alias/, got {key_alias}"
        ));
    }
    let settings = Settings {
        render: RenderSettings {
            partition: partition.to_owned(),
            region: region.to_owned(),
            primary_account: AccountId::parse(account).map_err(|e| anyhow!("KMS_KEY_ARN: {e}"))?,
            bucket: env("SHARED_BUCKET")?,
            kms_key_arn: key.clone(),
            consumer_role_name: env("CONSUMER_ROLE_NAME")?,
            require_mfa: false,
            vending_role_arn: Some(validator_role_arn),
        },
        baseline_parameter: env("BASELINE_PARAMETER")?,
        consumer_roles_parameter,
        namespace: env("METRICS_NAMESPACE")?,
        key_aliases: vec![key_alias],
        // consumer-role/ attaches no permissions boundary.
        permissions_boundary: None,
        tiering: Tiering::from_settings(
            &env("SHARING_MODE")?,
            std::env::var("ACCESS_POINT_THRESHOLD").ok().as_deref(),
            &env("ACCESS_POINT_PREFIX")?,
        )
        .map_err(|e| anyhow!(e))?,
    };
    let config = warden_aws::try_env_config().await?;
    let grants = DynamoGrantStore::new(&config, &env("REGISTRY_TABLE")?);
    let policies = S3PolicyStore::new(&config);
    let access_points = S3AccessPoints::new(&config, account);
    let keys = KmsKeyGrants::new(&config);
    let ssm = SsmConfig::new(&config);
    let roles = IamRoleInspector::new(&config);
    let notifier = SnsNotifier::new(&config, &env("ALERT_TOPIC_ARN")?);
    if std::env::var("WARDEN_RUN_ONCE").is_ok_and(|v| v == "1") {
        let report = check(
            &grants,
            &policies,
            &access_points,
            &keys,
            &ssm,
            &roles,
            &notifier,
            &StdoutMetrics,
            &settings,
            Utc::now(),
        )
        .await?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let (grants, policies, access_points, keys, ssm, roles, notifier, settings) = (
        &grants,
        &policies,
        &access_points,
        &keys,
        &ssm,
        &roles,
        &notifier,
        &settings,
    );
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let report = check(
            grants,
            policies,
            access_points,
            keys,
            ssm,
            roles,
            notifier,
            &StdoutMetrics,
            settings,
            Utc::now(),
        )
        .await
        .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
        Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
    }))
    .await
    .map_err(|e| anyhow!("lambda runtime: {e}"))
}
