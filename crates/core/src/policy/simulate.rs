//! The `warden policy simulate` contract: one JSON request in, one JSON result out.
//!
//! Request: `{"principal", "action", "resource", "resource_account", "context",
//! "identity_policies", "resource_policy", "permission_boundaries", "session_policy", "scps",
//! "rcps", "kms_grants", "role_path", "principal_id"}`. Result: `{"decision", "explanation"}`,
//! or `{"error": "<field>: <rule>"}` for a bad request — never a crash and never a silent skip.
//!
//! [`Simulator`] keeps compiled policies by their exact text (bounded), so a batch whose
//! requests share policies parses and compiles each once.

use std::collections::HashMap;
use std::sync::Arc;

use std::borrow::Cow;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::condition::Context;
use super::eval::{
    Caller, CompiledPolicy, Decision, IdentityKind, KmsGrant, PolicySet, Request, account_in_arn,
    evaluate,
};
use super::model::Policy;

/// The most condition keys a request's `context` may give.
pub const MAX_CONTEXT_KEYS: usize = 1024;

/// Request fields other than policy documents.
const SCALAR_FIELDS: [&str; 8] = [
    "principal",
    "action",
    "resource",
    "resource_account",
    "context",
    "kms_grants",
    "role_path",
    "principal_id",
];

/// Fields holding policy documents (compiled through the cache).
const POLICY_FIELDS: [&str; 6] = [
    "identity_policies",
    "resource_policy",
    "permission_boundaries",
    "session_policy",
    "scps",
    "rcps",
];

/// At most this many compiled policies are kept, and at most this many bytes of policy text;
/// past either, the cache starts again (a batch over shared policies refills it at once).
const CACHE_ENTRIES: usize = 4096;
const CACHE_BYTES: usize = 64 << 20;

/// Evaluates simulate requests, caching compiled policies by content.
#[derive(Debug, Default)]
pub struct Simulator {
    cache: HashMap<u64, Vec<Entry>>,
    /// The longest recent documents: looked for in each line before it is parsed.
    recent: Vec<Arc<str>>,
    /// A substring finder per `recent` document (its first 48 bytes), built once.
    finders: Vec<memchr::memmem::Finder<'static>>,
    /// Where, in the line being parsed, a recent document was replaced by `null`: its offset
    /// and the document.
    subs: Vec<(usize, usize)>,
    /// The start of the line being parsed (for the offsets of `subs`).
    base: usize,
    /// How many of `subs` the parse took as documents.
    used: usize,
    /// Lines parsed with known documents replaced.
    reduced_lines: u64,
    /// Documents of at least 512 bytes compiled while parsing the current line (candidates for
    /// `recent`; smaller ones parse faster than they are found).
    compiled_now: Vec<Arc<str>>,
    /// Documents defined once for the whole batch, named by `{"$ref": "<name>"}` in requests.
    named: HashMap<String, String>,
    /// Compiled named documents, by name then field path.
    named_compiled: HashMap<String, HashMap<String, CompiledPolicy>>,
    entries: usize,
    bytes: usize,
    hits: u64,
    misses: u64,
}

/// A JSON object's members in order, each value left as unparsed text: one pass over the line,
/// no hashing and no copy of keys without escapes. A repeated key keeps its last value, as a
/// map would.
struct RawFields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> RawFields<'a> {
    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawFields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawFields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut out = Vec::with_capacity(m.size_hint().unwrap_or(8));
                while let Some(k) = m.next_key::<Cow<'de, str>>()? {
                    let v: &'de RawValue = m.next_value()?;
                    out.push((k, v));
                }
                Ok(RawFields(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// `field[i]` as a field path, without formatting for the first elements of the usual lists.
fn element_path(field: &str, i: usize) -> Cow<'static, str> {
    const IDENTITY: [&str; 4] = [
        "identity_policies[0]",
        "identity_policies[1]",
        "identity_policies[2]",
        "identity_policies[3]",
    ];
    match (field, IDENTITY.get(i)) {
        ("identity_policies", Some(p)) => Cow::Borrowed(p),
        _ => Cow::Owned(format!("{field}[{i}]")),
    }
}

/// The request's small fields, parsed: looked up by a scan of at most eight names (cheaper
/// than hashing them).
struct Small<'a>(Vec<(&'a str, Value)>);

impl Small<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
    /// The value of `key`, taken out (`Null` when absent).
    fn take(&mut self, key: &str) -> Value {
        self.0
            .iter_mut()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| std::mem::take(v))
            .unwrap_or(Value::Null)
    }
}

/// One compiled policy with the exact text and field path it was compiled from.
#[derive(Debug)]
struct Entry {
    path: String,
    /// Shared with `recent`: a recent document is then recognised by address, not compared
    /// byte by byte a second time.
    raw: Arc<str>,
    policy: CompiledPolicy,
}

/// A hash of the field path, the length and a sample of the text (both ends and 64 bytes spread
/// over it): hashing all of a 20 KB policy on every line would cost more than the lookup saves.
/// Texts that sample alike share a bucket and are told apart by exact comparison.
fn sample_hash(raw: &str, path: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let b = raw.as_bytes();
    let mut h = super::condition::KeyHasher::default();
    path.hash(&mut h);
    b.len().hash(&mut h);
    b[..b.len().min(128)].hash(&mut h);
    b[b.len().saturating_sub(128)..].hash(&mut h);
    let step = (b.len() / 64).max(1);
    for i in (0..b.len()).step_by(step).take(64) {
        b[i].hash(&mut h);
    }
    h.finish()
}

fn required_str<'a>(m: &'a Small<'_>, field: &str) -> Result<&'a str, String> {
    match m.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(format!("{field}: must be a non-empty string")),
        None => Err(format!("{field}: is required")),
    }
}

fn optional_str<'a>(m: &'a Small<'_>, field: &str) -> Result<Option<&'a str>, String> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(_) => Err(format!("{field}: must be a non-empty string")),
    }
}

fn context(m: &mut Small<'_>) -> Result<Context, String> {
    let mut ctx = Context::with_capacity(16);
    // Taken out of the parsed fields: the strings move into the context, not copied.
    match m.take("context") {
        Value::Null => {}
        Value::Object(c) => {
            // Far above any real request context, and a bound on what one request can make the
            // context's map do.
            if c.len() > MAX_CONTEXT_KEYS {
                return Err(format!(
                    "context: has {} keys, at most {MAX_CONTEXT_KEYS} are accepted",
                    c.len()
                ));
            }
            for (k, v) in c {
                let scalar = |x: Value| match x {
                    Value::String(s) => Ok(s),
                    Value::Bool(b) => Ok(b.to_string()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(format!(
                        "context.{k}: values must be strings, numbers, booleans or lists of them"
                    )),
                };
                match v {
                    Value::Array(a) => {
                        let values = a.into_iter().map(scalar).collect::<Result<_, _>>()?;
                        ctx.set_many(&k, values);
                    }
                    other => {
                        let value = scalar(other)?;
                        ctx.set(&k, value);
                    }
                }
            }
        }
        _ => return Err("context: must be an object of condition keys".into()),
    }
    Ok(ctx)
}

const GRANT_FIELDS: [&str; 9] = [
    "GrantId",
    "Name",
    "KeyId",
    "GranteePrincipal",
    "RetiringPrincipal",
    "IssuingAccount",
    "CreationDate",
    "Operations",
    "Constraints",
];

fn context_pairs(v: &Value, path: &str) -> Result<Vec<(String, String)>, String> {
    match v {
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(format!("{path}.{k}: must be a string")),
            })
            .collect(),
        _ => Err(format!(
            "{path}: must be an object of encryption context pairs"
        )),
    }
}

/// `kms_grants`: a list of grants in the shape `ListGrants` returns.
fn kms_grants(m: &Small<'_>) -> Result<Vec<KmsGrant>, String> {
    match m.get("kms_grants") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => parse_kms_grants(v, "kms_grants"),
    }
}

/// Grants in the shape `ListGrants` returns: a list of grants, or the whole response
/// (`{"Grants": [...], "Truncated": false}`, as `aws kms list-grants` prints it). Errors name
/// the field under `field`.
///
/// # Errors
/// `"<field>[i].<Field>: <rule>"`.
pub fn parse_kms_grants(v: &Value, field: &str) -> Result<Vec<KmsGrant>, String> {
    let list = match v {
        Value::Array(a) => a,
        Value::Object(o) if o.contains_key("Grants") => {
            if o.get("Truncated") == Some(&Value::Bool(true)) {
                // A missing grant would then read as "the consumer cannot decrypt".
                return Err(format!(
                    "{field}.Truncated: the list is one page of several: give every page's grants (aws kms list-grants pages by itself)"
                ));
            }
            match o.get("Grants") {
                Some(Value::Array(a)) => a,
                _ => return Err(format!("{field}.Grants: must be a list of grants")),
            }
        }
        _ => {
            return Err(format!(
                "{field}: must be a list of grants (the ListGrants shape)"
            ));
        }
    };
    let mut out = Vec::new();
    for (i, g) in list.iter().enumerate() {
        let path = format!("{field}[{i}]");
        let Value::Object(g) = g else {
            return Err(format!("{path}: must be an object"));
        };
        if let Some(k) = g.keys().find(|k| !GRANT_FIELDS.contains(&k.as_str())) {
            return Err(format!(
                "{path}.{k}: unknown field (expected one of {})",
                GRANT_FIELDS.join(", ")
            ));
        }
        let grantee = match g.get("GranteePrincipal") {
            Some(Value::String(s)) if !s.is_empty() => s.as_str(),
            Some(_) => return Err(format!("{path}.GranteePrincipal: must be a principal ARN")),
            None => return Err(format!("{path}.GranteePrincipal: is required")),
        };
        let ops: Vec<String> = match g.get("Operations") {
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .enumerate()
                .map(|(j, o)| {
                    o.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{path}.Operations[{j}]: must be a string"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(format!(
                    "{path}.Operations: must be a non-empty list of grant operations"
                ));
            }
            None => return Err(format!("{path}.Operations: is required")),
        };
        let key_id = match g.get("KeyId") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
            Some(_) => return Err(format!("{path}.KeyId: must be a key ARN or key ID")),
        };
        let (mut subset, mut equals) = (None, None);
        match g.get("Constraints") {
            None | Some(Value::Null) => {}
            Some(Value::Object(c)) => {
                for (k, v) in c {
                    let cp = format!("{path}.Constraints.{k}");
                    match k.as_str() {
                        "EncryptionContextSubset" => subset = Some(context_pairs(v, &cp)?),
                        "EncryptionContextEquals" => equals = Some(context_pairs(v, &cp)?),
                        _ => {
                            return Err(format!(
                                "{cp}: unknown constraint (EncryptionContextSubset or EncryptionContextEquals)"
                            ));
                        }
                    }
                }
            }
            Some(_) => return Err(format!("{path}.Constraints: must be an object")),
        }
        let label = match g.get("Name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => format!("KMS grant {n}"),
            _ => path.clone(),
        };
        out.push(
            KmsGrant::new(&label, key_id, grantee, &ops, subset, equals)
                .map_err(|e| format!("{path}.{e}"))?,
        );
    }
    Ok(out)
}

fn is_web_identity_action(action: &str) -> bool {
    action.split_once(':').is_some_and(|(s, a)| {
        s.eq_ignore_ascii_case("sts")
            && (a.eq_ignore_ascii_case("AssumeRoleWithWebIdentity")
                || a.eq_ignore_ascii_case("AssumeRoleWithSAML"))
    })
}

/// The principal, with `role_path` and `principal_id` applied.
fn caller(m: &Small<'_>, action: &str) -> Result<Caller, String> {
    let mut caller = Caller::parse(required_str(m, "principal")?)?;
    if is_web_identity_action(action) {
        caller = match caller {
            // cognito-identity.amazonaws.com is a web identity provider here.
            Caller::Service(s) => Caller::Federated(s),
            Caller::Iam(_) | Caller::Anonymous => {
                return Err(format!(
                    "principal: {action} is called with a token, not AWS credentials: give the identity provider (accounts.google.com, cognito-identity.amazonaws.com, an oidc-provider or saml-provider ARN)"
                ));
            }
            c => c,
        };
    } else if matches!(caller, Caller::Federated(_)) {
        return Err(
            "principal: a web identity or SAML provider only calls sts:AssumeRoleWithWebIdentity or sts:AssumeRoleWithSAML"
                .into(),
        );
    }
    let role_path = optional_str(m, "role_path")?;
    let principal_id = optional_str(m, "principal_id")?;
    if role_path.is_none() && principal_id.is_none() {
        return Ok(caller);
    }
    let Caller::Iam(mut id) = caller else {
        let f = if role_path.is_some() {
            "role_path"
        } else {
            "principal_id"
        };
        return Err(format!(
            "{f}: applies only to an IAM user, role or role session principal"
        ));
    };
    if let Some(p) = role_path {
        if !matches!(id.kind, IdentityKind::AssumedRole { .. }) {
            return Err("role_path: applies only to an assumed-role session (a user's or role's ARN already carries its path)".into());
        }
        let ok = p.starts_with('/')
            && p.ends_with('/')
            && p.len() <= 512
            && p.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if !ok {
            return Err("role_path: must start and end with / (e.g. /service/), up to 512 printable characters".into());
        }
        id.path = p.to_owned();
    }
    if let Some(u) = principal_id {
        if !matches!(
            id.kind,
            IdentityKind::User { .. }
                | IdentityKind::AssumedRole { .. }
                | IdentityKind::Role { .. }
        ) {
            return Err("principal_id: applies only to an IAM user or role (AIDA…/AROA…)".into());
        }
        let ok = (16..=128).contains(&u.len())
            && u.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !ok {
            return Err("principal_id: must be the unique ID IAM assigned (16 to 128 upper-case letters and digits, e.g. AROAEXAMPLEID1234567)".into());
        }
        id.unique_id = Some(u.to_owned());
    }
    Ok(Caller::Iam(id))
}

fn resource_account(
    m: &Small<'_>,
    caller: &Caller,
    resource: &str,
) -> Result<Option<String>, String> {
    let in_arn = account_in_arn(resource);
    match m.get("resource_account") {
        None | Some(Value::Null) => match in_arn {
            Some(a) => Ok(Some(a.to_owned())),
            None if caller.identity().is_some() => Err(format!(
                "resource_account: is required: {resource} does not carry the account that owns it, and same- vs cross-account changes the decision (give the owner's 12-digit account ID)"
            )),
            None => Ok(None),
        },
        Some(Value::String(s)) if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) => {
            match in_arn {
                Some(a) if a != s => Err(format!(
                    "resource_account: {s} differs from the account in the resource ARN ({a})"
                )),
                _ => Ok(Some(s.clone())),
            }
        }
        Some(_) => Err("resource_account: must be a 12-digit account ID".into()),
    }
}

impl Simulator {
    /// A simulator with an empty cache.
    #[must_use]
    pub fn new() -> Self {
        Simulator::default()
    }

    /// Define a policy document once for a batch: a request then gives `{"$ref": "<name>"}` in
    /// any policy field instead of repeating the document (a 20 KB bucket policy on every line
    /// costs more to read than to decide).
    ///
    /// # Errors
    /// `"<name>: <rule>"` when the name is empty or the document does not parse.
    pub fn define(&mut self, name: &str, text: &str) -> Result<(), String> {
        if name.is_empty() || name.contains('=') {
            return Err(format!(
                "{name:?}: a policy name is non-empty and has no '=' (NAME=FILE)"
            ));
        }
        let v: Value =
            serde_json::from_str(text).map_err(|e| format!("{name}: not valid JSON ({e})"))?;
        Policy::from_value(&v).map_err(|e| format!("{name}.{e}"))?;
        self.named.insert(name.to_owned(), text.to_owned());
        Ok(())
    }

    /// The compiled document a `{"$ref": "<name>"}` names (`None`: `raw` is not a reference).
    fn dereference(
        &mut self,
        raw: &RawValue,
        path: &str,
    ) -> Option<Result<CompiledPolicy, String>> {
        let t = raw.get();
        memchr::memmem::find(t.as_bytes(), b"\"$ref\"")?;
        let v: RawFields = serde_json::from_str(t).ok()?;
        let name: Option<Cow<str>> = serde_json::from_str(v.get("$ref")?.get()).ok();
        let n: &str = match (name.as_deref(), v.0.len()) {
            (Some(n), 1) => n,
            _ => {
                return Some(Err(format!(
                    "{path}.$ref: must be the only field, naming a policy defined with --policy NAME=FILE"
                )));
            }
        };
        if let Some(c) = self.named_compiled.get(n).and_then(|m| m.get(path)) {
            self.hits += 1;
            return Some(Ok(c.clone()));
        }
        let Some(text) = self.named.get(n).cloned() else {
            return Some(Err(format!(
                "{path}.$ref: no policy named {n:?} (define it with --policy {n}=FILE)"
            )));
        };
        let c = self.compile(&text, path);
        // Named documents never appear inline: not worth looking for in the lines.
        self.compiled_now.retain(|t| **t != *text);
        if let Ok(c) = &c {
            self.named_compiled
                .entry(n.to_owned())
                .or_default()
                .insert(path.to_owned(), c.clone());
        }
        Some(c)
    }

    /// Cache hits and misses so far (compiled policies reused / compiled).
    #[must_use]
    pub fn cache_stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    fn compile(&mut self, raw: &str, path: &str) -> Result<CompiledPolicy, String> {
        // Looked up without copying the text: the bucket of its sampled hash, then the exact
        // text and field path (a different text never reads as a cached one).
        let h = sample_hash(raw, path);
        if let Some(p) = self.cache.get(&h).and_then(|b| {
            b.iter().find(|e| {
                e.path == path
                    && e.raw.len() == raw.len()
                    && (e.raw.as_ptr() == raw.as_ptr() || *e.raw == *raw)
            })
        }) {
            self.hits += 1;
            return Ok(p.policy.clone());
        }
        self.misses += 1;
        let v: Value =
            serde_json::from_str(raw).map_err(|e| format!("{path}: not valid JSON ({e})"))?;
        let p = Policy::from_value(&v).map_err(|e| format!("{path}.{e}"))?;
        let c = CompiledPolicy::new(path, &p);
        if self.entries >= CACHE_ENTRIES || self.bytes + raw.len() > CACHE_BYTES {
            self.cache.clear();
            self.bytes = 0;
            self.entries = 0;
        }
        self.bytes += raw.len() + path.len();
        self.entries += 1;
        let shared: Arc<str> = Arc::from(raw);
        if raw.len() >= 512 {
            self.compiled_now.push(shared.clone());
        }
        self.cache.entry(h).or_default().push(Entry {
            path: path.to_owned(),
            raw: shared,
            policy: c.clone(),
        });
        Ok(c)
    }

    fn policy_list(
        &mut self,
        raw: Option<&RawValue>,
        field: &str,
    ) -> Result<Vec<CompiledPolicy>, String> {
        let Some(raw) = raw else {
            return Ok(Vec::new());
        };
        let items: Option<Vec<&RawValue>> = serde_json::from_str(raw.get()).ok();
        match items {
            Some(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| self.document(v, &element_path(field, i)))
                .collect(),
            None if raw.get() == "null" => Ok(Vec::new()),
            None => Err(format!("{field}: must be a list of policy documents")),
        }
    }

    /// The recent document that replaced `raw` in the line, if it is one.
    fn substituted(&self, raw: &RawValue) -> Option<usize> {
        let at = (raw.get().as_ptr() as usize).checked_sub(self.base)?;
        self.subs
            .iter()
            .find(|(o, _)| *o == at)
            .map(|(_, i)| *i)
            .filter(|i| *i < self.recent.len())
    }

    fn document(&mut self, raw: &RawValue, path: &str) -> Result<CompiledPolicy, String> {
        if let Some(c) = self.dereference(raw, path) {
            return c;
        }
        if let Some(i) = self.substituted(raw) {
            self.used += 1;
            // A shared handle: compiling borrows the simulator mutably.
            let text = self.recent[i].clone();
            return self.compile(&text, path);
        }
        if !raw.get().trim_start().starts_with('{') {
            return Err(format!("{path}: must be a policy document (a JSON object)"));
        }
        self.compile(raw.get(), path)
    }

    fn optional_policy(
        &mut self,
        raw: Option<&RawValue>,
        field: &str,
    ) -> Result<Option<CompiledPolicy>, String> {
        match raw {
            None => Ok(None),
            Some(r) if self.substituted(r).is_some() || r.get().contains("\"$ref\"") => {
                self.document(r, field).map(Some)
            }
            Some(r) if r.get() == "null" => Ok(None),
            Some(r) if r.get().trim_start().starts_with('{') => {
                self.compile(r.get(), field).map(Some)
            }
            Some(_) => Err(format!("{field}: must be a policy document or null")),
        }
    }

    fn levels(
        &mut self,
        raw: Option<&RawValue>,
        field: &str,
    ) -> Result<Vec<Vec<CompiledPolicy>>, String> {
        let Some(raw) = raw else {
            return Ok(Vec::new());
        };
        if raw.get() == "null" {
            return Ok(Vec::new());
        }
        let Ok(levels) = serde_json::from_str::<Vec<&RawValue>>(raw.get()) else {
            return Err(format!(
                "{field}: must be a list of lists of policies, one list per organization level"
            ));
        };
        let mut out = Vec::new();
        for (i, level) in levels.iter().enumerate() {
            let Ok(ps) = serde_json::from_str::<Vec<&RawValue>>(level.get()) else {
                return Err(format!(
                    "{field}[{i}]: must be a list of policies (one organization level)"
                ));
            };
            if ps.is_empty() && field == "scps" {
                // DetachPolicy: "Every root, OU, and account must have at least one SCP attached."
                return Err(format!(
                    "{field}[{i}]: an organization level always has at least one SCP attached (FullAWSAccess unless replaced): give the policies attached at this level"
                ));
            }
            out.push(
                ps.iter()
                    .enumerate()
                    .map(|(j, v)| self.document(v, &format!("{field}[{i}][{j}]")))
                    .collect::<Result<_, _>>()?,
            );
        }
        Ok(out)
    }

    /// Parse a request (JSON text) into a policy set and a request.
    ///
    /// # Errors
    /// `"<field>: <rule>"`.
    pub fn parse_text(&mut self, line: &str) -> Result<(PolicySet, Request), String> {
        self.parse_bytes(line.as_bytes())
    }

    /// Parse a request given as the bytes of one line. Only the parts of the line outside known
    /// documents are checked for UTF-8 (a known document was valid when it was first read).
    ///
    /// # Errors
    /// `"<field>: <rule>"`; `"request: not valid UTF-8 (…)"`.
    pub fn parse_bytes(&mut self, line: &[u8]) -> Result<(PolicySet, Request), String> {
        // A batch repeats its large policies on every line, and finding a known document costs
        // far less than parsing it again: each recent document found in the line is replaced by
        // `null` before parsing. The replacement counts only where the parse finds a whole
        // document of the request at exactly that offset, and a known-valid document put back
        // in a value's place leaves the line valid JSON; otherwise (a replacement inside a
        // larger value, or any error, whose position would differ) the line is parsed as given.
        let mut r = None;
        if let Some(reduced) = self.reduce(line) {
            self.base = reduced.as_ptr() as usize;
            self.used = 0;
            let fast = self.parse_fields(&reduced);
            if fast.is_ok() && self.used == self.subs.len() {
                self.reduced_lines += 1;
                r = Some(fast);
            }
        }
        self.subs.clear();
        let r = match r {
            Some(r) => r,
            None => match std::str::from_utf8(line) {
                Ok(text) => self.parse_fields(text),
                Err(e) => Err(format!("request: not valid UTF-8 ({e})")),
            },
        };
        if !self.compiled_now.is_empty() {
            self.remember();
        }
        r
    }

    /// `line` with each recent document found in it replaced by `null` (`None`: none found, or
    /// the rest of the line is not UTF-8).
    fn reduce(&mut self, bytes: &[u8]) -> Option<String> {
        self.subs.clear();
        let mut found: Vec<(usize, usize)> = Vec::new();
        for (i, (t, finder)) in self.recent.iter().zip(&self.finders).enumerate() {
            // Look for a short head of the text (memchr's SIMD search), then compare the whole
            // text there.
            let mut from = 0;
            while let Some(at) = bytes.get(from..).and_then(|l| finder.find(l)) {
                let at = from + at;
                if bytes[at..].starts_with(t.as_bytes())
                    && !found
                        .iter()
                        .any(|&(o, j)| at < o + self.recent[j].len() && o < at + t.len())
                {
                    found.push((at, i));
                    from = at + t.len();
                } else {
                    from = at + 1;
                }
            }
        }
        if found.is_empty() {
            return None;
        }
        found.sort_unstable();
        let kept: usize = found.iter().map(|&(_, i)| self.recent[i].len()).sum();
        let mut out = String::with_capacity(bytes.len() - kept + 4 * found.len());
        let mut last = 0;
        // Documents start with `{` and end with `}`: the gaps between them are whole UTF-8.
        for (at, i) in found {
            out.push_str(std::str::from_utf8(bytes.get(last..at)?).ok()?);
            self.subs.push((out.len(), i));
            out.push_str("null");
            last = at + self.recent[i].len();
        }
        out.push_str(std::str::from_utf8(bytes.get(last..)?).ok()?);
        Some(out)
    }

    /// Keep the largest cached documents (up to 8, of at least 512 bytes: smaller ones parse
    /// faster than they are found) as the ones to look for in the next lines.
    fn remember(&mut self) {
        for t in std::mem::take(&mut self.compiled_now) {
            if !self.recent.contains(&t) {
                self.recent.push(t);
            }
        }
        self.recent.sort_by_key(|t| std::cmp::Reverse(t.len()));
        self.recent.truncate(8);
        self.finders = self
            .recent
            .iter()
            .map(|t| memchr::memmem::Finder::new(&t.as_bytes()[..t.len().min(48)]).into_owned())
            .collect();
    }

    fn parse_fields(&mut self, line: &str) -> Result<(PolicySet, Request), String> {
        let fields: RawFields = match serde_json::from_str(line) {
            Ok(f) => f,
            Err(e) => {
                return Err(match serde_json::from_str::<Value>(line) {
                    Ok(_) => "request: must be a JSON object".into(),
                    Err(_) => format!("request: not valid JSON ({e})"),
                });
            }
        };
        // The small fields through a Value; the policy documents through the cache.
        let mut m = Small(Vec::with_capacity(SCALAR_FIELDS.len()));
        for (k, v) in &fields.0 {
            if POLICY_FIELDS.contains(&k.as_ref()) {
                continue;
            }
            if !SCALAR_FIELDS.contains(&k.as_ref()) {
                let expected: Vec<&str> = SCALAR_FIELDS
                    .iter()
                    .chain(&POLICY_FIELDS)
                    .copied()
                    .collect();
                return Err(format!(
                    "{k}: unknown field (expected one of {})",
                    expected.join(", ")
                ));
            }
            let v: Value =
                serde_json::from_str(v.get()).map_err(|e| format!("{k}: not valid JSON ({e})"))?;
            m.0.push((k.as_ref(), v));
        }
        let action = required_str(&m, "action")?.to_owned();
        if action != "*" && !action.contains(':') {
            return Err("action: must be service:Action, e.g. s3:GetObject".into());
        }
        let caller = caller(&m, &action)?;
        let resource = required_str(&m, "resource")?.to_owned();
        let resource_account = resource_account(&m, &caller, &resource)?;
        let raw = |f: &str| fields.get(f);
        let set = PolicySet {
            identity: self.policy_list(raw("identity_policies"), "identity_policies")?,
            resource: self.optional_policy(raw("resource_policy"), "resource_policy")?,
            boundaries: self.policy_list(raw("permission_boundaries"), "permission_boundaries")?,
            session: self.optional_policy(raw("session_policy"), "session_policy")?,
            scps: self.levels(raw("scps"), "scps")?,
            rcps: self.levels(raw("rcps"), "rcps")?,
            kms_grants: kms_grants(&m)?,
        };
        let req = Request {
            caller,
            action,
            resource,
            resource_account,
            context: context(&mut m)?,
        }
        .with_global_keys();
        Ok((set, req))
    }

    /// Simulate one request given as JSON text; always returns one result object.
    pub fn simulate_line(&mut self, line: &str) -> Value {
        serde_json::to_value(self.outcome(line.as_bytes()))
            .unwrap_or_else(|e| json!({ "error": format!("result: {e}") }))
    }

    /// Simulate one request and write its result as one JSON line to `out`: the same object
    /// as [`Simulator::simulate_line`], serialized without building a `Value` first.
    ///
    /// # Errors
    /// Only `out`'s write errors.
    pub fn write_result(
        &mut self,
        line: &[u8],
        out: &mut impl std::io::Write,
    ) -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, &self.outcome(line))?;
        out.write_all(b"\n")
    }

    fn outcome(&mut self, line: &[u8]) -> Outcome {
        match self.parse_bytes(line) {
            Ok((set, req)) => {
                let r = evaluate(&set, &req);
                let mut explanation = r.explanation;
                explanation.extend(r.notes);
                Outcome::Decided {
                    decision: r.decision,
                    explanation,
                }
            }
            Err(error) => Outcome::Error { error },
        }
    }
}

/// One simulate result: `{"decision", "explanation"}` or `{"error"}`.
#[derive(Serialize)]
#[serde(untagged)]
enum Outcome {
    Decided {
        decision: Decision,
        explanation: Vec<String>,
    },
    Error {
        error: String,
    },
}

/// Parse a request into a policy set and a request (no cache kept).
///
/// # Errors
/// `"<field>: <rule>"`.
pub fn parse_request(v: &Value) -> Result<(PolicySet, Request), String> {
    Simulator::new().parse_text(&v.to_string())
}

/// Simulate one request given as JSON text; always returns one result object.
#[must_use]
pub fn simulate_line(line: &str) -> Value {
    Simulator::new().simulate_line(line)
}

/// Simulate one parsed request.
#[must_use]
pub fn simulate_value(v: &Value) -> Value {
    simulate_line(&v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_defined_once_is_named_by_ref_in_any_policy_field() {
        let policy = big_policy();
        let mut sim = Simulator::new();
        sim.define("bucket", &policy.to_string()).unwrap();
        let inline = request(0, &policy);
        let mut by_ref = inline.clone();
        by_ref["resource_policy"] = json!({"$ref": "bucket"});
        assert_eq!(
            sim.simulate_line(&by_ref.to_string()),
            Simulator::new().simulate_line(&inline.to_string())
        );
        by_ref["resource_policy"] = json!({"$ref": "nope"});
        assert_eq!(
            sim.simulate_line(&by_ref.to_string())["error"],
            "resource_policy.$ref: no policy named \"nope\" (define it with --policy nope=FILE)"
        );
        by_ref["resource_policy"] = Value::Null;
        by_ref["identity_policies"] = json!([{"$ref": "bucket", "x": 1}]);
        assert!(
            sim.simulate_line(&by_ref.to_string())["error"]
                .as_str()
                .unwrap()
                .starts_with("identity_policies[0].$ref: must be the only field")
        );
        assert!(
            sim.define("bad", "{")
                .unwrap_err()
                .starts_with("bad: not valid JSON")
        );
        assert!(sim.define("", "{}").is_err());
    }

    /// A large policy and requests that repeat it, through one simulator and fresh ones.
    fn big_policy() -> Value {
        let statements: Vec<Value> = (0..40)
            .map(|i| {
                json!({"Sid": format!("S{i}"), "Effect": "Allow",
                       "Principal": {"AWS": format!("arn:aws:iam::{:012}:role/r", 200_000_000_000u64 + i)},
                       "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::b/p{i}/*")})
            })
            .collect();
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn request(i: u64, policy: &Value) -> Value {
        json!({"principal": format!("arn:aws:sts::{:012}:assumed-role/r/s", 200_000_000_000u64 + i),
               "action": "s3:GetObject", "resource": format!("arn:aws:s3:::b/p{}/k", i % 3),
               "resource_account": "111111111111",
               "identity_policies": [{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}],
               "resource_policy": policy})
    }

    #[test]
    fn known_documents_found_in_a_line_decide_as_a_full_parse_does() {
        let policy = big_policy();
        let mut sim = Simulator::new();
        for i in 0..6 {
            let line = request(i, &policy).to_string();
            assert_eq!(
                sim.simulate_line(&line),
                Simulator::new().simulate_line(&line),
                "{i}"
            );
        }
        assert!(!sim.recent.is_empty(), "the big policy is looked for");
        assert_eq!(sim.reduced_lines, 5, "every line after the first found it");
        let before = sim.reduced_lines;
        // The same text inside a larger value is not a document of the request: the line is
        // parsed as given (here the outer document is invalid, and says so by its own path).
        let mut nested = request(1, &policy);
        nested["resource_policy"] = json!({"Version": "2012-10-17", "Statement": [policy.clone()]});
        let line = nested.to_string();
        let fresh = Simulator::new().simulate_line(&line);
        assert_eq!(sim.simulate_line(&line), fresh);
        // An invalid line with the text in it: the same error, positions included.
        let broken = format!("{}x", request(2, &policy));
        assert_eq!(
            sim.simulate_line(&broken),
            Simulator::new().simulate_line(&broken)
        );
        // The text given where it is not allowed (a context value): the same refusal.
        let mut ctx = request(2, &policy);
        ctx["context"] = json!({"k": policy});
        let line = ctx.to_string();
        assert_eq!(
            sim.simulate_line(&line),
            Simulator::new().simulate_line(&line)
        );
        // Twice in one line (resource policy and session policy): both found, same answer.
        let mut twice = request(0, &policy);
        twice["session_policy"] = policy.clone();
        let line = twice.to_string();
        assert_eq!(
            sim.simulate_line(&line),
            Simulator::new().simulate_line(&line)
        );
        // Only the last line was a request of known documents; the others were parsed as given.
        assert_eq!(sim.reduced_lines, before + 1);
        // Bytes: a known document and invalid UTF-8 elsewhere in the line is refused by name,
        // and the written result is the same object as simulate_line's.
        let mut bad = request(3, &policy).to_string().into_bytes();
        bad.pop();
        bad.extend_from_slice(b",\"role_path\":\"");
        bad.push(0xff);
        bad.extend_from_slice(b"\"}");
        let mut out = Vec::new();
        sim.write_result(&bad, &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .starts_with("request: not valid UTF-8"),
            "{v}"
        );
        let good = request(4, &policy).to_string();
        let mut out = Vec::new();
        sim.write_result(good.as_bytes(), &mut out).unwrap();
        assert_eq!(out.last(), Some(&b'\n'));
        let written: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(written, Simulator::new().simulate_line(&good));
    }

    #[test]
    fn a_context_past_the_key_limit_is_refused_by_name() {
        let many: serde_json::Map<String, Value> = (0..=MAX_CONTEXT_KEYS)
            .map(|i| (format!("k:{i}"), json!("v")))
            .collect();
        let r = json!({
            "principal": "anonymous", "action": "s3:GetObject", "resource": "arn:aws:s3:::b/k",
            "resource_account": "111122223333", "context": many,
        });
        let out = simulate_line(&r.to_string());
        assert!(
            out["error"]
                .as_str()
                .unwrap()
                .starts_with("context: has 1025 keys"),
            "{out}"
        );
    }

    #[test]
    fn allowed_and_errors_name_fields() {
        let ok = r#"{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:GetObject","resource":"arn:aws:s3:::b/k","resource_account":"111122223333","identity_policies":[{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}]}"#;
        assert_eq!(simulate_line(ok)["decision"], "Allowed");
        let cases = [
            (
                r#"{"action":"s3:GetObject","resource":"*"}"#,
                "principal: is required",
            ),
            (
                r#"{"principal":"x","action":"s3:GetObject","resource":"*"}"#,
                "principal:",
            ),
            (
                r#"{"principal":"anonymous","action":"GetObject","resource":"*"}"#,
                "action:",
            ),
            (
                r#"{"principal":"anonymous","action":"s3:GetObject","resource":"*","resource_account":"12"}"#,
                "resource_account:",
            ),
            (
                r#"{"principal":"anonymous","action":"s3:GetObject","resource":"*","identity_policies":[{"Statement":{"Effect":"Nope"}}]}"#,
                "identity_policies[0].Statement.Effect",
            ),
            (
                r#"{"principal":"anonymous","action":"s3:GetObject","resource":"*","scps":[{}]}"#,
                "scps[0]:",
            ),
            (
                r#"{"principal":"anonymous","action":"s3:GetObject","resource":"*","colour":1}"#,
                "colour: unknown field",
            ),
            (
                r#"{"principal":"anonymous","action":"s3:GetObject","resource":"*","context":{"k":{}}}"#,
                "context.k",
            ),
            ("not json", "request: not valid JSON"),
            (
                r#"{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:GetObject","resource":"arn:aws:s3:::b/k"}"#,
                "resource_account: is required",
            ),
            (
                r#"{"principal":"arn:aws:iam::111122223333:user/a","action":"kms:Decrypt","resource":"arn:aws:kms:us-east-1:111122223333:key/k","resource_account":"444455556666"}"#,
                "resource_account: 444455556666 differs",
            ),
            (
                r#"{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:GetObject","resource":"*","resource_account":"111122223333","scps":[[]]}"#,
                "scps[0]: an organization level always has at least one SCP",
            ),
            (
                r#"{"principal":"anonymous","action":"s3:GetObject","resource":"*","resource_policy":{"Statement":{"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"*","Resource":"*"}}}"#,
                "resource_policy.Statement.Principal: Invalid principal in policy",
            ),
            (
                r#"{"principal":"arn:aws:iam::111122223333:user/a","action":"kms:Decrypt","resource":"arn:aws:kms:us-east-1:111122223333:key/k","kms_grants":[{"GranteePrincipal":"arn:aws:iam::111122223333:user/a","Operations":["Destroy"]}]}"#,
                "kms_grants[0].Operations[0]",
            ),
            (
                r#"{"principal":"arn:aws:iam::111122223333:user/a","action":"kms:Decrypt","resource":"arn:aws:kms:us-east-1:111122223333:key/k","kms_grants":[{"Operations":["Decrypt"]}]}"#,
                "kms_grants[0].GranteePrincipal: is required",
            ),
            (
                r#"{"principal":"arn:aws:iam::111122223333:user/a","role_path":"/x/","action":"s3:GetObject","resource":"*","resource_account":"111122223333"}"#,
                "role_path: applies only to an assumed-role session",
            ),
            (
                r#"{"principal":"arn:aws:iam::111122223333:user/a","action":"sts:AssumeRoleWithWebIdentity","resource":"arn:aws:iam::111122223333:role/r"}"#,
                "principal: sts:AssumeRoleWithWebIdentity is called with a token",
            ),
        ];
        let mut sim = Simulator::new();
        for (req, want) in cases {
            let out = sim.simulate_line(req);
            let e = out["error"].as_str().unwrap_or_default();
            assert!(e.starts_with(want), "{req} -> {out}");
        }
    }

    #[test]
    fn batch_cache_reuses_compiled_policies_by_content() {
        let line = |key: &str| {
            format!(
                r#"{{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:GetObject","resource":"arn:aws:s3:::b/{key}","resource_account":"111122223333","identity_policies":[{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/in/*"}}}}]}}"#
            )
        };
        let mut sim = Simulator::new();
        assert_eq!(sim.simulate_line(&line("in/1"))["decision"], "Allowed");
        assert_eq!(
            sim.simulate_line(&line("out/1"))["decision"],
            "ImplicitlyDenied"
        );
        assert_eq!(sim.cache_stats(), (1, 1));
        // A different policy text is compiled anew, never confused with the cached one.
        let other = line("in/1").replace("b/in/*", "b/other/*");
        assert_eq!(sim.simulate_line(&other)["decision"], "ImplicitlyDenied");
        assert_eq!(sim.cache_stats(), (1, 2));
    }
}
