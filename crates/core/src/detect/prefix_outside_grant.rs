//! `prefix-outside-grant`: a registered account touching an object outside its granted prefixes,
//! or writing under a read grant (attempts count too: a denied probe is still a signal).

use super::{Alert, Detector, Known, S3_WRITE_EVENTS, Severity, alert, details};
use crate::cloudtrail::AccessRecord;

#[derive(Debug)]
pub(super) struct PrefixOutsideGrant {
    known: Known,
}

impl PrefixOutsideGrant {
    pub(super) fn new(known: Known) -> Self {
        PrefixOutsideGrant { known }
    }
}

impl Detector for PrefixOutsideGrant {
    fn name(&self) -> &'static str {
        "prefix-outside-grant"
    }
    fn set_registry(&mut self, registry: &std::sync::Arc<crate::grant::Registry>) {
        self.known.registry = registry.clone();
    }
    fn observe(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>) {
        let Some(key) = &r.object_key else { return };
        if !self.known.on_shared_bucket(r) {
            return;
        }
        // An account without grants is unknown-account's job.
        let Some(grants) = self.known.registry.account(&r.account_id) else {
            return;
        };
        let Some(at) = r.time() else { return };
        let write = S3_WRITE_EVENTS.contains(&r.event_name.as_ref());
        if grants.allows(key, write, at) {
            return;
        }
        let what = if write && grants.allows(key, false, at) {
            "wrote under a read-only grant"
        } else {
            "accessed a key outside its granted prefixes (or after expiry)"
        };
        out.push(alert(
            self.name(),
            if r.success_status { Severity::High } else { Severity::Medium },
            r,
            format!("account {} {what}: {} {key}", r.account_id, r.action),
            details!({"object_key": key, "action": r.action, "write": write, "success": r.success_status, "principal_arn": r.principal_arn}),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::with;
    use super::super::unknown_account::test_known;
    use super::*;

    #[test]
    fn inside_is_quiet_outside_and_writes_fire() {
        let mut d = PrefixOutsideGrant::new(test_known());
        let mut out = Vec::new();
        d.observe(&with(|_| {}), &mut out);
        d.observe(&with(|r| r.account_id = "999999999999".into()), &mut out); // unknown-account's job
        assert!(out.is_empty());
        d.observe(&with(|r| r.object_key = Some("finance/x".into())), &mut out);
        d.observe(
            &with(|r| {
                r.event_name = "PutObject".into();
                r.action = "s3:PutObject".into();
            }),
            &mut out,
        );
        d.observe(
            &with(|r| r.timestamp = "2027-02-01T00:00:00.000Z".into()),
            &mut out,
        );
        assert_eq!(out.len(), 3);
        assert!(out[1].summary.contains("read-only grant"));
    }
}
