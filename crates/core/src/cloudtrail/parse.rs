//! The streaming reader behind [`super::parse_text_each`]: one pass over the input, each record
//! handed on as soon as it is read (no list of records is built, so memory does not grow with
//! the size of a log file and each record is still in cache when it is normalised and detected).

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::record::{Fill as _, Key, LenientItem, Txt, text};
use super::{CloudTrailRecord, ParseError, Parsed};

/// Where records go as they are read, and what else the input held.
pub(super) struct Sink<'a, 'f> {
    source: &'f str,
    each: &'f mut dyn FnMut(Parsed<'a>),
    pub(super) errors: Vec<ParseError>,
    pub(super) digest: bool,
    pub(super) records: usize,
    /// Records lacking an `eventID` wait here, with every record read after them (so records
    /// still reach `each` in order), until their raw text gives them a stable synthetic ID:
    /// (position in the list, reported index, record).
    pending: Vec<(usize, usize, CloudTrailRecord<'a>)>,
    /// Position of the next element of the current value's record list(s).
    cursor: usize,
    /// Whether the reader is inside a record list (a syntax error there names the record).
    in_list: bool,
    /// In JSON Lines every record of a line is indexed by its line.
    line: Option<usize>,
}

impl<'a, 'f> Sink<'a, 'f> {
    pub(super) fn new(source: &'f str, each: &'f mut dyn FnMut(Parsed<'a>)) -> Self {
        Sink {
            source,
            each,
            errors: Vec::new(),
            digest: false,
            records: 0,
            pending: Vec::new(),
            cursor: 0,
            in_list: false,
            line: None,
        }
    }

    fn emit(&mut self, index: usize, record: CloudTrailRecord<'a>, event_id: Txt<'a>) {
        self.records += 1;
        (self.each)(Parsed {
            index,
            record,
            event_id,
        });
    }

    /// Hand on a record that was the whole of `raw`: its ID is its `eventID` or a hash of `raw`.
    fn emit_whole(&mut self, index: usize, record: CloudTrailRecord<'a>, raw: &str) {
        let id = own_id(&record).unwrap_or_else(|| Cow::Owned(synthetic_id(raw)));
        self.emit(index, record, id);
    }

    fn error(&mut self, index: Option<usize>, message: String) {
        self.errors.push(ParseError {
            source_name: self.source.to_owned(),
            index,
            message,
        });
    }

    /// One element of a record list.
    fn element(&mut self, item: Option<CloudTrailRecord<'a>>) {
        let position = self.cursor;
        self.cursor += 1;
        let index = self.line.unwrap_or(position);
        match item {
            None => self.error(
                Some(index),
                "not a CloudTrail record: expected a JSON object".into(),
            ),
            Some(record) => match own_id(&record) {
                Some(id) if self.pending.is_empty() => self.emit(index, record, id),
                _ => self.pending.push((position, index, record)),
            },
        }
    }

    /// Hand on the held-back records, with IDs from their raw text in `text` (the value their
    /// list was read from).
    fn flush_pending(&mut self, text: &'a str) {
        if self.pending.is_empty() {
            return;
        }
        let mut raws = Vec::new();
        // The raw pass stops where the typed pass stopped (a syntax error); every held-back
        // record lies before that point, so each has its raw text.
        let mut de = serde_json::Deserializer::from_str(text);
        let _ = de.deserialize_any(RawListVisitor(&mut raws));
        for (position, index, record) in std::mem::take(&mut self.pending) {
            let id = own_id(&record).unwrap_or_else(|| {
                Cow::Owned(raws.get(position).map_or_else(
                    || format!("synthetic-index-{position}"),
                    |raw| synthetic_id(raw),
                ))
            });
            self.emit(index, record, id);
        }
    }

    /// A value that is one record (a bare record, an envelope's `detail`, a JSON Lines line).
    pub(super) fn record(&mut self, raw: &'a str, index: usize) {
        match serde_json::from_str::<CloudTrailRecord>(raw) {
            Ok(record) => self.emit_whole(index, record, raw),
            Err(e) => self.error(Some(index), format!("not a CloudTrail record: {e}")),
        }
    }
}

/// The record's own `eventID`, when it has a non-empty one.
fn own_id<'a>(record: &CloudTrailRecord<'a>) -> Option<Txt<'a>> {
    record.event_id.clone().filter(|id| !id.is_empty())
}

/// FNV-1a: a stable, dependency-free hash for synthetic event IDs.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The ID of a record without `eventID`: a hash of its exact text, so a re-delivered copy gets
/// the same ID (and overwrites itself instead of being stored twice).
fn synthetic_id(raw: &str) -> String {
    format!("synthetic-{:016x}", fnv1a(raw.as_bytes()))
}

/// What a top-level JSON value turned out to be.
// Returned once per value and never stored: a record inline costs a copy, a box an allocation.
#[allow(clippy::large_enum_variant)]
pub(super) enum Shape<'a> {
    /// `{"Records": [...]}` or `[...]`: its records were streamed while reading.
    List,
    /// An EventBridge envelope.
    Envelope {
        detail: &'a RawValue,
        detail_type: Option<Txt<'a>>,
    },
    /// A CloudTrail digest file.
    Digest,
    /// An SNS notification (CloudTrail's "a log file was delivered" message).
    Sns,
    /// One bare record, read in the same pass.
    Record(CloudTrailRecord<'a>),
    /// None of these.
    Unknown,
}

/// Reads a top-level value, streaming any record list into the sink.
pub(super) struct TopSeed<'s, 'a, 'f>(pub(super) &'s mut Sink<'a, 'f>);

impl<'a> DeserializeSeed<'a> for TopSeed<'_, 'a, '_> {
    type Value = Shape<'a>;
    fn deserialize<D: de::Deserializer<'a>>(self, d: D) -> Result<Shape<'a>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for TopSeed<'_, 'a, '_> {
    type Value = Shape<'a>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CloudTrail log file, record, EventBridge envelope or list of records")
    }
    fn visit_seq<A: SeqAccess<'a>>(self, seq: A) -> Result<Shape<'a>, A::Error> {
        stream_list(self.0, seq).map(|()| Shape::List)
    }
    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<Shape<'a>, A::Error> {
        let (mut list, mut detail, mut detail_type) = (false, None, None);
        let (mut digest, mut sns) = (false, false);
        // A bare record is read in this same pass: any of its fields makes the value a record
        // (unless it turns out to be a log file or an envelope, which take precedence).
        let (mut record, mut record_like) = (CloudTrailRecord::default(), false);
        while let Some(Key(key)) = map.next_key()? {
            match &*key {
                "Records" => list |= map.next_value_seed(ListSeed(&mut *self.0))?,
                "detail" => detail = Some(map.next_value::<&'a RawValue>()?),
                "detail-type" => {
                    detail_type = text(&mut map)?;
                }
                other => {
                    if record.field(other, &mut map)? {
                        record_like = true;
                        continue;
                    }
                    map.next_value::<IgnoredAny>()?;
                    match other {
                        "digestStartTime" => digest = true,
                        "Type" => sns = true,
                        "eventVersion" => record_like = true,
                        _ => {}
                    }
                }
            }
        }
        Ok(if list {
            Shape::List
        } else if let Some(detail) = detail {
            Shape::Envelope {
                detail,
                detail_type,
            }
        } else if digest {
            Shape::Digest
        } else if sns {
            Shape::Sns
        } else if record_like {
            Shape::Record(record)
        } else {
            Shape::Unknown
        })
    }
}

/// The value of `"Records"`: a list is streamed (`true`), `null` means no records (`false`).
struct ListSeed<'s, 'a, 'f>(&'s mut Sink<'a, 'f>);

impl<'a> DeserializeSeed<'a> for ListSeed<'_, 'a, '_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'a>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for ListSeed<'_, 'a, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of records")
    }
    fn visit_seq<A: SeqAccess<'a>>(self, seq: A) -> Result<bool, A::Error> {
        stream_list(self.0, seq).map(|()| true)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

fn stream_list<'a, A: SeqAccess<'a>>(sink: &mut Sink<'a, '_>, mut seq: A) -> Result<(), A::Error> {
    sink.in_list = true;
    while let Some(LenientItem(item)) = seq.next_element::<LenientItem<CloudTrailRecord<'a>>>()? {
        sink.element(item);
    }
    sink.in_list = false;
    Ok(())
}

/// Collects the raw text of each list element (the second pass for synthetic IDs).
struct RawListVisitor<'v, 'a>(&'v mut Vec<&'a str>);

impl<'a> Visitor<'a> for RawListVisitor<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of records")
    }
    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<&'a RawValue>()? {
            self.0.push(raw.get());
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key()? {
            if key == "Records" {
                map.next_value_seed(RawListSeed(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct RawListSeed<'v, 'a>(&'v mut Vec<&'a str>);

impl<'a> DeserializeSeed<'a> for RawListSeed<'_, 'a> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'a>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(RawListVisitor(self.0))
    }
}

/// A problem with one value: the record index it concerns, if any, and the cause.
pub(super) type Problem = (Option<usize>, String);

impl<'a> Sink<'a, '_> {
    /// Read a whole input: one JSON value, or JSON Lines of them.
    pub(super) fn read_all(&mut self, text: &'a str) {
        let mut de = serde_json::Deserializer::from_str(text);
        let first = TopSeed(self).deserialize(&mut de);
        match first {
            Ok(shape) => match de.end() {
                Ok(()) => {
                    if let Err((index, message)) = self.finish(Ok(shape), text, 0) {
                        self.error(index, message);
                    }
                }
                // More after the first value: JSON Lines (or junk after a document).
                Err(trailing) => self.json_lines(text, Some(shape), &trailing),
            },
            // The first value is not a document Warden reads (a number, a string…): JSON Lines
            // whose first line is not a record, or a file that is not CloudTrail at all.
            Err(e) if !self.in_list && e.classify() == serde_json::error::Category::Data => {
                self.json_lines(text, None, &e);
            }
            Err(e) => {
                if let Err((index, message)) = self.finish(Err(e), text, 0) {
                    self.error(index, message);
                }
            }
        }
    }

    /// JSON Lines, when the first non-empty line is a JSON value on its own and another line
    /// follows; `first` is that line's shape when the whole-input read already took it apart
    /// (its records have been handed on). Otherwise the input is one broken document.
    fn json_lines(&mut self, text: &'a str, first: Option<Shape<'a>>, err: &serde_json::Error) {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .peekable();
        let first_line = lines
            .next()
            .filter(|(_, l)| serde_json::from_str::<IgnoredAny>(l).is_ok());
        let (Some((n0, line0)), true) = (first_line, first.is_some() || lines.peek().is_some())
        else {
            self.flush_pending(text);
            self.cursor = 0;
            self.in_list = false;
            self.error(None, format!("invalid JSON: {err}"));
            return;
        };
        match first {
            Some(shape) => {
                if let Err((_, message)) = self.finish(Ok(shape), line0, n0) {
                    self.line_error(n0, message);
                }
            }
            None => self.line(line0, n0),
        }
        for (n, line) in lines {
            self.line(line, n);
        }
    }

    /// One line of JSON Lines: a record, an envelope or a whole log file, read in one pass.
    fn line(&mut self, line: &'a str, n: usize) {
        self.line = Some(n);
        if let Err((_, message)) = self.value(line, n) {
            self.line_error(n, message);
        }
        self.line = None;
    }

    fn line_error(&mut self, n: usize, message: String) {
        self.errors.push(ParseError {
            source_name: format!("{} line {}", self.source, n + 1),
            index: None,
            message,
        });
    }

    /// Read `text` as exactly one JSON value.
    fn value(&mut self, text: &'a str, index: usize) -> Result<(), Problem> {
        let mut de = serde_json::Deserializer::from_str(text);
        let shape = TopSeed(self).deserialize(&mut de).and_then(|s| {
            de.end()?;
            Ok(s)
        });
        self.finish(shape, text, index)
    }

    /// Finish a value whose shape is known: hand on held-back records, read envelopes and
    /// bare records.
    fn finish(
        &mut self,
        shape: serde_json::Result<Shape<'a>>,
        text: &'a str,
        index: usize,
    ) -> Result<(), Problem> {
        let broken_at = self.line.unwrap_or(self.cursor);
        let in_list = std::mem::take(&mut self.in_list);
        self.flush_pending(text);
        self.cursor = 0;
        match shape {
            // The records before the break were read; name the one where the syntax broke.
            Err(e) if in_list => Err((Some(broken_at), format!("invalid JSON: {e}"))),
            Err(e) => Err((None, format!("invalid JSON: {e}"))),
            Ok(Shape::List) => Ok(()),
            Ok(Shape::Envelope {
                detail,
                detail_type,
            }) => {
                if let Some(t) = detail_type.filter(|t| !t.contains("CloudTrail")) {
                    return Err((
                        None,
                        format!("an EventBridge event of type {t:?}, not a CloudTrail event"),
                    ));
                }
                self.record(detail.get(), index);
                Ok(())
            }
            Ok(Shape::Digest) => {
                self.digest = true;
                Ok(())
            }
            Ok(Shape::Sns) => Err((
                None,
                "an SNS notification (log-delivery message), not CloudTrail records".into(),
            )),
            Ok(Shape::Record(record)) => {
                self.emit_whole(index, record, text);
                Ok(())
            }
            Ok(Shape::Unknown) => Err((
                None,
                "no CloudTrail records: expected {\"Records\": [...]}, an EventBridge envelope, a record, or JSON Lines of them".into(),
            )),
        }
    }
}
