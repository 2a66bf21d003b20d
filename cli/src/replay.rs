//! `warden audit replay`: run the live pipeline (parse → normalise → detect) over archived logs.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufWriter, IsTerminal, Read as _, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow};
use chrono::Utc;
use serde_json::Value;
use warden_core::cloudtrail::{
    AccessRecord, Parsed, TimeForm, decompress, normalise_owned, parse_text_each,
};
use warden_core::detect::{Alert, DetectConfig, Pipeline};
use warden_core::grant::Registry;

/// Output format of alerts.
#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum AlertFormat {
    /// One JSON object per line.
    Jsonl,
    /// A table for people.
    Table,
}

/// Arguments of `warden audit replay`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  warden audit replay ./trail-export/ --grants prod.tfvars.json --format table\n  warden audit replay s3://org-trail/AWSLogs/o-abc/111111111111/CloudTrail/eu-west-1/ --since 2026-11-01 --until 2026-11-30 --checkpoint replay.ckpt --grants prod.tfvars.json > alerts.jsonl"
)]
pub struct ReplayArgs {
    /// Files or directories (read recursively): CloudTrail log files (.json, .json.gz),
    /// EventBridge events, JSON Lines.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Grants file; without it the registry detectors are off.
    #[arg(long)]
    pub grants: Option<PathBuf>,
    /// Detector configuration (JSON; see the README for the fields and defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Write the normalised access records here as JSON Lines.
    #[arg(long)]
    pub records_out: Option<PathBuf>,
    /// Alert output format.
    #[arg(long, value_enum, default_value_t = AlertFormat::Jsonl)]
    pub format: AlertFormat,
    /// Largest log file read, in bytes (as stored, before decompression; CloudTrail writes files
    /// of a few MB). Larger files are reported and skipped, not read into memory.
    #[arg(long, default_value_t = DEFAULT_MAX_FILE_BYTES)]
    pub max_file_bytes: u64,
    /// With `s3://` paths: only log files of this day or later (UTC, `YYYY-MM-DD`), picked from
    /// CloudTrail's key layout (`…/CloudTrail/<region>/YYYY/MM/DD/`).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// With `s3://` paths: only log files of this day or earlier (UTC, `YYYY-MM-DD`).
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// With `s3://` paths: resume from, and record in, this file the last key done per path
    /// (JSON), so an interrupted replay of months of logs starts where it stopped.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// With `s3://` paths: the AWS profile, Region and endpoint.
    #[command(flatten)]
    pub aws: crate::awscfg::AwsArgs,
    /// Files read, parsed and normalised at once, and detector shards (default: every core).
    /// Each account's records go to one shard, in input order, so the alerts and records are
    /// the same, byte for byte, as with `--jobs 1`; memory is bounded by about three files per
    /// job.
    #[arg(long)]
    pub jobs: Option<usize>,
}

/// Default of `--max-file-bytes`: 1 GiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1 << 30;

/// How deep a directory walk goes (symbolic links are never followed while walking, so this is
/// only a bound on pathological trees).
const MAX_DEPTH: usize = 64;

#[derive(Default)]
struct AccountSummary {
    records: u64,
    bytes: u64,
    failed: u64,
    alerts: u64,
}

/// Extensions read when walking a directory (files named explicitly are always read).
const LOG_EXTENSIONS: [&str; 4] = ["json", "jsonl", "ndjson", "gz"];

/// Walk `path`. Paths named on the command line are followed if they are links; links found
/// while walking are not (a link to a parent directory would recurse without end), and are
/// reported.
fn collect(
    path: &Path,
    explicit: bool,
    depth: usize,
    out: &mut Vec<PathBuf>,
    skipped: &mut usize,
    problems: &mut Vec<String>,
) {
    let meta = if explicit {
        fs::metadata(path)
    } else {
        fs::symlink_metadata(path)
    };
    match meta {
        Ok(m) if m.file_type().is_symlink() => problems.push(format!(
            "{}: symbolic link not followed while walking a directory (name it on the command line to read it)",
            path.display()
        )),
        Ok(m) if m.is_dir() && depth >= MAX_DEPTH => problems.push(format!(
            "{}: directory deeper than {MAX_DEPTH} levels not read",
            path.display()
        )),
        Ok(m) if m.is_dir() => match fs::read_dir(path) {
            Ok(entries) => {
                let mut children: Vec<PathBuf> =
                    entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                children.sort();
                for c in children {
                    collect(&c, false, depth + 1, out, skipped, problems);
                }
            }
            Err(e) => problems.push(format!("{}: cannot list directory: {e}", path.display())),
        },
        Ok(_) => {
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default();
            if explicit || LOG_EXTENSIONS.contains(&ext) {
                out.push(path.to_owned());
            } else {
                *skipped += 1;
            }
        }
        Err(e) => problems.push(format!("{}: cannot read: {e}", path.display())),
    }
}

/// The state of one replay: detectors, outputs and counts.
struct Run<W: Write> {
    pipeline: Pipeline,
    format: AlertFormat,
    out: W,
    records_out: Option<BufWriter<fs::File>>,
    summary: HashMap<String, AccountSummary>,
    alerts: Vec<Alert>,
    n_records: u64,
    n_alerts: u64,
    /// Records whose `eventTime` was an export's `YYYY-MM-DD HH:MM:SS[.fff]` (UTC, no zone).
    n_export_time: u64,
    /// Records whose nested objects were JSON strings (an export's form).
    n_nested_text: u64,
    /// The first write error (the parser's callback cannot return one); stops the replay.
    io_error: Option<io::Error>,
    /// `warden report`: every record and alert is counted into it.
    report: Option<warden_core::report::Builder>,
}

impl<W: Write> Run<W> {
    fn record(&mut self, file: &str, p: Parsed<'_>, problems: &mut Vec<String>) {
        if self.io_error.is_some() {
            return;
        }
        if let Err(e) = self.try_record(file, p, problems) {
            self.io_error = Some(e);
        }
    }

    fn try_record(
        &mut self,
        file: &str,
        p: Parsed<'_>,
        problems: &mut Vec<String>,
    ) -> io::Result<()> {
        let index = p.index;
        let rec = match normalise_owned(p) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{file} record {index}: {e}"));
                return Ok(());
            }
        };
        self.observe(&rec)
    }

    /// One normalised record: counts, `--records-out`, the detectors, the alerts.
    fn observe(&mut self, rec: &AccessRecord<'_>) -> io::Result<()> {
        self.n_records += 1;
        self.n_export_time += u64::from(rec.time_form == TimeForm::SpaceNoZone);
        self.n_nested_text += u64::from(rec.nested_as_text);
        let s = match self.summary.get_mut(&*rec.account_id) {
            Some(s) => s,
            None => self.summary.entry(rec.account_id.to_string()).or_default(),
        };
        s.records += 1;
        s.bytes += rec.bytes_transferred;
        s.failed += u64::from(!rec.success_status);
        if let Some(w) = self.records_out.as_mut() {
            serde_json::to_writer(&mut *w, rec)?;
            w.write_all(b"\n")?;
        }
        self.alerts.clear();
        self.pipeline.observe(rec, &mut self.alerts);
        if let Some(r) = self.report.as_mut() {
            r.access(&warden_core::report::Access {
                epoch_ms: rec.epoch_ms,
                account: &rec.account_id,
                principal: &rec.principal_arn,
                action: &rec.action,
                bucket: rec.bucket.as_deref(),
                key: rec.object_key.as_deref(),
                bytes: rec.bytes_transferred,
                success: rec.success_status,
                error_code: rec.error_code.as_deref(),
            });
            for a in &self.alerts {
                r.alert(warden_core::report::AlertLine {
                    epoch_ms: rec.epoch_ms,
                    detector: a.detector.to_owned(),
                    severity: a.severity,
                    account: a.account_id.clone(),
                    event_id: a.event_id.clone(),
                    summary: a.summary.clone(),
                });
            }
        }
        for a in &self.alerts {
            self.n_alerts += 1;
            match self.summary.get_mut(&a.account_id) {
                Some(s) => s.alerts += 1,
                None => {
                    self.summary.entry(a.account_id.clone()).or_default().alerts += 1;
                }
            }
            write_alert(&mut self.out, self.format, a)?;
        }
        Ok(())
    }
}

/// One alert as a line of the chosen format.
fn write_alert<W: Write>(out: &mut W, format: AlertFormat, a: &Alert) -> io::Result<()> {
    match format {
        AlertFormat::Jsonl => {
            serde_json::to_writer(&mut *out, a)?;
            out.write_all(b"\n")
        }
        AlertFormat::Table => writeln!(
            out,
            "{:<9} {:<23} {:<13} {:<38} {}",
            format!("{:?}", a.severity).to_lowercase(),
            a.detector,
            a.account_id,
            a.event_id,
            a.summary
        ),
    }
}

/// A file's text: read (at most `limit` bytes as stored), decompressed, checked as UTF-8. The
/// error is the problem line the replay reports.
fn read_file<'b>(
    f: &Path,
    limit: u64,
    bytes: &'b mut Vec<u8>,
) -> Result<std::borrow::Cow<'b, str>, String> {
    use std::borrow::Cow;
    let name = f.display();
    bytes.clear();
    // Read at most one byte past the limit: a file that grows while being read is bounded too.
    match fs::File::open(f).and_then(|file| file.take(limit.saturating_add(1)).read_to_end(bytes)) {
        Err(e) => return Err(format!("{name}: cannot read: {e}")),
        Ok(n) if n as u64 > limit => {
            return Err(format!(
                "{name}: larger than --max-file-bytes ({limit} bytes): not read (CloudTrail log files are a few MB; raise the limit to read it)"
            ));
        }
        Ok(_) => {}
    }
    // Decompress once and parse borrowing from the buffer: no per-field copies.
    let not_utf8 = |e: &dyn std::fmt::Display| format!("{name}: not UTF-8 text: {e}");
    match decompress(bytes).map_err(|e| format!("{name}: {e}"))? {
        Cow::Borrowed(b) => std::str::from_utf8(b)
            .map(Cow::Borrowed)
            .map_err(|e| not_utf8(&e)),
        Cow::Owned(v) => String::from_utf8(v)
            .map(Cow::Owned)
            .map_err(|e| not_utf8(&e)),
    }
}

/// A file's records, borrowing from the file's text.
type Records<'a> = Vec<AccessRecord<'a>>;

self_cell::self_cell!(
    /// One file's text and its normalised records borrowing from it: handed from the parse
    /// worker to the detector shards without copying a field (copying every record's strings
    /// cost more than the parse).
    struct FileRecords {
        owner: String,
        #[covariant]
        dependent: Records,
    }
);

/// What the detector shards get of a file: its records and the shard of each.
struct FileWork {
    records: FileRecords,
    shard: Vec<u16>,
}

/// What the calling thread gets of a file: its `--records-out` lines and its problems in the
/// order the sequential replay meets them.
struct FileDone {
    records_out: Vec<u8>,
    records: u64,
    problems: Vec<String>,
    digest: bool,
}

/// The detector shard of an account: a hash of its ID (FNV-1a, then mixed), so the same account always goes to the
/// same shard (the windowed detectors keep their state per account).
fn shard_of(account: &str, shards: usize) -> u16 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in account.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    // FNV's low bits are poor (its low bit is the XOR of the bytes' low bits, the same for
    // many account IDs): mix the high bits down (splitmix64's finaliser) before the modulo.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    u16::try_from(h % shards as u64).unwrap_or(0)
}

/// A file's text, owned: read (at most `limit` bytes as stored), decompressed, checked as UTF-8.
/// `bytes` is a spare buffer: a file's text, handed back once the shards are done with it, so a
/// worker does not fault in fresh pages for every file.
fn read_owned(f: &Path, limit: u64, mut bytes: Vec<u8>) -> Result<String, String> {
    // Sized from the file's length: growing by doubling would copy the text several times.
    let len = fs::metadata(f).map_or(0, |m| m.len().min(limit).saturating_add(1));
    bytes.clear();
    bytes.reserve(usize::try_from(len).unwrap_or(0));
    let text = read_file(f, limit, &mut bytes)?;
    Ok(match text {
        // Not compressed: the read buffer itself becomes the text (no copy).
        std::borrow::Cow::Borrowed(_) => {
            String::from_utf8(bytes).map_err(|e| format!("{}: not UTF-8 text: {e}", f.display()))?
        }
        std::borrow::Cow::Owned(t) => t,
    })
}

fn process_file(
    f: &Path,
    limit: u64,
    shards: usize,
    records_out: bool,
    spare: Vec<u8>,
) -> (FileDone, Option<FileWork>) {
    let name = f.display().to_string();
    let mut done = FileDone {
        records_out: Vec::new(),
        records: 0,
        problems: Vec::new(),
        digest: false,
    };
    let text = match read_owned(f, limit, spare) {
        Ok(t) => t,
        Err(p) => {
            done.problems.push(p);
            return (done, None);
        }
    };
    let mut shard: Vec<u16> = Vec::new();
    let mut errors = Vec::new();
    // CloudTrail records are 1–2 KB of text: sized for that, the records are not moved as the
    // vector grows (a record is a few hundred bytes; growing by doubling copied them all).
    let hint = text.len() / 1024 + 1;
    shard.reserve(hint);
    let records = FileRecords::new(text, |text| {
        let mut recs = Vec::with_capacity(hint);
        let report = parse_text_each(&name, text, |p| {
            let index = p.index;
            match normalise_owned(p) {
                Ok(r) => {
                    if records_out {
                        // Writing to a Vec cannot fail; a record that does not serialise is
                        // reported.
                        if let Err(e) = serde_json::to_writer(&mut done.records_out, &r) {
                            done.problems.push(format!("{name} record {index}: {e}"));
                        }
                        done.records_out.push(b'\n');
                    }
                    shard.push(shard_of(&r.account_id, shards));
                    recs.push(r);
                }
                Err(e) => done.problems.push(format!("{name} record {index}: {e}")),
            }
        });
        done.digest = report.digest;
        errors = report.errors.iter().map(ToString::to_string).collect();
        recs
    });
    done.problems.extend(errors);
    done.records = records.borrow_dependent().len() as u64;
    (done, Some(FileWork { records, shard }))
}

/// One shard's work on one file: its alerts, already formatted, each with the position of the
/// record that raised it.
struct ShardDone {
    alerts: Vec<(usize, std::ops::Range<usize>)>,
    text: Vec<u8>,
}

/// One detector shard's totals, added to the run's at the end.
#[derive(Default)]
struct ShardTotals {
    summary: HashMap<String, AccountSummary>,
    n_records: u64,
    n_alerts: u64,
    n_export_time: u64,
    n_nested_text: u64,
}

/// `--jobs N`: file `i` is read, parsed and normalised by parse worker `i % N`, which splits its
/// records over N detector shards by account; each shard runs its own detectors on its
/// accounts' records in input order (every detector keeps its state per account, so a shard sees
/// exactly what the sequential replay's detectors see for those accounts) and formats their
/// alerts; the calling thread takes each file's alerts back from every shard and writes them in
/// record order. The alerts and records are therefore the same, byte for byte, as `--jobs 1`.
/// A file's text is shared by the shards, not copied, and every channel holds two files, so
/// memory is bounded by about `3N` files (the setting is `--jobs`), not by the size of the logs.
#[allow(clippy::too_many_arguments)]
fn replay_parallel<W: Write>(
    files: &[PathBuf],
    jobs: usize,
    limit: u64,
    make_pipeline: &(dyn Fn() -> Result<Pipeline> + Sync),
    run: &mut Run<W>,
    problems: &mut Vec<String>,
    digests: &mut u64,
    progress: &dyn Fn(&Run<W>),
) -> Result<()> {
    use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
    // Files each channel holds: enough to ride over one slow file without stalling a worker.
    let depth = 2;
    let want_records = run.records_out.is_some();
    let format = run.format;
    let shards = jobs;
    let mut totals = Vec::with_capacity(shards);
    std::thread::scope(|scope| -> Result<()> {
        // to_shard[s][w]: parse worker w → detector shard s.
        let mut to_shard: Vec<Vec<Receiver<Option<Arc<FileWork>>>>> =
            (0..shards).map(|_| Vec::with_capacity(jobs)).collect();
        let mut meta_inbox = Vec::with_capacity(jobs);
        // spares[w]: texts the shards are done with, back to parse worker w (at most the files
        // in flight, so the channel needs no bound).
        let mut spares = Vec::with_capacity(jobs);
        for w in 0..jobs {
            let mut senders: Vec<SyncSender<Option<Arc<FileWork>>>> = Vec::with_capacity(shards);
            for inbox in &mut to_shard {
                let (tx, rx) = sync_channel(depth);
                senders.push(tx);
                inbox.push(rx);
            }
            let (meta_tx, meta_rx) = sync_channel::<FileDone>(depth);
            meta_inbox.push(meta_rx);
            let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Vec<u8>>();
            spares.push(spare_tx);
            scope.spawn(move || {
                for f in files.iter().skip(w).step_by(jobs) {
                    let spare = spare_rx.try_recv().unwrap_or_default();
                    let (done, work) = process_file(f, limit, shards, want_records, spare);
                    let mut work = work.map(Arc::new);
                    // A receiver is gone only when the replay stopped (a write failed). The last
                    // shard gets the worker's own reference, so the last shard done holds the
                    // only one and hands the text back.
                    for (k, tx) in senders.iter().enumerate() {
                        let mine = if k + 1 == senders.len() {
                            work.take()
                        } else {
                            work.clone()
                        };
                        if tx.send(mine).is_err() {
                            return;
                        }
                    }
                    if meta_tx.send(done).is_err() {
                        return;
                    }
                }
            });
        }
        let mut shard_inbox = Vec::with_capacity(shards);
        let mut shard_threads = Vec::with_capacity(shards);
        for (me, inbox) in to_shard.into_iter().enumerate() {
            let me = u16::try_from(me).unwrap_or(u16::MAX);
            let (tx, rx) = sync_channel::<ShardDone>(depth);
            shard_inbox.push(rx);
            let mut pipeline = make_pipeline()?;
            let spares = spares.clone();
            shard_threads.push(scope.spawn(move || -> ShardTotals {
                let mut t = ShardTotals::default();
                let mut alerts = Vec::new();
                for i in 0..files.len() {
                    let Some(work) = inbox.get(i % jobs).and_then(|rx| rx.recv().ok()) else {
                        break;
                    };
                    let mut done = ShardDone {
                        alerts: Vec::new(),
                        text: Vec::new(),
                    };
                    let mine = work.as_deref().into_iter().flat_map(|w| {
                        w.records
                            .borrow_dependent()
                            .iter()
                            .zip(&w.shard)
                            .enumerate()
                            .filter(|(_, (_, s))| **s == me)
                            .map(|(pos, (rec, _))| (pos, rec))
                    });
                    for (pos, rec) in mine {
                        t.n_records += 1;
                        t.n_export_time += u64::from(rec.time_form == TimeForm::SpaceNoZone);
                        t.n_nested_text += u64::from(rec.nested_as_text);
                        let s = t.summary.entry(rec.account_id.to_string()).or_default();
                        s.records += 1;
                        s.bytes += rec.bytes_transferred;
                        s.failed += u64::from(!rec.success_status);
                        alerts.clear();
                        pipeline.observe(rec, &mut alerts);
                        for a in &alerts {
                            t.n_alerts += 1;
                            t.summary.entry(a.account_id.clone()).or_default().alerts += 1;
                            let from = done.text.len();
                            // Writing to a Vec cannot fail.
                            let _ = write_alert(&mut done.text, format, a);
                            done.alerts.push((pos, from..done.text.len()));
                        }
                    }
                    // Exactly one shard gets the file back (Arc::into_inner); a worker that has
                    // stopped no longer wants it.
                    if let Some(w) = work.and_then(Arc::into_inner)
                        && let Some(back) = spares.get(i % jobs)
                    {
                        let _ = back.send(w.records.into_owner().into_bytes());
                    }
                    if tx.send(done).is_err() {
                        break;
                    }
                }
                t
            }));
        }
        let mut merged: Vec<(usize, usize, std::ops::Range<usize>)> = Vec::new();
        for i in 0..files.len() {
            let w = i % jobs;
            let done = meta_inbox
                .get(w)
                .ok_or_else(|| anyhow!("replay worker {w} missing"))?
                .recv()
                .map_err(|_| anyhow!("replay worker {w} stopped early"))?;
            let mut parts = Vec::with_capacity(shards);
            merged.clear();
            for (s, rx) in shard_inbox.iter().enumerate() {
                let part = rx
                    .recv()
                    .map_err(|_| anyhow!("detector shard {s} stopped early"))?;
                merged.extend(part.alerts.iter().map(|(pos, r)| (*pos, s, r.clone())));
                parts.push(part);
            }
            // A record's alerts all come from its account's shard, already in detector order;
            // the stable sort keeps that order and puts the records back in file order.
            merged.sort_by_key(|(pos, _, _)| *pos);
            for (_, s, r) in &merged {
                if let Some(bytes) = parts.get(*s).and_then(|p| p.text.get(r.clone())) {
                    run.out.write_all(bytes)?;
                }
            }
            if let Some(w) = run.records_out.as_mut() {
                w.write_all(&done.records_out)?;
            }
            *digests += u64::from(done.digest);
            problems.extend(done.problems);
            run.n_alerts += merged.len() as u64;
            run.n_records += done.records;
            progress(run);
        }
        drop(shard_inbox);
        for t in shard_threads {
            totals.push(t.join().map_err(|_| anyhow!("a detector shard stopped"))?);
        }
        Ok(())
    })?;
    // The progress line counted as files were written; the shards' totals replace those counts.
    run.n_alerts = 0;
    run.n_records = 0;
    for t in totals {
        run.n_records += t.n_records;
        run.n_alerts += t.n_alerts;
        run.n_export_time += t.n_export_time;
        run.n_nested_text += t.n_nested_text;
        for (acct, s) in t.summary {
            let into = run.summary.entry(acct).or_default();
            into.records += s.records;
            into.bytes += s.bytes;
            into.failed += s.failed;
            into.alerts += s.alerts;
        }
    }
    Ok(())
}

/// A `YYYY-MM-DD` option.
fn day(flag: &str, v: Option<&str>) -> Result<Option<chrono::NaiveDate>> {
    v.map(|d| {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| anyhow!("{flag}: {d:?} must be a day as YYYY-MM-DD (UTC)"))
    })
    .transpose()
}

/// `s3://bucket/prefix` → (bucket, prefix).
fn s3_uri(uri: &str) -> Result<(&str, &str)> {
    let rest = uri.strip_prefix("s3://").unwrap_or(uri);
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        anyhow::bail!("PATH: {uri}: an s3:// URI needs a bucket (s3://bucket/AWSLogs/…)");
    }
    Ok((bucket, prefix))
}

/// How many objects are fetched ahead of the detectors.
const S3_FETCH_AHEAD: usize = 8;

/// `warden audit replay s3://…`: list each URI's log files in key order (from the checkpoint's
/// last key, or from `--since`'s day when the URI is one region's folder), fetch them
/// `S3_FETCH_AHEAD` at a time in that order, run each through the same pipeline as a local file,
/// and record the last key done after every object.
fn replay_s3<W: Write>(
    args: &ReplayArgs,
    uris: &[&str],
    run: &mut Run<W>,
    problems: &mut Vec<String>,
    digests: &mut u64,
    objects_read: &mut usize,
) -> Result<()> {
    use futures_util::stream::{self, StreamExt};
    use warden_aws::{Keep, S3LogSource};
    use warden_core::cloudtrail::{log_key_date, prefix_is_one_region};
    let since = day("--since", args.since.as_deref())?;
    let until = day("--until", args.until.as_deref())?;
    if let (Some(a), Some(b)) = (since, until)
        && a > b
    {
        anyhow::bail!("--since {a} is after --until {b}");
    }
    let mut checkpoint: serde_json::Map<String, Value> = match &args.checkpoint {
        Some(f) if f.exists() => {
            let text = fs::read_to_string(f)
                .with_context(|| format!("--checkpoint: reading {}", f.display()))?;
            serde_json::from_str(&text).map_err(|e| {
                anyhow!(
                    "--checkpoint: {} is not a JSON object of path → last key ({e})",
                    f.display()
                )
            })?
        }
        _ => serde_json::Map::new(),
    };
    let rt = crate::awscfg::runtime()?;
    rt.block_on(async {
        let cfg = args.aws.config().await;
        let source = S3LogSource::new(&cfg);
        let bar = io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {pos} objects  {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b
        });
        for uri in uris {
            let (bucket, prefix) = s3_uri(uri)?;
            let ordered = prefix_is_one_region(prefix);
            // Start after the checkpoint's last key, or just before --since's day.
            let from_day = since
                .filter(|_| ordered && prefix.ends_with('/'))
                .map(|d| format!("{prefix}{}", d.format("%Y/%m/%d")));
            let done = checkpoint
                .get(*uri)
                .and_then(Value::as_str)
                .map(str::to_owned);
            let start_after = match (done, from_day) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            let keys = source
                .list(bucket, prefix, start_after.as_deref(), |key| {
                    match log_key_date(key) {
                        Some(d) if until.is_some_and(|u| d > u) => {
                            if ordered {
                                Keep::Stop
                            } else {
                                Keep::Skip
                            }
                        }
                        Some(d) if since.is_some_and(|s| d < s) => Keep::Skip,
                        Some(_) => Keep::Yes,
                        // Not a log file of the layout (a digest, another file): only read
                        // when no day range was asked for.
                        None if since.is_some() || until.is_some() => Keep::Skip,
                        None => Keep::Yes,
                    }
                })
                .await
                .map_err(|e| anyhow!("{uri}: {e}"))?;
            let mut fetched = stream::iter(keys.into_iter().map(|key| {
                let source = &source;
                async move {
                    let body = source.get(bucket, &key).await;
                    (key, body)
                }
            }))
            .buffered(S3_FETCH_AHEAD);
            // After an object that could not be fetched the checkpoint stops advancing for this
            // URI: a resumed replay fetches it again (and re-reads what came after it).
            let mut advance = true;
            while let Some((key, body)) = fetched.next().await {
                let name = format!("s3://{bucket}/{key}");
                *objects_read += 1;
                match body {
                    Err(e) => {
                        advance = false;
                        problems.push(format!("{name}: {e}"));
                    }
                    Ok(bytes) => match decompress(&bytes)
                        .map_err(|e| format!("{name}: {e}"))
                        .and_then(|d| {
                            String::from_utf8(d.into_owned())
                                .map_err(|e| format!("{name}: not UTF-8 text: {e}"))
                        }) {
                        Err(p) => problems.push(p),
                        Ok(text) => {
                            let report =
                                parse_text_each(&name, &text, |p| run.record(&name, p, problems));
                            *digests += u64::from(report.digest);
                            problems.extend(report.errors.iter().map(ToString::to_string));
                            if let Some(e) = run.io_error.take() {
                                return Err(e.into());
                            }
                        }
                    },
                }
                if let Some(f) = args.checkpoint.as_ref().filter(|_| advance) {
                    // Written whole and renamed: a replay killed mid-write keeps the old one.
                    checkpoint.insert((*uri).to_owned(), Value::String(key.clone()));
                    let tmp = f.with_extension("tmp");
                    fs::write(&tmp, Value::Object(checkpoint.clone()).to_string())
                        .and_then(|()| fs::rename(&tmp, f))
                        .with_context(|| format!("--checkpoint: writing {}", f.display()))?;
                }
                if let Some(b) = &bar {
                    b.inc(1);
                    b.set_message(format!(
                        "{} records, {} alerts",
                        run.n_records, run.n_alerts
                    ));
                }
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        Ok(())
    })
}

fn load_config(path: Option<&Path>) -> Result<DetectConfig> {
    let Some(p) = path else {
        return Ok(DetectConfig::default());
    };
    let text =
        fs::read_to_string(p).with_context(|| format!("--config: reading {}", p.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow!("--config {}: {e}", p.display()))
}

/// Run the replay; returns the exit code (0 all parsed, 2 some input unreadable).
/// Run `warden audit replay`.
///
/// # Errors
/// A bad option (named), or an output could not be written.
pub fn run(args: &ReplayArgs) -> Result<ExitCode> {
    run_with(args, None).map(|(code, _)| code)
}

/// The replay, and with `report` (for `warden report`) every record and alert counted into it:
/// alerts are then not printed and files are read one at a time, in order.
pub(crate) fn run_with(
    args: &ReplayArgs,
    report: Option<warden_core::report::Builder>,
) -> Result<(ExitCode, Option<warden_core::report::Builder>)> {
    let mut cfg = load_config(args.config.as_deref())?;
    let registry = match &args.grants {
        Some(g) => {
            let text = fs::read_to_string(g)
                .with_context(|| format!("--grants: reading {}", g.display()))?;
            let reg = Registry::from_json(&text, Utc::now())
                .map_err(|e| anyhow!("--grants {}: {e}", g.display()))?;
            // The grants file also names the primary account and bucket: use them unless configured.
            let raw: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if let Some(a) = raw.get("primary_account_id").and_then(Value::as_str)
                && !cfg.trusted_accounts.iter().any(|t| t == a)
            {
                cfg.trusted_accounts.push(a.to_owned());
            }
            if cfg.shared_bucket.is_none() {
                cfg.shared_bucket = raw
                    .get("bucket_name")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            Some(Arc::new(reg))
        }
        None => None,
    };
    let pipeline = Pipeline::new(&cfg, registry.clone()).map_err(|e| anyhow!("--config: {e}"))?;
    if !pipeline.without_registry.is_empty() {
        eprintln!(
            "note: no --grants given, so these detectors are off: {}",
            pipeline.without_registry.join(", ")
        );
    }
    let s3: Vec<&str> = args
        .paths
        .iter()
        .filter_map(|p| p.to_str().filter(|t| t.starts_with("s3://")))
        .collect();
    if !s3.is_empty() && s3.len() != args.paths.len() {
        anyhow::bail!("PATH: give local files and directories, or s3:// URIs, not both");
    }
    if s3.is_empty() && (args.since.is_some() || args.until.is_some() || args.checkpoint.is_some())
    {
        anyhow::bail!("--since, --until and --checkpoint apply to s3:// paths only");
    }
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let mut skipped = 0usize;
    for p in args.paths.iter().filter(|_| s3.is_empty()) {
        collect(p, true, 0, &mut files, &mut skipped, &mut problems);
    }
    let records_out = match &args.records_out {
        Some(p) => {
            Some(BufWriter::new(fs::File::create(p).with_context(|| {
                format!("--records-out: creating {}", p.display())
            })?))
        }
        None => None,
    };
    let bar = if io::stderr().is_terminal() && files.len() > 1 {
        let b = indicatif::ProgressBar::new(files.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let mut out: Box<dyn Write> = if report.is_some() {
        Box::new(io::sink())
    } else {
        Box::new(BufWriter::new(io::stdout().lock()))
    };
    if args.format == AlertFormat::Table && report.is_none() {
        writeln!(
            out,
            "{:<9} {:<23} {:<13} {:<38} summary",
            "severity", "detector", "account", "event"
        )?;
    }
    let mut run = Run {
        pipeline,
        format: args.format,
        out,
        records_out,
        summary: HashMap::new(),
        alerts: Vec::new(),
        n_records: 0,
        n_alerts: 0,
        n_export_time: 0,
        n_nested_text: 0,
        io_error: None,
        report,
    };
    let mut digests = 0u64;
    let mut files_read = files.len();
    let jobs = match args.jobs {
        Some(0) => anyhow::bail!("--jobs: must be at least 1"),
        // The report counts records as the sequential replay meets them.
        _ if run.report.is_some() => 1,
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
    }
    .min(files.len().max(1));
    let progress = |run: &Run<_>| {
        if let Some(b) = &bar {
            b.inc(1);
            b.set_message(format!(
                "{} records, {} alerts",
                run.n_records, run.n_alerts
            ));
        }
    };
    if !s3.is_empty() {
        replay_s3(
            args,
            &s3,
            &mut run,
            &mut problems,
            &mut digests,
            &mut files_read,
        )?;
    } else if jobs <= 1 {
        // One read buffer for every file: no fresh allocation (and page faults) per file.
        let mut bytes = Vec::new();
        for f in &files {
            let name = f.display().to_string();
            let text = match read_file(f, args.max_file_bytes, &mut bytes) {
                Ok(t) => t,
                Err(p) => {
                    problems.push(p);
                    continue;
                }
            };
            // Each record goes through normalise and the detectors as soon as it is read.
            let report = parse_text_each(&name, &text, |p| run.record(&name, p, &mut problems));
            digests += u64::from(report.digest);
            problems.extend(report.errors.iter().map(ToString::to_string));
            if let Some(e) = run.io_error.take() {
                return Err(e.into());
            }
            progress(&run);
        }
    } else {
        let make = || Pipeline::new(&cfg, registry.clone()).map_err(|e| anyhow!("--config: {e}"));
        replay_parallel(
            &files,
            jobs,
            args.max_file_bytes,
            &make,
            &mut run,
            &mut problems,
            &mut digests,
            &progress,
        )?;
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    run.out.flush()?;
    if let Some(mut w) = run.records_out.take() {
        w.flush()?;
    }
    let (n_records, n_alerts) = (run.n_records, run.n_alerts);
    let mut summary: Vec<(String, AccountSummary)> = run.summary.into_iter().collect();
    summary.sort_by(|a, b| a.0.cmp(&b.0));
    let mut err = io::stderr().lock();
    writeln!(
        err,
        "{:<14} {:>9} {:>15} {:>7} {:>7}",
        "account", "records", "bytes", "failed", "alerts"
    )?;
    for (acct, s) in &summary {
        writeln!(
            err,
            "{acct:<14} {:>9} {:>15} {:>7} {:>7}",
            s.records, s.bytes, s.failed, s.alerts
        )?;
    }
    writeln!(
        err,
        "{} file(s) read, {skipped} non-log file(s) ignored, {n_records} record(s), {n_alerts} alert(s), {digests} digest file(s) skipped, {} problem(s)",
        files_read,
        problems.len()
    )?;
    if run.n_export_time > 0 || run.n_nested_text > 0 {
        // Say which forms were read: an export is not what CloudTrail delivered.
        writeln!(
            err,
            "export forms read: {} record(s) with eventTime as YYYY-MM-DD HH:MM:SS[.fff] (taken as UTC), {} with nested objects as JSON strings",
            run.n_export_time, run.n_nested_text
        )?;
    }
    for p in &problems {
        writeln!(err, "unreadable: {p}")?;
    }
    let mut report = run.report.take();
    if let Some(r) = report.as_mut() {
        if !problems.is_empty() {
            r.note(format!(
                "{} input problem(s) (unreadable files or records): the figures leave them out; `warden audit replay` on the same inputs lists them",
                problems.len()
            ));
        }
        if run.n_export_time > 0 || run.n_nested_text > 0 {
            r.note(format!(
                "export forms read: {} record(s) with eventTime without a zone (taken as UTC), {} with nested objects as JSON strings",
                run.n_export_time, run.n_nested_text
            ));
        }
    }
    let code = if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    };
    Ok((code, report))
}

#[cfg(test)]
mod tests {
    use super::shard_of;

    /// An account always goes to the same shard, and twenty accounts spread over two and three
    /// shards with none holding more than two thirds (plain FNV-1a put all twenty on one of two).
    #[test]
    fn accounts_keep_their_shard_and_spread_over_all() {
        for shards in [2usize, 3] {
            let mut used = vec![0u32; shards];
            for i in 0..20u64 {
                let account = format!("{:012}", 210_000_000_000 + i * 1001);
                let s = shard_of(&account, shards);
                assert_eq!(s, shard_of(&account, shards));
                used[usize::from(s)] += 1;
            }
            assert!(used.iter().all(|n| *n > 0 && *n <= 14), "{used:?}");
        }
        assert_eq!(shard_of("", 1), 0);
    }
}
