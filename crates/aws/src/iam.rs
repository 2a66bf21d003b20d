//! IAM in consumer accounts, read through their governance role ([`IamRoleInspector`]).

use aws_config::SdkConfig;
use warden_core::ports::PortError;

use crate::util::sdk_err;

/// Decode `%XX` escapes (IAM returns policy documents URL-encoded).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(
                std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                16,
            )
        {
            out.push(b);
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads consumer roles through the governance role of each consumer account.
#[derive(Debug, Clone)]
pub struct IamRoleInspector {
    config: SdkConfig,
}

impl IamRoleInspector {
    /// An inspector assuming roles with the credentials of `config`.
    #[must_use]
    pub fn new(config: &SdkConfig) -> Self {
        IamRoleInspector {
            config: config.clone(),
        }
    }
}

/// An IAM client acting as `role_arn` (STS AssumeRole, 15-minute session): how Warden reads IAM
/// in another account.
pub(crate) async fn iam_as(
    config: &SdkConfig,
    role_arn: &str,
    session_name: &str,
) -> Result<aws_sdk_iam::Client, PortError> {
    let out = aws_sdk_sts::Client::new(config)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session_name)
        .duration_seconds(900)
        .send()
        .await
        .map_err(sdk_err("sts", "AssumeRole"))?;
    let c = out
        .credentials()
        .ok_or_else(|| PortError::new("sts", "AssumeRole", "no credentials"))?;
    let creds = aws_credential_types::Credentials::from_keys(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
    );
    Ok(aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(config)
            .credentials_provider(creds)
            .build(),
    ))
}

impl warden_core::ports::RoleInspector for IamRoleInspector {
    async fn inspect(
        &self,
        governance_role_arn: &str,
        role_name: &str,
    ) -> Result<warden_core::ports::RoleFacts, PortError> {
        let iam = iam_as(&self.config, governance_role_arn, "warden-governance-check").await?;
        read_role(&iam, role_name).await
    }
}

/// A role in the caller's own account, read with the caller's credentials (`warden doctor` run
/// by a consumer: `iam:GetRole`, `iam:ListRolePolicies`, `iam:GetRolePolicy`,
/// `iam:ListAttachedRolePolicies` on its own role).
///
/// # Errors
/// An IAM call failed (a missing role is `exists: false`, not an error).
pub async fn read_own_role(
    config: &SdkConfig,
    role_name: &str,
) -> Result<warden_core::ports::RoleFacts, PortError> {
    read_role(&aws_sdk_iam::Client::new(config), role_name).await
}

/// GetRole, its inline policies and attached policies.
async fn read_role(
    iam: &aws_sdk_iam::Client,
    role_name: &str,
) -> Result<warden_core::ports::RoleFacts, PortError> {
    {
        let ierr = |op: &'static str| move |e: String| PortError::new("iam", op, e);
        // GetRole answers the trust policy (URL-encoded, as every IAM policy document) and the
        // permissions boundary: governance compares both with what consumer-role/ renders.
        let (trust_policy, permissions_boundary) =
            match iam.get_role().role_name(role_name).send().await {
                Ok(out) => {
                    let role = out.role();
                    (
                        role.and_then(|r| r.assume_role_policy_document())
                            .map(percent_decode),
                        role.and_then(|r| r.permissions_boundary())
                            .and_then(|b| b.permissions_boundary_arn())
                            .map(str::to_owned),
                    )
                }
                Err(e)
                    if e.as_service_error().is_some_and(
                        aws_sdk_iam::operation::get_role::GetRoleError::is_no_such_entity_exception,
                    ) =>
                {
                    return Ok(warden_core::ports::RoleFacts::missing());
                }
                Err(e) => {
                    return Err(ierr("GetRole")(format!(
                        "{}",
                        aws_sdk_iam::error::DisplayErrorContext(&e)
                    )));
                }
            };
        let names = iam
            .list_role_policies()
            .role_name(role_name)
            .send()
            .await
            .map_err(|e| {
                ierr("ListRolePolicies")(format!("{}", aws_sdk_iam::error::DisplayErrorContext(&e)))
            })?;
        let mut inline_policies = Vec::new();
        for name in names.policy_names() {
            let p = iam
                .get_role_policy()
                .role_name(role_name)
                .policy_name(name)
                .send()
                .await
                .map_err(|e| {
                    ierr("GetRolePolicy")(format!(
                        "{}",
                        aws_sdk_iam::error::DisplayErrorContext(&e)
                    ))
                })?;
            inline_policies.push(percent_decode(p.policy_document()));
        }
        let attached = iam
            .list_attached_role_policies()
            .role_name(role_name)
            .send()
            .await
            .map_err(|e| {
                ierr("ListAttachedRolePolicies")(format!(
                    "{}",
                    aws_sdk_iam::error::DisplayErrorContext(&e)
                ))
            })?;
        Ok(warden_core::ports::RoleFacts {
            exists: true,
            inline_policies,
            attached_policies: attached
                .attached_policies()
                .iter()
                .filter_map(|a| a.policy_arn().map(str::to_owned))
                .collect(),
            trust_policy,
            permissions_boundary,
        })
    }
}
