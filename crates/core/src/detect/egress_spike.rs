//! `egress-spike`: more than N bytes downloaded in a window per account (default 100 GiB / hour).

use super::window::RateWindow;
use super::{Alert, Detector, Severity, alert, details};
use crate::cloudtrail::AccessRecord;

#[derive(Debug)]
pub(super) struct EgressSpike {
    window: RateWindow,
    threshold: u64,
    secs: u64,
}

impl EgressSpike {
    pub(super) fn new(threshold: u64, secs: u64) -> Self {
        EgressSpike {
            window: RateWindow::new(threshold, secs),
            threshold,
            secs,
        }
    }
}

impl Detector for EgressSpike {
    fn name(&self) -> &'static str {
        "egress-spike"
    }
    fn observe(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>) {
        if r.bytes_out == 0 {
            return;
        }
        if let Some(total) =
            self.window
                .add(&r.account_id, r.epoch_ms.div_euclid(1000), r.bytes_out)
        {
            out.push(alert(
                self.name(),
                Severity::High,
                r,
                format!(
                    "{} downloaded more than {} bytes in {} s",
                    r.account_id, self.threshold, self.secs
                ),
                details!({"bytes": total, "threshold": self.threshold, "window_seconds": self.secs}),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::with;
    use super::*;

    #[test]
    fn hundred_gib_in_an_hour() {
        let gib = 1u64 << 30;
        let mut d = EgressSpike::new(100 * gib, 3600);
        let mut out = Vec::new();
        for m in 0..50 {
            d.observe(
                &with(|r| {
                    r.bytes_out = 2 * gib;
                    r.timestamp = format!("2026-11-23T10:{m:02}:00.000Z").into();
                }),
                &mut out,
            );
        }
        assert!(out.is_empty(), "100 GiB exactly is not more");
        d.observe(
            &with(|r| {
                r.bytes_out = 1;
                r.timestamp = "2026-11-23T10:55:00.000Z".into();
            }),
            &mut out,
        );
        assert_eq!(out.len(), 1);
    }
}
