//! `audit-tampering`: someone is switching off or changing the audit trail itself.

use super::{Alert, Detector, Severity, alert, details};
use crate::cloudtrail::AccessRecord;

pub(super) const EVENTS: [&str; 9] = [
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "PutInsightSelectors",
    "DeleteEventDataStore",
    "UpdateEventDataStore",
    "StopEventDataStoreIngestion",
    "DeleteChannel",
];

#[derive(Debug)]
pub(super) struct AuditTampering;

impl Detector for AuditTampering {
    fn name(&self) -> &'static str {
        "audit-tampering"
    }
    fn observe(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>) {
        if r.event_source != "cloudtrail.amazonaws.com" || !EVENTS.contains(&r.event_name.as_ref())
        {
            return;
        }
        out.push(alert(
            self.name(),
            Severity::Critical,
            r,
            format!("{} by {} (success: {})", r.action, r.principal_arn, r.success_status),
            details!({"action": r.action, "principal_arn": r.principal_arn, "source_ip": r.source_ip, "success": r.success_status}),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::with;
    use super::*;

    #[test]
    fn trail_changes_fire_reads_do_not() {
        let mut out = Vec::new();
        let ct = |n: &'static str| {
            with(move |r| {
                r.event_source = "cloudtrail.amazonaws.com".into();
                r.event_name = n.into();
            })
        };
        AuditTampering.observe(&ct("DescribeTrails"), &mut out);
        AuditTampering.observe(&ct("LookupEvents"), &mut out);
        assert!(out.is_empty());
        for n in [
            "StopLogging",
            "DeleteTrail",
            "PutEventSelectors",
            "DeleteEventDataStore",
        ] {
            AuditTampering.observe(&ct(n), &mut out);
        }
        assert_eq!(out.len(), 4);
    }
}
