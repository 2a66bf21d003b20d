//! Governance: compare what is live with what the registry says should be (daily check).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::grant::Registry;
use crate::policy::model::{Policy, Statement};
use crate::policy::render::{self, RenderSettings};
use crate::ports::RoleFacts;
use crate::reconcile::{self, LiveGrant};

/// One difference between desired and live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// `bucket-policy`, `kms-grants`, `consumer-role`, `registry`.
    pub kind: &'static str,
    /// The account concerned, if one.
    pub account_id: Option<String>,
    /// What differs and what to do.
    pub detail: String,
}

/// Drift of the bucket policy and KMS grants (what the reconciler would change).
///
/// # Errors
/// The render itself fails (over budget): reported as drift by the caller.
pub fn policy_drift(
    registry: &Registry,
    settings: &RenderSettings,
    baseline: Vec<Statement>,
    live_policy: Option<&str>,
    live_grants: &[LiveGrant],
    now: DateTime<Utc>,
) -> Result<Vec<Drift>, render::RenderError> {
    let plan = reconcile::plan(registry, settings, baseline, live_policy, live_grants, now)?;
    let mut out = Vec::new();
    if plan.bucket_policy.is_some() {
        out.push(Drift {
            kind: "bucket-policy",
            account_id: None,
            detail: match live_policy {
                None => "the shared bucket has no policy; run the policy-reconciler".into(),
                Some(_) => "the live bucket policy differs from the render of the registry (edited by hand, or the reconciler has not run); run the policy-reconciler and find who changed it in CloudTrail (PutBucketPolicy)".into(),
            },
        });
    }
    for g in &plan.create_grants {
        out.push(Drift {
            kind: "kms-grants",
            account_id: Some(g.account_id.clone()),
            detail: format!("KMS grant {} is missing", g.name),
        });
    }
    for g in &plan.retire_grants {
        out.push(Drift {
            kind: "kms-grants",
            account_id: None,
            detail: format!(
                "KMS grant {} ({}) is not in the registry",
                g.name.as_deref().unwrap_or("?"),
                g.grant_id
            ),
        });
    }
    Ok(out)
}

/// Drift of one consumer role: it must exist, carry no managed policies, and its inline policies
/// must allow nothing on the shared bucket outside the account's granted prefixes.
#[must_use]
pub fn role_drift(
    account: &str,
    facts: &RoleFacts,
    registry: &Registry,
    settings: &RenderSettings,
    now: DateTime<Utc>,
) -> Vec<Drift> {
    let mut out = Vec::new();
    let d = |detail: String| Drift {
        kind: "consumer-role",
        account_id: Some(account.to_owned()),
        detail,
    };
    if !facts.exists {
        out.push(d(format!(
            "role {} does not exist: apply consumer-role/ in account {account}",
            settings.consumer_role_name
        )));
        return out;
    }
    for arn in &facts.attached_policies {
        out.push(d(format!(
            "unexpected managed policy {arn} attached to the consumer role"
        )));
    }
    let granted: Vec<String> = registry
        .active(now)
        .filter(|g| g.account_id.as_str() == account)
        .flat_map(|g| {
            g.allowed_prefixes
                .iter()
                .map(|p| format!("{}/{}", settings.bucket_arn(), p))
        })
        .collect();
    for doc in &facts.inline_policies {
        let Ok(p) = Policy::parse(doc) else {
            out.push(d(
                "an inline policy of the consumer role does not parse".into()
            ));
            continue;
        };
        for st in &p.statements {
            for r in st.resource.iter().flat_map(|r| r.items.iter()) {
                let on_bucket_objects = r.starts_with(&format!("{}/", settings.bucket_arn()));
                if on_bucket_objects && !granted.iter().any(|g| r.starts_with(g.as_str())) {
                    out.push(d(format!("the consumer role's policy reaches {r}, outside the account's granted prefixes")));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::{AccountId, Timestamp};

    fn settings() -> RenderSettings {
        RenderSettings {
            partition: "aws".into(),
            region: "us-east-1".into(),
            primary_account: AccountId::parse("111111111111").unwrap(),
            bucket: "shared".into(),
            kms_key_arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
            consumer_role_name: "warden-consumer".into(),
            require_mfa: false,
            vending_role_arn: None,
        }
    }

    fn now() -> DateTime<Utc> {
        Timestamp::parse("2026-11-23T00:00:00Z").unwrap().0
    }

    fn registry() -> Registry {
        Registry::from_json(r#"{"consumer_accounts":[{"account_id":"210000000000","allowed_prefixes":["analytics/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#, now()).unwrap()
    }

    #[test]
    fn policy_in_step_has_no_drift_hand_edit_has() {
        let s = settings();
        let reg = registry();
        let p = render::bucket_policy(&reg, &s, now())
            .unwrap()
            .policy
            .to_compact_json();
        let grants: Vec<LiveGrant> = render::kms(&reg, &s, now())
            .unwrap()
            .grants
            .iter()
            .map(|g| LiveGrant {
                grant_id: "g1".into(),
                name: Some(g.name.clone()),
                grantee_principal: g.grantee_principal.clone(),
                operations: g.operations.clone(),
            })
            .collect();
        assert!(
            policy_drift(
                &reg,
                &s,
                render::baseline_statements(&s),
                Some(&p),
                &grants,
                now()
            )
            .unwrap()
            .is_empty()
        );
        let edited = p.replace("analytics/*", "*");
        let d = policy_drift(
            &reg,
            &s,
            render::baseline_statements(&s),
            Some(&edited),
            &[],
            now(),
        )
        .unwrap();
        assert_eq!(
            d.iter().map(|x| x.kind).collect::<Vec<_>>(),
            vec!["bucket-policy", "kms-grants"]
        );
    }

    #[test]
    fn role_checks() {
        let s = settings();
        let reg = registry();
        let missing = RoleFacts {
            exists: false,
            inline_policies: vec![],
            attached_policies: vec![],
        };
        assert_eq!(
            role_drift("210000000000", &missing, &reg, &s, now()).len(),
            1
        );
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/analytics/*"}]}"#;
        let wide = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}"#;
        let good = RoleFacts {
            exists: true,
            inline_policies: vec![ok.into()],
            attached_policies: vec![],
        };
        assert!(role_drift("210000000000", &good, &reg, &s, now()).is_empty());
        let bad = RoleFacts {
            exists: true,
            inline_policies: vec![wide.into()],
            attached_policies: vec!["arn:aws:iam::aws:policy/AmazonS3FullAccess".into()],
        };
        assert_eq!(role_drift("210000000000", &bad, &reg, &s, now()).len(), 2);
    }
}
