//! Replay past one machine: a months-long CloudTrail archive split into one item per trail
//! folder (`…/CloudTrail/<region>/`) and day, each replayed on its own by the `audit-replay`
//! function under a Step Functions Distributed Map.
//!
//! An item owns the records of its day's log files, exactly as `warden audit replay s3://…
//! --since D --until D` does; before them it reads the end of the previous day's files (the
//! *warm-up*, twice the longest detector window) so that its windowed detectors start with the
//! state a replay of the whole range would have, and it raises no alert for a warm-up record
//! (the previous day's item owns those). The union of the items' alerts is therefore the alerts
//! of one replay of the range (tested), each raised by one item only.
//!
//! Everything here is pure: the function and the CLI's local run feed it keys and bytes.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::detect::DetectConfig;

/// Most days one replay covers (a year and a bit: an incident's look-back, not the archive).
pub const MAX_DAYS: i64 = 400;
/// Most trail folders one replay covers (accounts × regions of an organization trail).
pub const MAX_FOLDERS: usize = 10_000;
/// Most items one replay plans (folders × days).
pub const MAX_ITEMS: usize = 1_000_000;

/// One unit of work: one trail folder's log files of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayItem {
    /// Bucket holding the trail's log files.
    pub bucket: String,
    /// The trail folder: `…/AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/`.
    pub folder: String,
    /// The day (UTC) whose folder `YYYY/MM/DD/` this item owns.
    pub day: NaiveDate,
}

/// Input that cannot be planned or replayed, naming the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct InputError {
    /// The field (`source`, `since`, `item.folder`…).
    pub field: &'static str,
    /// What it must be.
    pub rule: String,
}

fn bad(field: &'static str, rule: impl Into<String>) -> InputError {
    InputError {
        field,
        rule: rule.into(),
    }
}

/// `s3://bucket/prefix` → (bucket, prefix).
///
/// # Errors
/// Not an `s3://` URI with a bucket name S3 allows.
pub fn parse_source(uri: &str) -> Result<(String, String), InputError> {
    let rest = uri.strip_prefix("s3://").ok_or_else(|| {
        bad(
            "source",
            format!("must be s3://bucket/prefix (got {uri:?})"),
        )
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    check_bucket("source", bucket)?;
    if prefix.len() > 1024 {
        return Err(bad(
            "source",
            "prefix longer than S3's 1,024-byte key limit",
        ));
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

fn check_bucket(field: &'static str, bucket: &str) -> Result<(), InputError> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !bucket.starts_with(['-', '.'])
        && !bucket.ends_with(['-', '.']);
    if ok {
        Ok(())
    } else {
        Err(bad(
            field,
            format!("bucket {bucket:?} is not an S3 bucket name (3–63 of a-z 0-9 . -)"),
        ))
    }
}

/// Whether `prefix` is exactly one trail folder: it ends `/CloudTrail/<region>/`.
#[must_use]
pub fn is_trail_folder(prefix: &str) -> bool {
    let Some(body) = prefix.strip_suffix('/') else {
        return false;
    };
    let mut parts = body.rsplit('/');
    let region = parts.next().unwrap_or_default();
    parts.next() == Some("CloudTrail")
        && !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The account and region of a trail folder (`…/<account>/CloudTrail/<region>/`).
#[must_use]
pub fn folder_account_region(folder: &str) -> Option<(&str, &str)> {
    let body = folder.strip_suffix('/')?;
    let mut parts = body.rsplit('/');
    let region = parts.next()?;
    (parts.next()? == "CloudTrail").then_some(())?;
    let account = parts.next()?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        .then_some((account, region))
}

/// Whether a folder met while walking down to the trail folders can hold one: CloudTrail's
/// layout below `AWSLogs/` is `[<org-id>/]<account>/CloudTrail/<region>/`; digest and Insights
/// folders (`CloudTrail-Digest/`, `CloudTrail-Insight/`) hold no events to replay.
#[must_use]
pub fn worth_walking(prefix: &str) -> bool {
    let last = prefix
        .strip_suffix('/')
        .and_then(|p| p.rsplit('/').next())
        .unwrap_or_default();
    !last.starts_with("CloudTrail-")
}

/// `folder` + `YYYY/MM/DD/`.
#[must_use]
pub fn day_prefix(folder: &str, day: NaiveDate) -> String {
    format!("{folder}{}/", day.format("%Y/%m/%d"))
}

/// The days from `since` to `until`, both included.
///
/// # Errors
/// A date is not `YYYY-MM-DD`, `until` is before `since`, or the range is longer than
/// [`MAX_DAYS`].
pub fn days(since: &str, until: &str) -> Result<Vec<NaiveDate>, InputError> {
    let parse = |field: &'static str, v: &str| {
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .ok()
            .filter(|_| v.len() == 10)
            .ok_or(())
            .map_err(|_| bad(field, format!("must be a day, YYYY-MM-DD (got {v:?})")))
    };
    let (a, b) = (parse("since", since)?, parse("until", until)?);
    if b < a {
        return Err(bad("until", format!("{until} is before since ({since})")));
    }
    let n = (b - a).num_days() + 1;
    if n > MAX_DAYS {
        return Err(bad(
            "until",
            format!("{n} days from since: at most {MAX_DAYS} in one replay"),
        ));
    }
    Ok(a.iter_days()
        .take(usize::try_from(n).unwrap_or(0))
        .collect())
}

/// One item per folder and day, folders in key order, days in order within each.
///
/// # Errors
/// No folder, or more than [`MAX_FOLDERS`] folders or [`MAX_ITEMS`] items.
pub fn plan(
    bucket: &str,
    folders: &[String],
    days: &[NaiveDate],
) -> Result<Vec<DayItem>, InputError> {
    if folders.is_empty() {
        return Err(bad(
            "source",
            "no CloudTrail folder (…/CloudTrail/<region>/) under it",
        ));
    }
    if folders.len() > MAX_FOLDERS {
        return Err(bad(
            "source",
            format!(
                "{} trail folders: at most {MAX_FOLDERS} in one replay; narrow the prefix",
                folders.len()
            ),
        ));
    }
    if folders.len().saturating_mul(days.len()) > MAX_ITEMS {
        return Err(bad(
            "until",
            format!(
                "{} folders × {} days: at most {MAX_ITEMS} items in one replay",
                folders.len(),
                days.len()
            ),
        ));
    }
    let mut sorted: Vec<&String> = folders.iter().collect();
    sorted.sort();
    sorted.dedup();
    Ok(sorted
        .into_iter()
        .flat_map(|f| {
            days.iter().map(move |d| DayItem {
                bucket: bucket.to_owned(),
                folder: f.clone(),
                day: *d,
            })
        })
        .collect())
}

impl DayItem {
    /// Check an item handed to the function (it comes from the plan, but the function is
    /// invocable on its own): the trail bucket and a trail folder under the trail prefix only.
    ///
    /// # Errors
    /// Another bucket, or a folder that is not one trail folder in CloudTrail's layout.
    pub fn check(&self, trail_bucket: &str, trail_prefix: &str) -> Result<(), InputError> {
        check_bucket("item.bucket", &self.bucket)?;
        if self.bucket != trail_bucket {
            return Err(bad(
                "item.bucket",
                format!(
                    "must be the trail bucket {trail_bucket:?} (got {:?})",
                    self.bucket
                ),
            ));
        }
        if !is_trail_folder(&self.folder)
            || !in_trail_layout(&self.folder, trail_prefix)
            || self.folder.len() > 900
        {
            return Err(bad(
                "item.folder",
                format!(
                    "must be one trail folder, …/CloudTrail/<region>/ (got {:?})",
                    self.folder
                ),
            ));
        }
        Ok(())
    }

    /// Start of the item's day (UTC).
    #[must_use]
    pub fn start(&self) -> DateTime<Utc> {
        self.day.and_time(chrono::NaiveTime::MIN).and_utc()
    }
}

/// The time in a CloudTrail log file's name
/// (`<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz`: the end of the five
/// minutes the file covers, https://docs.aws.amazon.com/awscloudtrail/latest/userguide/get-and-view-cloudtrail-log-files.html).
#[must_use]
pub fn file_time(key: &str) -> Option<DateTime<Utc>> {
    let name = key.rsplit('/').next()?;
    name.split('_').find_map(|part| {
        (part.len() == 14 && part.as_bytes().get(8) == Some(&b'T') && part.ends_with('Z'))
            .then(|| NaiveDateTime::parse_from_str(part, "%Y%m%dT%H%MZ").ok())
            .flatten()
            .map(|t| t.and_utc())
    })
}

/// Seconds of warm-up before an item's day: twice the longest detector window, so a window
/// that fired just before the day is quiet in the item as it is in a whole-range replay.
#[must_use]
pub fn warmup_seconds(cfg: &DetectConfig) -> u64 {
    cfg.request_spike_window_seconds
        .max(cfg.failed_auth_window_seconds)
        .max(cfg.egress_window_seconds)
        .saturating_mul(2)
}

/// The longest warm-up an item reads: one day (only the previous day's folder is read).
pub const MAX_WARMUP_SECONDS: u64 = 86_400;

/// Check that the detectors' windows fit the split: the warm-up (twice the longest window) must
/// fit in the previous day's folder.
///
/// # Errors
/// A window longer than 12 hours.
pub fn check_windows(cfg: &DetectConfig) -> Result<(), InputError> {
    let w = warmup_seconds(cfg);
    if w > MAX_WARMUP_SECONDS {
        return Err(bad(
            "DETECT_CONFIG",
            format!(
                "the longest window is {} s: an archive replay's items warm up on the previous day only, so windows must be at most 43,200 s",
                w / 2
            ),
        ));
    }
    Ok(())
}

/// Whether a key of the previous day's folder is in the item's warm-up: its file time is within
/// `warmup_secs` of the day's start. A file whose name carries no time is read (a warm-up
/// record raises no alert, so reading more only costs time).
#[must_use]
pub fn in_warmup(key: &str, item: &DayItem, warmup_secs: u64) -> bool {
    let back = i64::try_from(warmup_secs.min(MAX_WARMUP_SECONDS))
        .ok()
        .and_then(Duration::try_seconds)
        .unwrap_or_default();
    let Some(from) = item.start().checked_sub_signed(back) else {
        return true;
    };
    file_time(key).is_none_or(|t| t >= from)
}

/// Where an item's alerts go: `<prefix><run>/alerts/<folder><YYYY-MM-DD>.jsonl` — the whole
/// folder, so two trails of one account and region (an account trail and an organization trail
/// in one bucket) never write the same key.
#[must_use]
pub fn alerts_key(results_prefix: &str, run: &str, item: &DayItem) -> String {
    format!(
        "{results_prefix}{run}/alerts/{}{}.jsonl",
        item.folder,
        item.day.format("%Y-%m-%d")
    )
}

/// Whether `folder` is a trail folder in CloudTrail's layout under `trail_prefix`:
/// `<trail_prefix>AWSLogs/[o-<org>/]<12 digits>/CloudTrail/<region>/`.
#[must_use]
pub fn in_trail_layout(folder: &str, trail_prefix: &str) -> bool {
    let Some(rest) = folder
        .strip_prefix(trail_prefix)
        .and_then(|r| r.strip_prefix("AWSLogs/"))
    else {
        return false;
    };
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let org_ok = |p: &str| {
        p.strip_prefix("o-").is_some_and(|o| {
            !o.is_empty()
                && o.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
    };
    let tail = match parts.as_slice() {
        [org, tail @ ..] if org_ok(org) => tail,
        all => all,
    };
    matches!(tail, [account, "CloudTrail", region]
        if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !region.is_empty()
           && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        && folder.ends_with('/')
}

/// A run ID (the execution's name): 1–80 of `A-Z a-z 0-9 - _`, as Step Functions names are.
///
/// # Errors
/// Anything else (it becomes part of S3 keys).
pub fn check_run(run: &str) -> Result<(), InputError> {
    if (1..=80).contains(&run.len())
        && run
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(bad(
            "run_id",
            format!("must be 1–80 of A-Z a-z 0-9 - _ (got {run:?})"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: &str = "cloudtrail/AWSLogs/o-abc123/111111111111/CloudTrail/eu-west-1/";

    #[test]
    fn trail_folders_and_their_account() {
        assert!(is_trail_folder(F));
        assert!(!is_trail_folder(
            "cloudtrail/AWSLogs/111111111111/CloudTrail/"
        ));
        assert!(!is_trail_folder(
            "cloudtrail/AWSLogs/111111111111/CloudTrail/eu-west-1"
        ));
        assert!(!is_trail_folder("x/CloudTrail-Digest/eu-west-1/"));
        assert_eq!(
            folder_account_region(F),
            Some(("111111111111", "eu-west-1"))
        );
        assert!(!worth_walking("AWSLogs/111111111111/CloudTrail-Digest/"));
        assert!(worth_walking("AWSLogs/111111111111/"));
    }

    #[test]
    fn days_and_plan() {
        let d = days("2026-11-29", "2026-12-01").unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(days("2026-12-02", "2026-12-01").unwrap_err().field, "until");
        assert_eq!(days("2026-1-2", "2026-12-01").unwrap_err().field, "since");
        assert!(
            days("2025-01-01", "2026-12-01")
                .unwrap_err()
                .rule
                .contains("at most 400")
        );
        let folders = vec![
            F.to_owned(),
            "AWSLogs/222222222222/CloudTrail/us-east-1/".to_owned(),
            F.to_owned(),
        ];
        let items = plan("trail-bucket", &folders, &d).unwrap();
        assert_eq!(items.len(), 6, "duplicates folded");
        assert_eq!(
            items[0].folder,
            "AWSLogs/222222222222/CloudTrail/us-east-1/"
        );
        assert_eq!(day_prefix(F, d[0]), format!("{F}2026/11/29/"));
        assert_eq!(plan("b", &[], &d).unwrap_err().field, "source");
    }

    #[test]
    fn sources_items_and_runs_are_checked_by_name() {
        assert_eq!(
            parse_source("s3://trail-bucket/cloudtrail/AWSLogs/").unwrap(),
            ("trail-bucket".to_owned(), "cloudtrail/AWSLogs/".to_owned())
        );
        assert_eq!(parse_source("trail-bucket/x").unwrap_err().field, "source");
        assert_eq!(
            parse_source("s3://Bad_Bucket/x").unwrap_err().field,
            "source"
        );
        let mut item = DayItem {
            bucket: "trail-bucket".into(),
            folder: F.into(),
            day: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        };
        assert!(item.check("trail-bucket", "cloudtrail/").is_ok());
        assert_eq!(
            item.check("other-bucket", "cloudtrail/").unwrap_err().field,
            "item.bucket"
        );
        assert_eq!(
            item.check("trail-bucket", "logs/").unwrap_err().field,
            "item.folder"
        );
        item.folder = "cloudtrail/AWSLogs/".into();
        assert_eq!(
            item.check("trail-bucket", "cloudtrail/").unwrap_err().field,
            "item.folder"
        );
        item.folder = "cloudtrail/x/111111111111/CloudTrail/eu-west-1/".into();
        assert_eq!(
            item.check("trail-bucket", "cloudtrail/").unwrap_err().field,
            "item.folder"
        );
        assert!(in_trail_layout(
            "cloudtrail/AWSLogs/111111111111/CloudTrail/us-east-1/",
            "cloudtrail/"
        ));
        assert!(!in_trail_layout(
            "cloudtrail/AWSLogs/o-x/y/111111111111/CloudTrail/us-east-1/",
            "cloudtrail/"
        ));
        assert!(check_run("run-2026_11").is_ok());
        assert_eq!(check_run("../etc").unwrap_err().field, "run_id");
        assert_eq!(check_run("").unwrap_err().field, "run_id");
    }

    #[test]
    fn file_times_pick_the_warm_up() {
        let key =
            format!("{F}2026/11/22/111111111111_CloudTrail_eu-west-1_20261122T2215Z_abc.json.gz");
        assert_eq!(
            file_time(&key).unwrap().to_rfc3339(),
            "2026-11-22T22:15:00+00:00"
        );
        let item = DayItem {
            bucket: "b".into(),
            folder: F.into(),
            day: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        };
        assert!(in_warmup(&key, &item, 7200), "1 h 45 before the day");
        assert!(!in_warmup(&key, &item, 3600));
        assert!(in_warmup("no-time.json", &item, 60), "no time: read");
        assert_eq!(warmup_seconds(&DetectConfig::default()), 7200);
        assert_eq!(
            alerts_key("replay/", "r1", &item),
            format!("replay/r1/alerts/{F}2026-11-23.jsonl")
        );
        let long = DetectConfig {
            egress_window_seconds: 86_400,
            ..DetectConfig::default()
        };
        assert_eq!(check_windows(&long).unwrap_err().field, "DETECT_CONFIG");
        assert!(check_windows(&DetectConfig::default()).is_ok());
    }
}
