//! cost-reporter (monthly): per-account requests, bytes out and estimated cost for the previous
//! calendar month, from the access-log table and a configurable price table; written to the audit
//! bucket as JSON and CSV (`cost-reports/YYYY-MM.{json,csv}`) and summarised to SNS.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use warden_core::cost::{self, PriceTable, Report};
use warden_core::ports::{GrantStore, Notifier, PortError, ReportStore, UsageQuery};

/// Build, store and announce the report for the month before `now`.
///
/// # Errors
/// A service call failed; nothing is announced unless both files were written.
pub async fn run<G: GrantStore, U: UsageQuery, R: ReportStore, N: Notifier>(
    grants: &G,
    usage: &U,
    reports: &R,
    notifier: &N,
    prices: PriceTable,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<Report, PortError> {
    let (from, to, month) = cost::previous_month(now);
    let mut totals = BTreeMap::new();
    for account in grants.accounts().await? {
        let u = usage.usage(&account, from, to).await?;
        totals.insert(account, u);
    }
    let report = cost::report(&month, prices, &totals);
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| PortError::new("report", "serialize", e.to_string()))?;
    reports
        .put_report(&format!("{prefix}{month}.json"), &json, "application/json")
        .await?;
    reports
        .put_report(
            &format!("{prefix}{month}.csv"),
            &report.to_csv(),
            "text/csv",
        )
        .await?;
    let top: Vec<String> = report
        .lines
        .iter()
        .take(5)
        .map(|l| {
            format!(
                "  {}  {} requests, {:.1} GB out, ${:.2}",
                l.account_id,
                l.requests,
                l.bytes_out as f64 / 1e9,
                l.estimated_usd
            )
        })
        .collect();
    let summary = format!(
        "Warden cost report {month}: {} accounts, estimated ${:.2}.\nTop accounts:\n{}\nFull report: {prefix}{month}.csv in the audit bucket.",
        report.lines.len(),
        report.total_usd,
        top.join("\n")
    );
    notifier
        .publish(&format!("Warden cost report {month}"), &summary)
        .await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use warden_core::cost::Usage;
    use warden_core::grant::{Grant, GrantInput, Registry, Timestamp};
    use warden_testkit::{FakeGrants, FakeNotifier};

    struct FixedUsage;
    impl UsageQuery for FixedUsage {
        async fn usage(
            &self,
            account_id: &str,
            from: DateTime<Utc>,
            to: DateTime<Utc>,
        ) -> Result<Usage, PortError> {
            assert_eq!(
                (from.to_rfc3339().as_str(), to.to_rfc3339().as_str()),
                ("2026-10-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00")
            );
            Ok(if account_id.ends_with('0') {
                Usage {
                    requests: 2000,
                    bytes_out: 50_000_000_000,
                }
            } else {
                Usage::default()
            })
        }
    }

    #[derive(Default)]
    struct Files(Mutex<BTreeMap<String, String>>);
    impl ReportStore for Files {
        async fn put_report(&self, key: &str, body: &str, _ct: &str) -> Result<(), PortError> {
            self.0
                .lock()
                .unwrap()
                .insert(key.to_owned(), body.to_owned());
            Ok(())
        }
    }

    #[tokio::test]
    async fn monthly_report_written_and_announced() {
        let now = Timestamp::parse("2026-11-01T07:00:00Z").unwrap().0;
        let grants: Vec<Grant> = ["210000000000", "210000001001"]
            .iter()
            .map(|a| {
                Grant::from_input(
                    &GrantInput {
                        account_id: (*a).into(),
                        name: None,
                        allowed_prefixes: vec!["d/".into()],
                        access_level: "read".into(),
                        expiration_date: "2027-01-01T00:00:00Z".into(),
                        owner_email: None,
                        external_id: None,
                        created_by: None,
                        created_at: None,
                    },
                    now,
                )
                .unwrap()
            })
            .collect();
        let (g, files, n) = (
            FakeGrants::new(Registry::new(grants).unwrap()),
            Files::default(),
            FakeNotifier::default(),
        );
        let prices = PriceTable {
            per_gb_transfer_usd: 0.09,
            per_1000_requests_usd: 0.0004,
        };
        let r = run(&g, &FixedUsage, &files, &n, prices, "cost-reports/", now)
            .await
            .unwrap();
        assert_eq!(r.month, "2026-10");
        assert!((r.total_usd - 4.5).abs() < 0.01, "{}", r.total_usd);
        let f = files.0.lock().unwrap();
        assert!(
            f.contains_key("cost-reports/2026-10.json")
                && f.contains_key("cost-reports/2026-10.csv")
        );
        assert!(f["cost-reports/2026-10.csv"].contains("210000000000,2000,50000000000,4.50"));
        assert!(n.messages.lock().unwrap()[0].1.contains("estimated $4.50"));
    }
}
