//! The monthly cost model: per-account requests, bytes out and an estimate from a configurable
//! price table (the cost-reporter Lambda writes it to the audit bucket and summarises it to SNS).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Prices (USD) — from the `PRICE_TABLE` setting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    /// Per GB (10^9 bytes) transferred out.
    pub per_gb_transfer_usd: f64,
    /// Per 1,000 requests.
    pub per_1000_requests_usd: f64,
}

/// Usage of one account over the period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Requests recorded in the access log.
    pub requests: u64,
    /// Bytes downloaded.
    pub bytes_out: u64,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// Consumer account.
    pub account_id: String,
    /// Requests.
    pub requests: u64,
    /// Bytes out.
    pub bytes_out: u64,
    /// Estimated cost in USD, rounded to cents.
    pub estimated_usd: f64,
}

/// The monthly report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `YYYY-MM`.
    pub month: String,
    /// Prices used.
    pub prices: PriceTable,
    /// One line per account, highest cost first.
    pub lines: Vec<Line>,
    /// Sum of the estimates.
    pub total_usd: f64,
}

/// The previous calendar month of `now`: `(start, end, "YYYY-MM")`, end exclusive.
#[must_use]
pub fn previous_month(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>, String) {
    let first_this = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or_default();
    let first_prev = if now.month() == 1 {
        NaiveDate::from_ymd_opt(now.year() - 1, 12, 1)
    } else {
        NaiveDate::from_ymd_opt(now.year(), now.month() - 1, 1)
    }
    .unwrap_or_default();
    let at = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
    (
        at(first_prev),
        at(first_this),
        first_prev.format("%Y-%m").to_string(),
    )
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Price the usage.
#[must_use]
pub fn report(month: &str, prices: PriceTable, usage: &BTreeMap<String, Usage>) -> Report {
    let mut lines: Vec<Line> = usage
        .iter()
        .map(|(account, u)| Line {
            account_id: account.clone(),
            requests: u.requests,
            bytes_out: u.bytes_out,
            estimated_usd: cents(
                u.bytes_out as f64 / 1e9 * prices.per_gb_transfer_usd
                    + u.requests as f64 / 1000.0 * prices.per_1000_requests_usd,
            ),
        })
        .collect();
    lines.sort_by(|a, b| {
        b.estimated_usd
            .total_cmp(&a.estimated_usd)
            .then(a.account_id.cmp(&b.account_id))
    });
    let total_usd = cents(lines.iter().map(|l| l.estimated_usd).sum());
    Report {
        month: month.to_owned(),
        prices,
        lines,
        total_usd,
    }
}

impl Report {
    /// CSV with a header, one line per account.
    #[must_use]
    pub fn to_csv(&self) -> String {
        let mut out = String::from("month,account_id,requests,bytes_out,estimated_usd\n");
        for l in &self.lines {
            out.push_str(&format!(
                "{},{},{},{},{:.2}\n",
                self.month, l.account_id, l.requests, l.bytes_out, l.estimated_usd
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_month_boundaries() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let (from, to, m) = previous_month(t("2026-01-01T07:00:00Z"));
        assert_eq!(
            (from.to_rfc3339(), to.to_rfc3339(), m.as_str()),
            (
                "2025-12-01T00:00:00+00:00".into(),
                "2026-01-01T00:00:00+00:00".into(),
                "2025-12"
            )
        );
        assert_eq!(previous_month(t("2026-11-23T10:00:00Z")).2, "2026-10");
    }

    #[test]
    fn prices_and_orders() {
        let prices = PriceTable {
            per_gb_transfer_usd: 0.09,
            per_1000_requests_usd: 0.0004,
        };
        let usage = BTreeMap::from([
            (
                "a".to_owned(),
                Usage {
                    requests: 1_000_000,
                    bytes_out: 0,
                },
            ),
            (
                "b".to_owned(),
                Usage {
                    requests: 10,
                    bytes_out: 100_000_000_000,
                },
            ),
        ]);
        let r = report("2026-10", prices, &usage);
        assert_eq!(r.lines[0].account_id, "b");
        assert!((r.lines[0].estimated_usd - 9.0).abs() < 1e-9);
        assert!((r.lines[1].estimated_usd - 0.4).abs() < 1e-9);
        assert!((r.total_usd - 9.4).abs() < 1e-9);
        assert!(r.to_csv().starts_with(
            "month,account_id,requests,bytes_out,estimated_usd\n2026-10,b,10,100000000000,9.00\n"
        ));
    }
}
