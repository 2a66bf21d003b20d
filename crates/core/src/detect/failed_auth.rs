//! `failed-auth`: more than N authorization failures in a window per account (default 10 / 5 min).

use super::window::RateWindow;
use super::{Alert, Detector, Severity, alert, details};
use crate::cloudtrail::AccessRecord;

/// Error codes that mean "not allowed" (IAM, S3, KMS, EC2, STS).
pub const DENIED_CODES: [&str; 9] = [
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthFailure",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
];

#[derive(Debug)]
pub(super) struct FailedAuth {
    window: RateWindow,
    threshold: u64,
    secs: u64,
}

impl FailedAuth {
    pub(super) fn new(threshold: u64, secs: u64) -> Self {
        FailedAuth {
            window: RateWindow::new(threshold, secs),
            threshold,
            secs,
        }
    }
}

impl Detector for FailedAuth {
    fn name(&self) -> &'static str {
        "failed-auth"
    }
    fn observe(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>) {
        let Some(code) = &r.error_code else { return };
        if !DENIED_CODES.contains(&code.as_ref()) {
            return;
        }
        if let Some(n) = self
            .window
            .add(&r.account_id, r.epoch_ms.div_euclid(1000), 1)
        {
            out.push(alert(
                self.name(),
                Severity::High,
                r,
                format!("{} had more than {} denied calls in {} s (last: {} {code})", r.account_id, self.threshold, self.secs, r.action),
                details!({"failures": n, "threshold": self.threshold, "window_seconds": self.secs, "last_error": code}),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::with;
    use super::*;

    #[test]
    fn eleven_denials_fire_other_errors_do_not() {
        let mut d = FailedAuth::new(10, 300);
        let mut out = Vec::new();
        for i in 0..20 {
            d.observe(
                &with(|r| {
                    r.error_code = Some("NoSuchKey".into());
                    r.timestamp = format!("2026-11-23T10:00:{i:02}.000Z").into();
                }),
                &mut out,
            );
        }
        for i in 0..10 {
            d.observe(
                &with(|r| {
                    r.error_code = Some("AccessDenied".into());
                    r.timestamp = format!("2026-11-23T10:01:{i:02}.000Z").into();
                }),
                &mut out,
            );
        }
        assert!(out.is_empty());
        d.observe(
            &with(|r| {
                r.error_code = Some("AccessDeniedException".into());
                r.timestamp = "2026-11-23T10:02:00.000Z".into();
            }),
            &mut out,
        );
        assert_eq!(out.len(), 1);
    }
}
