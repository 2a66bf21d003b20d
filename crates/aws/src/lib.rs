//! warden-aws: adapters implementing warden-core's ports on the AWS SDK.
//!
//! Every client is built from one [`aws_config::SdkConfig`]; on AWS it comes from the Lambda
//! environment, locally [`local_config`] points every service at the emulator (moto on
//! 127.0.0.1) with static credentials. Retries: the SDK's standard mode (exponential backoff
//! with jitter, 3 attempts) applies to every call.

pub mod bootstrap;
pub mod local;

mod alert_ledger;
mod dynamodb_audit;
mod dynamodb_grants;
mod iam;
mod kms;
mod metrics;
mod s3;
mod sfn;
mod sns;
mod ssm;
mod sts;
mod util;

use aws_config::{BehaviorVersion, Region, SdkConfig};

pub use alert_ledger::DynamoAlertLedger;
pub use dynamodb_audit::DynamoAuditStore;
pub use dynamodb_grants::{DynamoGrantStore, DynamoPendingRequests};
pub use iam::IamRoleInspector;
pub(crate) use iam::iam_as;
pub use kms::KmsKeyGrants;
pub use metrics::StdoutMetrics;
pub use s3::{S3PolicyStore, S3Reports};
pub use sfn::SfnWorkflow;
pub use sns::SnsNotifier;
pub use ssm::SsmConfig;
pub use sts::StsVendor;

/// SDK configuration from the environment (Lambda: role credentials, `AWS_REGION`; honours
/// `AWS_ENDPOINT_URL` for a local emulator).
pub async fn env_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// SDK configuration for a local emulator at `endpoint` with static test credentials.
pub async fn local_config(endpoint: &str, region: &str) -> SdkConfig {
    let creds = aws_credential_types::Credentials::from_keys("testing", "testing", None);
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(creds)
        .load()
        .await
}
