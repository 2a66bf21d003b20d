//! `unknown-account`: an S3 call on the shared bucket by an account that holds no grant.

use super::{Alert, Detector, Known, Severity, alert, details, is_service};
use crate::cloudtrail::AccessRecord;

#[derive(Debug)]
pub(super) struct UnknownAccount {
    known: Known,
    skip_services: bool,
}

impl UnknownAccount {
    pub(super) fn new(known: Known, skip_services: bool) -> Self {
        UnknownAccount {
            known,
            skip_services,
        }
    }
}

impl Detector for UnknownAccount {
    fn name(&self) -> &'static str {
        "unknown-account"
    }
    fn set_registry(&mut self, registry: &std::sync::Arc<crate::grant::Registry>) {
        self.known.registry = registry.clone();
    }
    fn observe(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>) {
        if !self.known.on_shared_bucket(r)
            || (self.skip_services && is_service(r))
            || self.known.is_known(&r.account_id)
        {
            return;
        }
        out.push(alert(
            self.name(),
            Severity::High,
            r,
            format!("account {} is not in the registry but called {} on the shared bucket", r.account_id, r.action),
            details!({"principal_arn": r.principal_arn, "action": r.action, "object_key": r.object_key, "source_ip": r.source_ip, "success": r.success_status}),
        ));
    }
}

#[cfg(test)]
pub(crate) use tests::known as test_known;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::testutil::with;
    use super::*;
    use crate::grant::{Grant, GrantInput, Registry};

    pub(crate) fn known() -> Known {
        let g = Grant::from_input(
            &GrantInput {
                account_id: "210000000000".into(),
                name: None,
                allowed_prefixes: vec!["analytics/".into()],
                access_level: "read".into(),
                expiration_date: "2027-01-01T00:00:00Z".into(),
                owner_email: None,
                external_id: None,
                created_by: None,
                created_at: Some("2026-01-01T00:00:00Z".into()),
            },
            chrono::Utc::now(),
        )
        .unwrap();
        Known {
            registry: Arc::new(Registry::new(vec![g]).unwrap()),
            trusted: ["111111111111".to_owned()].into(),
            bucket: Some("shared".into()),
        }
    }

    #[test]
    fn flags_only_unknown_accounts_on_the_shared_bucket() {
        let mut d = UnknownAccount::new(known(), true);
        let mut out = Vec::new();
        d.observe(&with(|_| {}), &mut out);
        d.observe(&with(|r| r.account_id = "111111111111".into()), &mut out);
        d.observe(
            &with(|r| {
                r.account_id = "999999999999".into();
                r.bucket = Some("other".into());
            }),
            &mut out,
        );
        d.observe(
            &with(|r| {
                r.account_id = "unknown".into();
                r.identity_type = "AWSService".into();
            }),
            &mut out,
        );
        assert!(out.is_empty());
        d.observe(&with(|r| r.account_id = "999999999999".into()), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].detector, "unknown-account");
        assert_eq!(out[0].account_id, "999999999999");
    }
}
