//! STS credential vending ([`StsVendor`]).

use aws_config::SdkConfig;
use warden_core::ports::PortError;

/// STS AssumeRole for credential vending.
#[derive(Debug, Clone)]
pub struct StsVendor {
    client: aws_sdk_sts::Client,
}

impl StsVendor {
    /// A vendor on the STS of `config`.
    #[must_use]
    pub fn new(config: &SdkConfig) -> Self {
        StsVendor {
            client: aws_sdk_sts::Client::new(config),
        }
    }
}

impl warden_core::ports::CredentialVendor for StsVendor {
    async fn assume(
        &self,
        role_arn: &str,
        session_name: &str,
        external_id: Option<&str>,
        session_policy: &str,
        duration_seconds: u32,
        tags: &[(String, String)],
        source_identity: &str,
    ) -> Result<warden_core::ports::Credentials, PortError> {
        let tags = tags
            .iter()
            .map(|(k, v)| aws_sdk_sts::types::Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PortError::new("sts", "AssumeRole", e.to_string()))?;
        let out = self
            .client
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session_name)
            .set_external_id(external_id.map(str::to_owned))
            .policy(session_policy)
            .duration_seconds(i32::try_from(duration_seconds).unwrap_or(3600))
            .set_tags(Some(tags))
            .source_identity(source_identity)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "sts",
                    "AssumeRole",
                    format!("{}", aws_sdk_sts::error::DisplayErrorContext(&e)),
                )
            })?;
        let c = out
            .credentials()
            .ok_or_else(|| PortError::new("sts", "AssumeRole", "no credentials in the response"))?;
        Ok(warden_core::ports::Credentials {
            access_key_id: c.access_key_id().to_owned(),
            secret_access_key: c.secret_access_key().to_owned(),
            session_token: c.session_token().to_owned(),
            expiration: c.expiration().to_string(),
        })
    }
}
