//! The `warden policy simulate` contract: one JSON request in, one JSON result out.
//!
//! Request: `{"principal", "action", "resource", "resource_account", "context",
//! "identity_policies", "resource_policy", "permission_boundaries", "session_policy", "scps",
//! "rcps"}`. Result: `{"decision", "explanation"}`, or `{"error": "<field>: <rule>"}` for a bad
//! request — never a crash and never a silent skip.

use serde_json::{Map, Value, json};

use super::condition::Context;
use super::eval::{Caller, CompiledPolicy, PolicySet, Request, evaluate};
use super::model::Policy;

const FIELDS: [&str; 11] = [
    "principal",
    "action",
    "resource",
    "resource_account",
    "context",
    "identity_policies",
    "resource_policy",
    "permission_boundaries",
    "session_policy",
    "scps",
    "rcps",
];

fn required_str<'a>(m: &'a Map<String, Value>, field: &str) -> Result<&'a str, String> {
    match m.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(format!("{field}: must be a non-empty string")),
        None => Err(format!("{field}: is required")),
    }
}

fn policy_at(v: &Value, path: &str) -> Result<CompiledPolicy, String> {
    let p = Policy::from_value(v).map_err(|e| format!("{path}.{e}"))?;
    Ok(CompiledPolicy::new(path, &p))
}

fn policy_list(m: &Map<String, Value>, field: &str) -> Result<Vec<CompiledPolicy>, String> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| policy_at(v, &format!("{field}[{i}]")))
            .collect(),
        Some(_) => Err(format!("{field}: must be a list of policy documents")),
    }
}

fn optional_policy(m: &Map<String, Value>, field: &str) -> Result<Option<CompiledPolicy>, String> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => policy_at(v, field).map(Some),
        Some(_) => Err(format!("{field}: must be a policy document or null")),
    }
}

fn levels(m: &Map<String, Value>, field: &str) -> Result<Vec<Vec<CompiledPolicy>>, String> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(levels)) => levels
            .iter()
            .enumerate()
            .map(|(i, level)| match level {
                Value::Array(ps) => ps
                    .iter()
                    .enumerate()
                    .map(|(j, v)| policy_at(v, &format!("{field}[{i}][{j}]")))
                    .collect(),
                _ => Err(format!(
                    "{field}[{i}]: must be a list of policies (one organization level)"
                )),
            })
            .collect(),
        Some(_) => Err(format!(
            "{field}: must be a list of lists of policies, one list per organization level"
        )),
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

/// Parse a request into a policy set and a request.
///
/// # Errors
/// `"<field>: <rule>"`.
pub fn parse_request(v: &Value) -> Result<(PolicySet, Request), String> {
    let Value::Object(m) = v else {
        return Err("request: must be a JSON object".into());
    };
    if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "{k}: unknown field (expected one of {})",
            FIELDS.join(", ")
        ));
    }
    let caller = Caller::parse(required_str(m, "principal")?)?;
    let action = required_str(m, "action")?.to_owned();
    if action != "*" && !action.contains(':') {
        return Err("action: must be service:Action, e.g. s3:GetObject".into());
    }
    let resource = required_str(m, "resource")?.to_owned();
    let resource_account = match m.get("resource_account") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(s.clone())
        }
        Some(_) => return Err("resource_account: must be a 12-digit account ID".into()),
    };
    let set = PolicySet {
        identity: policy_list(m, "identity_policies")?,
        resource: optional_policy(m, "resource_policy")?,
        boundaries: policy_list(m, "permission_boundaries")?,
        session: optional_policy(m, "session_policy")?,
        scps: levels(m, "scps")?,
        rcps: levels(m, "rcps")?,
    };
    let req = Request {
        caller,
        action,
        resource,
        resource_account,
        context: context(m)?,
    }
    .with_global_keys();
    Ok((set, req))
}

/// Simulate one request given as JSON text; always returns one result object.
#[must_use]
pub fn simulate_line(line: &str) -> Value {
    let v: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return json!({ "error": format!("request: not valid JSON ({e})") }),
    };
    simulate_value(&v)
}

/// Simulate one parsed request.
#[must_use]
pub fn simulate_value(v: &Value) -> Value {
    match parse_request(v) {
        Ok((set, req)) => {
            let r = evaluate(&set, &req);
            json!({ "decision": r.decision, "explanation": r.explanation })
        }
        Err(e) => json!({ "error": e }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ];
        for (req, want) in cases {
            let out = simulate_line(req);
            let e = out["error"].as_str().unwrap_or_default();
            assert!(e.starts_with(want), "{req} -> {out}");
        }
    }
}
