//! One access record per CloudTrail record, and its DynamoDB item layout.
//!
//! The layout is decided here so the access-logger (writer) and the CLI and README queries
//! (readers) agree:
//!
//! | attribute | role |
//! |---|---|
//! | `event_id` (S) | table partition key: CloudTrail's `eventID`, so a re-delivered event overwrites itself (idempotent) |
//! | `account_id` (S) + `timestamp` (S) | GSI `by-account-time`: "what did account A do between T1 and T2" |
//! | `object_ref` (S, `bucket/key`) + `timestamp` | GSI `by-object-time`: "who touched this object, when" (sparse) |
//! | `expires_at` (N) | TTL: event time + retention (default 365 days) |

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use std::borrow::Cow;

use super::Parsed;
use super::record::{Resource, Txt, UserIdentity};

/// Table partition key attribute.
pub const PK: &str = "event_id";
/// GSI for account + time queries.
pub const GSI_BY_ACCOUNT: &str = "by-account-time";
/// GSI for object + time queries.
pub const GSI_BY_OBJECT: &str = "by-object-time";
/// TTL attribute.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// Default retention of access records (spec 000).
pub const DEFAULT_RETENTION_DAYS: u32 = 365;

/// How a record's `eventTime` was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeForm {
    /// ISO 8601 / RFC 3339 with a zone (`2026-11-23T10:00:00Z`), as CloudTrail writes it.
    #[default]
    Iso8601,
    /// `2026-11-23 10:00:00[.000]`: space, no zone, UTC — as Athena, CloudTrail Lake and most
    /// SIEM exports write it.
    SpaceNoZone,
}

/// The normalised access record (spec 000's access-log fields plus provenance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRecord<'a> {
    /// Event time, RFC 3339 UTC with milliseconds (sortable as text).
    pub timestamp: Txt<'a>,
    /// The same instant as epoch milliseconds (parsed once, used by every windowed detector).
    #[serde(skip)]
    pub epoch_ms: i64,
    /// The calling principal's account (`unknown` when CloudTrail does not say).
    pub account_id: Txt<'a>,
    /// The calling principal (role for sessions, user, root, or the invoking service).
    pub principal_arn: Txt<'a>,
    /// `service:Action`, e.g. `s3:GetObject`.
    pub action: Txt<'a>,
    /// S3 object key, when there is one.
    pub object_key: Option<Txt<'a>>,
    /// Bytes in + out.
    pub bytes_transferred: u64,
    /// Bytes downloaded (egress).
    pub bytes_out: u64,
    /// Source IP, or the service name for service calls.
    pub source_ip: Txt<'a>,
    /// Whether the call succeeded (no `errorCode`).
    pub success_status: bool,
    /// Idempotency key.
    pub event_id: Txt<'a>,
    /// e.g. `s3.amazonaws.com`.
    pub event_source: Txt<'a>,
    /// e.g. `GetObject`.
    pub event_name: Txt<'a>,
    /// S3 bucket.
    pub bucket: Option<Txt<'a>>,
    /// Account that received the event.
    pub recipient_account_id: Option<Txt<'a>>,
    /// User agent.
    pub user_agent: Option<Txt<'a>>,
    /// VPC endpoint.
    pub vpc_endpoint_id: Option<Txt<'a>>,
    /// `errorCode`, when the call failed.
    pub error_code: Option<Txt<'a>>,
    /// `userIdentity.type`.
    pub identity_type: Txt<'a>,
    /// Region.
    pub region: Option<Txt<'a>>,
    /// Whether the session was MFA-authenticated.
    pub mfa: bool,
    /// The session itself (`userIdentity.arn`) when it differs from `principal_arn` (a role's
    /// session names the person or the vending request), so a record joins back to the human.
    pub session_arn: Option<Txt<'a>>,
    /// `userIdentity.principalId`.
    pub principal_id: Option<Txt<'a>>,
    /// `userIdentity.sessionContext.sourceIdentity` (`warden-<request ID>` for vended sessions:
    /// joins the call to the access-validator's decision record).
    pub source_identity: Option<Txt<'a>>,
    /// How `eventTime` was written (replay reports the forms it read).
    #[serde(skip)]
    pub time_form: TimeForm,
    /// Whether nested objects were written as JSON strings (an export's form).
    #[serde(skip)]
    pub nested_as_text: bool,
}

/// A record that cannot become an access record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {event_id}: {message}")]
pub struct NormaliseError {
    /// The record's (possibly synthetic) ID.
    pub event_id: String,
    /// Why.
    pub message: String,
}

fn account_from_arn(arn: &str) -> Option<&str> {
    let a = arn.split(':').nth(4)?;
    (a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())).then_some(a)
}

/// The calling principal (the role for assumed-role sessions, which is what grants name) and
/// its account. Takes the identity apart instead of copying it.
fn principal_of(u: Option<UserIdentity<'_>>) -> (Txt<'_>, Option<Txt<'_>>) {
    let Some(u) = u else {
        return (Cow::Borrowed("unknown"), None);
    };
    let issuer = u.session_context.and_then(|s| s.session_issuer);
    let (issuer_arn, issuer_account) = issuer.map_or((None, None), |i| (i.arn, i.account_id));
    // The ARN's account only when the record names none (rare): no split or copy per record.
    let account = u.account_id.or(issuer_account).or_else(|| {
        u.arn
            .as_deref()
            .and_then(account_from_arn)
            .map(|a| Cow::Owned(a.to_owned()))
    });
    let arn = match (u.kind.as_deref(), issuer_arn, u.arn) {
        (Some("AssumedRole"), Some(role), _) => role,
        (_, _, Some(arn)) => arn,
        (_, Some(role), None) => role,
        _ => u.invoked_by.unwrap_or(Cow::Borrowed("unknown")),
    };
    (arn, account)
}

/// Bucket and key from `resources[]` (`AWS::S3::Object` ARNs), for events whose request
/// parameters lack them.
fn object_from_resources(resources: &[Resource<'_>]) -> (Option<String>, Option<String>) {
    for r in resources {
        if r.kind.as_deref() == Some("AWS::S3::Object")
            && let Some((bucket, key)) = r
                .arn
                .as_deref()
                .and_then(|a| a.strip_prefix("arn:aws:s3:::"))
                .and_then(|a| a.split_once('/'))
        {
            return (Some(bucket.to_owned()), Some(key.to_owned()));
        }
    }
    (None, None)
}

macro_rules! s3_object_actions {
    ($($name:literal),* $(,)?) => {
        /// `s3:<name>` for the S3 object operations that make up nearly every data event, from a
        /// static table (no allocation per record); `None` for anything else.
        fn s3_object_action(service: &str, name: &str) -> Option<&'static str> {
            if service != "s3" {
                return None;
            }
            match name {
                $($name => Some(concat!("s3:", $name)),)*
                _ => None,
            }
        }
    };
}

s3_object_actions!(
    "GetObject",
    "HeadObject",
    "PutObject",
    "CopyObject",
    "DeleteObject",
    "DeleteObjects",
    "ListObjects",
    "ListObjectsV2",
    "ListObjectVersions",
    "CreateMultipartUpload",
    "UploadPart",
    "UploadPartCopy",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "GetObjectAcl",
    "GetObjectTagging",
    "GetObjectAttributes",
    "PutObjectTagging",
    "DeleteObjectTagging",
    "PutObjectAcl",
    "RestoreObject",
    "SelectObjectContent",
);

/// Normalise one parsed record (copying what it keeps; see [`normalise_owned`] to move).
///
/// # Errors
/// A record without a readable `eventTime` cannot be placed in the audit timeline.
/// Epoch milliseconds of `YYYY-MM-DDTHH:MM:SSZ`, the form CloudTrail writes, read without the
/// general RFC 3339 parser (the hot path of every record); `None` for any other form (fractions,
/// offsets, leap seconds, invalid dates), which the general parser then handles or rejects.
fn cloudtrail_time(raw: &str) -> Option<i64> {
    let b = raw.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date =
        chrono::NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?;
    let time = date.and_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)?;
    Some(time.and_utc().timestamp_millis())
}

/// `YYYY-MM-DD HH:MM:SS` with an optional fraction of 1–9 digits, no zone, read as UTC (the
/// form exports write): epoch milliseconds and the record's timestamp
/// (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
fn export_time(raw: &str) -> Option<(i64, String)> {
    let b = raw.as_bytes();
    if b.len() < 19 || b[10] != b' ' {
        return None;
    }
    let (base, frac) = raw.split_at(19);
    let millis = match frac.strip_prefix('.') {
        None if frac.is_empty() => 0,
        Some(d) if (1..=9).contains(&d.len()) && d.bytes().all(|c| c.is_ascii_digit()) => {
            // First three digits, right-padded: ".5" is 500 ms.
            let mut ms = 0i64;
            for i in 0..3 {
                ms = ms * 10 + d.as_bytes().get(i).map_or(0, |c| i64::from(c - b'0'));
            }
            ms
        }
        _ => return None,
    };
    let mut iso = String::with_capacity(20);
    iso.push_str(base);
    iso.replace_range(10..11, "T");
    iso.push('Z');
    let secs = cloudtrail_time(&iso)?;
    Some((
        secs + millis,
        format!("{}.{millis:03}Z", iso.get(..19).unwrap_or_default()),
    ))
}

pub fn normalise<'a>(p: &Parsed<'a>) -> Result<AccessRecord<'a>, NormaliseError> {
    normalise_owned(p.clone())
}

/// Normalise one parsed record, moving its text (still borrowed from the input where it was)
/// into the access record.
///
/// # Errors
/// A record without a readable `eventTime` cannot be placed in the audit timeline.
pub fn normalise_owned(p: Parsed<'_>) -> Result<AccessRecord<'_>, NormaliseError> {
    let Parsed {
        record: r,
        event_id,
        ..
    } = p;
    let nested_as_text = r.nested_as_text;
    let err = |m: &str| NormaliseError {
        event_id: event_id.to_string(),
        message: m.to_owned(),
    };
    let raw_time = r
        .event_time
        .as_deref()
        .ok_or_else(|| err("eventTime is missing"))?;
    let mut time_form = TimeForm::Iso8601;
    let (timestamp, epoch_ms) = match cloudtrail_time(raw_time) {
        Some(ms) => {
            // `YYYY-MM-DDTHH:MM:SS` + `.000Z`, without the formatting machinery.
            let mut t = String::with_capacity(24);
            t.push_str(raw_time.get(..19).unwrap_or(raw_time));
            t.push_str(".000Z");
            (t, ms)
        }
        None if let Some((ms, t)) = export_time(raw_time) => {
            time_form = TimeForm::SpaceNoZone;
            (t, ms)
        }
        None => {
            let time: DateTime<Utc> = DateTime::parse_from_rfc3339(raw_time)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    err("eventTime is neither an ISO 8601 time with a zone (2026-11-23T10:00:00Z) nor an export's UTC time (2026-11-23 10:00:00[.000])")
                })?;
            (
                time.to_rfc3339_opts(SecondsFormat::Millis, true),
                time.timestamp_millis(),
            )
        }
    };
    let event_source = r.event_source.unwrap_or_default();
    let event_name = r.event_name.unwrap_or_default();
    let service = if event_source == "s3.amazonaws.com" {
        "s3"
    } else {
        event_source
            .split_once('.')
            .map_or(event_source.as_ref(), |(s, _)| s)
    };
    let action = if service.is_empty() {
        event_name.clone()
    } else if let Some(known) = s3_object_action(service, &event_name) {
        Cow::Borrowed(known)
    } else {
        Cow::Owned(format!("{service}:{event_name}"))
    };
    let identity_type = r
        .user_identity
        .as_ref()
        .and_then(|u| u.kind.clone())
        .unwrap_or(Cow::Borrowed("Unknown"));
    let mfa = r
        .user_identity
        .as_ref()
        .and_then(|u| u.session_context.as_ref())
        .and_then(|s| s.attributes.as_ref())
        .and_then(|a| a.mfa_authenticated.as_deref())
        == Some("true");
    let (session_arn, principal_id, source_identity) =
        r.user_identity.as_ref().map_or((None, None, None), |u| {
            (
                u.arn.clone(),
                u.principal_id.clone(),
                u.session_context
                    .as_ref()
                    .and_then(|s| s.source_identity.clone()),
            )
        });
    let (principal_arn, account) = principal_of(r.user_identity);
    let session_arn = session_arn.filter(|s| *s != principal_arn);
    let (mut bucket, mut object_key) = r
        .request_parameters
        .map_or((None, None), |p| (p.bucket_name, p.key));
    if object_key.is_none()
        && let Some(res) = &r.resources
    {
        let (b, k) = object_from_resources(&res.list());
        bucket = bucket.or(b.map(Cow::Owned));
        object_key = k.map(Cow::Owned);
    }
    let extra = r.additional_event_data.as_ref();
    let bytes_in = extra.and_then(|e| e.bytes_transferred_in).unwrap_or(0);
    let bytes_out = extra.and_then(|e| e.bytes_transferred_out).unwrap_or(0);
    Ok(AccessRecord {
        timestamp: Cow::Owned(timestamp),
        epoch_ms,
        account_id: account.unwrap_or(Cow::Borrowed("unknown")),
        principal_arn,
        action,
        object_key: object_key.filter(|k| !k.is_empty()),
        bytes_transferred: bytes_in.saturating_add(bytes_out),
        bytes_out,
        source_ip: r.source_ip_address.unwrap_or(Cow::Borrowed("unknown")),
        success_status: r.error_code.is_none(),
        event_id,
        event_source,
        event_name,
        bucket,
        recipient_account_id: r.recipient_account_id,
        user_agent: r.user_agent,
        vpc_endpoint_id: r.vpc_endpoint_id,
        error_code: r.error_code,
        identity_type,
        region: r.aws_region,
        mfa,
        session_arn,
        principal_id,
        source_identity,
        time_form,
        nested_as_text,
    })
}

impl AccessRecord<'_> {
    /// Detach the record from the input it borrows from (to hand it to another thread).
    #[must_use]
    pub fn into_owned(self) -> AccessRecord<'static> {
        fn own(t: Txt<'_>) -> Txt<'static> {
            Cow::Owned(t.into_owned())
        }
        AccessRecord {
            timestamp: own(self.timestamp),
            epoch_ms: self.epoch_ms,
            account_id: own(self.account_id),
            principal_arn: own(self.principal_arn),
            action: own(self.action),
            object_key: self.object_key.map(own),
            bytes_transferred: self.bytes_transferred,
            bytes_out: self.bytes_out,
            source_ip: own(self.source_ip),
            success_status: self.success_status,
            event_id: own(self.event_id),
            event_source: own(self.event_source),
            event_name: own(self.event_name),
            bucket: self.bucket.map(own),
            recipient_account_id: self.recipient_account_id.map(own),
            user_agent: self.user_agent.map(own),
            vpc_endpoint_id: self.vpc_endpoint_id.map(own),
            error_code: self.error_code.map(own),
            identity_type: own(self.identity_type),
            region: self.region.map(own),
            mfa: self.mfa,
            session_arn: self.session_arn.map(own),
            principal_id: self.principal_id.map(own),
            source_identity: self.source_identity.map(own),
            time_form: self.time_form,
            nested_as_text: self.nested_as_text,
        }
    }

    /// Event time as a `DateTime`, from `epoch_ms` (set with `timestamp` when normalising), so
    /// detectors do not parse the text again for every record.
    #[must_use]
    pub fn time(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.epoch_ms)
    }
}

/// A DynamoDB attribute value (the adapter maps it onto the SDK type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Attr {
    /// String.
    S(String),
    /// Number (as text, like DynamoDB).
    N(String),
    /// Boolean.
    Bool(bool),
}

/// The DynamoDB item for an access record (see the module docs for the layout).
#[must_use]
pub fn to_item(r: &AccessRecord<'_>, retention_days: u32) -> BTreeMap<String, Attr> {
    let mut m = BTreeMap::new();
    let s = |v: &str| Attr::S(v.to_owned());
    m.insert(PK.into(), s(&r.event_id));
    m.insert("timestamp".into(), s(&r.timestamp));
    m.insert("account_id".into(), s(&r.account_id));
    m.insert("principal_arn".into(), s(&r.principal_arn));
    m.insert("action".into(), s(&r.action));
    m.insert(
        "bytes_transferred".into(),
        Attr::N(r.bytes_transferred.to_string()),
    );
    m.insert("bytes_out".into(), Attr::N(r.bytes_out.to_string()));
    m.insert("source_ip".into(), s(&r.source_ip));
    m.insert("success_status".into(), Attr::Bool(r.success_status));
    m.insert("event_source".into(), s(&r.event_source));
    m.insert("event_name".into(), s(&r.event_name));
    m.insert("identity_type".into(), s(&r.identity_type));
    for (k, v) in [
        ("object_key", &r.object_key),
        ("bucket", &r.bucket),
        ("recipient_account_id", &r.recipient_account_id),
        ("user_agent", &r.user_agent),
        ("vpc_endpoint_id", &r.vpc_endpoint_id),
        ("error_code", &r.error_code),
        ("session_arn", &r.session_arn),
        ("principal_id", &r.principal_id),
        ("source_identity", &r.source_identity),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            m.insert(k.into(), s(v));
        }
    }
    if let (Some(b), Some(k)) = (&r.bucket, &r.object_key) {
        m.insert("object_ref".into(), Attr::S(format!("{b}/{k}")));
    }
    if let Some(t) = r.time() {
        let expires = t.timestamp() + i64::from(retention_days) * 86_400;
        m.insert(TTL_ATTRIBUTE.into(), Attr::N(expires.to_string()));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudtrail::parse_bytes;

    /// A call made with vended credentials joins back to the validator's decision (source
    /// identity `warden-<request ID>`) and to the session, not only to the role.
    #[test]
    fn vended_session_keeps_source_identity_and_principal_id() {
        let rec = r#"{"eventTime":"2026-11-22T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"e2","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:warden-req1","arn":"arn:aws:sts::210000000000:assumed-role/warden-consumer/warden-req1","accountId":"210000000000","sessionContext":{"sourceIdentity":"warden-req-1","sessionIssuer":{"type":"Role","arn":"arn:aws:iam::210000000000:role/warden-consumer","accountId":"210000000000"}}},"requestParameters":{"bucketName":"b","key":"k"}}"#;
        let p = &parse_bytes("t", rec.as_bytes()).records[0];
        let a = normalise(p).unwrap();
        let item = to_item(&a, 365);
        assert_eq!(item["source_identity"], Attr::S("warden-req-1".into()));
        assert_eq!(
            item["principal_id"],
            Attr::S("AROAEXAMPLE:warden-req1".into())
        );
        assert_eq!(
            item["session_arn"],
            Attr::S("arn:aws:sts::210000000000:assumed-role/warden-consumer/warden-req1".into())
        );
        assert_eq!(
            item["principal_arn"],
            Attr::S("arn:aws:iam::210000000000:role/warden-consumer".into())
        );
    }

    /// Athena / CloudTrail Lake / SIEM exports: `eventTime` with a space and no zone (UTC), with
    /// or without a fraction, and nested objects as JSON strings. Read as CloudTrail's own form
    /// would be, with the form recorded; a record without any event time is still refused.
    #[test]
    fn export_forms_are_read_and_recorded() {
        let rec = |time: &str, nested_as_text: bool| {
            let params = r#"{"bucketName":"b","key":"analytics/a.csv"}"#;
            let ident = r#"{"type":"AssumedRole","arn":"arn:aws:sts::210000000000:assumed-role/warden-consumer/s","accountId":"210000000000","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::210000000000:role/warden-consumer","accountId":"210000000000"}}}"#;
            let extra = r#"{"bytesTransferredOut":1024}"#;
            let (p, i, x) = if nested_as_text {
                (
                    serde_json::to_string(params).unwrap(),
                    serde_json::to_string(ident).unwrap(),
                    serde_json::to_string(extra).unwrap(),
                )
            } else {
                (params.into(), ident.into(), extra.into())
            };
            format!(
                r#"{{"eventTime":{time},"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"e1","userIdentity":{i},"requestParameters":{p},"additionalEventData":{x}}}"#
            )
        };
        #[derive(Debug)]
        struct Read {
            timestamp: String,
            epoch_ms: i64,
            form: (TimeForm, bool),
            who_what: (String, Option<String>, u64, Option<String>),
        }
        let read = |text: String| -> Result<Read, String> {
            let parsed = parse_bytes("t", text.as_bytes());
            let a = normalise(&parsed.records[0]).map_err(|e| e.to_string())?;
            Ok(Read {
                timestamp: a.timestamp.to_string(),
                epoch_ms: a.epoch_ms,
                form: (a.time_form, a.nested_as_text),
                who_what: (
                    a.principal_arn.to_string(),
                    a.object_key.map(|k| k.to_string()),
                    a.bytes_out,
                    a.bucket.map(|b| b.to_string()),
                ),
            })
        };
        let cloudtrail = read(rec(r#""2026-11-23T10:00:00Z""#, false)).unwrap();
        assert_eq!(cloudtrail.form, (TimeForm::Iso8601, false));
        assert_eq!(
            cloudtrail.who_what.1.as_deref(),
            Some("analytics/a.csv"),
            "{cloudtrail:?}"
        );
        for (time, stamp) in [
            (r#""2026-11-23 10:00:00""#, "2026-11-23T10:00:00.000Z"),
            (r#""2026-11-23 10:00:00.000""#, "2026-11-23T10:00:00.000Z"),
            (r#""2026-11-23 10:00:00.5""#, "2026-11-23T10:00:00.500Z"),
            (
                r#""2026-11-23 10:00:00.123456""#,
                "2026-11-23T10:00:00.123Z",
            ),
        ] {
            let a = read(rec(time, true)).unwrap();
            assert_eq!(a.timestamp, stamp, "{time}");
            assert_eq!(a.form, (TimeForm::SpaceNoZone, true));
            assert_eq!(
                a.epoch_ms,
                cloudtrail.epoch_ms + i64::from(stamp[20..23].parse::<u16>().unwrap())
            );
            // The same record otherwise: principal, object, bytes, bucket.
            assert_eq!(a.who_what, cloudtrail.who_what);
        }
        for bad in [
            r#""2026-11-23 10:00""#,
            r#""2026-11-23 10:00:00.""#,
            r#""2026-11-23 10:00:00 UTC""#,
            r#""2026-13-23 10:00:00""#,
            r#""23/11/2026 10:00:00""#,
        ] {
            let e = read(rec(bad, false)).unwrap_err();
            assert!(e.contains("eventTime is neither"), "{bad}: {e}");
        }
        let e = read(rec("null", false)).unwrap_err();
        assert!(e.contains("eventTime is missing"), "{e}");
        // A string that is not a JSON object still reads as absent, not as an error.
        let odd = rec(r#""2026-11-23T10:00:00Z""#, false).replace(
            r#""requestParameters":{"bucketName":"b","key":"analytics/a.csv"}"#,
            r#""requestParameters":"bucketName=b""#,
        );
        let a = read(odd).unwrap();
        assert_eq!((a.who_what.1, a.form.1), (None, false));
    }

    #[test]
    fn assumed_role_data_event() {
        let rec = r#"{"eventTime":"2026-11-22T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"e1","sourceIPAddress":"2001:db8::1","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::210000000000:assumed-role/warden-consumer/s","accountId":"210000000000","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::210000000000:role/warden-consumer","accountId":"210000000000"},"attributes":{"mfaAuthenticated":"true"}}},"requestParameters":{"bucketName":"b","key":"analytics/a.csv"},"additionalEventData":{"bytesTransferredIn":0,"bytesTransferredOut":1024},"errorCode":"AccessDenied","vpcEndpointId":"vpce-1"}"#;
        let p = &parse_bytes("t", rec.as_bytes()).records[0];
        let a = normalise(p).unwrap();
        assert_eq!(a.timestamp, "2026-11-22T10:00:00.000Z");
        assert_eq!(
            a.principal_arn,
            "arn:aws:iam::210000000000:role/warden-consumer"
        );
        assert_eq!(a.account_id, "210000000000");
        assert_eq!(a.action, "s3:GetObject");
        assert_eq!(a.bytes_transferred, 1024);
        assert!(!a.success_status && a.mfa);
        assert_eq!(a.source_ip, "2001:db8::1");
        // The session (the person) is kept beside the role.
        assert_eq!(
            a.session_arn.as_deref(),
            Some("arn:aws:sts::210000000000:assumed-role/warden-consumer/s")
        );
        let item = to_item(&a, 365);
        assert_eq!(item["object_ref"], Attr::S("b/analytics/a.csv".into()));
        assert_eq!(
            item[TTL_ATTRIBUTE],
            Attr::N((1_795_341_600i64 + 365 * 86_400).to_string())
        );
    }

    #[test]
    fn the_fast_time_path_agrees_with_the_rfc3339_parser() {
        let chrono_ms = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.timestamp_millis())
        };
        for s in [
            "2026-11-22T10:00:00Z",
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "9999-12-31T23:59:59Z",
        ] {
            assert_eq!(cloudtrail_time(s), chrono_ms(s), "{s}");
        }
        // Other forms and invalid values take the general path (or are rejected there).
        for s in [
            "2023-02-29T10:00:00Z",
            "2026-13-01T10:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T10:00:60Z",
            "2026-11-22T10:00:00.123Z",
            "2026-11-22T10:00:00+01:00",
            "2026-11-22 10:00:00Z",
            "2026-11-2aT10:00:00Z",
            "+026-11-22T10:00:00Z",
        ] {
            assert_eq!(cloudtrail_time(s), None, "{s}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_time_equals_chrono_for_any_digits(
            y in 0u32..10_000, mo in 0u32..14, d in 0u32..33, h in 0u32..25, mi in 0u32..61, sec in 0u32..61
        ) {
            let s = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{sec:02}Z");
            let want = DateTime::parse_from_rfc3339(&s).ok().map(|t| t.timestamp_millis());
            // chrono reads second 60 as a leap second; the fast path leaves those to chrono.
            if sec < 60 {
                proptest::prop_assert_eq!(cloudtrail_time(&s), want, "{}", s);
            } else {
                proptest::prop_assert_eq!(cloudtrail_time(&s), None);
            }
        }
    }

    #[test]
    fn the_object_comes_from_resources_when_request_parameters_lack_it() {
        let rec = r#"{"eventTime":"2026-11-22T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"e2","requestParameters":{"x-id":"GetObject"},"resources":[7,{"type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::b"},{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/finance/q\u0033.csv"}],"additionalEventData":{"bytesTransferredIn":-5,"bytesTransferredOut":2.5e3}}"#;
        // Bare, inside a log file (the streamed path), and detached from the input.
        let log = format!(r#"{{"Records":[{rec}]}}"#);
        let texts = [rec.to_owned(), log];
        for text in &texts {
            let borrowed = crate::cloudtrail::parse_text("t", text);
            let owned = parse_bytes("t", text.as_bytes());
            for p in [&borrowed.records[0], &owned.records[0]] {
                let a = normalise(p).unwrap();
                assert_eq!(a.bucket.as_deref(), Some("b"));
                assert_eq!(a.object_key.as_deref(), Some("finance/q3.csv"));
                assert_eq!((a.bytes_transferred, a.bytes_out), (2500, 2500));
            }
        }
        // Not a list: no object, no error.
        let odd = r#"{"eventTime":"2026-11-22T10:00:00Z","eventName":"GetObject","resources":{"ARN":"x"}}"#;
        let a = normalise(&parse_bytes("t", odd.as_bytes()).records[0]).unwrap();
        assert_eq!(a.object_key, None);
    }

    #[test]
    fn actions_from_the_table_match_the_general_form() {
        for (service, name) in [
            ("s3", "GetObject"),
            ("s3", "ListObjectsV2"),
            ("s3", "RestoreObject"),
        ] {
            assert_eq!(
                s3_object_action(service, name),
                Some(format!("{service}:{name}").as_str())
            );
        }
        assert_eq!(s3_object_action("kms", "GetObject"), None);
        assert_eq!(s3_object_action("s3", "PutBucketPolicy"), None);
    }

    #[test]
    fn missing_time_is_a_named_error_and_services_have_no_account() {
        let p = &parse_bytes("t", br#"{"eventName":"X","eventID":"e9"}"#).records[0];
        assert_eq!(
            normalise(p).unwrap_err().to_string(),
            "record e9: eventTime is missing"
        );
        let svc = br#"{"eventTime":"2026-11-22T10:00:00Z","eventName":"PutObject","eventSource":"s3.amazonaws.com","sourceIPAddress":"s3.amazonaws.com","userIdentity":{"type":"AWSService","invokedBy":"s3.amazonaws.com"}}"#;
        let a = normalise(&parse_bytes("t", svc).records[0]).unwrap();
        assert_eq!(a.account_id, "unknown");
        assert_eq!(a.principal_arn, "s3.amazonaws.com");
        assert_eq!(a.source_ip, "s3.amazonaws.com");
    }
}
