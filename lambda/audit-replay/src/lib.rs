//! audit-replay: the archive replay past one machine (issue 17). A Step Functions state machine
//! (`terraform/data-sharing/step-functions-replay.tf`) runs it twice over:
//!
//! 1. `{"action": "plan", "source": "s3://bucket/…/AWSLogs/…", "since": "YYYY-MM-DD", "until":
//!    "YYYY-MM-DD", "run_id": <execution name>}` walks the prefix down to the trail folders
//!    (`…/CloudTrail/<region>/`), and writes one item per folder and day as a JSON array, the
//!    manifest the Distributed Map reads with its ItemReader;
//! 2. `{"action": "replay", "item": {bucket, folder, day}, "run_id": …}`, once per item (the
//!    Map's children): the same parse → normalise → detectors as `warden audit replay`, over
//!    the warm-up (the end of the previous day, alerts not raised) and then the day's files
//!    (alerts raised, each (detector, event) once), the alerts written as JSON Lines to
//!    `<results prefix><run>/alerts/<account>/<region>/<day>.jsonl`.
//!
//! The split and why the union of the items' alerts is one replay's alerts: [`warden_core::replay`].
//! A file that cannot be read or parsed is reported in the item's result, not retried; a
//! GetObject that fails is an error, so the Map retries the item (its output key is the same, so
//! a retry overwrites, never duplicates).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::cloudtrail::{decompress, normalise_owned, parse_text_each};
use warden_core::detect::{Alert, DetectConfig, Pipeline};
use warden_core::grant::Registry;
use warden_core::ports::{LogArchive, PortError};
use warden_core::replay::{self, DayItem, InputError};

/// Log files fetched ahead of the one being parsed (GetObject latency hidden behind the parse).
pub const FETCH_AHEAD: usize = 8;
/// Problems listed in an item's result (all are counted).
pub const MAX_PROBLEMS_LISTED: usize = 20;
/// Largest log object replayed, as stored (CloudTrail writes files of a few MB); a larger one is
/// reported and skipped.
pub const MAX_OBJECT_BYTES: usize = 256 << 20;
/// Most alerts one item writes (they are held in memory until the item's object is written);
/// past it the rest are counted and the item reports the truncation.
pub const MAX_ALERTS_PER_ITEM: u64 = 1_000_000;
/// How deep the plan walks below the source prefix to find trail folders
/// (`AWSLogs/` → `[<org-id>/]` → `<account>/` → `CloudTrail/` → `<region>/`).
pub const MAX_WALK_DEPTH: usize = 6;

/// What the function is configured with (Terraform's environment).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The only bucket replayed (`TRAIL_BUCKET`: the audit bucket, where the trail delivers).
    pub trail_bucket: String,
    /// Key prefix of the trail's logs in it (`TRAIL_PREFIX`, `cloudtrail/`): sources and folders
    /// must be under `<prefix>AWSLogs/`.
    pub trail_prefix: String,
    /// Bucket the manifest and the alerts go to (`RESULTS_BUCKET`: the audit bucket).
    pub results_bucket: String,
    /// Key prefix of every run (`RESULTS_PREFIX`, default `replay/`).
    pub results_prefix: String,
    /// The detectors' configuration (`DETECT_CONFIG`, the access-logger's).
    pub detect: DetectConfig,
}

/// Why an invocation failed: bad input (the execution fails with the field named; retrying
/// would not help; error type `InvalidInput`) or a service call (the Map retries the item;
/// `ServiceFailed`).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The event is not a valid plan or item.
    #[error("invalid input: {0}")]
    Input(#[from] InputError),
    /// S3 (or the registry) failed after the SDK's retries.
    #[error(transparent)]
    Port(#[from] PortError),
}

impl ReplayError {
    /// The error type Step Functions matches retriers on (`ErrorEquals`).
    #[must_use]
    pub fn error_type(&self) -> &'static str {
        match self {
            ReplayError::Input(_) => "InvalidInput",
            ReplayError::Port(_) => "ServiceFailed",
        }
    }
}

fn field<'a>(event: &'a Value, name: &'static str) -> Result<&'a str, InputError> {
    event[name].as_str().ok_or(InputError {
        field: name,
        rule: "required, a string".into(),
    })
}

/// The trail folders at or below `prefix`, in key order (at most [`replay::MAX_FOLDERS`] + 1:
/// the plan refuses more).
async fn trail_folders<A: LogArchive>(
    archive: &A,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, PortError> {
    if replay::is_trail_folder(prefix) {
        return Ok(vec![prefix.to_owned()]);
    }
    let mut found = Vec::new();
    let mut level = vec![prefix.to_owned()];
    for _ in 0..MAX_WALK_DEPTH {
        let mut next = Vec::new();
        for p in &level {
            for sub in archive.folders(bucket, p).await? {
                if replay::is_trail_folder(&sub) {
                    found.push(sub);
                } else if replay::worth_walking(&sub) {
                    next.push(sub);
                }
                if found.len() > replay::MAX_FOLDERS {
                    return Ok(found);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    found.sort();
    Ok(found)
}

/// Plan a replay: the manifest of items, written to the results bucket.
///
/// # Errors
/// Bad input (named), or S3 failed.
pub async fn plan<A: LogArchive>(
    archive: &A,
    settings: &Settings,
    event: &Value,
) -> Result<Value, ReplayError> {
    let run = field(event, "run_id")?;
    replay::check_run(run)?;
    let (bucket, prefix) = replay::parse_source(field(event, "source")?)?;
    if bucket != settings.trail_bucket {
        return Err(InputError {
            field: "source",
            rule: format!(
                "must be in the trail bucket {:?} (got {bucket:?})",
                settings.trail_bucket
            ),
        }
        .into());
    }
    if !prefix.starts_with(&settings.trail_prefix) && !settings.trail_prefix.starts_with(&prefix) {
        return Err(InputError {
            field: "source",
            rule: format!(
                "must be under s3://{bucket}/{} (got prefix {prefix:?})",
                settings.trail_prefix
            ),
        }
        .into());
    }
    replay::check_windows(&settings.detect)?;
    let days = replay::days(field(event, "since")?, field(event, "until")?)?;
    // Only folders in CloudTrail's layout under the trail prefix (a source above it walks down).
    let folders: Vec<String> = trail_folders(archive, &bucket, &prefix)
        .await?
        .into_iter()
        .filter(|f| f.starts_with(&prefix) && replay::in_trail_layout(f, &settings.trail_prefix))
        .collect();
    let items = replay::plan(&bucket, &folders, &days)?;
    let key = format!("{}{run}/manifest.json", settings.results_prefix);
    let body = serde_json::to_vec(&items)
        .map_err(|e| PortError::new("replay", "plan", format!("manifest not serialisable: {e}")))?;
    archive
        .store(&settings.results_bucket, &key, body, "application/json")
        .await?;
    tracing::info!(run, folders = folders.len(), days = days.len(), items = items.len(), %key, "replay planned");
    Ok(json!({
        "run_id": run,
        "manifest": {"Bucket": settings.results_bucket, "Key": key},
        "items": items.len(),
        "folders": folders.len(),
        "days": days.len(),
        "results": format!("s3://{}/{}{run}/", settings.results_bucket, settings.results_prefix),
    }))
}

/// The input of one child (the Map's ItemSelector).
#[derive(Debug, Deserialize)]
struct ItemEvent {
    item: DayItem,
    run_id: String,
    #[serde(default)]
    #[allow(dead_code)]
    action: Option<String>,
}

/// What one item did, returned to the Map (its ResultWriter keeps them).
#[derive(Debug, Default)]
struct Tally {
    warmup_files: usize,
    files: usize,
    warmup_records: u64,
    records: u64,
    alerts: u64,
    duplicate_alerts: u64,
    alerts_not_written: u64,
    problems: Vec<String>,
    problem_count: usize,
}

impl Tally {
    fn problem(&mut self, p: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_PROBLEMS_LISTED {
            self.problems.push(p);
        }
    }
}

/// Run one file through the pipeline; alerts of owned files are kept once per (detector, event).
fn replay_file(
    key: &str,
    bytes: &[u8],
    owned: bool,
    pipeline: &mut Pipeline,
    seen: &mut HashSet<(&'static str, String)>,
    out: &mut Vec<u8>,
    tally: &mut Tally,
) {
    let text = match decompress(bytes) {
        Ok(t) => t,
        Err(e) => return tally.problem(format!("{key}: {e}")),
    };
    let text = match std::str::from_utf8(&text) {
        Ok(t) => t,
        Err(e) => return tally.problem(format!("{key}: not UTF-8 text: {e}")),
    };
    let mut alerts: Vec<Alert> = Vec::new();
    let mut problems = Vec::new();
    let report = parse_text_each(key, text, |p| {
        let index = p.index;
        let rec = match normalise_owned(p) {
            Ok(r) => r,
            Err(e) => return problems.push(format!("{key} record {index}: {e}")),
        };
        if owned {
            tally.records += 1;
        } else {
            tally.warmup_records += 1;
        }
        alerts.clear();
        pipeline.observe(&rec, &mut alerts);
        if !owned {
            return;
        }
        for a in alerts.drain(..) {
            if tally.alerts >= MAX_ALERTS_PER_ITEM {
                tally.alerts_not_written += 1;
                continue;
            }
            if !seen.insert((a.detector, a.event_id.clone())) {
                tally.duplicate_alerts += 1;
                continue;
            }
            tally.alerts += 1;
            // Writing to a Vec cannot fail.
            if serde_json::to_writer(&mut *out, &a).is_ok() {
                out.push(b'\n');
            }
        }
    });
    for p in problems {
        tally.problem(p);
    }
    for e in &report.errors {
        tally.problem(e.to_string());
    }
}

/// Replay one item (a child of the Map).
///
/// # Errors
/// Bad input (named), or S3 failed (the Map retries the item).
pub async fn replay_item<A: LogArchive>(
    archive: &A,
    settings: &Settings,
    registry: Option<Arc<Registry>>,
    event: &Value,
) -> Result<Value, ReplayError> {
    let ev: ItemEvent = serde_json::from_value(event.clone()).map_err(|e| InputError {
        field: "item",
        rule: format!("must be {{\"item\": {{bucket, folder, day}}, \"run_id\"}} ({e})"),
    })?;
    replay::check_run(&ev.run_id)?;
    let item = ev.item;
    item.check(&settings.trail_bucket, &settings.trail_prefix)?;
    replay::check_windows(&settings.detect)?;
    let mut pipeline = Pipeline::new(&settings.detect, registry).map_err(|e| InputError {
        field: "DETECT_CONFIG",
        rule: e.to_string(),
    })?;
    let warmup = replay::warmup_seconds(&settings.detect);
    let mut keys: Vec<(String, bool)> = Vec::new();
    if let Some(prev) = item.day.pred_opt() {
        let before = archive
            .keys(&item.bucket, &replay::day_prefix(&item.folder, prev))
            .await?;
        keys.extend(
            before
                .into_iter()
                .filter(|k| replay::in_warmup(k, &item, warmup))
                .map(|k| (k, false)),
        );
    }
    let own = archive
        .keys(&item.bucket, &replay::day_prefix(&item.folder, item.day))
        .await?;
    keys.extend(own.into_iter().map(|k| (k, true)));

    let mut tally = Tally::default();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let bucket = item.bucket.as_str();
    let mut fetched = futures_util::stream::iter(keys.iter())
        .map(|(k, owned)| async move { (k, *owned, archive.fetch(bucket, k).await) })
        .buffered(FETCH_AHEAD);
    while let Some((key, owned, body)) = fetched.next().await {
        let bytes = body?;
        if bytes.len() > MAX_OBJECT_BYTES {
            tally.problem(format!(
                "{key}: {} bytes, larger than {MAX_OBJECT_BYTES}: not replayed",
                bytes.len()
            ));
            continue;
        }
        if owned {
            tally.files += 1;
        } else {
            tally.warmup_files += 1;
        }
        replay_file(
            key,
            &bytes,
            owned,
            &mut pipeline,
            &mut seen,
            &mut out,
            &mut tally,
        );
    }
    let key = replay::alerts_key(&settings.results_prefix, &ev.run_id, &item);
    archive
        .store(&settings.results_bucket, &key, out, "application/x-ndjson")
        .await?;
    if tally.alerts_not_written > 0 {
        tally.problem(format!(
            "{} alerts past the first {MAX_ALERTS_PER_ITEM} not written: replay this folder and day with warden audit replay",
            tally.alerts_not_written
        ));
    }
    if tally.problem_count > 0 {
        tracing::warn!(folder = %item.folder, day = %item.day, problems = tally.problem_count, "unreadable files or records");
    }
    Ok(json!({
        "folder": item.folder,
        "day": item.day.format("%Y-%m-%d").to_string(),
        "files": tally.files,
        "warmup_files": tally.warmup_files,
        "records": tally.records,
        "warmup_records": tally.warmup_records,
        "alerts": tally.alerts,
        "duplicate_alerts": tally.duplicate_alerts,
        "alerts_not_written": tally.alerts_not_written,
        "alerts_key": key,
        "problem_count": tally.problem_count,
        "problems": tally.problems,
    }))
}

/// One invocation: `action` picks plan or replay (a Map child carries `item`).
///
/// # Errors
/// As [`plan`] and [`replay_item`].
pub async fn handle<A: LogArchive>(
    archive: &A,
    settings: &Settings,
    registry: Option<Arc<Registry>>,
    event: &Value,
) -> Result<Value, ReplayError> {
    match event["action"].as_str() {
        Some("plan") => plan(archive, settings, event).await,
        Some("replay") | None if event.get("item").is_some() => {
            replay_item(archive, settings, registry, event).await
        }
        other => Err(InputError {
            field: "action",
            rule: format!("must be \"plan\" or \"replay\" with an item (got {other:?})"),
        }
        .into()),
    }
}
