//! KMS grants ([`KmsKeyGrants`]).

use aws_config::SdkConfig;
use warden_core::policy::render::KmsGrantSpec;
use warden_core::ports::{KeyGrants, PortError};
use warden_core::reconcile::LiveGrant;

/// KMS grants.
#[derive(Debug, Clone)]
pub struct KmsKeyGrants {
    client: aws_sdk_kms::Client,
}

impl KmsKeyGrants {
    /// Grants through the KMS of `config`.
    #[must_use]
    pub fn new(config: &SdkConfig) -> Self {
        KmsKeyGrants {
            client: aws_sdk_kms::Client::new(config),
        }
    }
}

impl KeyGrants for KmsKeyGrants {
    async fn list_grants(&self, key_arn: &str) -> Result<Vec<LiveGrant>, PortError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_grants()
                .key_id(key_arn)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| {
                    PortError::new(
                        "kms",
                        "ListGrants",
                        format!("{}", aws_sdk_kms::error::DisplayErrorContext(&e)),
                    )
                })?;
            for g in page.grants() {
                out.push(LiveGrant {
                    grant_id: g.grant_id().unwrap_or_default().to_owned(),
                    name: g.name().map(str::to_owned),
                    grantee_principal: g.grantee_principal().unwrap_or_default().to_owned(),
                    operations: g
                        .operations()
                        .iter()
                        .map(|o| o.as_str().to_owned())
                        .collect(),
                    encryption_context_subset: g
                        .constraints()
                        .and_then(|c| c.encryption_context_subset())
                        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                    encryption_context_equals: g
                        .constraints()
                        .and_then(|c| c.encryption_context_equals())
                        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                });
            }
            match page.next_marker() {
                Some(m) if page.truncated() => marker = Some(m.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn get_key_policy(&self, key_arn: &str) -> Result<String, PortError> {
        let out = self
            .client
            .get_key_policy()
            .key_id(key_arn)
            .policy_name("default")
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "kms",
                    "GetKeyPolicy",
                    format!("{}", aws_sdk_kms::error::DisplayErrorContext(&e)),
                )
            })?;
        out.policy()
            .map(str::to_owned)
            .ok_or_else(|| PortError::new("kms", "GetKeyPolicy", "the response has no Policy"))
    }

    async fn create_grant(&self, key_arn: &str, spec: &KmsGrantSpec) -> Result<String, PortError> {
        let ops = spec
            .operations
            .iter()
            .map(|o| aws_sdk_kms::types::GrantOperation::from(o.as_str()))
            .collect();
        let constraints = aws_sdk_kms::types::GrantConstraints::builder()
            .set_encryption_context_subset(Some(
                spec.encryption_context_subset.clone().into_iter().collect(),
            ))
            .build();
        let out = self
            .client
            .create_grant()
            .key_id(key_arn)
            .grantee_principal(&spec.grantee_principal)
            .name(&spec.name)
            .set_operations(Some(ops))
            .constraints(constraints)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "kms",
                    "CreateGrant",
                    format!("{}", aws_sdk_kms::error::DisplayErrorContext(&e)),
                )
            })?;
        Ok(out.grant_id().unwrap_or_default().to_owned())
    }

    async fn revoke_grant(&self, key_arn: &str, grant_id: &str) -> Result<(), PortError> {
        self.client
            .revoke_grant()
            .key_id(key_arn)
            .grant_id(grant_id)
            .send()
            .await
            .map_err(|e| {
                PortError::new(
                    "kms",
                    "RevokeGrant",
                    format!("{}", aws_sdk_kms::error::DisplayErrorContext(&e)),
                )
            })?;
        Ok(())
    }
}
