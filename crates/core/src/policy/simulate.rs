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

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::condition::Context;
use super::eval::{
    Caller, CompiledPolicy, IdentityKind, KmsGrant, PolicySet, Request, account_in_arn, evaluate,
};
use super::model::Policy;

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
    recent: Vec<String>,
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
    compiled_now: Vec<String>,
    /// Documents defined once for the whole batch, named by `{"$ref": "<name>"}` in requests.
    named: HashMap<String, String>,
    /// Compiled named documents, by name then field path.
    named_compiled: HashMap<String, HashMap<String, CompiledPolicy>>,
    entries: usize,
    bytes: usize,
    hits: u64,
    misses: u64,
}

/// One compiled policy with the exact text and field path it was compiled from.
#[derive(Debug)]
struct Entry {
    path: String,
    raw: String,
    policy: CompiledPolicy,
}

/// A hash of the field path, the length and a sample of the text (both ends and 64 bytes spread
/// over it): hashing all of a 20 KB policy on every line would cost more than the lookup saves.
/// Texts that sample alike share a bucket and are told apart by exact comparison.
fn sample_hash(raw: &str, path: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let b = raw.as_bytes();
    let mut h = std::collections::hash_map::DefaultHasher::new();
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

fn required_str<'a>(m: &'a Map<String, Value>, field: &str) -> Result<&'a str, String> {
    match m.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(format!("{field}: must be a non-empty string")),
        None => Err(format!("{field}: is required")),
    }
}

fn optional_str<'a>(m: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, String> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(_) => Err(format!("{field}: must be a non-empty string")),
    }
}

fn context(m: &Map<String, Value>) -> Result<Context, String> {
    let mut ctx = Context::new();
    match m.get("context") {
        None | Some(Value::Null) => {}
        Some(Value::Object(c)) => {
            for (k, v) in c {
                let scalar = |x: &Value| match x {
                    Value::String(s) => Ok(s.clone()),
                    Value::Bool(b) => Ok(b.to_string()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(format!(
                        "context.{k}: values must be strings, numbers, booleans or lists of them"
                    )),
                };
                match v {
                    Value::Array(a) => {
                        ctx.set_many(k, a.iter().map(scalar).collect::<Result<_, _>>()?)
                    }
                    other => ctx.set(k, scalar(other)?),
                }
            }
        }
        Some(_) => return Err("context: must be an object of condition keys".into()),
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
fn kms_grants(m: &Map<String, Value>) -> Result<Vec<KmsGrant>, String> {
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
fn caller(m: &Map<String, Value>, action: &str) -> Result<Caller, String> {
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
    m: &Map<String, Value>,
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
        if !t.contains("\"$ref\"") {
            return None;
        }
        let v: Map<String, Value> = serde_json::from_str(t).ok()?;
        let name = v.get("$ref")?;
        let n = match (name.as_str(), v.len()) {
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
        if let Some(p) = self
            .cache
            .get(&h)
            .and_then(|b| b.iter().find(|e| e.path == path && e.raw == raw))
        {
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
        if raw.len() >= 512 {
            self.compiled_now.push(raw.to_owned());
        }
        self.cache.entry(h).or_default().push(Entry {
            path: path.to_owned(),
            raw: raw.to_owned(),
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
                .map(|(i, v)| self.document(v, &format!("{field}[{i}]")))
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
            // Taken out and put back: compiling borrows the simulator mutably.
            let text = std::mem::take(&mut self.recent[i]);
            let r = self.compile(&text, path);
            self.recent[i] = text;
            return r;
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
            None => self.parse_fields(line),
        };
        if !self.compiled_now.is_empty() {
            self.remember();
        }
        r
    }

    /// `line` with each recent document found in it replaced by `null` (`None`: none found).
    fn reduce(&mut self, line: &str) -> Option<String> {
        self.subs.clear();
        let bytes = line.as_bytes();
        let mut found: Vec<(usize, usize)> = Vec::new();
        for (i, t) in self.recent.iter().enumerate() {
            // Look for a short head of the text, then compare the whole text there.
            let head = &t.as_bytes()[..t.len().min(48)];
            let mut from = 0;
            while let Some(at) = bytes
                .get(from..)
                .and_then(|l| l.windows(head.len()).position(|w| w == head))
            {
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
        let mut out = String::with_capacity(line.len());
        let mut last = 0;
        for (at, i) in found {
            out.push_str(&line[last..at]);
            self.subs.push((out.len(), i));
            out.push_str("null");
            last = at + self.recent[i].len();
        }
        out.push_str(&line[last..]);
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
    }

    fn parse_fields(&mut self, line: &str) -> Result<(PolicySet, Request), String> {
        let fields: HashMap<String, &RawValue> = match serde_json::from_str(line) {
            Ok(f) => f,
            Err(e) => {
                return Err(match serde_json::from_str::<Value>(line) {
                    Ok(_) => "request: must be a JSON object".into(),
                    Err(_) => format!("request: not valid JSON ({e})"),
                });
            }
        };
        // The small fields through a Value; the policy documents through the cache.
        let mut m = Map::new();
        for (k, v) in &fields {
            if POLICY_FIELDS.contains(&k.as_str()) {
                continue;
            }
            if !SCALAR_FIELDS.contains(&k.as_str()) {
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
            m.insert(k.clone(), v);
        }
        let action = required_str(&m, "action")?.to_owned();
        if action != "*" && !action.contains(':') {
            return Err("action: must be service:Action, e.g. s3:GetObject".into());
        }
        let caller = caller(&m, &action)?;
        let resource = required_str(&m, "resource")?.to_owned();
        let resource_account = resource_account(&m, &caller, &resource)?;
        let raw = |f: &str| fields.get(f).copied();
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
            context: context(&m)?,
        }
        .with_global_keys();
        Ok((set, req))
    }

    /// Simulate one request given as JSON text; always returns one result object.
    pub fn simulate_line(&mut self, line: &str) -> Value {
        match self.parse_text(line) {
            Ok((set, req)) => {
                let r = evaluate(&set, &req);
                let mut explanation = r.explanation;
                explanation.extend(r.notes);
                json!({ "decision": r.decision, "explanation": explanation })
            }
            Err(e) => json!({ "error": e }),
        }
    }
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
