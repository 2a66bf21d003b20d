//! CloudWatch Embedded Metric Format: metrics as structured log lines, extracted by CloudWatch
//! Logs without any PutMetricData call (DESIGN.md, decision 6).

use std::collections::BTreeMap;

use serde_json::json;

/// Per-account counters of one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountCounts {
    /// Requests seen.
    pub requests: u64,
    /// Bytes downloaded.
    pub bytes_out: u64,
    /// Denied requests.
    pub failed_auth: u64,
}

/// One EMF line with `metrics` (name, count), no dimensions: a run's counters, e.g. the
/// policy-reconciler's `RegistryItemsSkipped`.
#[must_use]
pub fn counters(namespace: &str, timestamp_ms: i64, metrics: &[(&str, u64)]) -> String {
    let mut line = serde_json::Map::new();
    let defs: Vec<serde_json::Value> = metrics
        .iter()
        .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
        .collect();
    line.insert(
        "_aws".into(),
        json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": [{
            "Namespace": namespace, "Dimensions": [[]], "Metrics": defs}]}),
    );
    for (name, n) in metrics {
        line.insert((*name).to_owned(), json!(n));
    }
    serde_json::Value::Object(line).to_string()
}

/// One EMF line per account (`Requests`, `BytesOut`, `FailedAuth` with dimension `AccountId`),
/// plus one line with `RecordsWritten` and one per detector with `Alerts` (dimension `Detector`).
#[must_use]
pub fn lines(
    namespace: &str,
    timestamp_ms: i64,
    accounts: &BTreeMap<String, AccountCounts>,
    records_written: u64,
    alerts_by_detector: &BTreeMap<String, u64>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (account, c) in accounts {
        out.push(
            json!({
                "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [{
                    "Namespace": namespace, "Dimensions": [["AccountId"]],
                    "Metrics": [{"Name": "Requests", "Unit": "Count"}, {"Name": "BytesOut", "Unit": "Bytes"}, {"Name": "FailedAuth", "Unit": "Count"}]
                }]},
                "AccountId": account, "Requests": c.requests, "BytesOut": c.bytes_out, "FailedAuth": c.failed_auth
            })
            .to_string(),
        );
    }
    out.push(
        json!({
            "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [{
                "Namespace": namespace, "Dimensions": [[]], "Metrics": [{"Name": "RecordsWritten", "Unit": "Count"}]
            }]},
            "RecordsWritten": records_written
        })
        .to_string(),
    );
    for (detector, n) in alerts_by_detector {
        out.push(
            json!({
                "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [{
                    "Namespace": namespace, "Dimensions": [["Detector"]], "Metrics": [{"Name": "Alerts", "Unit": "Count"}]
                }]},
                "Detector": detector, "Alerts": n
            })
            .to_string(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_shape() {
        let accounts = BTreeMap::from([(
            "210000000000".to_owned(),
            AccountCounts {
                requests: 3,
                bytes_out: 10,
                failed_auth: 1,
            },
        )]);
        let alerts = BTreeMap::from([("off-hours".to_owned(), 2)]);
        let l = lines("Warden/test", 1_700_000_000_000, &accounts, 3, &alerts);
        assert_eq!(l.len(), 3);
        let v: serde_json::Value = serde_json::from_str(&l[0]).unwrap();
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "Warden/test"
        );
        assert_eq!(v["AccountId"], "210000000000");
        assert_eq!(v["Requests"], 3);
        let d: serde_json::Value = serde_json::from_str(&l[2]).unwrap();
        assert_eq!(d["Detector"], "off-hours");
    }

    #[test]
    fn counters_line_declares_each_metric() {
        let l = counters(
            "Warden/t",
            5,
            &[("RegistryItemsSkipped", 2), ("GrantsExcluded", 0)],
        );
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["RegistryItemsSkipped"], 2);
        assert_eq!(v["GrantsExcluded"], 0);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "RegistryItemsSkipped"
        );
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Warden/t");
    }
}
