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

pub mod normalise;
pub mod record;
pub mod synth;

use std::borrow::Cow;
use std::io::Read;

use serde::Deserialize;
use serde_json::value::RawValue;

pub use normalise::{AccessRecord, NormaliseError, normalise, normalise_owned};
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

#[derive(Deserialize)]
struct TopLevel<'a> {
    // Records are read in the same pass as the file (no second parse per record); an element
    // that is not an object reads as `None` and is reported by index.
    #[serde(rename = "Records", borrow, default)]
    records: Option<Vec<record::LenientItem<CloudTrailRecord<'a>>>>,
    #[serde(borrow, default)]
    detail: Option<&'a RawValue>,
    #[serde(rename = "detail-type", default)]
    detail_type: Option<String>,
    #[serde(rename = "digestStartTime", default)]
    digest_start: Option<serde::de::IgnoredAny>,
    #[serde(rename = "Type", default)]
    sns_type: Option<String>,
    #[serde(rename = "eventVersion", default)]
    event_version: Option<serde::de::IgnoredAny>,
    #[serde(rename = "eventName", default)]
    event_name: Option<serde::de::IgnoredAny>,
}

/// FNV-1a: a stable, dependency-free hash for synthetic event IDs.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn read_record<'a>(raw: &'a str, index: usize, source: &str, out: &mut ParseOutcome<'a>) {
    match serde_json::from_str::<CloudTrailRecord>(raw) {
        Ok(record) => {
            let event_id = match &record.event_id {
                Some(id) if !id.is_empty() => id.clone(),
                _ => Cow::Owned(synthetic_id(raw)),
            };
            out.records.push(Parsed {
                index,
                record,
                event_id,
            });
        }
        Err(e) => out.errors.push(ParseError {
            source_name: source.to_owned(),
            index: Some(index),
            message: format!("not a CloudTrail record: {e}"),
        }),
    }
}

fn synthetic_id(raw: &str) -> String {
    format!("synthetic-{:016x}", fnv1a(raw.as_bytes()))
}

/// Records read in one pass from a list; elements that are not objects are errors by index.
/// Records without an `eventID` get their synthetic ID from their exact text, which needs a
/// second (raw) pass over the list — only done when such records exist (old logs).
fn read_list<'a>(
    items: Vec<record::LenientItem<CloudTrailRecord<'a>>>,
    raw_list: impl FnOnce() -> Result<Vec<String>, String>,
    base_index: usize,
    source: &str,
    out: &mut ParseOutcome<'a>,
) -> Result<(), String> {
    let needs_raw = items.iter().any(|i| {
        i.0.as_ref()
            .is_some_and(|r| r.event_id.as_deref().is_none_or(str::is_empty))
    });
    let raws = if needs_raw { Some(raw_list()?) } else { None };
    for (i, item) in items.into_iter().enumerate() {
        match item.0 {
            Some(record) => {
                let event_id =
                    match &record.event_id {
                        Some(id) if !id.is_empty() => id.clone(),
                        _ => Cow::Owned(raws.as_ref().and_then(|r| r.get(i)).map_or_else(
                            || format!("synthetic-index-{i}"),
                            |raw| synthetic_id(raw),
                        )),
                    };
                out.records.push(Parsed {
                    index: base_index + i,
                    record,
                    event_id,
                });
            }
            None => out.errors.push(ParseError {
                source_name: source.to_owned(),
                index: Some(base_index + i),
                message: "not a CloudTrail record: expected a JSON object".into(),
            }),
        }
    }
    Ok(())
}

fn raw_records(text: &str, array: bool) -> Result<Vec<String>, String> {
    #[derive(Deserialize)]
    struct Raw<'a> {
        #[serde(rename = "Records", borrow)]
        records: Vec<&'a RawValue>,
    }
    let list: Vec<&RawValue> = if array {
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?
    } else {
        serde_json::from_str::<Raw>(text)
            .map_err(|e| format!("invalid JSON: {e}"))?
            .records
    };
    Ok(list.into_iter().map(|r| r.get().to_owned()).collect())
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

/// Read one JSON value that is a record, an envelope, a log file or a digest.
fn read_value<'a>(
    text: &'a str,
    source: &str,
    base_index: usize,
    out: &mut ParseOutcome<'a>,
) -> Result<(), String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let items: Vec<record::LenientItem<CloudTrailRecord<'a>>> =
            serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        return read_list(items, || raw_records(text, true), base_index, source, out);
    }
    let top: TopLevel = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    if let Some(records) = top.records {
        read_list(
            records,
            || raw_records(text, false),
            base_index,
            source,
            out,
        )?;
    } else if let Some(detail) = top.detail {
        if top
            .detail_type
            .as_deref()
            .is_some_and(|t| !t.contains("CloudTrail"))
        {
            return Err(format!(
                "an EventBridge event of type {:?}, not a CloudTrail event",
                top.detail_type.unwrap_or_default()
            ));
        }
        read_record(detail.get(), base_index, source, out);
    } else if top.digest_start.is_some() {
        out.digest = true;
    } else if top.sns_type.is_some() {
        return Err("an SNS notification (log-delivery message), not CloudTrail records".into());
    } else if top.event_version.is_some() || top.event_name.is_some() {
        read_record(text, base_index, source, out);
    } else {
        return Err("no CloudTrail records: expected {\"Records\": [...]}, an EventBridge envelope, a record, or JSON Lines of them".into());
    }
    Ok(())
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

/// Parse text (already decompressed) of any accepted shape; records borrow from `text`.
#[must_use]
pub fn parse_text<'a>(source: &str, text: &'a str) -> ParseOutcome<'a> {
    if text.trim().is_empty() {
        return file_error(source, "empty input".into());
    }
    let mut out = ParseOutcome::default();
    match read_value(text, source, 0, &mut out) {
        Ok(()) => out,
        Err(whole_err) => {
            // Not one JSON document: try JSON Lines, one value per non-empty line.
            let lines: Vec<(usize, &str)> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .collect();
            // JSON Lines only if the first line is itself a JSON object; otherwise report the
            // file once instead of once per line.
            let first_is_json = lines
                .first()
                .is_some_and(|(_, l)| serde_json::from_str::<serde::de::IgnoredAny>(l).is_ok());
            if lines.len() < 2 || !first_is_json {
                return file_error(source, whole_err);
            }
            let mut out = ParseOutcome::default();
            for (n, line) in lines {
                let before = out.records.len();
                let envelope = line.contains("\"detail-type\"") || line.contains("\"Records\"");
                if !envelope && line.trim_start().starts_with('{') {
                    read_record(line, n, source, &mut out);
                } else if let Err(e) = read_value(line, source, n, &mut out) {
                    out.errors.push(ParseError {
                        source_name: format!("{source} line {}", n + 1),
                        index: None,
                        message: e,
                    });
                }
                // A line holds one record: index it by line.
                for p in &mut out.records[before..] {
                    p.index = n;
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(e.errors[0].to_string().starts_with("bad.gz: invalid gzip"));
    }

    #[test]
    fn errors_name_file_and_record_and_continue() {
        let log = format!(r#"{{"Records":[{REC}, 5, {REC}]}}"#);
        let o = parse_bytes("f.json", log.as_bytes());
        assert_eq!(o.records.len(), 2);
        assert_eq!(o.errors.len(), 1);
        assert!(
            o.errors[0]
                .to_string()
                .starts_with("f.json record 1: not a CloudTrail record"),
            "{}",
            o.errors[0]
        );
        let o = parse_bytes("bad.json", b"{\"Records\": [ {");
        assert!(
            o.errors[0]
                .to_string()
                .starts_with("bad.json: invalid JSON")
        );
        let o = parse_bytes("sns", br#"{"Type":"Notification","Message":"x"}"#);
        assert!(o.errors[0].message.contains("SNS"));
        assert!(!parse_bytes("empty", b"  ").errors.is_empty());
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
