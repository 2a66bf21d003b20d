//! The CloudTrail pipeline's first two stages: parse every shape CloudTrail records arrive in,
//! and normalise each record into one access record.
//!
//! Accepted inputs (detected from content, not file names):
//! - an EventBridge "AWS API Call via CloudTrail" envelope (`{"detail-type": …, "detail": record}`);
//! - a CloudTrail log file `{"Records": [...]}`, plain or gzip-compressed, as delivered to S3;
//! - JSON Lines of bare records or of envelopes; a JSON array of records; one bare record.
//!
//! Digest files are recognised and skipped. A malformed file or record gives an error naming the
//! source (and record index) and the cause; the other records are still returned.

pub mod bare;
pub mod normalise;
pub(crate) mod parse;
pub mod record;
pub mod synth;

use std::borrow::Cow;
use std::io::Read;

pub use normalise::{AccessRecord, NormaliseError, TimeForm, normalise, normalise_owned};
pub use record::CloudTrailRecord;
pub use record::Txt;

/// Largest decompressed size accepted from one gzip file (CloudTrail files are far smaller).
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// A record that could not be read, or a file that could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}{}: {message}", index.map(|i| format!(" record {i}")).unwrap_or_default())]
pub struct ParseError {
    /// The file (or message) the input came from.
    pub source_name: String,
    /// Index of the record in the file, when the file itself was readable.
    pub index: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// One parsed record with its position and an ID usable as an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// Position in the source (0-based).
    pub index: usize,
    /// The record (borrowing from the input where it can).
    pub record: CloudTrailRecord<'a>,
    /// `eventID`, or, when a record lacks one (old or third-party logs), a stable
    /// `synthetic-<hash>` of its exact text, so re-delivery never duplicates it.
    pub event_id: Txt<'a>,
}

/// What one input held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseOutcome<'a> {
    /// Records read.
    pub records: Vec<Parsed<'a>>,
    /// Records or files that could not be read.
    pub errors: Vec<ParseError>,
    /// The input was a CloudTrail digest file (integrity manifest, no records).
    pub digest: bool,
}

fn file_error(source: &str, message: String) -> ParseOutcome<'static> {
    ParseOutcome {
        errors: vec![ParseError {
            source_name: source.to_owned(),
            index: None,
            message,
        }],
        ..ParseOutcome::default()
    }
}

/// Decompress gzip input (detected by its magic bytes), bounded in size.
///
/// # Errors
/// A message naming the problem.
pub fn decompress(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, String> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .take(MAX_DECOMPRESSED_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("invalid gzip data: {e}"))?;
        if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
            return Err("decompresses to more than 1 GiB; refusing".into());
        }
        Ok(std::borrow::Cow::Owned(out))
    } else {
        Ok(std::borrow::Cow::Borrowed(bytes))
    }
}

/// Parse one input (file contents or message body) of any accepted shape, gzip included.
/// The result owns its data; [`parse_text`] borrows instead (faster, no copies).
#[must_use]
pub fn parse_bytes(source: &str, bytes: &[u8]) -> ParseOutcome<'static> {
    let data = match decompress(bytes) {
        Ok(d) => d,
        Err(e) => return file_error(source, e),
    };
    let text = match std::str::from_utf8(&data) {
        Ok(t) => t,
        Err(e) => return file_error(source, format!("not UTF-8 text: {e}")),
    };
    let out = parse_text(source, text);
    ParseOutcome {
        records: out
            .records
            .into_iter()
            .map(|p| Parsed {
                index: p.index,
                record: p.record.into_owned(),
                event_id: Cow::Owned(p.event_id.into_owned()),
            })
            .collect(),
        errors: out.errors,
        digest: out.digest,
    }
}

/// What one input held besides its records (which went to the callback).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseReport {
    /// Records handed to the callback.
    pub records: usize,
    /// Records or files that could not be read.
    pub errors: Vec<ParseError>,
    /// The input was a CloudTrail digest file (integrity manifest, no records).
    pub digest: bool,
}

/// Parse text (already decompressed) of any accepted shape, handing each record to `each` as
/// soon as it is read, in input order; records borrow from `text`. This is the fast path:
/// no list of records is built, so memory stays flat however large the file.
///
/// A syntax error part-way through a log file is reported with the index of the record where
/// it broke; the records before it have been handed on.
pub fn parse_text_each<'a>(
    source: &str,
    text: &'a str,
    mut each: impl FnMut(Parsed<'a>),
) -> ParseReport {
    if text.trim().is_empty() {
        return ParseReport {
            errors: file_error(source, "empty input".into()).errors,
            ..ParseReport::default()
        };
    }
    let mut sink = parse::Sink::new(source, &mut each);
    sink.read_all(text);
    ParseReport {
        records: sink.records,
        errors: std::mem::take(&mut sink.errors),
        digest: sink.digest,
    }
}

/// Parse text (already decompressed) of any accepted shape; records borrow from `text`.
#[must_use]
pub fn parse_text<'a>(source: &str, text: &'a str) -> ParseOutcome<'a> {
    let mut records = Vec::new();
    let report = parse_text_each(source, text, |p| records.push(p));
    ParseOutcome {
        records,
        errors: report.errors,
        digest: report.digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first error, as printed, starts with `prefix` (names the file, the record or line).
    fn assert_first_error(o: &ParseOutcome<'_>, prefix: &str) {
        let first = o
            .errors
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(
            first.starts_with(prefix),
            "{first:?} does not start with {prefix:?}; all: {:?}",
            o.errors
        );
    }

    const REC: &str = r#"{"eventVersion":"1.09","eventTime":"2026-11-22T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"e1","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::210000000000:assumed-role/warden-consumer/s","accountId":"210000000000"},"requestParameters":{"bucketName":"b","key":"analytics/a.csv"},"additionalEventData":{"bytesTransferredOut":1024}}"#;

    #[test]
    fn all_shapes() {
        let log = format!(r#"{{"Records":[{REC},{REC}]}}"#);
        assert_eq!(parse_bytes("log.json", log.as_bytes()).records.len(), 2);
        let eb = format!(
            r#"{{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{REC}}}"#
        );
        let o = parse_bytes("eb", eb.as_bytes());
        assert_eq!(o.records.len(), 1);
        assert_eq!(o.records[0].event_id, "e1");
        let jsonl = format!("{REC}\n\n{REC}\n{eb}\n");
        let o = parse_bytes("x.jsonl", jsonl.as_bytes());
        assert_eq!(o.records.len(), 3);
        assert!(o.errors.is_empty());
        assert_eq!(o.records[2].index, 3);
        let arr = format!("[{REC}, {REC}]");
        assert_eq!(parse_bytes("a", arr.as_bytes()).records.len(), 2);
        assert_eq!(parse_bytes("one", REC.as_bytes()).records.len(), 1);
        let digest =
            r#"{"awsAccountId":"1","digestStartTime":"2026-01-01T00:00:00Z","logFiles":[]}"#;
        let d = parse_bytes("digest.json", digest.as_bytes());
        assert!(d.digest && d.records.is_empty() && d.errors.is_empty());
    }

    #[test]
    fn gzip_input() {
        use std::io::Write;
        let log = format!(r#"{{"Records":[{REC}]}}"#);
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(log.as_bytes()).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(parse_bytes("x.json.gz", &gz).records.len(), 1);
        let e = parse_bytes("bad.gz", &[0x1f, 0x8b, 0, 1, 2]);
        assert_first_error(&e, "bad.gz: invalid gzip");
    }

    #[test]
    fn errors_name_file_and_record_and_continue() {
        let log = format!(r#"{{"Records":[{REC}, 5, {REC}]}}"#);
        let o = parse_bytes("f.json", log.as_bytes());
        assert_eq!(o.records.len(), 2);
        assert_eq!(o.errors.len(), 1);
        assert_first_error(&o, "f.json record 1: not a CloudTrail record");
        let o = parse_bytes("bad.json", b"{\"Records\": [ {");
        assert_first_error(&o, "bad.json record 0: invalid JSON");
        let o = parse_bytes("bad.json", b"{\"Records\" 5");
        assert_first_error(&o, "bad.json: invalid JSON");
        let o = parse_bytes("sns", br#"{"Type":"Notification","Message":"x"}"#);
        assert!(o.errors[0].message.contains("SNS"));
        assert!(!parse_bytes("empty", b"  ").errors.is_empty());
    }

    #[test]
    fn a_file_cut_short_keeps_the_records_before_the_break() {
        let log = format!(r#"{{"Records":[{REC},{REC},{{"eventID":"#);
        let o = parse_bytes("cut.json", log.as_bytes());
        assert_eq!(o.records.len(), 2);
        assert_eq!(o.errors.len(), 1);
        assert_first_error(&o, "cut.json record 2: invalid JSON");
    }

    #[test]
    fn odd_records_and_lines_lose_nothing_else() {
        // A field given twice: the last one counts (as in Python's json and serde_json's
        // Value), and the record and the ones after it are read.
        let dup = r#"{"eventID":"d","eventName":"GetObject","eventName":"PutObject"}"#;
        let other = REC.replace("\"e1\"", "\"e2\"");
        let log = format!(r#"{{"Records":[{REC},{dup},{other}]}}"#);
        let o = parse_bytes("dup.json", log.as_bytes());
        let ids: Vec<_> = o.records.iter().map(|p| p.event_id.to_string()).collect();
        assert_eq!(ids, ["e1", "d", "e2"]);
        assert_eq!(o.records[1].record.event_name.as_deref(), Some("PutObject"));
        assert!(o.errors.is_empty());
        // JSON Lines whose first line is not a record: that line is named, the rest are read.
        let jsonl = format!("5\n{REC}\nnull\n{other}\n");
        let o = parse_bytes("x.jsonl", jsonl.as_bytes());
        assert_eq!(o.records.len(), 2, "{:?}", o.errors);
        assert_eq!(o.records[1].index, 3);
        let names: Vec<_> = o.errors.iter().map(|e| e.source_name.clone()).collect();
        assert_eq!(names, ["x.jsonl line 1", "x.jsonl line 3"]);
        // A lone number is not CloudTrail.
        let o = parse_bytes("n", b"5");
        assert!(
            o.records.is_empty()
                && o.errors[0]
                    .message
                    .starts_with("invalid JSON: invalid type"),
            "{:?}",
            o.errors
        );
    }

    #[test]
    fn records_stream_in_order_and_json_lines_of_logs_are_read_once() {
        let other = REC.replace("\"e1\"", "\"e2\"");
        let log = format!(r#"{{"Records":[{REC},{other}]}}"#);
        let mut seen = Vec::new();
        let report = parse_text_each("log", &log, |p| seen.push(p.event_id.into_owned()));
        assert_eq!(seen, ["e1", "e2"]);
        assert_eq!(report.records, 2);
        // Two log files on two lines: four records, not six (the first line is not re-read).
        let two = format!("{log}\n{log}\n");
        let o = parse_bytes("two.jsonl", two.as_bytes());
        assert_eq!(o.records.len(), 4, "{:?}", o.errors);
        assert!(o.errors.is_empty());
        // A document followed by junk on its own line: the junk is named, by line.
        let junk = format!("{log}\nnot json\n");
        let o = parse_bytes("junk.jsonl", junk.as_bytes());
        assert_eq!(o.records.len(), 2);
        assert_eq!(o.errors.len(), 1);
        assert_first_error(&o, "junk.jsonl line 2: invalid JSON");
        // Junk on the same line as the document is a broken file.
        let o = parse_bytes("same-line", format!("{log} x").as_bytes());
        assert!(
            o.errors[0].message.contains("trailing characters"),
            "{}",
            o.errors[0]
        );
    }

    #[test]
    fn records_without_an_id_keep_their_place_and_a_stable_id() {
        let anon =
            r#"{"eventTime":"2026-11-22T10:00:00Z","eventName":"GetObject","requestID":"r1"}"#;
        let other = REC.replace("\"e1\"", "\"e2\"");
        let log = format!(r#"{{"Records":[{REC},{anon},{other}]}}"#);
        let o = parse_bytes("anon", log.as_bytes());
        let ids: Vec<_> = o.records.iter().map(|p| p.event_id.to_string()).collect();
        assert_eq!(ids[0], "e1");
        assert!(ids[1].starts_with("synthetic-"));
        assert_eq!(ids[2], "e2");
        assert_eq!(
            o.records.iter().map(|p| p.index).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        // The same record alone (re-delivered as JSON Lines or an array) gets the same ID.
        assert_eq!(
            parse_bytes("one", anon.as_bytes()).records[0].event_id,
            ids[1]
        );
        let arr = format!("[{anon}]");
        assert_eq!(
            parse_bytes("arr", arr.as_bytes()).records[0].event_id,
            ids[1]
        );
    }

    #[test]
    fn lenient_fields_and_synthetic_ids() {
        let odd = r#"{"eventTime":"2026-11-22T10:00:00Z","eventName":"GetObject","userIdentity":"weird","additionalEventData":{"bytesTransferredOut":"77"},"readOnly":"true","newField":{"x":1}}"#;
        let o = parse_bytes("odd", odd.as_bytes());
        let p = &o.records[0];
        assert!(p.record.user_identity.is_none());
        assert_eq!(
            p.record
                .additional_event_data
                .as_ref()
                .unwrap()
                .bytes_transferred_out,
            Some(77)
        );
        assert!(p.event_id.starts_with("synthetic-"));
        assert_eq!(
            parse_bytes("odd", odd.as_bytes()).records[0].event_id,
            p.event_id,
            "stable"
        );
    }
}

/// The day of a CloudTrail log file from its S3 key, in the layout CloudTrail delivers to:
/// `…/AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>`
/// (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/get-and-view-cloudtrail-log-files.html).
/// `None` for a key not in that layout.
#[must_use]
pub fn log_key_date(key: &str) -> Option<chrono::NaiveDate> {
    let mut parts = key.split('/');
    parts.by_ref().find(|p| *p == "CloudTrail")?;
    let _region = parts.next()?;
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    chrono::NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// Whether every key under `prefix` is in one region's folder (`…/CloudTrail/<region>/…`), so
/// that listing it in key order lists it in day order.
#[must_use]
pub fn prefix_is_one_region(prefix: &str) -> bool {
    let mut parts = prefix.split('/');
    parts.by_ref().find(|p| *p == "CloudTrail").is_some()
        && parts.next().is_some_and(|r| !r.is_empty())
        && prefix.split('/').count() > 2
        && {
            // The region segment must be complete (followed by a slash).
            let i = prefix
                .find("/CloudTrail/")
                .map_or(0, |i| i + "/CloudTrail/".len());
            prefix.get(i..).is_some_and(|rest| rest.contains('/'))
        }
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn log_keys_give_their_day_and_prefixes_their_region() {
        let d = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(
            log_key_date(
                "AWSLogs/o-abc/111111111111/CloudTrail/us-east-1/2026/11/23/111111111111_CloudTrail_us-east-1_20261123T1000Z_x.json.gz"
            ),
            d(2026, 11, 23)
        );
        assert_eq!(
            log_key_date("logs/AWSLogs/111111111111/CloudTrail/eu-west-1/2026/02/29/f.json.gz"),
            None,
            "no such day"
        );
        assert_eq!(
            log_key_date("AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2026/11/23/d.json.gz"),
            None
        );
        assert_eq!(log_key_date("other/file.json"), None);
        assert!(prefix_is_one_region(
            "AWSLogs/111111111111/CloudTrail/us-east-1/"
        ));
        assert!(prefix_is_one_region(
            "AWSLogs/o-abc/111111111111/CloudTrail/us-east-1/2026/11/"
        ));
        assert!(!prefix_is_one_region("AWSLogs/111111111111/CloudTrail/"));
        assert!(!prefix_is_one_region(
            "AWSLogs/111111111111/CloudTrail/us-east"
        ));
        assert!(!prefix_is_one_region("AWSLogs/"));
    }
}
