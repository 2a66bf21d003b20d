//! Grants: validated newtypes and the registry of who may access what.
//!
//! Every value that crosses a trust boundary (a Terraform variable, an API request, a DynamoDB
//! item) is parsed into one of these types; a value that exists is a valid value.

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a grant field was rejected. Every variant names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// A field broke one of its rules.
    #[error("{field}: {rule} (got {value:?})")]
    Invalid {
        /// The field, e.g. `account_id` or `allowed_prefixes[2]`.
        field: String,
        /// The rule in words.
        rule: &'static str,
        /// The offending value (truncated to 80 characters).
        value: String,
    },
    /// Two grants conflict inside one registry.
    #[error("grants[{index}] ({account}): {rule}")]
    Conflict {
        /// Index of the later grant in the input.
        index: usize,
        /// The account concerned.
        account: String,
        /// What conflicts with what.
        rule: String,
    },
}

impl GrantError {
    fn invalid(field: impl Into<String>, rule: &'static str, value: &str) -> Self {
        let value: String = value.chars().take(80).collect();
        GrantError::Invalid {
            field: field.into(),
            rule,
            value,
        }
    }

    /// Prefix the field name with the path of its container (`grants[3].`).
    #[must_use]
    pub fn within(self, path: &str) -> Self {
        match self {
            GrantError::Invalid { field, rule, value } => GrantError::Invalid {
                field: format!("{path}.{field}"),
                rule,
                value,
            },
            other => other,
        }
    }
}

macro_rules! string_newtype_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                <$t>::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $t {
            type Err = GrantError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::parse(s)
            }
        }
    };
}

/// A 12-digit AWS account ID.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

impl AccountId {
    /// Parse a 12-digit account ID.
    ///
    /// # Errors
    /// `account_id` must be exactly 12 ASCII digits.
    pub fn parse(raw: &str) -> Result<Self, GrantError> {
        if raw.len() == 12 && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(raw.to_owned()))
        } else {
            Err(GrantError::invalid(
                "account_id",
                "must be exactly 12 digits",
                raw,
            ))
        }
    }
    /// The ID as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype_serde!(AccountId);

/// Maximum length of an S3 object key, and so of a prefix.
pub const MAX_PREFIX_BYTES: usize = 1024;

/// A granted key prefix inside the shared bucket, such as `sales/2026/`.
///
/// Rules: non-empty, no leading `/`, ends with `/` (so `sales/` never also grants `sales-eu/`),
/// no `..` segment, no `*` or `?` (they would become wildcards in the rendered policy), only
/// characters S3 documents as safe for keys, at most 1,024 bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix(String);

impl Prefix {
    /// Parse a prefix.
    ///
    /// # Errors
    /// Names the rule the value breaks.
    pub fn parse(raw: &str) -> Result<Self, GrantError> {
        let err = |rule| Err(GrantError::invalid("prefix", rule, raw));
        if raw.is_empty() {
            return err("must not be empty (granting the whole bucket is not allowed)");
        }
        if raw.len() > MAX_PREFIX_BYTES {
            return err("must be at most 1024 bytes");
        }
        if raw.starts_with('/') {
            return err("must not start with '/'");
        }
        if !raw.ends_with('/') {
            return err("must end with '/'");
        }
        if raw.contains("//") {
            return err("must not contain an empty segment '//'");
        }
        if raw.split('/').any(|seg| seg == ".." || seg == ".") {
            return err("must not contain '.' or '..' segments");
        }
        if raw.contains('*') || raw.contains('?') {
            return err("must not contain '*' or '?' (they are policy wildcards)");
        }
        if raw.contains("${") {
            return err("must not contain '${' (it is a policy variable)");
        }
        // S3's "safe characters" for keys: alphanumerics and ! - _ . * ' ( ) plus '/' as delimiter.
        let safe = |c: char| c.is_ascii_alphanumeric() || "!-_.'()/=".contains(c);
        if !raw.chars().all(safe) {
            return err("may only contain letters, digits and ! - _ . ' ( ) = /");
        }
        Ok(Prefix(raw.to_owned()))
    }
    /// The prefix as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Whether `key` (an object key or listing prefix) lies under this prefix.
    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        key.starts_with(&self.0)
    }
    /// Whether one prefix contains the other (they overlap).
    #[must_use]
    pub fn overlaps(&self, other: &Prefix) -> bool {
        self.0.starts_with(&other.0) || other.0.starts_with(&self.0)
    }
}
string_newtype_serde!(Prefix);

/// What a grant allows on its prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessLevel {
    /// Get and list objects.
    Read,
    /// Read plus put, delete and multipart uploads.
    ReadWrite,
}

impl AccessLevel {
    /// Parse `read` or `read-write` (also accepts `write` and `read_write`).
    ///
    /// # Errors
    /// `access_level` must be `read` or `read-write`.
    pub fn parse(raw: &str) -> Result<Self, GrantError> {
        match raw {
            "read" | "read-only" => Ok(AccessLevel::Read),
            "read-write" | "read_write" | "write" => Ok(AccessLevel::ReadWrite),
            _ => Err(GrantError::invalid(
                "access_level",
                "must be \"read\" or \"read-write\"",
                raw,
            )),
        }
    }
    /// Parse exactly `read` or `read-write`, as the API's schema allows: the aliases [`parse`]
    /// takes are kept for declared registries only, so what an API caller sends is what the
    /// document promises and API Gateway enforces.
    ///
    /// [`parse`]: AccessLevel::parse
    ///
    /// # Errors
    /// `access_level` must be `read` or `read-write`.
    pub fn parse_canonical(raw: &str) -> Result<Self, GrantError> {
        match raw {
            "read" => Ok(AccessLevel::Read),
            "read-write" => Ok(AccessLevel::ReadWrite),
            _ => Err(GrantError::invalid(
                "access_level",
                "must be \"read\" or \"read-write\"",
                raw,
            )),
        }
    }
    /// The canonical text: `read` or `read-write`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            AccessLevel::Read => "read",
            AccessLevel::ReadWrite => "read-write",
        }
    }
    /// Whether this level includes writes.
    #[must_use]
    pub fn can_write(&self) -> bool {
        matches!(self, AccessLevel::ReadWrite)
    }
}
string_newtype_serde!(AccessLevel);

/// An `sts:ExternalId`: 2–1224 characters of `[\w+=,.@:/-]`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ExternalId(String);

impl fmt::Debug for ExternalId {
    // An external ID is a shared secret in practice; keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExternalId(***)")
    }
}

impl ExternalId {
    /// Parse an external ID.
    ///
    /// # Errors
    /// Length 2–1224, characters `[A-Za-z0-9_+=,.@:/-]`.
    pub fn parse(raw: &str) -> Result<Self, GrantError> {
        let n = raw.chars().count();
        if !(2..=1224).contains(&n) {
            return Err(GrantError::invalid(
                "external_id",
                "must be 2 to 1224 characters long",
                "***",
            ));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c))
        {
            return Err(GrantError::invalid(
                "external_id",
                "may only contain letters, digits and _ + = , . @ : / -",
                "***",
            ));
        }
        Ok(ExternalId(raw.to_owned()))
    }
    /// The ID as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype_serde!(ExternalId);

/// A point in time in UTC, read from and written as RFC 3339 (`2027-01-31T00:00:00Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// Parse RFC 3339. Offsets are converted to UTC; a bare date is rejected as ambiguous.
    ///
    /// # Errors
    /// Names the field `expiration_date` and the expected format.
    pub fn parse(raw: &str) -> Result<Self, GrantError> {
        DateTime::parse_from_rfc3339(raw)
            .map(|d| Timestamp(d.with_timezone(&Utc)))
            .map_err(|_| {
                GrantError::invalid(
                    "expiration_date",
                    "must be an RFC 3339 timestamp such as 2027-01-31T00:00:00Z",
                    raw,
                )
            })
    }
    /// RFC 3339 with `Z` and whole seconds: the form written into policies and items.
    #[must_use]
    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Timestamp::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// One grant: an account may access some prefixes at one level until a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// The consumer account.
    pub account_id: AccountId,
    /// The prefixes granted (sorted, deduplicated, non-overlapping).
    pub allowed_prefixes: Vec<Prefix>,
    /// Read or read-write.
    pub access_level: AccessLevel,
    /// When access stops.
    pub expiration_date: Timestamp,
    /// Who created the grant (`terraform`, or an approver's ARN).
    pub created_by: String,
    /// When the grant was created.
    pub created_at: Timestamp,
}

/// The raw shape of a grant as people write it (Terraform variable, JSON file, API body).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GrantInput {
    /// 12-digit account ID.
    pub account_id: String,
    /// A human name for the account (used in alarm and statement names).
    #[serde(default)]
    pub name: Option<String>,
    /// Prefixes granted.
    pub allowed_prefixes: Vec<String>,
    /// `read` or `read-write`.
    pub access_level: String,
    /// RFC 3339 expiry.
    pub expiration_date: String,
    /// Contact notified on expiry and revocation.
    #[serde(default)]
    pub owner_email: Option<String>,
    /// `sts:ExternalId` the consumer role requires (rendered into its trust policy).
    #[serde(default)]
    pub external_id: Option<String>,
    /// Creator; defaults to `terraform`.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Creation time; defaults to the time of loading.
    #[serde(default)]
    pub created_at: Option<String>,
}

impl Grant {
    /// Validate raw input into a grant.
    ///
    /// # Errors
    /// The first broken rule, naming the field (`allowed_prefixes[1]`, …).
    pub fn from_input(input: &GrantInput, now: DateTime<Utc>) -> Result<Self, GrantError> {
        let account_id = AccountId::parse(&input.account_id)?;
        if input.allowed_prefixes.is_empty() {
            return Err(GrantError::invalid(
                "allowed_prefixes",
                "must list at least one prefix",
                "[]",
            ));
        }
        let mut prefixes = BTreeSet::new();
        for (i, raw) in input.allowed_prefixes.iter().enumerate() {
            let p = Prefix::parse(raw).map_err(|e| match e {
                GrantError::Invalid { rule, value, .. } => GrantError::Invalid {
                    field: format!("allowed_prefixes[{i}]"),
                    rule,
                    value,
                },
                other => other,
            })?;
            prefixes.insert(p);
        }
        let prefixes: Vec<Prefix> = prefixes.into_iter().collect();
        for (i, a) in prefixes.iter().enumerate() {
            for b in &prefixes[i + 1..] {
                if a.overlaps(b) {
                    return Err(GrantError::invalid(
                        "allowed_prefixes",
                        "prefixes of one grant must not contain each other",
                        &format!("{a} and {b}"),
                    ));
                }
            }
        }
        let access_level = AccessLevel::parse(&input.access_level)?;
        let expiration_date = Timestamp::parse(&input.expiration_date)?;
        let created_at = match &input.created_at {
            Some(raw) => Timestamp::parse(raw).map_err(|e| match e {
                GrantError::Invalid { rule, value, .. } => GrantError::Invalid {
                    field: "created_at".into(),
                    rule,
                    value,
                },
                other => other,
            })?,
            None => Timestamp(now),
        };
        let created_by = input
            .created_by
            .clone()
            .unwrap_or_else(|| "terraform".into());
        if created_by.is_empty() || created_by.len() > 2048 {
            return Err(GrantError::invalid(
                "created_by",
                "must be 1 to 2048 characters",
                &created_by,
            ));
        }
        Ok(Grant {
            account_id,
            allowed_prefixes: prefixes,
            access_level,
            expiration_date,
            created_by,
            created_at,
        })
    }

    /// Whether the grant is still in force at `at` (expiry is exclusive).
    #[must_use]
    pub fn is_active(&self, at: DateTime<Utc>) -> bool {
        at < self.expiration_date.0
    }

    /// Whether this grant allows `key` at `level` at time `at`.
    #[must_use]
    pub fn allows(&self, key: &str, write: bool, at: DateTime<Utc>) -> bool {
        self.is_active(at)
            && (!write || self.access_level.can_write())
            && self.allowed_prefixes.iter().any(|p| p.contains_key(key))
    }
}

/// A file of grants: the same shape as the Terraform variable `consumer_accounts`, so one
/// `*.tfvars.json` feeds both Terraform and the CLI.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GrantsFile {
    /// The grants.
    pub consumer_accounts: Vec<GrantInput>,
}

/// A validated set of grants with no duplicates or overlaps per account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Registry {
    grants: Vec<Grant>,
    /// Positions in `grants` by account, so the per-record questions (`knows`, `allows`) are
    /// one lookup rather than a scan of every grant.
    #[serde(skip)]
    by_account: HashMap<String, Vec<usize>>,
}

/// A registry item [`Registry::lenient`] left out, and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedItem {
    /// The item (`account/grant_id` in the table).
    pub item: String,
    /// What is wrong with it.
    pub rule: String,
}

/// Why `g` cannot stand beside the earlier grant `h`, if it cannot.
fn conflict(h: &Grant, g: &Grant) -> Option<String> {
    if h.account_id != g.account_id {
        return None;
    }
    if h == g {
        return Some("duplicates an earlier grant".into());
    }
    g.allowed_prefixes.iter().find_map(|p| {
        h.allowed_prefixes.iter().find(|q| q.overlaps(p)).map(|q| {
            format!(
                "prefix {p} overlaps {q} of an earlier grant for the same account; merge them into one grant"
            )
        })
    })
}

impl Registry {
    /// Build a registry, checking rules across grants.
    ///
    /// # Errors
    /// A duplicate grant, or two grants of one account whose prefixes overlap (which would make
    /// the effective level ambiguous).
    pub fn new(grants: Vec<Grant>) -> Result<Self, GrantError> {
        for (j, g) in grants.iter().enumerate() {
            if let Some(rule) = grants[..j].iter().find_map(|h| conflict(h, g)) {
                return Err(GrantError::Conflict {
                    index: j,
                    account: g.account_id.to_string(),
                    rule,
                });
            }
        }
        Ok(Self::indexed(grants))
    }

    /// Build a registry from every item that passes the rules across grants: an item that
    /// duplicates or overlaps one kept before it is left out and reported, so one bad item never
    /// stops the others (the validator still serves every other consumer, the reconciler still
    /// applies every removal). Items are `(name, grant)` in the order they take precedence.
    #[must_use]
    pub fn lenient(items: Vec<(String, Grant)>) -> (Self, Vec<SkippedItem>) {
        let mut kept: Vec<Grant> = Vec::with_capacity(items.len());
        let mut skipped = Vec::new();
        for (item, g) in items {
            match kept.iter().find_map(|h| conflict(h, &g)) {
                Some(rule) => skipped.push(SkippedItem { item, rule }),
                None => kept.push(g),
            }
        }
        (Self::indexed(kept), skipped)
    }

    /// The registry of the grants at `positions` (distinct, in that order; positions out of range
    /// are ignored). Rules across grants are not checked again: they hold for any subset of a
    /// registry. Used by the reconciler to render the grants it can apply.
    #[must_use]
    pub fn subset(&self, positions: &[usize]) -> Registry {
        Self::indexed(
            positions
                .iter()
                .filter_map(|&i| self.grants.get(i).cloned())
                .collect(),
        )
    }

    fn indexed(grants: Vec<Grant>) -> Self {
        let mut by_account: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, g) in grants.iter().enumerate() {
            by_account
                .entry(g.account_id.as_str().to_owned())
                .or_default()
                .push(i);
        }
        Registry { grants, by_account }
    }

    /// Parse a grants file (`{"consumer_accounts": [...]}` or a bare list).
    ///
    /// # Errors
    /// JSON errors, or the first invalid grant with its index.
    pub fn from_json(text: &str, now: DateTime<Utc>) -> Result<Self, GrantError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            GrantError::invalid("grants file", "must be valid JSON", &e.to_string())
        })?;
        let list = match value {
            serde_json::Value::Array(_) => value,
            serde_json::Value::Object(mut map) => match map.remove("consumer_accounts") {
                Some(v) => v,
                None => {
                    return Err(GrantError::invalid(
                        "consumer_accounts",
                        "the grants file must have a top-level \"consumer_accounts\" list",
                        "",
                    ));
                }
            },
            _ => {
                return Err(GrantError::invalid(
                    "grants file",
                    "must be a JSON object or list",
                    "",
                ));
            }
        };
        let inputs: Vec<GrantInput> = match list {
            serde_json::Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    serde_json::from_value(item).map_err(|e| {
                        GrantError::invalid(
                            format!("consumer_accounts[{i}]"),
                            "must have account_id, allowed_prefixes, access_level, expiration_date",
                            &e.to_string(),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(GrantError::invalid(
                    "consumer_accounts",
                    "must be a list",
                    "",
                ));
            }
        };
        let grants = inputs
            .iter()
            .enumerate()
            .map(|(i, g)| {
                Grant::from_input(g, now).map_err(|e| e.within(&format!("consumer_accounts[{i}]")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Registry::new(grants)
    }

    /// All grants, in input order.
    #[must_use]
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// Grants still in force at `at`.
    pub fn active(&self, at: DateTime<Utc>) -> impl Iterator<Item = &Grant> {
        self.grants.iter().filter(move |g| g.is_active(at))
    }

    /// Whether an account holds any grant (active or not).
    #[must_use]
    pub fn knows(&self, account: &str) -> bool {
        self.by_account.contains_key(account)
    }

    /// The grants of one account, when it holds any: one lookup for several questions.
    #[must_use]
    pub fn account(&self, account: &str) -> Option<AccountGrants<'_>> {
        self.by_account.get(account).map(|idx| AccountGrants {
            grants: &self.grants,
            idx,
        })
    }

    /// The registry's answer for one access, the ground truth the rendered policy must match.
    #[must_use]
    pub fn allows(&self, account: &str, key: &str, write: bool, at: DateTime<Utc>) -> bool {
        self.account(account)
            .is_some_and(|a| a.allows(key, write, at))
    }
}

/// The grants one account holds (see [`Registry::account`]).
#[derive(Debug, Clone, Copy)]
pub struct AccountGrants<'r> {
    grants: &'r [Grant],
    idx: &'r [usize],
}

impl<'r> AccountGrants<'r> {
    /// The account's grants, in input order.
    pub fn iter(&self) -> impl Iterator<Item = &'r Grant> + 'r {
        let grants = self.grants;
        self.idx.iter().filter_map(move |&i| grants.get(i))
    }

    /// Whether any of them allows `key` (for a write, when `write`) at `at`.
    #[must_use]
    pub fn allows(&self, key: &str, write: bool, at: DateTime<Utc>) -> bool {
        self.iter().any(|g| g.allows(key, write, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Timestamp::parse("2026-11-22T12:00:00Z").unwrap().0
    }

    fn input(acct: &str, prefixes: &[&str], level: &str) -> GrantInput {
        GrantInput {
            account_id: acct.into(),
            name: None,
            allowed_prefixes: prefixes.iter().map(|s| s.to_string()).collect(),
            access_level: level.into(),
            expiration_date: "2027-01-01T00:00:00Z".into(),
            owner_email: None,
            external_id: None,
            created_by: None,
            created_at: None,
        }
    }

    #[test]
    fn account_id_rules() {
        assert!(AccountId::parse("123456789012").is_ok());
        for bad in [
            "12345678901",
            "1234567890123",
            "12345678901a",
            "",
            " 23456789012",
        ] {
            let e = AccountId::parse(bad).unwrap_err().to_string();
            assert!(
                e.starts_with("account_id: must be exactly 12 digits"),
                "{e}"
            );
        }
    }

    #[test]
    fn prefix_rules_name_the_rule() {
        assert!(Prefix::parse("sales/2026/").is_ok());
        let cases = [
            ("", "must not be empty"),
            ("/sales/", "must not start with '/'"),
            ("sales", "must end with '/'"),
            ("sales/../hr/", "'..'"),
            ("sales/*/", "'*'"),
            ("sales//x/", "'//'"),
            ("sal es/", "may only contain"),
            ("sales/${aws:username}/", "'${'"),
        ];
        for (raw, want) in cases {
            let e = Prefix::parse(raw).unwrap_err().to_string();
            assert!(e.contains(want), "{raw}: {e}");
            assert!(e.starts_with("prefix: "), "{e}");
        }
        let long = format!("{}/", "a".repeat(1024));
        assert!(
            Prefix::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("1024")
        );
    }

    #[test]
    fn prefix_overlap_and_containment() {
        let a = Prefix::parse("sales/").unwrap();
        let b = Prefix::parse("sales/2026/").unwrap();
        let c = Prefix::parse("sales-eu/").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert!(a.contains_key("sales/x.csv"));
        assert!(!a.contains_key("sales-eu/x.csv"));
    }

    #[test]
    fn access_level_and_external_id() {
        assert_eq!(AccessLevel::parse("read").unwrap(), AccessLevel::Read);
        assert_eq!(AccessLevel::parse("write").unwrap(), AccessLevel::ReadWrite);
        for alias in ["write", "read_write", "read-only", "READ"] {
            assert!(AccessLevel::parse_canonical(alias).is_err(), "{alias}");
        }
        assert_eq!(
            AccessLevel::parse_canonical("read-write").unwrap(),
            AccessLevel::ReadWrite
        );
        assert_eq!(
            AccessLevel::parse("read-write").unwrap(),
            AccessLevel::ReadWrite
        );
        assert!(
            AccessLevel::parse("admin")
                .unwrap_err()
                .to_string()
                .contains("access_level")
        );
        assert!(ExternalId::parse("warden-ext-01").is_ok());
        assert!(ExternalId::parse("x").is_err());
        assert!(ExternalId::parse("has space").is_err());
        assert!(ExternalId::parse(&"a".repeat(1225)).is_err());
        assert_eq!(
            format!("{:?}", ExternalId::parse("secret-id").unwrap()),
            "ExternalId(***)"
        );
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        let t = Timestamp::parse("2027-01-01T01:00:00+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2027-01-01T00:00:00Z");
        assert!(Timestamp::parse("2027-01-01").is_err());
    }

    #[test]
    fn grant_from_input_names_index() {
        let g = Grant::from_input(&input("111111111111", &["b/", "a/"], "read"), now()).unwrap();
        assert_eq!(g.allowed_prefixes[0].as_str(), "a/");
        let e = Grant::from_input(&input("111111111111", &["a/", "b"], "read"), now()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("allowed_prefixes[1]: must end with '/'"),
            "{e}"
        );
        let e =
            Grant::from_input(&input("111111111111", &["a/", "a/b/"], "read"), now()).unwrap_err();
        assert!(e.to_string().contains("must not contain each other"));
    }

    #[test]
    fn registry_rejects_duplicates_and_overlaps() {
        let a = Grant::from_input(&input("111111111111", &["a/"], "read"), now()).unwrap();
        let b = Grant::from_input(&input("111111111111", &["a/x/"], "read-write"), now()).unwrap();
        let c = Grant::from_input(&input("222222222222", &["a/"], "read"), now()).unwrap();
        assert!(Registry::new(vec![a.clone(), c.clone()]).is_ok());
        let e = Registry::new(vec![a.clone(), a.clone()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("duplicates"), "{e}");
        let e = Registry::new(vec![a, b]).unwrap_err().to_string();
        assert!(e.contains("overlaps"), "{e}");
    }

    #[test]
    fn registry_from_json_names_the_entry() {
        let text = r#"{"consumer_accounts":[
            {"account_id":"111111111111","allowed_prefixes":["a/"],"access_level":"read","expiration_date":"2027-01-01T00:00:00Z"},
            {"account_id":"22222222222","allowed_prefixes":["a/"],"access_level":"read","expiration_date":"2027-01-01T00:00:00Z"}]}"#;
        let e = Registry::from_json(text, now()).unwrap_err().to_string();
        assert!(e.starts_with("consumer_accounts[1].account_id"), "{e}");
        let e = Registry::from_json(r#"{"consumer_accounts":[{"account_id":"1"}]}"#, now())
            .unwrap_err();
        assert!(e.to_string().contains("consumer_accounts[0]"), "{e}");
    }

    #[test]
    fn grant_allows_respects_level_prefix_and_expiry() {
        let g = Grant::from_input(&input("111111111111", &["a/"], "read"), now()).unwrap();
        assert!(g.allows("a/x", false, now()));
        assert!(!g.allows("a/x", true, now()));
        assert!(!g.allows("b/x", false, now()));
        let later = Timestamp::parse("2027-01-01T00:00:00Z").unwrap().0;
        assert!(!g.allows("a/x", false, later));
    }

    /// One bad item never stops the others: a duplicate and an overlapping item are left out and
    /// named with their rule; everything else is kept, in order.
    #[test]
    fn lenient_registry_keeps_the_rest_and_names_what_it_skips() {
        let now = chrono::Utc::now();
        let g = |acct: &str, prefixes: &[&str]| {
            Grant::from_input(
                &GrantInput {
                    account_id: acct.into(),
                    name: None,
                    allowed_prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
                    access_level: "read".into(),
                    expiration_date: "2099-01-01T00:00:00Z".into(),
                    owner_email: None,
                    external_id: None,
                    created_by: None,
                    created_at: None,
                },
                now,
            )
            .unwrap()
        };
        let (reg, skipped) = Registry::lenient(vec![
            (
                "210000000000/declared".into(),
                g("210000000000", &["sales/"]),
            ),
            (
                "210000000000/request-1".into(),
                g("210000000000", &["sales/eu/"]),
            ),
            ("210000000001/declared".into(), g("210000000001", &["hr/"])),
            ("210000000001/request-2".into(), g("210000000001", &["hr/"])),
            ("210000000002/declared".into(), g("210000000002", &["ops/"])),
        ]);
        assert_eq!(reg.grants().len(), 3);
        let names: Vec<&str> = skipped.iter().map(|s| s.item.as_str()).collect();
        assert_eq!(names, ["210000000000/request-1", "210000000001/request-2"]);
        assert!(skipped[0].rule.contains("overlaps"), "{skipped:?}");
        assert!(skipped[1].rule.contains("overlaps") || skipped[1].rule.contains("duplicates"));
    }
}
