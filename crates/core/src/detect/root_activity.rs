//! `root-activity`: any call made with the root user's credentials.

use super::{Alert, Detector, Severity, alert, details};
use crate::cloudtrail::AccessRecord;

#[derive(Debug)]
pub(super) struct RootActivity;

impl Detector for RootActivity {
    fn name(&self) -> &'static str {
        "root-activity"
    }
    fn observe(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>) {
        if r.identity_type != "Root" {
            return;
        }
        out.push(alert(
            self.name(),
            Severity::High,
            r,
            format!("root user of {} called {}", r.account_id, r.action),
            details!({"action": r.action, "source_ip": r.source_ip, "mfa": r.mfa, "success": r.success_status}),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::with;
    use super::*;

    #[test]
    fn root_only() {
        let mut out = Vec::new();
        RootActivity.observe(&with(|_| {}), &mut out);
        assert!(out.is_empty());
        RootActivity.observe(&with(|r| r.identity_type = "Root".into()), &mut out);
        assert_eq!(out.len(), 1);
    }
}
