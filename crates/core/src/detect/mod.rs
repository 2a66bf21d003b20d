//! Detectors: each turns access records into alerts. One detector per file; names are a public
//! interface (alert routing, suppression lists and docs depend on them).
//!
//! The same detectors run live in the access-logger and offline in `warden audit replay`, so an
//! incident replays with exactly the live logic. Windowed detectors keep a fixed-size ring of
//! buckets per account ([`window::RateWindow`]): memory grows with accounts, never with events.

mod audit_tampering;
mod egress_spike;
mod failed_auth;
mod key_loss;
mod kms_unexpected_account;
mod large_transfer;
mod off_hours;
mod policy_change;
mod prefix_outside_grant;
mod request_spike;
mod root_activity;
pub mod seen;
mod unknown_account;
pub mod window;

pub use failed_auth::DENIED_CODES;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Weekday;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::cloudtrail::AccessRecord;
use crate::grant::Registry;

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Investigate today.
    Medium,
    /// Investigate now.
    High,
    /// Someone is attacking the controls themselves.
    Critical,
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Detector name (public interface).
    pub detector: &'static str,
    /// Severity.
    pub severity: Severity,
    /// The CloudTrail event that triggered it.
    pub event_id: String,
    /// The account concerned.
    pub account_id: String,
    /// One line for humans.
    pub summary: String,
    /// Structured details (a JSON object).
    pub details: Details,
}

/// An alert's structured details: a JSON object written once, when the alert is raised, from
/// borrowed fields of the record (no intermediate map; ~20 % of records raise an alert).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Details(Box<RawValue>);

impl Details {
    /// The JSON text.
    #[must_use]
    pub fn get(&self) -> &str {
        self.0.get()
    }

    pub(crate) fn new(fields: &impl Serialize) -> Self {
        // Only strings, numbers, booleans and options go in, which always serialize.
        Details(
            serde_json::value::to_raw_value(fields).unwrap_or_else(|_| RawValue::NULL.to_owned()),
        )
    }
}

impl PartialEq for Details {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// `(name, value)` pairs serialized as one JSON object (see [`details!`]).
pub(crate) struct Fields<T>(pub(crate) T);

macro_rules! impl_fields {
    ($n:literal; $($i:tt $t:ident),+) => {
        impl<$($t: Serialize),+> Serialize for Fields<($((&'static str, $t),)+)> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap as _;
                let mut m = s.serialize_map(Some($n))?;
                $(m.serialize_entry((self.0).$i.0, &(self.0).$i.1)?;)+
                m.end()
            }
        }
    };
}
impl_fields!(1; 0 A);
impl_fields!(2; 0 A, 1 B);
impl_fields!(3; 0 A, 1 B, 2 C);
impl_fields!(4; 0 A, 1 B, 2 C, 3 D);
impl_fields!(5; 0 A, 1 B, 2 C, 3 D, 4 E);

/// Alert details as a JSON object: `details!({"key": value, ...})`, values by reference.
macro_rules! details {
    ({$($k:literal : $v:expr),+ $(,)?}) => {
        $crate::detect::Details::new(&$crate::detect::Fields(($(($k, &$v),)+)))
    };
}
pub(crate) use details;

fn default_true() -> bool {
    true
}

/// Detector settings. Defaults are spec 000's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// The shared bucket; S3 detectors look only at it when set.
    pub shared_bucket: Option<String>,
    /// Accounts that are never "unknown" (the primary account, the audit account…).
    pub trusted_accounts: Vec<String>,
    /// Bytes in one request that count as a large transfer (default 1 GiB).
    pub large_transfer_bytes: u64,
    /// Business hours start, `HH:MM` (default 09:00).
    pub business_hours_start: String,
    /// Business hours end, `HH:MM` (default 18:00).
    pub business_hours_end: String,
    /// IANA time zone of the business hours (default UTC).
    pub time_zone: String,
    /// Business days (default Mon–Fri).
    pub business_days: Vec<String>,
    /// Requests per window per account above which `request-spike` fires (default 1000).
    pub request_spike_threshold: u64,
    /// Window of `request-spike`, seconds (default 300).
    pub request_spike_window_seconds: u64,
    /// Failed authorizations per window per account (default 10).
    pub failed_auth_threshold: u64,
    /// Window of `failed-auth`, seconds (default 300).
    pub failed_auth_window_seconds: u64,
    /// Egress bytes per window per account (default 100 GiB).
    pub egress_threshold_bytes: u64,
    /// Window of `egress-spike`, seconds (default 3600).
    pub egress_window_seconds: u64,
    /// Detectors switched off by name.
    pub disabled: Vec<String>,
    /// Whether records from AWS services (AWSService identities) are examined by access detectors.
    #[serde(default = "default_true")]
    pub skip_service_principals: bool,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            shared_bucket: None,
            trusted_accounts: Vec::new(),
            large_transfer_bytes: 1 << 30,
            business_hours_start: "09:00".into(),
            business_hours_end: "18:00".into(),
            time_zone: "UTC".into(),
            business_days: ["Mon", "Tue", "Wed", "Thu", "Fri"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            request_spike_threshold: 1000,
            request_spike_window_seconds: 300,
            failed_auth_threshold: 10,
            failed_auth_window_seconds: 300,
            egress_threshold_bytes: 100 * (1 << 30),
            egress_window_seconds: 3600,
            disabled: Vec::new(),
            skip_service_principals: true,
        }
    }
}

/// A configuration value that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct ConfigError {
    /// The setting.
    pub field: &'static str,
    /// The rule it breaks.
    pub rule: String,
}

/// Every detector name, in the order they run.
pub const DETECTOR_NAMES: [&str; 12] = [
    "unknown-account",
    "prefix-outside-grant",
    "policy-change",
    "key-loss",
    "kms-unexpected-account",
    "large-transfer",
    "off-hours",
    "request-spike",
    "failed-auth",
    "egress-spike",
    "audit-tampering",
    "root-activity",
];

/// Detectors that need the grants registry.
pub const NEEDS_REGISTRY: [&str; 3] = [
    "unknown-account",
    "prefix-outside-grant",
    "kms-unexpected-account",
];

/// One detector.
pub trait Detector: Send + std::fmt::Debug {
    /// Its public name.
    fn name(&self) -> &'static str;
    /// Look at one record; push any alerts.
    fn observe(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>);
    /// Replace the registry (detectors that use it override this; window state is kept).
    fn set_registry(&mut self, _registry: &Arc<Registry>) {}
}

/// What detectors know about the deployment.
#[derive(Debug, Clone)]
pub struct Known {
    registry: Arc<Registry>,
    trusted: BTreeSet<String>,
    bucket: Option<String>,
}

impl Known {
    fn is_known(&self, account: &str) -> bool {
        self.trusted.contains(account) || self.registry.knows(account)
    }
    fn on_shared_bucket(&self, r: &AccessRecord<'_>) -> bool {
        r.event_source == "s3.amazonaws.com"
            && match (&self.bucket, &r.bucket) {
                (Some(want), Some(got)) => want == got,
                (Some(_), None) => false,
                (None, _) => true,
            }
    }
}

/// Whether a record is a call by an AWS service rather than a principal.
fn is_service(r: &AccessRecord<'_>) -> bool {
    r.identity_type == "AWSService" || r.account_id == "unknown"
}

/// S3 object-level writes.
pub const S3_WRITE_EVENTS: [&str; 14] = [
    "PutObject",
    "CopyObject",
    "DeleteObject",
    "DeleteObjects",
    "CreateMultipartUpload",
    "UploadPart",
    "UploadPartCopy",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "PutObjectTagging",
    "DeleteObjectTagging",
    "PutObjectAcl",
    "RestoreObject",
    "PutObjectRetention",
];

/// The detectors, wired from one configuration.
#[derive(Debug)]
pub struct Pipeline {
    detectors: Vec<Box<dyn Detector>>,
    /// Events already observed through [`Pipeline::observe_once`], for the longest window.
    seen: seen::SeenEvents,
    /// Detectors that are off because no registry was given.
    pub without_registry: Vec<&'static str>,
}

fn parse_hhmm(field: &'static str, s: &str) -> Result<u32, ConfigError> {
    let bad = || ConfigError {
        field,
        rule: format!("must be HH:MM, got {s:?}"),
    };
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl Pipeline {
    /// Build every enabled detector. Without a registry, the detectors that need one are off
    /// (listed in [`Pipeline::without_registry`]).
    ///
    /// # Errors
    /// A setting that cannot work, named.
    pub fn new(cfg: &DetectConfig, registry: Option<Arc<Registry>>) -> Result<Self, ConfigError> {
        for d in &cfg.disabled {
            if !DETECTOR_NAMES.contains(&d.as_ref()) {
                return Err(ConfigError {
                    field: "disabled",
                    rule: format!(
                        "unknown detector {d:?} (known: {})",
                        DETECTOR_NAMES.join(", ")
                    ),
                });
            }
        }
        for (field, v) in [
            (
                "request_spike_window_seconds",
                cfg.request_spike_window_seconds,
            ),
            ("failed_auth_window_seconds", cfg.failed_auth_window_seconds),
            ("egress_window_seconds", cfg.egress_window_seconds),
        ] {
            if !(60..=86_400).contains(&v) {
                return Err(ConfigError {
                    field,
                    rule: "must be between 60 and 86400 seconds".into(),
                });
            }
        }
        let tz: chrono_tz::Tz = cfg.time_zone.parse().map_err(|_| ConfigError {
            field: "time_zone",
            rule: format!(
                "{:?} is not an IANA time zone such as Europe/London",
                cfg.time_zone
            ),
        })?;
        let start = parse_hhmm("business_hours_start", &cfg.business_hours_start)?;
        let end = parse_hhmm("business_hours_end", &cfg.business_hours_end)?;
        if start >= end {
            return Err(ConfigError {
                field: "business_hours_end",
                rule: "must be after business_hours_start".into(),
            });
        }
        let days = cfg
            .business_days
            .iter()
            .map(|d| {
                d.parse::<Weekday>().map_err(|_| ConfigError {
                    field: "business_days",
                    rule: format!("{d:?} is not a weekday (Mon, Tue, …)"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let on = |n: &str| !cfg.disabled.iter().any(|d| d == n);
        let mut without_registry = Vec::new();
        let known = match registry {
            Some(r) => Some(Known {
                registry: r,
                trusted: cfg.trusted_accounts.iter().cloned().collect(),
                bucket: cfg.shared_bucket.clone(),
            }),
            None => {
                without_registry.extend(NEEDS_REGISTRY.iter().copied().filter(|n| on(n)));
                None
            }
        };
        let mut d: Vec<Box<dyn Detector>> = Vec::new();
        if let Some(k) = &known {
            if on("unknown-account") {
                d.push(Box::new(unknown_account::UnknownAccount::new(
                    k.clone(),
                    cfg.skip_service_principals,
                )));
            }
            if on("prefix-outside-grant") {
                d.push(Box::new(prefix_outside_grant::PrefixOutsideGrant::new(
                    k.clone(),
                )));
            }
        }
        if on("policy-change") {
            d.push(Box::new(policy_change::PolicyChange));
        }
        if on("key-loss") {
            d.push(Box::new(key_loss::KeyLoss));
        }
        if let Some(k) = &known
            && on("kms-unexpected-account")
        {
            d.push(Box::new(kms_unexpected_account::KmsUnexpectedAccount::new(
                k.clone(),
            )));
        }
        if on("large-transfer") {
            d.push(Box::new(large_transfer::LargeTransfer::new(
                cfg.large_transfer_bytes,
            )));
        }
        if on("off-hours") {
            d.push(Box::new(off_hours::OffHours::new(
                tz,
                start,
                end,
                days,
                cfg.shared_bucket.clone(),
            )));
        }
        if on("request-spike") {
            d.push(Box::new(request_spike::RequestSpike::new(
                cfg.request_spike_threshold,
                cfg.request_spike_window_seconds,
            )));
        }
        if on("failed-auth") {
            d.push(Box::new(failed_auth::FailedAuth::new(
                cfg.failed_auth_threshold,
                cfg.failed_auth_window_seconds,
            )));
        }
        if on("egress-spike") {
            d.push(Box::new(egress_spike::EgressSpike::new(
                cfg.egress_threshold_bytes,
                cfg.egress_window_seconds,
            )));
        }
        if on("audit-tampering") {
            d.push(Box::new(audit_tampering::AuditTampering));
        }
        if on("root-activity") {
            d.push(Box::new(root_activity::RootActivity));
        }
        let horizon = cfg
            .request_spike_window_seconds
            .max(cfg.failed_auth_window_seconds)
            .max(cfg.egress_window_seconds);
        Ok(Pipeline {
            detectors: d,
            seen: seen::SeenEvents::new(horizon, seen::MAX_REMEMBERED),
            without_registry,
        })
    }

    /// Run every detector on a record the first time its event is offered, and return `true`;
    /// a repeat (an at-least-once redelivery) is skipped and returns `false`, so no window counts
    /// an event twice. Repeats are remembered for the longest window (see [`seen`]).
    pub fn observe_once(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>) -> bool {
        if !self.seen.first(&r.event_id, r.epoch_ms) {
            return false;
        }
        self.observe(r, out);
        true
    }

    /// Run every detector on one record.
    pub fn observe(&mut self, r: &AccessRecord<'_>, out: &mut Vec<Alert>) {
        for d in &mut self.detectors {
            d.observe(r, out);
        }
    }

    /// Swap in a newer registry without losing the windowed detectors' state.
    pub fn set_registry(&mut self, registry: &Arc<Registry>) {
        for d in &mut self.detectors {
            d.set_registry(registry);
        }
    }

    /// Names of the detectors that run.
    #[must_use]
    pub fn active(&self) -> Vec<&'static str> {
        self.detectors.iter().map(|d| d.name()).collect()
    }
}

fn alert(
    detector: &'static str,
    severity: Severity,
    r: &AccessRecord,
    summary: String,
    details: Details,
) -> Alert {
    Alert {
        detector,
        severity,
        event_id: r.event_id.to_string(),
        account_id: r.account_id.to_string(),
        summary,
        details,
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use crate::cloudtrail::AccessRecord;

    /// A successful S3 GetObject by a consumer role at 10:00 UTC on a Monday.
    pub fn rec() -> AccessRecord<'static> {
        AccessRecord {
            timestamp: "2026-11-23T10:00:00.000Z".into(),
            epoch_ms: 0,
            account_id: "210000000000".into(),
            principal_arn: "arn:aws:iam::210000000000:role/warden-consumer".into(),
            action: "s3:GetObject".into(),
            object_key: Some("analytics/a.csv".into()),
            bytes_transferred: 1024,
            bytes_out: 1024,
            source_ip: "203.0.113.9".into(),
            success_status: true,
            event_id: "e1".into(),
            event_source: "s3.amazonaws.com".into(),
            event_name: "GetObject".into(),
            bucket: Some("shared".into()),
            recipient_account_id: Some("111111111111".into()),
            user_agent: None,
            vpc_endpoint_id: None,
            error_code: None,
            identity_type: "AssumedRole".into(),
            region: Some("us-east-1".into()),
            mfa: false,
            session_arn: None,
            principal_id: None,
            source_identity: None,
            time_form: crate::cloudtrail::normalise::TimeForm::Iso8601,
            nested_as_text: false,
        }
    }

    pub fn with(f: impl FnOnce(&mut AccessRecord<'static>)) -> AccessRecord<'static> {
        let mut r = rec();
        f(&mut r);
        r.epoch_ms = chrono::DateTime::parse_from_rfc3339(&r.timestamp)
            .map(|t| t.timestamp_millis())
            .unwrap_or(0);
        r
    }
}

#[cfg(test)]
mod tests {
    /// Every event type a detector lists has a case in the fixtures that must raise it, so a
    /// name added to a list without a case fails here.
    #[test]
    fn every_listed_event_type_has_a_fixture() {
        let cases = include_str!("../../../../fixtures/cloudtrail/detector-cases.jsonl");
        let firing: Vec<(String, String, String)> = cases
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .flat_map(|c| {
                let (s, n) = (
                    c["record"]["eventSource"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    c["record"]["eventName"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
                c["expect"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| (d.as_str().unwrap().to_owned(), s.clone(), n.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let has =
            |d: &str, s: &str, n: &str| firing.iter().any(|f| f.0 == d && f.1 == s && f.2 == n);
        for (s, n) in policy_change::POLICY_EVENTS {
            assert!(has("policy-change", s, n), "no fixture for {s} {n}");
        }
        for n in key_loss::EVENTS {
            assert!(
                has("key-loss", "kms.amazonaws.com", n),
                "no fixture for {n}"
            );
        }
        for n in kms_unexpected_account::USE_EVENTS {
            assert!(
                has("kms-unexpected-account", "kms.amazonaws.com", n),
                "no fixture for {n}"
            );
        }
        for n in audit_tampering::EVENTS {
            assert!(
                has("audit-tampering", "cloudtrail.amazonaws.com", n),
                "no fixture for {n}"
            );
        }
    }

    use super::*;

    #[test]
    fn config_errors_name_the_field() {
        let bad = |f: fn(&mut DetectConfig)| {
            let mut c = DetectConfig::default();
            f(&mut c);
            Pipeline::new(&c, None).unwrap_err().field
        };
        assert_eq!(bad(|c| c.time_zone = "Mars/Olympus".into()), "time_zone");
        assert_eq!(
            bad(|c| c.business_hours_start = "9am".into()),
            "business_hours_start"
        );
        assert_eq!(
            bad(|c| c.business_hours_end = "08:00".into()),
            "business_hours_end"
        );
        assert_eq!(
            bad(|c| c.business_days = vec!["Funday".into()]),
            "business_days"
        );
        assert_eq!(bad(|c| c.disabled = vec!["nope".into()]), "disabled");
        assert_eq!(
            bad(|c| c.egress_window_seconds = 1),
            "egress_window_seconds"
        );
    }

    #[test]
    fn without_registry_the_registry_detectors_are_off() {
        let p = Pipeline::new(&DetectConfig::default(), None).unwrap();
        assert_eq!(p.without_registry, NEEDS_REGISTRY.to_vec());
        assert_eq!(p.active().len(), 9);
        let p = Pipeline::new(
            &DetectConfig::default(),
            Some(Arc::new(Registry::default())),
        )
        .unwrap();
        assert_eq!(p.active().len(), 12);
        assert_eq!(p.active(), DETECTOR_NAMES.to_vec());
    }
}
