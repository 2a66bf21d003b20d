//! `off-hours`: S3 object access outside business hours (in the configured time zone and days).

use chrono::{Datelike, Timelike, Weekday};

use super::{Alert, Detector, Severity, alert, details, is_service};
use crate::cloudtrail::AccessRecord;

#[derive(Debug)]
pub(super) struct OffHours {
    tz: chrono_tz::Tz,
    start: u32,
    end: u32,
    days: Vec<Weekday>,
    bucket: Option<String>,
}

impl OffHours {
    pub(super) fn new(
        tz: chrono_tz::Tz,
        start: u32,
        end: u32,
        days: Vec<Weekday>,
        bucket: Option<String>,
    ) -> Self {
        OffHours {
            tz,
            start,
            end,
            days,
            bucket,
        }
    }
}

impl Detector for OffHours {
    fn name(&self) -> &'static str {
        "off-hours"
    }
    fn observe(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>) {
        if r.event_source != "s3.amazonaws.com" || r.object_key.is_none() || is_service(r) {
            return;
        }
        if self.bucket.is_some() && self.bucket.as_deref() != r.bucket.as_deref() {
            return;
        }
        let Some(t) = r.time() else { return };
        let local = t.with_timezone(&self.tz);
        let minute = local.hour() * 60 + local.minute();
        if self.days.contains(&local.weekday()) && (self.start..self.end).contains(&minute) {
            return;
        }
        out.push(alert(
            self.name(),
            Severity::Low,
            r,
            format!("{} {} at {} {:02}:{:02} local time ({})", r.account_id, r.action, local.weekday(), local.hour(), local.minute(), self.tz),
            details!({"local_time": local.to_rfc3339(), "time_zone": self.tz.name(), "object_key": r.object_key}),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::with;
    use super::*;

    fn d(tz: &str) -> OffHours {
        let days = vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ];
        OffHours::new(tz.parse().unwrap(), 9 * 60, 18 * 60, days, None)
    }

    #[test]
    fn business_hours_in_a_time_zone() {
        let mut out = Vec::new();
        let at = |t: &'static str| with(move |r| r.timestamp = t.into());
        d("UTC").observe(&at("2026-11-23T10:00:00.000Z"), &mut out); // Monday 10:00
        d("UTC").observe(&at("2026-11-23T17:59:00.000Z"), &mut out);
        assert!(out.is_empty());
        d("UTC").observe(&at("2026-11-23T18:00:00.000Z"), &mut out); // end is exclusive
        d("UTC").observe(&at("2026-11-22T10:00:00.000Z"), &mut out); // Sunday
        // 10:00 UTC is 05:00 in New York: off hours there.
        d("America/New_York").observe(&at("2026-11-23T10:00:00.000Z"), &mut out);
        assert_eq!(out.len(), 3);
        // 08:30 UTC is 09:30 in Paris (CET): business hours there.
        let mut quiet = Vec::new();
        d("Europe/Paris").observe(&at("2026-11-23T08:30:00.000Z"), &mut quiet);
        assert!(quiet.is_empty());
        // Management events are not "access".
        d("UTC").observe(
            &with(|r| {
                r.timestamp = "2026-11-22T03:00:00.000Z".into();
                r.object_key = None;
            }),
            &mut quiet,
        );
        assert!(quiet.is_empty());
    }
}
