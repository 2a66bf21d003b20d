//! `key-loss`: the KMS key is being disabled or scheduled for deletion (data would become
//! unreadable).

use super::{Alert, Detector, Severity, alert, details};
use crate::cloudtrail::AccessRecord;

pub(super) const EVENTS: [&str; 3] = [
    "DisableKey",
    "ScheduleKeyDeletion",
    "DeleteImportedKeyMaterial",
];

#[derive(Debug)]
pub(super) struct KeyLoss;

impl Detector for KeyLoss {
    fn name(&self) -> &'static str {
        "key-loss"
    }
    fn observe(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>) {
        if r.event_source != "kms.amazonaws.com" || !EVENTS.contains(&r.event_name.as_ref()) {
            return;
        }
        out.push(alert(
            self.name(),
            if r.success_status { Severity::Critical } else { Severity::High },
            r,
            format!("{} by {} (attempted: {})", r.action, r.principal_arn, !r.success_status),
            details!({"action": r.action, "principal_arn": r.principal_arn, "success": r.success_status}),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::with;
    use super::*;

    #[test]
    fn disable_and_schedule_deletion() {
        let mut out = Vec::new();
        KeyLoss.observe(
            &with(|r| {
                r.event_source = "kms.amazonaws.com".into();
                r.event_name = "Decrypt".into();
            }),
            &mut out,
        );
        assert!(out.is_empty());
        KeyLoss.observe(
            &with(|r| {
                r.event_source = "kms.amazonaws.com".into();
                r.event_name = "ScheduleKeyDeletion".into();
            }),
            &mut out,
        );
        KeyLoss.observe(
            &with(|r| {
                r.event_source = "kms.amazonaws.com".into();
                r.event_name = "DisableKey".into();
                r.success_status = false;
            }),
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].severity, Severity::Critical);
        assert_eq!(out[1].severity, Severity::High);
    }
}
