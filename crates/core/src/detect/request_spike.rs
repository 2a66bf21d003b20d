//! `request-spike`: more than N S3 requests in a window per account (default 1,000 / 5 minutes).

use super::window::RateWindow;
use super::{Alert, Detector, Severity, alert, details, is_service};
use crate::cloudtrail::AccessRecord;

#[derive(Debug)]
pub(super) struct RequestSpike {
    window: RateWindow,
    threshold: u64,
    secs: u64,
}

impl RequestSpike {
    pub(super) fn new(threshold: u64, secs: u64) -> Self {
        RequestSpike {
            window: RateWindow::new(threshold, secs),
            threshold,
            secs,
        }
    }
}

impl Detector for RequestSpike {
    fn name(&self) -> &'static str {
        "request-spike"
    }
    fn observe(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>) {
        if r.event_source != "s3.amazonaws.com" || is_service(r) {
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
                format!(
                    "{} made more than {} S3 requests in {} s",
                    r.account_id, self.threshold, self.secs
                ),
                details!({"requests": n, "threshold": self.threshold, "window_seconds": self.secs}),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::with;
    use super::*;

    #[test]
    fn more_than_threshold_in_window() {
        let mut d = RequestSpike::new(1000, 300);
        let mut out = Vec::new();
        for i in 0..1000 {
            d.observe(
                &with(|r| {
                    r.timestamp =
                        format!("2026-11-23T10:0{}:{:02}.000Z", i / 240, (i % 240) / 4).into()
                }),
                &mut out,
            );
        }
        assert!(out.is_empty(), "exactly 1000 is not more than 1000");
        d.observe(
            &with(|r| r.timestamp = "2026-11-23T10:04:10.000Z".into()),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        // Spread over an hour, 2000 requests never fire.
        let mut calm = RequestSpike::new(1000, 300);
        let mut none = Vec::new();
        for i in 0..2000 {
            calm.observe(
                &with(|r| {
                    r.timestamp = format!(
                        "2026-11-23T1{}:{:02}:{:02}.000Z",
                        i / 1000,
                        (i % 1000) * 60 / 1000,
                        (i * 7) % 60
                    )
                    .into()
                }),
                &mut none,
            );
        }
        assert!(none.is_empty());
    }
}
