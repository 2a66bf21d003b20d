//! SSM parameters ([`SsmConfig`]).

use aws_config::SdkConfig;
use warden_core::ports::{ConfigStore, PortError};

/// SSM parameters.
#[derive(Debug, Clone)]
pub struct SsmConfig {
    client: aws_sdk_ssm::Client,
}

impl SsmConfig {
    /// Parameters through the SSM of `config`.
    #[must_use]
    pub fn new(config: &SdkConfig) -> Self {
        SsmConfig {
            client: aws_sdk_ssm::Client::new(config),
        }
    }
}

impl ConfigStore for SsmConfig {
    async fn get_parameter(&self, name: &str) -> Result<String, PortError> {
        let out = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "ssm",
                    "GetParameter",
                    format!("{}", aws_sdk_ssm::error::DisplayErrorContext(&e)),
                )
            })?;
        out.parameter()
            .and_then(|p| p.value())
            .map(str::to_owned)
            .ok_or_else(|| PortError::new("ssm", "GetParameter", format!("{name} has no value")))
    }
}
