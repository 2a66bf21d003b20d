//! `large-transfer`: one request moving more bytes than the threshold (possible exfiltration).

use super::{Alert, Detector, Severity, alert, details};
use crate::cloudtrail::AccessRecord;

#[derive(Debug)]
pub(super) struct LargeTransfer {
    threshold: u64,
}

impl LargeTransfer {
    pub(super) fn new(threshold: u64) -> Self {
        LargeTransfer { threshold }
    }
}

impl Detector for LargeTransfer {
    fn name(&self) -> &'static str {
        "large-transfer"
    }
    fn observe(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>) {
        if r.bytes_transferred < self.threshold {
            return;
        }
        out.push(alert(
            self.name(),
            Severity::Medium,
            r,
            format!("{} moved {} bytes in one request ({})", r.account_id, r.bytes_transferred, r.action),
            details!({"bytes": r.bytes_transferred, "threshold": self.threshold, "object_key": r.object_key, "principal_arn": r.principal_arn}),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::with;
    use super::*;

    #[test]
    fn threshold_is_inclusive() {
        let mut d = LargeTransfer::new(1000);
        let mut out = Vec::new();
        d.observe(&with(|r| r.bytes_transferred = 999), &mut out);
        assert!(out.is_empty());
        d.observe(&with(|r| r.bytes_transferred = 1000), &mut out);
        assert_eq!(out.len(), 1);
    }
}
