//! The IAM policy language as data: every shape AWS accepts, parsed with errors that name the
//! field (`Statement[2].Condition.DateLessThan.aws:CurrentTime`), serialized back keeping the
//! author's shape (a single string stays a string, a single statement stays an object).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::condition::{Operator, is_date_syntax};

/// The only policy language version with policy variables; the one Warden writes.
pub const VERSION_2012: &str = "2012-10-17";

/// A policy that could not be parsed or is not valid, with the path of the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PolicyError {
    /// JSON path such as `Statement[1].Action[0]`; `policy` for the whole document.
    pub path: String,
    /// What is wrong. Where AWS has a documented message for the case, it is AWS's text.
    pub message: String,
}

impl PolicyError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Denies, and wins over any allow.
    Deny,
}

impl Effect {
    /// `Allow` / `Deny`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// A string or a list of strings; remembers which, so serialization keeps the shape.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StrList {
    /// The values.
    pub items: Vec<String>,
    /// Whether the source was a single string.
    pub single: bool,
}

impl StrList {
    /// A list of values (serialized as a string when there is exactly one).
    pub fn of<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Self {
        let items: Vec<String> = items.into_iter().map(Into::into).collect();
        let single = items.len() == 1;
        StrList { items, single }
    }
    fn to_value(&self) -> Value {
        if self.single && self.items.len() == 1 {
            Value::String(self.items[0].clone())
        } else {
            Value::Array(self.items.iter().cloned().map(Value::String).collect())
        }
    }
}

/// `Principal` / `NotPrincipal`: `"*"` or a map of principal types to values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `"*"`: everyone, including anonymous callers.
    Any,
    /// `{"AWS": …, "Service": …, "Federated": …, "CanonicalUser": …}`.
    Map(BTreeMap<String, StrList>),
}

impl Principal {
    /// `{"AWS": [arns…]}`.
    pub fn aws<I: IntoIterator<Item = S>, S: Into<String>>(arns: I) -> Self {
        let mut m = BTreeMap::new();
        m.insert("AWS".to_owned(), StrList::of(arns));
        Principal::Map(m)
    }
    /// `{"Service": name}`.
    #[must_use]
    pub fn service(name: &str) -> Self {
        let mut m = BTreeMap::new();
        m.insert("Service".to_owned(), StrList::of([name]));
        Principal::Map(m)
    }
    /// Whether this principal is `*` or `{"AWS": "*"}`.
    #[must_use]
    pub fn is_public(&self) -> bool {
        match self {
            Principal::Any => true,
            Principal::Map(m) => m
                .get("AWS")
                .is_some_and(|v| v.items.iter().any(|s| s == "*")),
        }
    }
    fn to_value(&self) -> Value {
        match self {
            Principal::Any => Value::String("*".into()),
            Principal::Map(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}

/// A condition value as written: string, boolean or number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    /// `"text"`.
    Str(String),
    /// `true` / `false`.
    Bool(bool),
    /// A JSON number, kept as written.
    Num(serde_json::Number),
}

impl Scalar {
    /// The value as the string IAM compares (`true`, `42`, …).
    #[must_use]
    pub fn as_text(&self) -> String {
        match self {
            Scalar::Str(s) => s.clone(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Num(n) => n.to_string(),
        }
    }
    fn to_value(&self) -> Value {
        match self {
            Scalar::Str(s) => Value::String(s.clone()),
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Num(n) => Value::Number(n.clone()),
        }
    }
}

/// The values of one condition key: a scalar or a list, shape remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondValues {
    /// The values (OR-ed).
    pub items: Vec<Scalar>,
    /// Whether the source was a single value.
    pub single: bool,
}

impl CondValues {
    /// String values.
    pub fn strs<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Self {
        let items: Vec<Scalar> = items.into_iter().map(|s| Scalar::Str(s.into())).collect();
        let single = items.len() == 1;
        CondValues { items, single }
    }
    fn to_value(&self) -> Value {
        if self.single && self.items.len() == 1 {
            self.items[0].to_value()
        } else {
            Value::Array(self.items.iter().map(Scalar::to_value).collect())
        }
    }
}

/// `Condition`: operator → key → values. Operators AND, keys AND, values OR.
pub type ConditionBlock = BTreeMap<String, BTreeMap<String, CondValues>>;

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Optional statement ID.
    pub sid: Option<String>,
    /// Allow or Deny.
    pub effect: Effect,
    /// Who (resource and trust policies).
    pub principal: Option<Principal>,
    /// Everyone but (rarely wise).
    pub not_principal: Option<Principal>,
    /// Actions matched.
    pub action: Option<StrList>,
    /// Actions excluded.
    pub not_action: Option<StrList>,
    /// Resources matched.
    pub resource: Option<StrList>,
    /// Resources excluded.
    pub not_resource: Option<StrList>,
    /// Conditions.
    pub condition: Option<ConditionBlock>,
}

impl Statement {
    /// A bare statement with an effect and nothing else.
    #[must_use]
    pub fn new(effect: Effect) -> Self {
        Statement {
            sid: None,
            effect,
            principal: None,
            not_principal: None,
            action: None,
            not_action: None,
            resource: None,
            not_resource: None,
            condition: None,
        }
    }

    /// Add `operator: {key: values}` to the condition block.
    pub fn with_condition(mut self, operator: &str, key: &str, values: CondValues) -> Self {
        self.condition
            .get_or_insert_with(BTreeMap::new)
            .entry(operator.to_owned())
            .or_default()
            .insert(key.to_owned(), values);
        self
    }

    /// A short label for explanations: `Sid` or `#index`.
    #[must_use]
    pub fn label(&self, index: usize) -> String {
        match &self.sid {
            Some(s) if !s.is_empty() => format!("{s:?} (#{index})"),
            _ => format!("#{index}"),
        }
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        if let Some(s) = &self.sid {
            m.insert("Sid".into(), Value::String(s.clone()));
        }
        m.insert("Effect".into(), Value::String(self.effect.as_str().into()));
        if let Some(p) = &self.principal {
            m.insert("Principal".into(), p.to_value());
        }
        if let Some(p) = &self.not_principal {
            m.insert("NotPrincipal".into(), p.to_value());
        }
        for (name, v) in [
            ("Action", &self.action),
            ("NotAction", &self.not_action),
            ("Resource", &self.resource),
            ("NotResource", &self.not_resource),
        ] {
            if let Some(v) = v {
                m.insert(name.into(), v.to_value());
            }
        }
        if let Some(c) = &self.condition {
            let cond: Map<String, Value> = c
                .iter()
                .map(|(op, keys)| {
                    let inner: Map<String, Value> = keys
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_value()))
                        .collect();
                    (op.clone(), Value::Object(inner))
                })
                .collect();
            m.insert("Condition".into(), Value::Object(cond));
        }
        Value::Object(m)
    }
}

/// A policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `Version`; AWS requires `2012-10-17` for anything using variables.
    pub version: Option<String>,
    /// Optional `Id`.
    pub id: Option<String>,
    /// The statements.
    pub statements: Vec<Statement>,
    /// Whether `Statement` was a single object in the source.
    pub single_statement: bool,
}

/// What a policy is attached to; validation rules differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a user/role/group, or an SCP, boundary or session policy: no `Principal`.
    Identity,
    /// A bucket, key or queue policy: `Principal` required.
    Resource,
    /// A role trust policy: `Principal` required, `Resource` not used.
    Trust,
}

fn str_list(v: &Value, path: &str) -> Result<StrList, PolicyError> {
    match v {
        Value::String(s) => Ok(StrList {
            items: vec![s.clone()],
            single: true,
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            // IAM ignores nulls inside lists.
            .filter(|(_, x)| !x.is_null())
            .map(|(i, x)| match x {
                Value::String(s) => Ok(s.clone()),
                _ => Err(PolicyError::new(
                    format!("{path}[{i}]"),
                    "Syntax errors in policy. (expected a string)",
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|items| StrList {
                items,
                single: false,
            }),
        _ => Err(PolicyError::new(
            path,
            "Syntax errors in policy. (expected a string or a list of strings)",
        )),
    }
}

fn principal(v: &Value, path: &str) -> Result<Principal, PolicyError> {
    match v {
        Value::String(s) if s == "*" => Ok(Principal::Any),
        Value::Object(m) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                if !matches!(
                    k.as_str(),
                    "AWS" | "Service" | "Federated" | "CanonicalUser"
                ) {
                    return Err(PolicyError::new(
                        format!("{path}.{k}"),
                        "Syntax errors in policy. (principal type must be AWS, Service, Federated or CanonicalUser)",
                    ));
                }
                out.insert(k.clone(), str_list(v, &format!("{path}.{k}"))?);
            }
            Ok(Principal::Map(out))
        }
        // IAM answers MalformedPolicyDocument "Invalid principal in policy"
        // (repost.aws/knowledge-center/iam-trust-policy-error); the grammar allows only "*" or
        // a map (reference_policies_grammar.html).
        Value::String(s) => Err(PolicyError::new(
            path,
            format!(
                "Invalid principal in policy: {s:?} (MalformedPolicyDocument; a Principal string may only be \"*\": write {{\"AWS\": {s:?}}})"
            ),
        )),
        _ => Err(PolicyError::new(
            path,
            "Invalid principal in policy (MalformedPolicyDocument; Principal must be \"*\" or an object such as {\"AWS\": [\"arn:aws:iam::111122223333:root\"]})",
        )),
    }
}

fn scalar(v: &Value, path: &str) -> Result<Scalar, PolicyError> {
    match v {
        Value::String(s) => Ok(Scalar::Str(s.clone())),
        Value::Bool(b) => Ok(Scalar::Bool(*b)),
        Value::Number(n) => Ok(Scalar::Num(n.clone())),
        _ => Err(PolicyError::new(
            path,
            "Syntax errors in policy. (condition values must be strings, numbers or booleans)",
        )),
    }
}

fn condition(v: &Value, path: &str) -> Result<ConditionBlock, PolicyError> {
    let Value::Object(ops) = v else {
        return Err(PolicyError::new(
            path,
            "Syntax errors in policy. (Condition must be an object)",
        ));
    };
    let mut out = BTreeMap::new();
    for (op, keys) in ops {
        let op_path = format!("{path}.{op}");
        let Value::Object(keys) = keys else {
            return Err(PolicyError::new(
                op_path,
                "Syntax errors in policy. (an operator maps condition keys to values)",
            ));
        };
        // IAM tolerates an unknown operator with no keys (it has no effect), not one with keys.
        if Operator::parse(op).is_none() && !keys.is_empty() {
            return Err(PolicyError::new(
                op_path,
                "Syntax errors in policy. (unknown condition operator)",
            ));
        }
        let mut inner = BTreeMap::new();
        for (key, vals) in keys {
            let kp = format!("{op_path}.{key}");
            let values = match vals {
                Value::Array(a) => CondValues {
                    items: a
                        .iter()
                        .enumerate()
                        // IAM's legacy parser ignores empty nested lists and nulls.
                        .filter(|(_, x)| !x.is_null() && x.as_array().is_none_or(|n| !n.is_empty()))
                        .map(|(i, x)| scalar(x, &format!("{kp}[{i}]")))
                        .collect::<Result<_, _>>()?,
                    single: false,
                },
                other => CondValues {
                    items: vec![scalar(other, &kp)?],
                    single: true,
                },
            };
            inner.insert(key.clone(), values);
        }
        out.insert(op.clone(), inner);
    }
    Ok(out)
}

fn statement(v: &Value, path: &str) -> Result<Statement, PolicyError> {
    let Value::Object(m) = v else {
        return Err(PolicyError::new(
            path,
            "Syntax errors in policy. (a statement must be an object)",
        ));
    };
    let mut st = Statement::new(Effect::Allow);
    let mut effect = None;
    for (k, v) in m {
        let fp = format!("{path}.{k}");
        match k.as_str() {
            "Sid" => match v {
                Value::String(s) => st.sid = Some(s.clone()),
                _ => {
                    return Err(PolicyError::new(
                        fp,
                        "Syntax errors in policy. (Sid must be a string)",
                    ));
                }
            },
            "Effect" => match v {
                Value::String(s) if s == "Allow" => effect = Some(Effect::Allow),
                Value::String(s) if s == "Deny" => effect = Some(Effect::Deny),
                Value::String(s)
                    if s.eq_ignore_ascii_case("allow") || s.eq_ignore_ascii_case("deny") =>
                {
                    return Err(PolicyError::new(
                        fp,
                        "The policy failed legacy parsing (Effect is case-sensitive: Allow or Deny)",
                    ));
                }
                _ => {
                    return Err(PolicyError::new(
                        fp,
                        "Syntax errors in policy. (Effect must be \"Allow\" or \"Deny\")",
                    ));
                }
            },
            "Principal" => st.principal = Some(principal(v, &fp)?),
            "NotPrincipal" => st.not_principal = Some(principal(v, &fp)?),
            "Action" => st.action = Some(str_list(v, &fp)?),
            "NotAction" => st.not_action = Some(str_list(v, &fp)?),
            "Resource" => st.resource = Some(str_list(v, &fp)?),
            "NotResource" => st.not_resource = Some(str_list(v, &fp)?),
            "Condition" => st.condition = Some(condition(v, &fp)?),
            _ => {
                return Err(PolicyError::new(
                    fp,
                    "Syntax errors in policy. (unknown statement element)",
                ));
            }
        }
    }
    st.effect = effect.ok_or_else(|| {
        PolicyError::new(
            format!("{path}.Effect"),
            "Syntax errors in policy. (Effect is required)",
        )
    })?;
    for (a, b, name) in [
        (
            st.action.is_some(),
            st.not_action.is_some(),
            "Action and NotAction",
        ),
        (
            st.resource.is_some(),
            st.not_resource.is_some(),
            "Resource and NotResource",
        ),
        (
            st.principal.is_some(),
            st.not_principal.is_some(),
            "Principal and NotPrincipal",
        ),
    ] {
        if a && b {
            return Err(PolicyError::new(
                path,
                format!("Syntax errors in policy. ({name} are mutually exclusive)"),
            ));
        }
    }
    Ok(st)
}

impl Policy {
    /// A `2012-10-17` policy with these statements.
    #[must_use]
    pub fn new(statements: Vec<Statement>) -> Self {
        Policy {
            version: Some(VERSION_2012.into()),
            id: None,
            statements,
            single_statement: false,
        }
    }

    /// Parse JSON text (structure only; see [`Policy::validate`] for AWS's grammar rules).
    ///
    /// # Errors
    /// Names the field that is malformed.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            PolicyError::new(
                "policy",
                format!("Syntax errors in policy. (not JSON: {e})"),
            )
        })?;
        Self::from_value(&v)
    }

    /// Parse a JSON value.
    ///
    /// # Errors
    /// Names the field that is malformed.
    pub fn from_value(v: &Value) -> Result<Self, PolicyError> {
        let Value::Object(m) = v else {
            return Err(PolicyError::new(
                "policy",
                "Syntax errors in policy. (a policy must be a JSON object)",
            ));
        };
        let mut version = None;
        let mut id = None;
        let mut stmts = None;
        for (k, v) in m {
            match (k.as_str(), v) {
                ("Version", Value::String(s)) => version = Some(s.clone()),
                ("Id", Value::String(s)) => id = Some(s.clone()),
                ("Statement", v) => stmts = Some(v),
                ("Version" | "Id", _) => {
                    return Err(PolicyError::new(
                        k.clone(),
                        "Syntax errors in policy. (must be a string)",
                    ));
                }
                _ => {
                    return Err(PolicyError::new(
                        k.clone(),
                        "Syntax errors in policy. (unknown top-level element)",
                    ));
                }
            }
        }
        let (statements, single_statement) = match stmts {
            Some(Value::Array(a)) => (
                a.iter()
                    .enumerate()
                    .map(|(i, s)| statement(s, &format!("Statement[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?,
                false,
            ),
            Some(s @ Value::Object(_)) => (vec![statement(s, "Statement")?], true),
            Some(_) => {
                return Err(PolicyError::new(
                    "Statement",
                    "Syntax errors in policy. (Statement must be an object or a list)",
                ));
            }
            None => {
                return Err(PolicyError::new(
                    "Statement",
                    "Syntax errors in policy. (Statement is required)",
                ));
            }
        };
        Ok(Policy {
            version,
            id,
            statements,
            single_statement,
        })
    }

    /// Serialize to a JSON value in AWS's element order.
    #[must_use]
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        if let Some(v) = &self.version {
            m.insert("Version".into(), Value::String(v.clone()));
        }
        if let Some(v) = &self.id {
            m.insert("Id".into(), Value::String(v.clone()));
        }
        let st = if self.single_statement && self.statements.len() == 1 {
            self.statements[0].to_value()
        } else {
            Value::Array(self.statements.iter().map(Statement::to_value).collect())
        };
        m.insert("Statement".into(), st);
        Value::Object(m)
    }

    /// Compact JSON, the form whose size AWS limits (whitespace is not counted by AWS).
    #[must_use]
    pub fn to_compact_json(&self) -> String {
        self.to_value().to_string()
    }

    /// Check the rules AWS applies when a policy is saved. Messages follow AWS's wording where AWS
    /// has one, so an error here reads like the one IAM would return.
    ///
    /// # Errors
    /// The first rule broken, with the path of the offending element.
    pub fn validate(&self, kind: PolicyKind) -> Result<(), PolicyError> {
        match self.version.as_deref() {
            Some(VERSION_2012) => {}
            None | Some("2008-10-17") => {
                return Err(PolicyError::new(
                    "Version",
                    "Policy document must be version 2012-10-17 or greater.",
                ));
            }
            Some(_) => {
                return Err(PolicyError::new(
                    "Version",
                    "Syntax errors in policy. (unknown Version)",
                ));
            }
        }
        if self.statements.is_empty() {
            return Err(PolicyError::new(
                "Statement",
                "Syntax errors in policy. (no statements)",
            ));
        }
        let mut sids = std::collections::HashSet::new();
        for (i, st) in self.statements.iter().enumerate() {
            let path = if self.single_statement {
                "Statement".to_owned()
            } else {
                format!("Statement[{i}]")
            };
            if let Some(sid) = &st.sid
                && !sid.is_empty()
                && !sids.insert(sid.as_str())
            {
                return Err(PolicyError::new(
                    format!("{path}.Sid"),
                    "Statement IDs (SID) in a single policy must be unique.",
                ));
            }
            validate_statement(st, &path, kind)?;
        }
        Ok(())
    }
}

fn validate_statement(st: &Statement, path: &str, kind: PolicyKind) -> Result<(), PolicyError> {
    let actions = st.action.as_ref().or(st.not_action.as_ref());
    match actions {
        Some(a) if !a.items.is_empty() => {
            for (j, act) in a.items.iter().enumerate() {
                validate_action(act)
                    .map_err(|m| PolicyError::new(format!("{path}.Action[{j}]"), m))?;
            }
        }
        Some(_) if st.not_action.is_some() => {
            return Err(PolicyError::new(
                path,
                "Syntax errors in policy. (NotAction is empty)",
            ));
        }
        _ => {
            return Err(PolicyError::new(
                path,
                "Policy statement must contain actions.",
            ));
        }
    }
    match kind {
        PolicyKind::Identity => {
            if st.principal.is_some() || st.not_principal.is_some() {
                return Err(PolicyError::new(
                    format!("{path}.Principal"),
                    "Policy document should not specify a principal.",
                ));
            }
        }
        PolicyKind::Resource | PolicyKind::Trust => {
            if st.principal.is_none() && st.not_principal.is_none() {
                return Err(PolicyError::new(path, "Missing required field Principal"));
            }
        }
    }
    // An API Gateway resource policy imported with an OpenAPI body may write its resources as
    // `execute-api:/<stage>/<method>/<path>`, which the import expands to the API's ARN
    // (https://docs.aws.amazon.com/apigateway/latest/developerguide/openapi-extensions-policy.html).
    let api_shorthand = kind == PolicyKind::Resource
        && st.action.as_ref().is_some_and(|a| {
            a.items
                .iter()
                .all(|act| act.to_ascii_lowercase().starts_with("execute-api:"))
        });
    let resources = st.resource.as_ref().or(st.not_resource.as_ref());
    match resources {
        Some(r) if !r.items.is_empty() => {
            for (j, res) in r.items.iter().enumerate() {
                if api_shorthand && res.starts_with("execute-api:/") {
                    continue;
                }
                validate_resource(res)
                    .map_err(|m| PolicyError::new(format!("{path}.Resource[{j}]"), m))?;
            }
        }
        Some(_) if st.not_resource.is_some() => {
            return Err(PolicyError::new(
                path,
                "Syntax errors in policy. (NotResource is empty)",
            ));
        }
        _ if kind == PolicyKind::Trust => {}
        _ => {
            return Err(PolicyError::new(
                path,
                "Policy statement must contain resources.",
            ));
        }
    }
    if let Some(c) = &st.condition {
        for (op, keys) in c {
            let Some(parsed) = Operator::parse(op) else {
                if keys.is_empty() {
                    continue;
                }
                return Err(PolicyError::new(
                    format!("{path}.Condition.{op}"),
                    "Syntax errors in policy.",
                ));
            };
            for (key, vals) in keys {
                if parsed.is_date() {
                    for v in &vals.items {
                        let text = v.as_text();
                        if !text.contains("${") && !is_date_syntax(&text) {
                            return Err(PolicyError::new(
                                format!("{path}.Condition.{op}.{key}"),
                                format!(
                                    "The policy failed legacy parsing ({text:?} is not a date)"
                                ),
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn validate_action(act: &str) -> Result<(), String> {
    if act == "*" || act.starts_with("${") {
        return Ok(());
    }
    let Some((vendor, _)) = act.split_once(':') else {
        return Err(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.".into(),
        );
    };
    if act.matches(':').count() > 1 {
        return Err("Actions/Condition can contain only one colon.".into());
    }
    // IAM's legacy grammar is loose about vendors (`s3.s` is accepted); it rejects blanks.
    if vendor.is_empty() || vendor.chars().any(char::is_whitespace) {
        return Err(format!("Vendor {vendor} is not valid"));
    }
    Ok(())
}

const PARTITIONS: [&str; 7] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
];

fn validate_resource(res: &str) -> Result<(), String> {
    // `${…}` outside an ARN is a value known only at apply time (Terraform references).
    if res == "*" || (res.contains("${") && !res.starts_with("arn:")) {
        return Ok(());
    }
    let parts: Vec<&str> = res.splitn(6, ':').collect();
    if parts.len() < 2 || !res.contains(':') {
        return Err(format!("Resource {res} must be in ARN format or \"*\"."));
    }
    if parts[0] != "arn" {
        // AWS reads the first segment as "arn" and the second as the partition.
        let shown = format!("arn:{}", parts[1..].join(":"));
        return Err(format!(
            "Partition \"{}\" is not valid for resource \"{shown}\".",
            parts[1]
        ));
    }
    if !PARTITIONS.contains(&parts[1]) && !parts[1].contains('*') && !parts[1].contains("${") {
        return Err(format!(
            "Partition \"{}\" is not valid for resource \"{res}\".",
            parts[1]
        ));
    }
    if parts.len() < 3 {
        return Err("Resource vendor must be fully qualified and cannot contain regexes.".into());
    }
    if parts.len() == 3 && !parts[2].is_empty() {
        // IAM's legacy parser accepts `arn:aws:service` (it can never match a real ARN).
        return Ok(());
    }
    if parts.len() < 6 {
        return Err("The policy failed legacy parsing (an ARN has six ':'-separated parts)".into());
    }
    let (service, region, resource) = (parts[2], parts[3], parts[5]);
    if service.is_empty() {
        return Err("The policy failed legacy parsing (the ARN has no service)".into());
    }
    if service == "s3"
        && !region.is_empty()
        && !res.contains("accesspoint")
        && !res.contains("job/")
    {
        return Err(format!(
            "Resource {res} can not contain region information."
        ));
    }
    if service == "iam" {
        if !region.is_empty() {
            return Err(format!(
                "IAM resource {res} cannot contain region information."
            ));
        }
        const IAM_PATHS: [&str; 13] = [
            "user/",
            "federated-user/",
            "role/",
            "group/",
            "instance-profile/",
            "mfa/",
            "server-certificate/",
            "policy/",
            "sms-mfa/",
            "saml-provider/",
            "oidc-provider/",
            "report/",
            "access-report/",
        ];
        if resource != "*"
            && resource != "root"
            && !IAM_PATHS.iter().any(|p| resource.starts_with(p))
        {
            return Err("IAM resource path must either be \"*\" or start with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/.".into());
        }
    }
    Ok(())
}

impl Serialize for Policy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Policy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Policy::from_value(&v).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_compact_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_round_trip() {
        let text = r#"{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root"],"Service":"s3.amazonaws.com"},"Action":"s3:GetObject","Resource":["arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":10}}}}"#;
        let p = Policy::parse(text).unwrap();
        assert!(p.single_statement);
        assert_eq!(p.to_compact_json(), text);
        let q = Policy::parse(&p.to_compact_json()).unwrap();
        assert_eq!(p, q);
    }

    #[test]
    fn errors_name_the_field() {
        let e = Policy::parse(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:x",3],"Resource":"*"}]}"#).unwrap_err();
        assert_eq!(e.path, "Statement[0].Action[1]");
        let e = Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Maybe"}}"#)
            .unwrap_err();
        assert_eq!(e.path, "Statement.Effect");
        let e = Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Condition":{"StringEqualz":{"a":"b"}}}}"#).unwrap_err();
        assert_eq!(e.path, "Statement.Condition.StringEqualz");
    }

    #[test]
    fn the_api_gateway_import_shorthand_is_for_execute_api_resource_policies_only() {
        let doc = |action: &str, principal: bool| {
            let p = if principal { r#""Principal":"*","# } else { "" };
            Policy::parse(&format!(r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow",{p}"Action":"{action}","Resource":["execute-api:/*/POST/approvals"]}}}}"#)).unwrap()
        };
        assert!(
            doc("execute-api:Invoke", true)
                .validate(PolicyKind::Resource)
                .is_ok()
        );
        // Anywhere else it is no ARN, and IAM refuses it.
        assert!(
            doc("s3:GetObject", true)
                .validate(PolicyKind::Resource)
                .is_err()
        );
        assert!(
            doc("execute-api:Invoke", false)
                .validate(PolicyKind::Identity)
                .is_err()
        );
    }

    #[test]
    fn validation_rules() {
        let ok = Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}}"#).unwrap();
        assert!(ok.validate(PolicyKind::Identity).is_ok());
        assert!(ok.validate(PolicyKind::Resource).is_err());
        let trust = Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#).unwrap();
        assert!(trust.validate(PolicyKind::Trust).is_ok());
        let bad = Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:us-east-1::b"}}"#).unwrap();
        assert!(
            bad.validate(PolicyKind::Identity)
                .unwrap_err()
                .message
                .contains("region")
        );
    }
}
