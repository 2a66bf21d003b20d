//! Condition operators, the request context, and policy variables.
//!
//! Semantics follow the IAM JSON policy reference: operators in a block AND together, keys AND,
//! values OR; negated operators (`StringNotEquals`, `NotIpAddress`, …) are true when *no* value
//! matches, including when the key is absent; `…IfExists` is true when the key is absent;
//! `ForAllValues:` is true for an absent or empty key, `ForAnyValue:` false.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::glob::{self, Tok};
use super::model::CondValues;

/// The base comparison of a condition operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Base {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

/// `ForAllValues:` / `ForAnyValue:` qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    /// Single-valued comparison.
    Single,
    /// Every request value must match.
    ForAll,
    /// At least one request value must match.
    ForAny,
}

/// A parsed condition operator such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    /// The comparison.
    pub base: Base,
    /// `…IfExists`.
    pub if_exists: bool,
    /// Set qualifier.
    pub set: SetOp,
}

impl Operator {
    /// Parse an operator name; `None` if AWS would not accept it.
    #[must_use]
    pub fn parse(name: &str) -> Option<Operator> {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAllValues:") {
            (SetOp::ForAll, r)
        } else if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (SetOp::ForAny, r)
        } else {
            (SetOp::Single, name)
        };
        let (rest, if_exists) = match rest.strip_suffix("IfExists") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        use Base::*;
        let base = match rest {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "NumericEquals" => NumericEquals,
            "NumericNotEquals" => NumericNotEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "DateEquals" => DateEquals,
            "DateNotEquals" => DateNotEquals,
            "DateLessThan" => DateLessThan,
            "DateLessThanEquals" => DateLessThanEquals,
            "DateGreaterThan" => DateGreaterThan,
            "DateGreaterThanEquals" => DateGreaterThanEquals,
            "Bool" => Bool,
            "BinaryEquals" => BinaryEquals,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            "ArnEquals" => ArnEquals,
            "ArnLike" => ArnLike,
            "ArnNotEquals" => ArnNotEquals,
            "ArnNotLike" => ArnNotLike,
            "Null" => Null,
            _ => return None,
        };
        if base == Null && (if_exists || set != SetOp::Single) {
            return None;
        }
        Some(Operator {
            base,
            if_exists,
            set,
        })
    }

    /// Whether this is a `Date*` operator.
    #[must_use]
    pub fn is_date(&self) -> bool {
        use Base::*;
        matches!(
            self.base,
            DateEquals
                | DateNotEquals
                | DateLessThan
                | DateLessThanEquals
                | DateGreaterThan
                | DateGreaterThanEquals
        )
    }

    /// Whether the operator is negated (true when nothing matches).
    #[must_use]
    pub fn is_negated(&self) -> bool {
        use Base::*;
        matches!(
            self.base,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    fn allows_variables(&self) -> bool {
        use Base::*;
        matches!(
            self.base,
            StringEquals
                | StringNotEquals
                | StringEqualsIgnoreCase
                | StringNotEqualsIgnoreCase
                | StringLike
                | StringNotLike
                | ArnEquals
                | ArnLike
                | ArnNotEquals
                | ArnNotLike
        )
    }
}

/// Parse an IAM date: ISO 8601 (`2026-01-01`, `2026-01-01T00:00:00Z`, with offset or fraction) or
/// epoch seconds. Returns epoch milliseconds.
#[must_use]
pub fn parse_date(text: &str) -> Option<i64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok()?.checked_mul(1000);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%MZ",
        "%Y-%m-%dT%H:%M:%SZ",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(text, fmt) {
            return Some(d.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
}

/// Whether IAM's (lenient, legacy) policy grammar accepts `text` as a date value: epoch seconds
/// that fit 64 bits, or an ISO 8601 form (`2026`, `2026-01`, `2026-01-31T9:00:00.5+02`, …).
/// Evaluation still needs [`parse_date`] to understand the value; one it cannot read never matches.
#[must_use]
pub fn is_date_syntax(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().is_ok();
    }
    parse_date(text).is_some() || iso_like(text.as_bytes())
}

fn take_digits(s: &[u8], min: usize, max: usize) -> Option<(u32, &[u8])> {
    let n = s
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n < min {
        return None;
    }
    let v = s[..n]
        .iter()
        .fold(0u32, |a, b| a * 10 + u32::from(b - b'0'));
    Some((v, &s[n..]))
}

fn iso_like(s: &[u8]) -> bool {
    let Some((_, mut rest)) = take_digits(s, 1, 4) else {
        return false;
    };
    if let Some(r) = rest.strip_prefix(b"-") {
        let Some((m, r)) = take_digits(r, 2, 2).filter(|(m, _)| (1..=12).contains(m)) else {
            return false;
        };
        let _ = m;
        rest = r;
        if let Some(r) = rest.strip_prefix(b"-") {
            let Some((_, r)) = take_digits(r, 2, 2).filter(|(d, _)| (1..=31).contains(d)) else {
                return false;
            };
            rest = r;
        }
    }
    if rest.is_empty() {
        return true;
    }
    let Some(r) = rest.strip_prefix(b"T").or_else(|| rest.strip_prefix(b"t")) else {
        return false;
    };
    rest = r;
    if let Some((h, r)) = take_digits(rest, 1, 2) {
        if h > 24 {
            return false;
        }
        rest = r;
        for _ in 0..2 {
            if let Some(r) = rest.strip_prefix(b":") {
                let Some((v, r)) = take_digits(r, 2, 2).filter(|(v, _)| *v < 60) else {
                    return false;
                };
                let _ = v;
                rest = r;
            }
        }
        if let Some(r) = rest.strip_prefix(b".") {
            let Some((_, r)) = take_digits(r, 1, 9) else {
                return false;
            };
            rest = r;
            if rest.first().is_some_and(u8::is_ascii_digit) {
                return false;
            }
        }
    }
    match rest {
        [] | [b'Z'] | [b'z'] => true,
        [b'+' | b'-', zone @ ..] => match take_digits(zone, 2, 2) {
            Some((h, r)) if h <= 23 => match r {
                [] => true,
                [b':', m @ ..] | m => {
                    take_digits(m, 2, 2).is_some_and(|(mm, r)| mm < 60 && r.is_empty())
                }
            },
            _ => false,
        },
        _ => false,
    }
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    len: u8,
}

impl Cidr {
    /// Parse `203.0.113.0/24`, `2001:db8::/32` or a bare address.
    #[must_use]
    pub fn parse(text: &str) -> Option<Cidr> {
        let (a, l) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            Some(l) => l.trim().parse::<u8>().ok().filter(|l| *l <= max)?,
            None => max,
        };
        Some(Cidr { addr, len })
    }

    /// Whether `ip` lies inside this network (an IPv4 address never matches an IPv6 network).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.len == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.len)
                };
                (u32::from(n) & mask) == (u32::from(a) & mask)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.len == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.len)
                };
                (u128::from(n) & mask) == (u128::from(a) & mask)
            }
            _ => false,
        }
    }
}

/// One context key's values, with their date readings parsed on first use and kept (a date key
/// is compared once per statement; most keys never are, and then cost no allocation).
#[derive(Debug, Clone, Default)]
struct CtxEntry {
    values: Values,
    dates: OnceCell<Vec<Option<i64>>>,
}

/// A key's values: most keys have one, kept without a second allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Values {
    One(String),
    Many(Vec<String>),
}

impl Default for Values {
    fn default() -> Self {
        Values::Many(Vec::new())
    }
}

impl std::ops::Deref for Values {
    type Target = [String];
    fn deref(&self) -> &[String] {
        match self {
            Values::One(v) => std::slice::from_ref(v),
            Values::Many(v) => v,
        }
    }
}

impl CtxEntry {
    fn new(values: Values) -> Self {
        CtxEntry {
            values,
            dates: OnceCell::new(),
        }
    }
    fn date(&self, i: usize) -> Option<i64> {
        self.dates
            .get_or_init(|| self.values.iter().map(|v| parse_date(v)).collect())
            .get(i)
            .copied()
            .flatten()
    }
}

/// The request context: condition keys (case-insensitive names) to one or more values.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Lower-cased key names; the global keys Warden sets are static names, not allocated.
    values: HashMap<Cow<'static, str>, CtxEntry, BuildHasherDefault<KeyHasher>>,
}

/// A multiply-rotate hash for the context's short, lower-cased key names (the Fx hash rustc
/// uses). It is not flood-resistant, so what one request can put in a context is bounded where
/// untrusted requests come in (`simulate::MAX_CONTEXT_KEYS`); SipHash's cost showed as a tenth
/// of a decision.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut word = [0u8; 8];
            word.copy_from_slice(w);
            self.add(u64::from_le_bytes(word));
        }
        // The tail byte by byte: a variable-length copy would be a memcpy call per hash.
        let tail = words.remainder();
        if !tail.is_empty() {
            let word = tail
                .iter()
                .rev()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            self.add(word);
        }
    }
    fn write_u8(&mut self, b: u8) {
        self.add(u64::from(b));
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl KeyHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl PartialEq for Context {
    fn eq(&self, other: &Self) -> bool {
        self.values.len() == other.values.len()
            && self.values.iter().all(|(k, v)| {
                other
                    .values
                    .get(k.as_ref())
                    .is_some_and(|w| v.values == w.values)
            })
    }
}
impl Eq for Context {}

impl Context {
    /// An empty context.
    #[must_use]
    pub fn new() -> Self {
        Context::default()
    }
    /// An empty context with room for `n` keys (a request's context and global keys: no
    /// rehashing while it is filled).
    #[must_use]
    pub fn with_capacity(n: usize) -> Self {
        Context {
            values: HashMap::with_capacity_and_hasher(n, BuildHasherDefault::default()),
        }
    }
    /// Set a single-valued key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(
            Cow::Owned(key.to_ascii_lowercase()),
            CtxEntry::new(Values::One(value.into())),
        );
    }
    /// Set a multi-valued key.
    pub fn set_many(&mut self, key: &str, values: Vec<String>) {
        self.values.insert(
            Cow::Owned(key.to_ascii_lowercase()),
            CtxEntry::new(Values::Many(values)),
        );
    }
    /// Set a key only if it is not set yet.
    pub fn set_default(&mut self, key: &str, value: impl Into<String>) {
        // One lower-casing and one lookup.
        if let std::collections::hash_map::Entry::Vacant(slot) =
            self.values.entry(Cow::Owned(key.to_ascii_lowercase()))
        {
            slot.insert(CtxEntry::new(Values::One(value.into())));
        }
    }
    /// [`Context::set_default`] for a key name given lower-cased and static (the global keys
    /// set on every request): no allocation for the name.
    pub(crate) fn set_default_lc(&mut self, key_lc: &'static str, value: impl Into<String>) {
        debug_assert!(!key_lc.bytes().any(|b| b.is_ascii_uppercase()));
        if !self.values.contains_key(key_lc) {
            self.values.insert(
                Cow::Borrowed(key_lc),
                CtxEntry::new(Values::One(value.into())),
            );
        }
    }
    /// Values of a key (name compared case-insensitively).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.entry(key).map(|e| &*e.values)
    }
    /// Every key starting with `prefix` (lower-case), with the rest of its lower-cased name:
    /// `with_prefix("kms:encryptioncontext:")` gives the encryption context pairs.
    #[must_use]
    pub fn with_prefix(&self, prefix: &str) -> Vec<(String, &[String])> {
        self.values
            .iter()
            .filter_map(|(k, e)| {
                k.strip_prefix(prefix)
                    .map(|rest| (rest.to_owned(), &*e.values))
            })
            .collect()
    }
    fn entry(&self, key: &str) -> Option<&CtxEntry> {
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            self.values.get(key.to_ascii_lowercase().as_str())
        } else {
            self.values.get(key)
        }
    }
}

/// Expand policy variables in `raw`. `wild` keeps `*`/`?` outside variables as wildcards.
/// Returns `None` when a variable has no value and no default (the element then does not match).
#[must_use]
pub fn expand(raw: &str, ctx: &Context, wild: bool) -> Option<Vec<Tok>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        push_literal(&mut out, &rest[..start], wild);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            push_literal(&mut out, &rest[start..], wild);
            return Some(out);
        };
        let inner = after[..end].trim();
        let value: String = match inner {
            "*" => "*".into(),
            "?" => "?".into(),
            "$" => "$".into(),
            _ => {
                let (key, default) = match inner.split_once(',') {
                    Some((k, d)) => {
                        let d = d.trim();
                        let d = d
                            .strip_prefix('\'')
                            .and_then(|d| d.strip_suffix('\''))
                            .unwrap_or(d);
                        (k.trim(), Some(d))
                    }
                    None => (inner, None),
                };
                match ctx.get(key) {
                    Some([single]) => single.clone(),
                    _ => default?.to_owned(),
                }
            }
        };
        out.extend(value.chars().map(Tok::Lit));
        rest = &after[end + 1..];
    }
    push_literal(&mut out, rest, wild);
    Some(out)
}

fn push_literal(out: &mut Vec<Tok>, s: &str, wild: bool) {
    if wild {
        out.extend(glob::compile(s));
    } else {
        out.extend(s.chars().map(Tok::Lit));
    }
}

/// One compiled policy value.
#[derive(Debug, Clone)]
enum Val {
    /// A string/ARN pattern, precompiled unless it has variables.
    Text {
        raw: String,
        toks: Option<Vec<Tok>>,
    },
    Num(Option<f64>),
    Date(Option<i64>),
    Cidr(Option<Cidr>),
    Bool(String),
}

/// One `operator: {key: values}` entry, compiled for evaluation.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The operator as written (for explanations).
    pub operator_text: String,
    /// The condition key as written.
    pub key: String,
    op: Operator,
    key_lc: String,
    values: Vec<Val>,
}

impl Condition {
    /// Compile one entry. The operator name must parse (checked by the model).
    #[must_use]
    pub fn compile(operator_text: &str, key: &str, values: &CondValues) -> Option<Condition> {
        let op = Operator::parse(operator_text)?;
        let wild = matches!(
            op.base,
            Base::StringLike
                | Base::StringNotLike
                | Base::ArnEquals
                | Base::ArnLike
                | Base::ArnNotEquals
                | Base::ArnNotLike
        );
        let values = values
            .items
            .iter()
            .map(|v| {
                let text = v.as_text();
                match op.base {
                    _ if op.is_date() => Val::Date(parse_date(&text)),
                    Base::NumericEquals
                    | Base::NumericNotEquals
                    | Base::NumericLessThan
                    | Base::NumericLessThanEquals
                    | Base::NumericGreaterThan
                    | Base::NumericGreaterThanEquals => Val::Num(text.trim().parse().ok()),
                    Base::IpAddress | Base::NotIpAddress => Val::Cidr(Cidr::parse(&text)),
                    Base::Bool | Base::Null => Val::Bool(text.to_ascii_lowercase()),
                    _ => {
                        let toks = if op.allows_variables() && text.contains("${") {
                            None
                        } else if wild {
                            Some(glob::compile(&text))
                        } else {
                            Some(text.chars().map(Tok::Lit).collect())
                        };
                        Val::Text { raw: text, toks }
                    }
                }
            })
            .collect();
        Some(Condition {
            operator_text: operator_text.to_owned(),
            key: key.to_owned(),
            op,
            key_lc: key.to_ascii_lowercase(),
            values,
        })
    }

    /// Evaluate against the request context.
    #[must_use]
    pub fn eval(&self, ctx: &Context) -> bool {
        // `key_lc` is lower-cased at compile time: straight to the map.
        let present = ctx
            .values
            .get(self.key_lc.as_str())
            .filter(|e| !e.values.is_empty());
        if self.op.base == Base::Null {
            return self.values.iter().any(|v| match v {
                Val::Bool(b) if b == "true" => present.is_none(),
                Val::Bool(b) if b == "false" => present.is_some(),
                _ => false,
            });
        }
        let Some(actual) = present else {
            return match self.op.set {
                SetOp::ForAll => true,
                SetOp::ForAny => false,
                SetOp::Single => self.op.if_exists || self.op.is_negated(),
            };
        };
        let negated = self.op.is_negated();
        // For one request value: does it satisfy the operator (negation applied per value)?
        let per_value = |i: usize| -> bool { self.any_value_matches(actual, i, ctx) != negated };
        let mut each = 0..actual.values.len();
        match self.op.set {
            SetOp::Single if negated => each.all(per_value),
            SetOp::Single | SetOp::ForAny => each.any(per_value),
            SetOp::ForAll => each.all(per_value),
        }
    }

    fn any_value_matches(&self, entry: &CtxEntry, i: usize, ctx: &Context) -> bool {
        use Base::*;
        let actual = entry.values.get(i).map_or("", String::as_str);
        self.values.iter().any(|v| match v {
            // Compiled without wildcards, the tokens are the text itself: compare directly
            // (a key policy's kms:CallerAccount list is twenty of these per decision).
            Val::Text { raw, toks: Some(_) } if !self.wildcards() => match self.op.base {
                StringEquals | StringNotEquals | BinaryEquals => raw == actual,
                StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => {
                    raw.eq_ignore_ascii_case(actual)
                }
                _ => false,
            },
            Val::Text { raw, toks } => {
                let expanded;
                let toks: &[Tok] = match toks {
                    Some(t) => t,
                    None => match expand(raw, ctx, self.wildcards()) {
                        Some(t) => {
                            expanded = t;
                            &expanded
                        }
                        None => return false,
                    },
                };
                match self.op.base {
                    StringEquals | StringNotEquals | BinaryEquals => {
                        glob::matches(toks, actual, false)
                    }
                    StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => {
                        glob::matches(toks, actual, true)
                    }
                    StringLike | StringNotLike => glob::matches(toks, actual, false),
                    ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => {
                        glob::matches_arn(toks, actual)
                    }
                    _ => false,
                }
            }
            Val::Num(Some(n)) => actual
                .trim()
                .parse::<f64>()
                .is_ok_and(|a| match self.op.base {
                    NumericEquals | NumericNotEquals => a == *n,
                    NumericLessThan => a < *n,
                    NumericLessThanEquals => a <= *n,
                    NumericGreaterThan => a > *n,
                    NumericGreaterThanEquals => a >= *n,
                    _ => false,
                }),
            Val::Date(Some(d)) => entry.date(i).is_some_and(|a| match self.op.base {
                DateEquals | DateNotEquals => a == *d,
                DateLessThan => a < *d,
                DateLessThanEquals => a <= *d,
                DateGreaterThan => a > *d,
                DateGreaterThanEquals => a >= *d,
                _ => false,
            }),
            Val::Cidr(Some(c)) => actual
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|ip| c.contains(ip)),
            Val::Bool(b) => actual.eq_ignore_ascii_case(b),
            Val::Num(None) | Val::Date(None) | Val::Cidr(None) => false,
        })
    }

    fn wildcards(&self) -> bool {
        matches!(
            self.op.base,
            Base::StringLike
                | Base::StringNotLike
                | Base::ArnEquals
                | Base::ArnLike
                | Base::ArnNotEquals
                | Base::ArnNotLike
        )
    }
}

/// The current time as IAM writes `aws:CurrentTime`.
#[must_use]
pub fn current_time(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::{CondValues, Scalar};

    fn cond(op: &str, key: &str, vals: &[&str]) -> Condition {
        Condition::compile(op, key, &CondValues::strs(vals.iter().copied())).unwrap()
    }

    fn ctx(pairs: &[(&str, &[&str])]) -> Context {
        let mut c = Context::new();
        for (k, v) in pairs {
            c.set_many(k, v.iter().map(|s| s.to_string()).collect());
        }
        c
    }

    #[test]
    fn operator_names() {
        assert!(Operator::parse("ForAnyValue:StringLikeIfExists").is_some());
        assert!(Operator::parse("ForAnyValue::StringEqualsIfExists").is_none());
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("x").is_none());
    }

    #[test]
    fn string_family() {
        let c = ctx(&[("aws:username", &["Alice"])]);
        assert!(cond("StringEquals", "aws:UserName", &["Alice"]).eval(&c));
        assert!(!cond("StringEquals", "aws:username", &["alice"]).eval(&c));
        assert!(cond("StringEqualsIgnoreCase", "aws:username", &["alice"]).eval(&c));
        assert!(cond("StringNotEquals", "aws:username", &["Bob"]).eval(&c));
        assert!(cond("StringLike", "aws:username", &["A*"]).eval(&c));
        assert!(!cond("StringNotLike", "aws:username", &["A?ice"]).eval(&c));
        // Absent key: positive false, negated true, IfExists true.
        let empty = Context::new();
        assert!(!cond("StringEquals", "aws:username", &["x"]).eval(&empty));
        assert!(cond("StringNotEquals", "aws:username", &["x"]).eval(&empty));
        assert!(cond("StringEqualsIfExists", "aws:username", &["x"]).eval(&empty));
    }

    #[test]
    fn numeric_date_bool_binary() {
        let c = ctx(&[
            ("s3:max-keys", &["10"]),
            ("aws:CurrentTime", &["2026-11-22T12:00:00Z"]),
            ("aws:SecureTransport", &["true"]),
            ("k", &["QmluYXJ5"]),
        ]);
        assert!(cond("NumericLessThanEquals", "s3:max-keys", &["10"]).eval(&c));
        assert!(!cond("NumericLessThan", "s3:max-keys", &["10"]).eval(&c));
        assert!(cond("NumericGreaterThan", "s3:max-keys", &["9.5"]).eval(&c));
        assert!(cond("DateLessThan", "aws:CurrentTime", &["2027-01-01T00:00:00Z"]).eval(&c));
        assert!(cond("DateGreaterThan", "aws:CurrentTime", &["2026-11-22"]).eval(&c));
        assert!(cond("DateGreaterThan", "aws:CurrentTime", &["1700000000"]).eval(&c));
        assert!(!cond("DateEquals", "aws:CurrentTime", &["garbage"]).eval(&c));
        assert!(cond("Bool", "aws:SecureTransport", &["TRUE"]).eval(&c));
        let bool_false = Condition::compile(
            "Bool",
            "aws:SecureTransport",
            &CondValues {
                items: vec![Scalar::Bool(false)],
                single: true,
            },
        )
        .unwrap();
        assert!(!bool_false.eval(&c));
        assert!(cond("BinaryEquals", "k", &["QmluYXJ5"]).eval(&c));
    }

    #[test]
    fn ip_addresses_v4_v6_and_non_ip() {
        let v4 = ctx(&[("aws:SourceIp", &["203.0.113.9"])]);
        let v6 = ctx(&[("aws:SourceIp", &["2001:db8::1"])]);
        let svc = ctx(&[("aws:SourceIp", &["s3.amazonaws.com"])]);
        let c = cond(
            "IpAddress",
            "aws:SourceIp",
            &["203.0.113.0/24", "2001:db8::/32"],
        );
        assert!(c.eval(&v4) && c.eval(&v6) && !c.eval(&svc));
        let n = cond("NotIpAddress", "aws:SourceIp", &["203.0.113.0/24"]);
        assert!(!n.eval(&v4) && n.eval(&v6));
        assert!(cond("IpAddress", "aws:SourceIp", &["0.0.0.0/0"]).eval(&v4));
        assert!(cond("IpAddress", "aws:SourceIp", &["203.0.113.9"]).eval(&v4));
    }

    #[test]
    fn arn_family_is_per_segment() {
        let c = ctx(&[("aws:SourceArn", &["arn:aws:s3:::bucket"])]);
        assert!(cond("ArnLike", "aws:SourceArn", &["arn:aws:s3:::*"]).eval(&c));
        assert!(cond("ArnEquals", "aws:SourceArn", &["arn:aws:s3:::bucket"]).eval(&c));
        assert!(cond("ArnNotLike", "aws:SourceArn", &["arn:aws:s3:::other*"]).eval(&c));
        assert!(!cond("ArnLike", "aws:SourceArn", &["arn:aws:*"]).eval(&c));
    }

    #[test]
    fn null_and_sets() {
        let c = ctx(&[("aws:TagKeys", &["env", "team"])]);
        assert!(cond("Null", "aws:TagKeys", &["false"]).eval(&c));
        assert!(cond("Null", "aws:MultiFactorAuthAge", &["true"]).eval(&c));
        assert!(
            cond(
                "ForAllValues:StringEquals",
                "aws:TagKeys",
                &["env", "team", "cost"]
            )
            .eval(&c)
        );
        assert!(!cond("ForAllValues:StringEquals", "aws:TagKeys", &["env"]).eval(&c));
        assert!(cond("ForAnyValue:StringEquals", "aws:TagKeys", &["env"]).eval(&c));
        assert!(!cond("ForAnyValue:StringEquals", "aws:TagKeys", &["x"]).eval(&c));
        let empty = Context::new();
        assert!(cond("ForAllValues:StringEquals", "aws:TagKeys", &["x"]).eval(&empty));
        assert!(!cond("ForAnyValue:StringEquals", "aws:TagKeys", &["x"]).eval(&empty));
        assert!(cond("ForAllValues:StringNotEquals", "aws:TagKeys", &["x"]).eval(&c));
        assert!(!cond("ForAllValues:StringNotEquals", "aws:TagKeys", &["env"]).eval(&c));
    }

    #[test]
    fn policy_variables() {
        let c = ctx(&[
            ("aws:username", &["alice"]),
            ("aws:PrincipalTag/team", &["blue"]),
            ("s3:prefix", &["home/alice/x"]),
            ("lit", &["a*b"]),
        ]);
        assert!(cond("StringLike", "s3:prefix", &["home/${aws:username}/*"]).eval(&c));
        assert!(!cond("StringLike", "s3:prefix", &["home/${aws:userid}/*"]).eval(&c));
        assert!(
            cond(
                "StringLike",
                "s3:prefix",
                &["home/${aws:userid, 'alice'}/*"]
            )
            .eval(&c)
        );
        assert!(cond("StringEquals", "aws:username", &["${aws:username}"]).eval(&c));
        assert!(cond("StringEquals", "lit", &["a${*}b"]).eval(&c));
        assert!(!cond("StringLike", "aws:username", &["a${*}"]).eval(&c));
        let toks = expand("${aws:PrincipalTag/team}-${$}${?}", &c, true).unwrap();
        let s: String = toks
            .iter()
            .map(|t| match t {
                Tok::Lit(c) => *c,
                _ => '!',
            })
            .collect();
        assert_eq!(s, "blue-$?");
    }
}
