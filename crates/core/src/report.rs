//! `warden report`: one self-contained HTML file answering "who accessed what, when, and were
//! they allowed to" for a window — per-account requests and bytes over time, top objects and
//! prefixes, alerts by detector and severity, grants expiring soon, denied and failed requests.
//!
//! Pure: the CLI feeds [`Builder::access`] every record (from log files, S3 or the audit table)
//! and [`Builder::alert`] every alert the detectors raise, then [`Builder::render`] writes the
//! page. Memory is bounded whatever the number of records: time series are per account and per
//! bucket of time, and the top objects, prefixes and denied callers are kept by the Space-Saving
//! algorithm (Metwally et al., 2005) in [`TOP_CAPACITY`] counters, exact until that many distinct
//! keys are seen and then reported with their error bound.
//!
//! The page fetches nothing: no scripts, styles inline, charts as inline SVG, and a
//! Content-Security-Policy of `default-src 'none'` so a browser refuses any fetch a value could
//! smuggle in. Every value from a record (object keys, ARNs, error codes are caller-controlled)
//! is HTML-escaped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};

use crate::detect::Severity;

/// Counters kept for each top list (objects, prefixes, denied callers). With S3's longest keys
/// (1,024 bytes) the three lists hold at most about 130 MB.
pub const TOP_CAPACITY: usize = 20_000;

/// Accounts charted one by one; calls from further accounts (anyone can call a bucket and be
/// logged, so their number is the callers' choice) are added up in one [`OTHER_ACCOUNTS`] row.
pub const MAX_ACCOUNTS: usize = 10_000;

/// Account rows drawn (most requests first); the rest are added up in one line, so a page
/// stays a few MB whatever the number of callers.
pub const ACCOUNTS_SHOWN: usize = 200;

/// The row of the accounts past [`MAX_ACCOUNTS`].
pub const OTHER_ACCOUNTS: &str = "(other accounts)";

/// Rows shown in each top list.
pub const TOP_SHOWN: usize = 25;

/// Alerts listed one by one (most severe, then newest); all are counted.
pub const ALERTS_SHOWN: usize = 50;

/// Most time buckets a chart has; the bucket is the smallest of [`BUCKET_WIDTHS`] that fits.
pub const MAX_BUCKETS: i64 = 96;

/// Bucket widths tried, in minutes: 5 min, 15 min, 1 h, 6 h, 1 day, 7 days, 30 days.
pub const BUCKET_WIDTHS: [i64; 7] = [5, 15, 60, 360, 1_440, 10_080, 43_200];

/// Longest window a report covers (a year and a day).
pub const MAX_WINDOW_DAYS: i64 = 366;

/// The sections of the page, in order: HTML id, heading and the colour of the bar beside the
/// heading (used nowhere else on the page, so a screenshot shows which sections were drawn).
pub const SECTIONS: [(&str, &str, [u8; 3]); 6] = [
    ("summary", "Summary", [0x1f, 0x4e, 0x9a]),
    (
        "accounts",
        "Requests and bytes by account",
        [0x0b, 0x8a, 0x5c],
    ),
    ("objects", "Top objects and prefixes", [0x8a, 0x3f, 0xc2]),
    (
        "alerts",
        "Alerts by detector and severity",
        [0xf0, 0x64, 0x18],
    ),
    ("grants", "Grants expiring soon", [0xc9, 0x9a, 0x06]),
    ("denied", "Denied and failed requests", [0xb0, 0x12, 0x3a]),
];

/// Why a report cannot be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    /// `--since` is not before `--until`.
    #[error("--since ({since}) must be before --until ({until})")]
    EmptyWindow {
        /// Start.
        since: DateTime<Utc>,
        /// End.
        until: DateTime<Utc>,
    },
    /// The window is longer than [`MAX_WINDOW_DAYS`].
    #[error(
        "--since/--until: the window is {days} days; a report covers at most {MAX_WINDOW_DAYS} days (make one per period)"
    )]
    WindowTooLong {
        /// Its length in days.
        days: i64,
    },
}

/// One access, as any source has it.
#[derive(Debug, Clone, Copy)]
pub struct Access<'a> {
    /// Event time, epoch milliseconds.
    pub epoch_ms: i64,
    /// Calling account.
    pub account: &'a str,
    /// Calling principal.
    pub principal: &'a str,
    /// `service:Action`.
    pub action: &'a str,
    /// Bucket, for S3 calls.
    pub bucket: Option<&'a str>,
    /// Object key, for object calls.
    pub key: Option<&'a str>,
    /// Bytes in + out.
    pub bytes: u64,
    /// Whether the call succeeded.
    pub success: bool,
    /// `errorCode` when it failed.
    pub error_code: Option<&'a str>,
}

/// One alert, as the detectors raised it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertLine {
    /// Event time of the record that raised it, epoch milliseconds.
    pub epoch_ms: i64,
    /// Detector.
    pub detector: String,
    /// Severity.
    pub severity: Severity,
    /// Account concerned.
    pub account: String,
    /// CloudTrail event ID.
    pub event_id: String,
    /// One line for people.
    pub summary: String,
}

/// One grant, for "expiring soon".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantLine {
    /// Consumer account.
    pub account: String,
    /// Grant ID (`terraform` for declared grants).
    pub grant_id: String,
    /// Prefixes granted.
    pub prefixes: Vec<String>,
    /// `read` or `read-write`.
    pub level: String,
    /// When it expires.
    pub expires: DateTime<Utc>,
}

/// A top list by the Space-Saving algorithm: at most `cap` counters; a new key past that takes
/// the smallest counter's place and count (+1), recording that count as its possible error.
#[derive(Debug, Clone)]
struct TopK {
    cap: usize,
    counts: HashMap<String, Counter>,
    order: BTreeSet<(u64, String)>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counter {
    n: u64,
    err: u64,
    bytes: u64,
}

impl TopK {
    fn new(cap: usize) -> Self {
        TopK {
            cap: cap.max(1),
            counts: HashMap::new(),
            order: BTreeSet::new(),
        }
    }

    fn add(&mut self, key: &str, bytes: u64) {
        if let Some(c) = self.counts.get_mut(key) {
            let k = key.to_owned();
            self.order.remove(&(c.n, k.clone()));
            c.n += 1;
            c.bytes = c.bytes.saturating_add(bytes);
            self.order.insert((c.n, k));
            return;
        }
        let mut c = Counter {
            n: 1,
            err: 0,
            bytes,
        };
        if self.counts.len() >= self.cap
            && let Some((n_min, k_min)) = self.order.pop_first()
        {
            self.counts.remove(&k_min);
            c = Counter {
                n: n_min + 1,
                err: n_min,
                bytes,
            };
        }
        self.counts.insert(key.to_owned(), c);
        self.order.insert((c.n, key.to_owned()));
    }

    /// The `n` largest: key, count, possible overcount, bytes.
    fn top(&self, n: usize) -> Vec<(&str, Counter)> {
        self.order
            .iter()
            .rev()
            .take(n)
            .filter_map(|(_, k)| self.counts.get(k).map(|c| (k.as_str(), *c)))
            .collect()
    }

    /// Whether any count may be an overcount (more distinct keys than counters were seen).
    fn approximate(&self) -> bool {
        self.counts.values().any(|c| c.err > 0)
    }
}

/// One account's figures.
#[derive(Debug, Clone, Default)]
struct AccountStats {
    requests: Vec<u64>,
    bytes: Vec<u64>,
    total_requests: u64,
    total_bytes: u64,
    failed: u64,
}

/// Builds a report from records and alerts, then renders it.
#[derive(Debug, Clone)]
pub struct Builder {
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    generated: DateTime<Utc>,
    bucket_ms: i64,
    buckets: usize,
    accounts: BTreeMap<String, AccountStats>,
    objects: TopK,
    prefixes: TopK,
    denied: TopK,
    alert_counts: BTreeMap<(String, Severity), u64>,
    alerts: Vec<AlertLine>,
    n_alerts: u64,
    n_records: u64,
    n_outside: u64,
    n_failed: u64,
    grants: Vec<GrantLine>,
    grants_source: Option<String>,
    expiring_within: Duration,
    sources: Vec<String>,
    notes: Vec<String>,
}

impl Builder {
    /// A report of `[since, until)`, generated at `now`.
    ///
    /// # Errors
    /// The window is empty or longer than [`MAX_WINDOW_DAYS`].
    pub fn new(
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Self, ReportError> {
        if since >= until {
            return Err(ReportError::EmptyWindow { since, until });
        }
        let span = until - since;
        if span > Duration::days(MAX_WINDOW_DAYS) {
            return Err(ReportError::WindowTooLong {
                days: span.num_days(),
            });
        }
        let minutes = span.num_minutes().max(1);
        let width = BUCKET_WIDTHS
            .iter()
            .copied()
            .find(|w| (minutes + w - 1) / w <= MAX_BUCKETS)
            .unwrap_or(BUCKET_WIDTHS[BUCKET_WIDTHS.len() - 1]);
        let bucket_ms = width * 60_000;
        let span_ms = span.num_milliseconds();
        let buckets = usize::try_from((span_ms + bucket_ms - 1) / bucket_ms)
            .unwrap_or(1)
            .max(1);
        Ok(Builder {
            since,
            until,
            generated: now,
            bucket_ms,
            buckets,
            accounts: BTreeMap::new(),
            objects: TopK::new(TOP_CAPACITY),
            prefixes: TopK::new(TOP_CAPACITY),
            denied: TopK::new(TOP_CAPACITY),
            alert_counts: BTreeMap::new(),
            alerts: Vec::new(),
            n_alerts: 0,
            n_records: 0,
            n_outside: 0,
            n_failed: 0,
            grants: Vec::new(),
            grants_source: None,
            expiring_within: Duration::days(30),
            sources: Vec::new(),
            notes: Vec::new(),
        })
    }

    /// Name a source read (shown in the summary).
    pub fn source(&mut self, s: impl Into<String>) {
        self.sources.push(s.into());
    }

    /// A note shown in the summary (a problem met while reading, a section that could not be
    /// filled and why).
    pub fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }

    /// The bucket of an instant in the window, or `None` outside it.
    fn bucket(&self, epoch_ms: i64) -> Option<usize> {
        let off = epoch_ms.checked_sub(self.since.timestamp_millis())?;
        if off < 0 || epoch_ms >= self.until.timestamp_millis() {
            return None;
        }
        usize::try_from(off / self.bucket_ms)
            .ok()
            .filter(|b| *b < self.buckets)
    }

    /// Count one access. Accesses outside the window are counted as such and otherwise left out.
    pub fn access(&mut self, a: &Access<'_>) {
        let Some(b) = self.bucket(a.epoch_ms) else {
            self.n_outside += 1;
            return;
        };
        self.n_records += 1;
        let n = self.buckets;
        let account =
            if self.accounts.len() >= MAX_ACCOUNTS && !self.accounts.contains_key(a.account) {
                OTHER_ACCOUNTS
            } else {
                a.account
            };
        let s = match self.accounts.get_mut(account) {
            Some(s) => s,
            None => self
                .accounts
                .entry(account.to_owned())
                .or_insert_with(|| AccountStats {
                    requests: vec![0; n],
                    bytes: vec![0; n],
                    ..AccountStats::default()
                }),
        };
        s.requests[b] += 1;
        s.bytes[b] = s.bytes[b].saturating_add(a.bytes);
        s.total_requests += 1;
        s.total_bytes = s.total_bytes.saturating_add(a.bytes);
        if let (Some(bucket), Some(key)) = (a.bucket, a.key) {
            self.objects.add(&format!("{bucket}/{key}"), a.bytes);
            // The top-level folder: grants are prefixes, and most start at the first `/`.
            let prefix = match key.find('/') {
                Some(i) => format!("{bucket}/{}", &key[..=i]),
                None => format!("{bucket}/"),
            };
            self.prefixes.add(&prefix, a.bytes);
        }
        if !a.success {
            s.failed += 1;
            self.n_failed += 1;
            let what = a.key.map_or_else(
                || a.bucket.unwrap_or("-").to_owned(),
                |k| format!("{}/{k}", a.bucket.unwrap_or("?")),
            );
            self.denied.add(
                &[
                    a.account,
                    a.principal,
                    a.action,
                    a.error_code.unwrap_or("(no errorCode)"),
                    &what,
                ]
                .join("\u{1f}"),
                a.bytes,
            );
        }
    }

    /// Count one alert (raised by the record at `alert.epoch_ms`).
    pub fn alert(&mut self, alert: AlertLine) {
        if self.bucket(alert.epoch_ms).is_none() {
            return;
        }
        self.n_alerts += 1;
        *self
            .alert_counts
            .entry((alert.detector.clone(), alert.severity))
            .or_default() += 1;
        self.alerts.push(alert);
        // Keep the list bounded: the most severe, then the newest.
        if self.alerts.len() >= 4 * ALERTS_SHOWN {
            sort_alerts(&mut self.alerts);
            self.alerts.truncate(ALERTS_SHOWN);
        }
    }

    /// The grants to check for expiry (from a grants file or the live registry, named by
    /// `source`), listed when they expire within `within` of the report's generation.
    pub fn grants(&mut self, source: impl Into<String>, grants: Vec<GrantLine>, within: Duration) {
        self.grants_source = Some(source.into());
        self.grants = grants;
        self.expiring_within = within;
    }

    /// Records counted (inside the window).
    #[must_use]
    pub fn records(&self) -> u64 {
        self.n_records
    }

    /// Records left out because they fall outside the window.
    #[must_use]
    pub fn outside(&self) -> u64 {
        self.n_outside
    }

    /// Alerts counted.
    #[must_use]
    pub fn alerts(&self) -> u64 {
        self.n_alerts
    }

    /// The bucket width, in minutes.
    #[must_use]
    pub fn bucket_minutes(&self) -> i64 {
        self.bucket_ms / 60_000
    }

    /// The page.
    #[must_use]
    pub fn render(&self) -> String {
        let mut h = String::with_capacity(64 * 1024);
        let title = format!(
            "Warden access report {} to {}",
            day_time(self.since),
            day_time(self.until)
        );
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
        // Nothing may be fetched: a value that got past escaping still could not load anything.
        h.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n");
        let _ = writeln!(h, "<title>{}</title>", esc(&title));
        h.push_str(STYLE);
        h.push_str("</head><body>\n");
        let _ = writeln!(h, "<h1>{}</h1>", esc(&title));
        self.summary(&mut h);
        self.accounts_section(&mut h);
        self.objects_section(&mut h);
        self.alerts_section(&mut h);
        self.grants_section(&mut h);
        self.denied_section(&mut h);
        h.push_str("</body></html>\n");
        h
    }

    fn summary(&self, h: &mut String) {
        section_head(h, 0);
        let total_bytes: u64 = self.accounts.values().map(|a| a.total_bytes).sum();
        let _ = write!(
            h,
            "<table class=\"kv\"><tr><th>Window</th><td>{} to {} (UTC; charts in buckets of {})</td></tr>\
             <tr><th>Generated</th><td>{}</td></tr>\
             <tr><th>Records</th><td>{} in the window ({} outside it, left out)</td></tr>\
             <tr><th>Accounts</th><td>{}</td></tr>\
             <tr><th>Bytes</th><td>{}</td></tr>\
             <tr><th>Failed requests</th><td>{}</td></tr>\
             <tr><th>Alerts</th><td>{}</td></tr>",
            esc(&rfc(self.since)),
            esc(&rfc(self.until)),
            esc(&minutes(self.bucket_minutes())),
            esc(&rfc(self.generated)),
            self.n_records,
            self.n_outside,
            self.accounts.len(),
            esc(&human_bytes(total_bytes)),
            self.n_failed,
            self.n_alerts,
        );
        for s in &self.sources {
            let _ = write!(h, "<tr><th>Source</th><td>{}</td></tr>", esc(s));
        }
        h.push_str("</table>\n");
        if !self.notes.is_empty() {
            h.push_str("<ul class=\"notes\">");
            for n in &self.notes {
                let _ = write!(h, "<li>{}</li>", esc(n));
            }
            h.push_str("</ul>\n");
        }
        let totals = |f: fn(&AccountStats) -> &Vec<u64>| -> Vec<u64> {
            let mut t = vec![0u64; self.buckets];
            for a in self.accounts.values() {
                for (x, y) in t.iter_mut().zip(f(a)) {
                    *x = x.saturating_add(*y);
                }
            }
            t
        };
        h.push_str("<div class=\"charts\">");
        self.bar_chart(h, "Requests, all accounts", &totals(|a| &a.requests), false);
        self.bar_chart(h, "Bytes, all accounts", &totals(|a| &a.bytes), true);
        h.push_str("</div></section>\n");
    }

    /// A bar chart of one series over the window, with its axis labelled.
    fn bar_chart(&self, h: &mut String, title: &str, series: &[u64], bytes: bool) {
        let (w, ht, left, bottom) = (560.0_f64, 170.0_f64, 64.0_f64, 22.0_f64);
        let max = series.iter().copied().max().unwrap_or(0).max(1);
        let plot_w = w - left - 6.0;
        let plot_h = ht - bottom - 14.0;
        let bw = plot_w / self.buckets as f64;
        let label = |v: u64| {
            if bytes { human_bytes(v) } else { v.to_string() }
        };
        let _ = write!(
            h,
            "<figure><svg role=\"img\" width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\"><title>{t}</title>\
             <line x1=\"{left}\" y1=\"10\" x2=\"{left}\" y2=\"{y0}\" class=\"axis\"/>\
             <line x1=\"{left}\" y1=\"{y0}\" x2=\"{r}\" y2=\"{y0}\" class=\"axis\"/>\
             <text x=\"{lx}\" y=\"18\" class=\"tick\" text-anchor=\"end\">{maxl}</text>\
             <text x=\"{lx}\" y=\"{y0}\" class=\"tick\" text-anchor=\"end\">0</text>",
            t = esc(title),
            y0 = ht - bottom,
            r = w - 6.0,
            lx = left - 4.0,
            maxl = esc(&label(max)),
        );
        for (i, v) in series.iter().enumerate() {
            if *v == 0 {
                continue;
            }
            let bh = (*v as f64 / max as f64 * plot_h).max(1.0);
            let _ = write!(
                h,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" class=\"bar\"><title>{}: {}</title></rect>",
                left + i as f64 * bw + 0.5,
                ht - bottom - bh,
                (bw - 1.0).max(0.5),
                bh,
                esc(&rfc(self.bucket_start(i))),
                esc(&label(*v)),
            );
        }
        let _ = write!(
            h,
            "<text x=\"{left}\" y=\"{yl}\" class=\"tick\">{}</text><text x=\"{r}\" y=\"{yl}\" class=\"tick\" text-anchor=\"end\">{}</text></svg><figcaption>{}</figcaption></figure>",
            esc(&day_time(self.since)),
            esc(&day_time(self.until)),
            esc(title),
            yl = ht - 6.0,
            r = w - 6.0,
        );
    }

    fn bucket_start(&self, i: usize) -> DateTime<Utc> {
        self.since + Duration::milliseconds(self.bucket_ms.saturating_mul(i as i64))
    }

    fn accounts_section(&self, h: &mut String) {
        section_head(h, 1);
        if self.accounts.is_empty() {
            h.push_str("<p class=\"empty\">No requests in the window.</p></section>\n");
            return;
        }
        let max_req = self
            .accounts
            .values()
            .flat_map(|a| a.requests.iter().copied())
            .max()
            .unwrap_or(1)
            .max(1);
        let max_bytes = self
            .accounts
            .values()
            .flat_map(|a| a.bytes.iter().copied())
            .max()
            .unwrap_or(1)
            .max(1);
        h.push_str("<p>Each row's charts share one scale across accounts, so rows compare.</p><table><tr><th>Account</th><th class=\"n\">Requests</th><th>Requests over time</th><th class=\"n\">Bytes</th><th>Bytes over time</th><th class=\"n\">Failed</th></tr>\n");
        let mut rows: Vec<(&String, &AccountStats)> = self.accounts.iter().collect();
        rows.sort_by(|a, b| {
            b.1.total_requests
                .cmp(&a.1.total_requests)
                .then(a.0.cmp(b.0))
        });
        let rest = rows.split_off(rows.len().min(ACCOUNTS_SHOWN));
        for (acct, s) in rows {
            let _ = write!(
                h,
                "<tr><td class=\"mono\">{}</td><td class=\"n\">{}</td><td>",
                esc(acct),
                s.total_requests
            );
            spark(h, &s.requests, max_req, "bar");
            let _ = write!(
                h,
                "</td><td class=\"n\">{}</td><td>",
                esc(&human_bytes(s.total_bytes))
            );
            spark(h, &s.bytes, max_bytes, "bar2");
            let _ = writeln!(
                h,
                "</td><td class=\"n{}\">{}</td></tr>",
                if s.failed > 0 { " warn" } else { "" },
                s.failed
            );
        }
        if !rest.is_empty() {
            let _ = writeln!(
                h,
                "<tr><td class=\"muted\">{} more account(s)</td><td class=\"n\">{}</td><td></td><td class=\"n\">{}</td><td></td><td class=\"n\">{}</td></tr>",
                rest.len(),
                rest.iter().map(|r| r.1.total_requests).sum::<u64>(),
                esc(&human_bytes(rest.iter().map(|r| r.1.total_bytes).sum())),
                rest.iter().map(|r| r.1.failed).sum::<u64>(),
            );
        }
        h.push_str("</table></section>\n");
    }

    fn objects_section(&self, h: &mut String) {
        section_head(h, 2);
        h.push_str("<div class=\"cols\">");
        for (title, top) in [("Objects", &self.objects), ("Prefixes", &self.prefixes)] {
            let _ = write!(h, "<div><h3>{title}</h3>");
            let rows = top.top(TOP_SHOWN);
            if rows.is_empty() {
                h.push_str("<p class=\"empty\">No object requests in the window.</p></div>");
                continue;
            }
            let max = rows.first().map_or(1, |r| r.1.n.max(1));
            h.push_str("<table><tr><th>Name</th><th class=\"n\">Requests</th><th class=\"n\">Bytes</th><th></th></tr>");
            for (k, c) in &rows {
                let _ = write!(
                    h,
                    "<tr><td class=\"mono\">{}</td><td class=\"n\">{}{}</td><td class=\"n\">{}</td><td><div class=\"hbar\" style=\"width:{:.0}px\"></div></td></tr>",
                    esc(k),
                    c.n,
                    if c.err > 0 {
                        format!(" <span class=\"muted\">(±{})</span>", c.err)
                    } else {
                        String::new()
                    },
                    esc(&human_bytes(c.bytes)),
                    120.0 * c.n as f64 / max as f64,
                );
            }
            h.push_str("</table>");
            if top.approximate() {
                let _ = write!(
                    h,
                    "<p class=\"muted\">More than {TOP_CAPACITY} distinct names: counts are upper bounds, each within the ± shown (Space-Saving).</p>"
                );
            }
            h.push_str("</div>");
        }
        h.push_str("</div></section>\n");
    }

    fn alerts_section(&self, h: &mut String) {
        section_head(h, 3);
        if self.alert_counts.is_empty() {
            h.push_str("<p class=\"empty\">No alerts in the window.</p></section>\n");
            return;
        }
        const SEV: [Severity; 4] = [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
        ];
        let mut by_detector: BTreeMap<&str, [u64; 4]> = BTreeMap::new();
        for ((d, s), n) in &self.alert_counts {
            let row = by_detector.entry(d.as_str()).or_default();
            if let Some(i) = SEV.iter().position(|x| x == s) {
                row[i] += n;
            }
        }
        let max = by_detector
            .values()
            .map(|r| r.iter().sum::<u64>())
            .max()
            .unwrap_or(1)
            .max(1);
        let row_h = 22.0_f64;
        let (w, left) = (760.0_f64, 230.0_f64);
        let ht = row_h * by_detector.len() as f64 + 30.0;
        let _ = write!(
            h,
            "<figure><svg role=\"img\" width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\"><title>Alerts by detector, stacked by severity</title>"
        );
        for (i, (d, counts)) in by_detector.iter().enumerate() {
            let y = i as f64 * row_h + 4.0;
            let _ = write!(
                h,
                "<text x=\"{:.0}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"end\">{}</text>",
                left - 6.0,
                y + 14.0,
                esc(d)
            );
            let mut x = left;
            for (s, n) in SEV.iter().zip(counts) {
                if *n == 0 {
                    continue;
                }
                let bw = (*n as f64 / max as f64 * (w - left - 60.0)).max(2.0);
                let _ = write!(
                    h,
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" class=\"sev-{}\"><title>{} {}: {}</title></rect>",
                    row_h - 6.0,
                    sev(*s),
                    esc(d),
                    sev(*s),
                    n
                );
                x += bw;
            }
            let _ = write!(
                h,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\">{}</text>",
                x + 4.0,
                y + 14.0,
                counts.iter().sum::<u64>()
            );
        }
        let mut lx = left;
        for s in SEV {
            let _ = write!(
                h,
                "<rect x=\"{lx:.0}\" y=\"{:.0}\" width=\"12\" height=\"12\" class=\"sev-{}\"/><text x=\"{:.0}\" y=\"{:.0}\" class=\"tick\">{}</text>",
                ht - 16.0,
                sev(s),
                lx + 16.0,
                ht - 6.0,
                sev(s)
            );
            lx += 90.0;
        }
        h.push_str(
            "</svg><figcaption>Alerts by detector, stacked by severity</figcaption></figure>",
        );
        h.push_str("<table><tr><th>Detector</th>");
        for s in SEV {
            let _ = write!(h, "<th class=\"n\">{}</th>", sev(s));
        }
        h.push_str("<th class=\"n\">All</th></tr>");
        for (d, counts) in &by_detector {
            let _ = write!(h, "<tr><td class=\"mono\">{}</td>", esc(d));
            for n in counts {
                let _ = write!(h, "<td class=\"n\">{n}</td>");
            }
            let _ = write!(
                h,
                "<td class=\"n\">{}</td></tr>",
                counts.iter().sum::<u64>()
            );
        }
        h.push_str("</table>");
        let mut shown = self.alerts.clone();
        sort_alerts(&mut shown);
        shown.truncate(ALERTS_SHOWN);
        let _ = write!(
            h,
            "<h3>The {} most severe, newest first (of {})</h3><table><tr><th>Time</th><th>Severity</th><th>Detector</th><th>Account</th><th>Summary</th><th>Event</th></tr>",
            shown.len(),
            self.n_alerts
        );
        for a in &shown {
            let _ = write!(
                h,
                "<tr><td class=\"mono nw\">{}</td><td><span class=\"pill sev-{s}\">{s}</span></td><td class=\"mono\">{}</td><td class=\"mono nw\">{}</td><td>{}</td><td class=\"mono small\">{}</td></tr>",
                esc(&epoch_rfc(a.epoch_ms)),
                esc(&a.detector),
                esc(&a.account),
                esc(&a.summary),
                esc(&a.event_id),
                s = sev(a.severity),
            );
        }
        h.push_str("</table></section>\n");
    }

    fn grants_section(&self, h: &mut String) {
        section_head(h, 4);
        let Some(source) = &self.grants_source else {
            h.push_str("<p class=\"empty\">No grants read: give --grants FILE or --registry-table TABLE to list the grants that expire soon.</p></section>\n");
            return;
        };
        let horizon = self.generated + self.expiring_within;
        let mut soon: Vec<&GrantLine> = self
            .grants
            .iter()
            .filter(|g| g.expires > self.generated && g.expires <= horizon)
            .collect();
        soon.sort_by(|a, b| a.expires.cmp(&b.expires).then(a.account.cmp(&b.account)));
        let _ = write!(
            h,
            "<p>Active grants from {} that expire within {} days of {} ({} of {}).</p>",
            esc(source),
            self.expiring_within.num_days(),
            esc(&rfc(self.generated)),
            soon.len(),
            self.grants.len()
        );
        if soon.is_empty() {
            h.push_str("<p class=\"empty\">None.</p></section>\n");
            return;
        }
        h.push_str("<table><tr><th>Expires</th><th class=\"n\">Days left</th><th>Account</th><th>Grant</th><th>Level</th><th>Prefixes</th></tr>");
        for g in soon {
            let left = (g.expires - self.generated).num_hours() as f64 / 24.0;
            let _ = write!(
                h,
                "<tr><td class=\"mono\">{}</td><td class=\"n{}\">{left:.1}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
                esc(&rfc(g.expires)),
                if left < 7.0 { " warn" } else { "" },
                esc(&g.account),
                esc(&g.grant_id),
                esc(&g.level),
                esc(&g.prefixes.join(", ")),
            );
        }
        h.push_str("</table></section>\n");
    }

    fn denied_section(&self, h: &mut String) {
        section_head(h, 5);
        let rows = self.denied.top(TOP_SHOWN);
        if rows.is_empty() {
            h.push_str("<p class=\"empty\">No failed requests in the window.</p></section>\n");
            return;
        }
        let _ = write!(
            h,
            "<p>{} failed request(s); the most frequent callers and what they were refused:</p><table><tr><th>Account</th><th>Principal</th><th>Action</th><th>Error</th><th>Bucket / object</th><th class=\"n\">Requests</th></tr>",
            self.n_failed
        );
        for (k, c) in rows {
            // The object comes last: a key holding the separator cannot shift the other columns.
            h.push_str("<tr>");
            for p in k.splitn(5, '\u{1f}') {
                let _ = write!(h, "<td class=\"mono\">{}</td>", esc(p));
            }
            let _ = write!(
                h,
                "<td class=\"n\">{}{}</td></tr>",
                c.n,
                if c.err > 0 {
                    format!(" <span class=\"muted\">(±{})</span>", c.err)
                } else {
                    String::new()
                }
            );
        }
        h.push_str("</table></section>\n");
    }
}

fn section_head(h: &mut String, i: usize) {
    let (id, title, [r, g, b]) = SECTIONS[i];
    let _ = writeln!(
        h,
        "<section id=\"{id}\"><h2><span class=\"mark\" style=\"background:#{r:02x}{g:02x}{b:02x}\"></span>{title}</h2>"
    );
}

/// A small bar chart of one row, on a scale shared by the rows.
fn spark(h: &mut String, series: &[u64], max: u64, class: &str) {
    let (w, ht) = (220.0_f64, 28.0_f64);
    let bw = w / series.len().max(1) as f64;
    let _ = write!(
        h,
        "<svg width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" class=\"spark\">"
    );
    for (i, v) in series.iter().enumerate() {
        if *v == 0 {
            continue;
        }
        let bh = (*v as f64 / max.max(1) as f64 * (ht - 2.0)).max(1.0);
        let _ = write!(
            h,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" class=\"{class}\"/>",
            i as f64 * bw,
            ht - bh,
            (bw - 0.5).max(0.5)
        );
    }
    h.push_str("</svg>");
}

fn sort_alerts(v: &mut [AlertLine]) {
    v.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.epoch_ms.cmp(&a.epoch_ms))
            .then(a.event_id.cmp(&b.event_id))
            .then(a.detector.cmp(&b.detector))
    });
}

fn sev(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// HTML-escape text for element content and double-quoted attributes.
#[must_use]
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            // Control characters (a key may hold any byte) are shown, not passed to the page.
            c if c.is_control() => {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn day_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn epoch_rfc(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), rfc)
}

fn minutes(m: i64) -> String {
    match m {
        m if m % 1_440 == 0 => format!("{} day(s)", m / 1_440),
        m if m % 60 == 0 => format!("{} hour(s)", m / 60),
        m => format!("{m} minutes"),
    }
}

/// Bytes for people (binary units).
#[must_use]
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

const STYLE: &str = "<style>
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px 32px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 12px}
h2{font-size:18px;margin:28px 0 10px;display:flex;align-items:center}
h3{font-size:15px;margin:14px 0 6px}
.mark{display:inline-block;width:14px;height:28px;margin-right:10px;border-radius:2px}
section{border-top:1px solid #d0d7de;padding-top:4px}
table{border-collapse:collapse;margin:6px 0 10px}
th,td{padding:3px 8px;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:middle}
th{background:#f6f8fa;font-weight:600}
.kv th{width:140px}
.n{text-align:right;font-variant-numeric:tabular-nums}
.warn{color:#a40e4c;font-weight:600}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;word-break:break-all}
.small{font-size:11px}
.nw{white-space:nowrap;word-break:normal}
.muted{color:#6e7781}
.empty{color:#6e7781;font-style:italic}
.notes li{color:#9a6700}
.charts,.cols{display:flex;gap:24px;flex-wrap:wrap}
figure{margin:6px 0}
figcaption{font-size:12px;color:#57606a}
.axis{stroke:#8c959f;stroke-width:1}
.tick{font-size:11px;fill:#57606a}
.bar{fill:#4a78c9}
.bar2{fill:#36a97f}
.hbar{height:10px;background:#a678d6;border-radius:2px}
.sev-critical{fill:#7d0a25;background:#7d0a25;color:#fff}
.sev-high{fill:#d94a1a;background:#d94a1a;color:#fff}
.sev-medium{fill:#e3a008;background:#e3a008}
.sev-low{fill:#8c959f;background:#8c959f;color:#fff}
.pill{padding:1px 8px;border-radius:9px;font-size:12px}
</style>
";

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, 0, 0).unwrap()
    }

    fn acc<'a>(ms: i64, account: &'a str, key: &'a str, ok: bool) -> Access<'a> {
        Access {
            epoch_ms: ms,
            account,
            principal: "arn:aws:iam::210000000000:role/warden-consumer",
            action: "s3:GetObject",
            bucket: Some("shared"),
            key: Some(key),
            bytes: 1000,
            success: ok,
            error_code: (!ok).then_some("AccessDenied"),
        }
    }

    #[test]
    fn windows_name_the_rule() {
        assert_eq!(
            Builder::new(t(5), t(5), t(6)).unwrap_err(),
            ReportError::EmptyWindow {
                since: t(5),
                until: t(5)
            }
        );
        let e = Builder::new(t(0), t(0) + Duration::days(400), t(0)).unwrap_err();
        assert!(e.to_string().starts_with("--since/--until"), "{e}");
        // A day: hourly buckets would be 24 ≤ 96, but 15 minutes gives 96.
        let b = Builder::new(t(0), t(0) + Duration::days(1), t(0)).unwrap();
        assert_eq!((b.bucket_minutes(), b.buckets), (15, 96));
        let b = Builder::new(t(0), t(0) + Duration::days(30), t(0)).unwrap();
        assert_eq!((b.bucket_minutes(), b.buckets), (1_440, 30));
    }

    #[test]
    fn records_are_bucketed_counted_and_the_window_is_half_open() {
        let mut b = Builder::new(t(0), t(4), t(5)).unwrap();
        let ms = |h: u32| t(h).timestamp_millis();
        b.access(&acc(ms(0), "210000000000", "a/1", true));
        b.access(&acc(ms(1), "210000000000", "a/1", true));
        b.access(&acc(ms(3), "210000000001", "b/2", false));
        b.access(&acc(ms(4), "210000000001", "b/2", true)); // until is exclusive
        b.access(&acc(ms(0) - 1, "210000000001", "b/2", true));
        assert_eq!((b.records(), b.outside()), (3, 2));
        let a = &b.accounts["210000000000"];
        assert_eq!(a.total_requests, 2);
        assert_eq!(a.total_bytes, 2000);
        assert_eq!(b.accounts["210000000001"].failed, 1);
        assert_eq!(b.objects.top(1)[0].0, "shared/a/1");
        assert_eq!(b.prefixes.top(2).len(), 2);
        let html = b.render();
        for (id, title, _) in SECTIONS {
            assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
            assert!(html.contains(title), "{title}");
        }
        assert!(html.contains("AccessDenied"));
    }

    proptest::proptest! {
        /// Whatever a caller puts in a key, ARN or error code, the page gets text: no markup
        /// character and no control character survives escaping, and nothing is lost.
        #[test]
        fn escaped_text_carries_no_markup(s in "\\PC*|[<>&\"'\\x00-\\x1f]{0,40}") {
            let e = esc(&s);
            proptest::prop_assert!(!e.contains(['<', '>', '"', '\'']));
            proptest::prop_assert!(!e.chars().any(char::is_control));
            // Unescaped, it is the original text (control characters aside, shown as \\u{…}).
            if !s.chars().any(char::is_control) {
                let back = e
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&#39;", "'")
                    .replace("&amp;", "&");
                proptest::prop_assert_eq!(back, s);
            }
        }
    }

    #[test]
    fn a_key_holding_the_column_separator_stays_in_its_column() {
        let mut b = Builder::new(t(0), t(4), t(5)).unwrap();
        b.access(&acc(
            t(1).timestamp_millis(),
            "210000000000",
            "a\u{1f}Allowed\u{1f}x",
            false,
        ));
        let html = b.render();
        let denied = &html[html.find("<section id=\"denied\">").unwrap()..];
        assert!(
            denied.contains(
                "<td class=\"mono\">shared/a\\u{1f}Allowed\\u{1f}x</td><td class=\"n\">1</td>"
            ),
            "{denied}"
        );
    }

    #[test]
    fn accounts_past_the_cap_are_added_up_in_one_row() {
        let mut b = Builder::new(t(0), t(4), t(5)).unwrap();
        let ids: Vec<String> = (0..MAX_ACCOUNTS + 5)
            .map(|i| format!("{:012}", 300_000_000_000u64 + i as u64))
            .collect();
        for id in &ids {
            b.access(&acc(t(1).timestamp_millis(), id, "k", true));
        }
        b.access(&acc(t(1).timestamp_millis(), &ids[0], "k", true));
        assert_eq!(b.accounts.len(), MAX_ACCOUNTS + 1);
        assert_eq!(
            b.accounts[&ids[0]].total_requests, 2,
            "a known account keeps its row"
        );
        assert_eq!(b.accounts[OTHER_ACCOUNTS].total_requests, 5);
        assert_eq!(b.records(), MAX_ACCOUNTS as u64 + 6);
        let html = b.render();
        assert!(html.len() < 4 << 20, "{} bytes", html.len());
        assert!(html.contains(&format!(
            "{} more account(s)",
            MAX_ACCOUNTS + 1 - ACCOUNTS_SHOWN
        )));
    }

    #[test]
    fn caller_controlled_values_are_escaped_and_nothing_is_fetched() {
        let mut b = Builder::new(t(0), t(4), t(5)).unwrap();
        let key = "<script>alert(1)</script>\"'&<img src=x onerror=alert(2)>\u{7}";
        b.access(&acc(t(1).timestamp_millis(), "210000000000", key, false));
        b.alert(AlertLine {
            epoch_ms: t(1).timestamp_millis(),
            detector: "<b>d</b>".into(),
            severity: Severity::High,
            account: "210000000000".into(),
            event_id: "e\"1".into(),
            summary: "<iframe src=https://evil.example>".into(),
        });
        let html = b.render();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"));
        assert!(!html.contains("<iframe"));
        assert!(!html.contains("<b>d"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"));
        assert!(html.contains("\\u{7}"));
        assert!(html.contains("default-src 'none'"));
        // No attribute loads anything.
        for attr in ["src=\"", "href=\"", "url("] {
            assert!(!html.contains(attr), "{attr}");
        }
    }

    #[test]
    fn top_lists_are_exact_until_full_then_bound_their_error() {
        let mut k = TopK::new(3);
        for (key, n) in [("a", 5), ("b", 3), ("c", 1)] {
            for _ in 0..n {
                k.add(key, 10);
            }
        }
        assert!(!k.approximate());
        let top: Vec<(&str, u64)> = k.top(3).iter().map(|(s, c)| (*s, c.n)).collect();
        assert_eq!(top, [("a", 5), ("b", 3), ("c", 1)]);
        assert_eq!(k.top(1)[0].1.bytes, 50);
        // A fourth key takes the smallest counter: count 1 + 1, error 1.
        k.add("d", 10);
        assert!(k.approximate());
        let d = k.counts["d"];
        assert_eq!((d.n, d.err), (2, 1));
        assert!(!k.counts.contains_key("c"));
        assert_eq!(k.counts.len(), 3);
        // A heavy hitter stays on top however many distinct keys pass.
        let mut k = TopK::new(50);
        for i in 0..10_000u32 {
            k.add(&format!("noise-{i}"), 1);
            if i % 10 == 0 {
                k.add("heavy", 1);
            }
        }
        assert_eq!(k.top(1)[0].0, "heavy");
        assert!(k.counts.len() <= 50);
        let h = k.counts["heavy"];
        assert!(h.n >= 1_000 && h.n - h.err <= 1_000, "{h:?}");
    }

    #[test]
    fn alerts_are_counted_by_detector_and_severity_and_listed_most_severe_first() {
        let mut b = Builder::new(t(0), t(4), t(5)).unwrap();
        for i in 0..(5 * ALERTS_SHOWN as i64) {
            b.alert(AlertLine {
                epoch_ms: t(1).timestamp_millis() + i,
                detector: if i % 2 == 0 {
                    "bulk-download"
                } else {
                    "off-hours"
                }
                .into(),
                severity: if i == 7 {
                    Severity::Critical
                } else {
                    Severity::Low
                },
                account: "210000000000".into(),
                event_id: format!("e{i}"),
                summary: format!("alert {i}"),
            });
        }
        b.alert(AlertLine {
            epoch_ms: t(9).timestamp_millis(),
            detector: "late".into(),
            severity: Severity::Critical,
            account: "x".into(),
            event_id: "late".into(),
            summary: "raised-after-the-window".into(),
        });
        assert_eq!(b.alerts(), 250);
        assert!(b.alerts.len() < 4 * ALERTS_SHOWN);
        assert_eq!(
            b.alert_counts[&("off-hours".to_owned(), Severity::Low)],
            124
        );
        assert_eq!(
            b.alert_counts[&("off-hours".to_owned(), Severity::Critical)],
            1
        );
        let html = b.render();
        let first = html.find("alert 7").unwrap();
        assert!(html.find("alert 249").unwrap() > first);
        assert!(!html.contains("raised-after-the-window"));
    }

    #[test]
    fn grants_expiring_within_the_horizon_are_listed_soonest_first() {
        let now = t(5);
        let mut b = Builder::new(t(0), t(4), now).unwrap();
        let g = |acct: &str, days: i64| GrantLine {
            account: acct.into(),
            grant_id: "terraform".into(),
            prefixes: vec!["data/".into()],
            level: "read".into(),
            expires: now + Duration::days(days),
        };
        b.grants(
            "grants.json",
            vec![
                g("210000000003", 20),
                g("210000000002", 3),
                g("210000000009", 45),
                g("210000000001", -1),
            ],
            Duration::days(30),
        );
        let html = b.render();
        let i2 = html.find("210000000002").unwrap();
        let i3 = html.find("210000000003").unwrap();
        assert!(i2 < i3);
        assert!(!html.contains("210000000009"));
        assert!(!html.contains("210000000001"));
        assert!(html.contains("(2 of 4)"));
    }
}
