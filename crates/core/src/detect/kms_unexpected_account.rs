//! `kms-unexpected-account`: the key used (decrypt, data keys, grants) by an account that is
//! neither trusted nor in the registry.

use super::{Alert, Detector, Known, Severity, alert, details, is_service};
use crate::cloudtrail::AccessRecord;

pub(super) const USE_EVENTS: [&str; 9] = [
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncrypt",
    "ReEncryptFrom",
    "ReEncryptTo",
    "CreateGrant",
    "DescribeKey",
];

#[derive(Debug)]
pub(super) struct KmsUnexpectedAccount {
    known: Known,
}

impl KmsUnexpectedAccount {
    pub(super) fn new(known: Known) -> Self {
        KmsUnexpectedAccount { known }
    }
}

impl Detector for KmsUnexpectedAccount {
    fn name(&self) -> &'static str {
        "kms-unexpected-account"
    }
    fn set_registry(&mut self, registry: &std::sync::Arc<crate::grant::Registry>) {
        self.known.registry = registry.clone();
    }
    fn observe(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>) {
        if r.event_source != "kms.amazonaws.com"
            || !USE_EVENTS.contains(&r.event_name.as_ref())
            || is_service(r)
            || self.known.is_known(&r.account_id)
        {
            return;
        }
        out.push(alert(
            self.name(),
            Severity::High,
            r,
            format!("account {} used the key ({}) but holds no grant", r.account_id, r.action),
            details!({"action": r.action, "principal_arn": r.principal_arn, "success": r.success_status, "source_ip": r.source_ip}),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::with;
    use super::super::unknown_account::test_known;
    use super::*;

    #[test]
    fn unknown_accounts_using_the_key() {
        let mut d = KmsUnexpectedAccount::new(test_known());
        let kms = |acct: &'static str| {
            with(move |r| {
                r.event_source = "kms.amazonaws.com".into();
                r.event_name = "Decrypt".into();
                r.account_id = acct.into();
            })
        };
        let mut out = Vec::new();
        d.observe(&kms("210000000000"), &mut out);
        d.observe(&kms("111111111111"), &mut out);
        assert!(out.is_empty());
        d.observe(&kms("999999999999"), &mut out);
        assert_eq!(out.len(), 1);
    }
}
