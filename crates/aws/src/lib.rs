//! warden-aws: adapters implementing warden-core's ports on the AWS SDK.
//!
//! Every client is built from one [`aws_config::SdkConfig`]; on AWS it comes from the Lambda
//! environment, locally [`local_config`] points every service at the emulator (moto on
//! 127.0.0.1) with static credentials. Retries: the SDK's standard mode (exponential backoff
//! with jitter, 3 attempts) applies to every call.
//!
//! Fault injection (issue 14): when `WARDEN_FAULTS` is set, [`try_env_config`], [`env_config`]
//! and [`local_config`] put the [`faults`] layer under every client, so AWS calls fail with
//! AWS's own throttling, 5xx and timeout errors, deterministically by seed; tests build a
//! faulted config explicitly with [`local_config_with_faults`].

pub mod bootstrap;
pub mod doctor;
pub mod faults;
pub mod local;

mod alert_ledger;
mod dynamodb_audit;
mod dynamodb_grants;
mod iam;
mod kms;
mod metrics;
mod s3;
mod s3control;
mod s3logs;
mod sfn;
mod sns;
mod ssm;
mod sts;
mod util;

use aws_config::{BehaviorVersion, Region, SdkConfig};

pub use alert_ledger::DynamoAlertLedger;
pub use dynamodb_audit::{AuditKey, AuditRow, DynamoAuditStore};
pub use dynamodb_grants::{
    DynamoGrantStore, DynamoPendingRequests, RegistryItem, registry_of_items,
};
pub use faults::{FaultKind, FaultLayer, FaultPlan, FaultSpecError, FaultStats};
pub(crate) use iam::iam_as;
pub use iam::{IamRoleInspector, read_own_role};
pub use kms::KmsKeyGrants;
pub use metrics::StdoutMetrics;
pub use s3::{S3PolicyStore, S3Reports};
pub use s3control::S3AccessPoints;
pub use s3logs::{Keep, S3LogSource};
pub use sfn::SfnWorkflow;
pub use sns::SnsNotifier;
pub use ssm::SsmConfig;
pub use sts::StsVendor;

/// The layer of `WARDEN_FAULTS`, announced once (a warning) when it is set.
fn faults_from_env() -> Result<Option<FaultLayer>, FaultSpecError> {
    let plan = FaultPlan::from_env()?;
    if let Some(p) = &plan {
        tracing::warn!(
            faults = %p,
            "{} is set: AWS calls fail on purpose (fault injection)",
            faults::ENV
        );
    }
    Ok(plan.as_ref().map(FaultPlan::layer))
}

/// `config` under the layer of `WARDEN_FAULTS`, for the constructors that cannot fail: an invalid
/// value is logged and every AWS call then fails naming it (never silently ignored).
fn with_env_faults(config: SdkConfig) -> SdkConfig {
    match faults_from_env() {
        Ok(None) => config,
        Ok(Some(layer)) => layer.apply(&config),
        Err(e) => {
            tracing::error!(error = %e, "every AWS call will fail until it is fixed or unset");
            FaultLayer::rejecting(&e).apply(&config)
        }
    }
}

/// SDK configuration from the environment (Lambda: role credentials, `AWS_REGION`; honours
/// `AWS_ENDPOINT_URL` for a local emulator), under the fault layer when `WARDEN_FAULTS` is set.
///
/// # Errors
/// `WARDEN_FAULTS` is set but is not a fault plan (the error names the variable and the term):
/// a Lambda reports it at start.
pub async fn try_env_config() -> Result<SdkConfig, FaultSpecError> {
    let layer = faults_from_env()?;
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    Ok(match layer {
        Some(layer) => layer.apply(&config),
        None => config,
    })
}

/// [`try_env_config`] for callers that cannot fail at start: an invalid `WARDEN_FAULTS` is
/// logged, and every AWS call made with the config fails with that error.
pub async fn env_config() -> SdkConfig {
    with_env_faults(aws_config::defaults(BehaviorVersion::latest()).load().await)
}

async fn local_base(endpoint: &str, region: &str) -> SdkConfig {
    let creds = aws_credential_types::Credentials::from_keys("testing", "testing", None);
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(creds)
        .load()
        .await
}

/// SDK configuration for a local emulator at `endpoint` with static test credentials, under the
/// fault layer when `WARDEN_FAULTS` is set (so the demo can run under faults; an invalid value
/// makes every call fail naming it).
pub async fn local_config(endpoint: &str, region: &str) -> SdkConfig {
    with_env_faults(local_base(endpoint, region).await)
}

/// [`local_config`] under exactly `faults` (none: no layer), whatever `WARDEN_FAULTS` says: for
/// tests, which read the layer's [`FaultStats`] afterwards.
///
/// ```no_run
/// # async fn demo() -> Result<(), warden_aws::FaultSpecError> {
/// let layer = warden_aws::FaultPlan::parse("dynamodb.BatchWriteItem:throttle=1.0,seed=7")?.layer();
/// let cfg = warden_aws::local_config_with_faults("http://127.0.0.1:5000", "us-east-1", Some(&layer)).await;
/// // … clients built from `cfg` …
/// println!("{}", layer.stats().summary());
/// # Ok(()) }
/// ```
pub async fn local_config_with_faults(
    endpoint: &str,
    region: &str,
    faults: Option<&FaultLayer>,
) -> SdkConfig {
    let config = local_base(endpoint, region).await;
    match faults {
        Some(layer) => layer.apply(&config),
        None => config,
    }
}
