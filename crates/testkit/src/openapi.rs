//! The Warden API's OpenAPI document (`terraform/data-sharing/api/openapi.json`) for contract
//! tests: its examples, the JSON Schema subset API Gateway enforces, and a check that the document
//! uses nothing else.
//!
//! API Gateway validates REST request bodies against models in JSON Schema draft 4, and leaves out
//! or refuses some keywords: `additionalProperties`, `anyOf`, `oneOf`, `discriminator`, `example`,
//! `exclusiveMinimum` and `readOnly` are not supported, and `minItems`/`maxItems` are not part of
//! basic request validation; model names are alphanumeric
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-known-issues.html>).
//! A schema that relied on one of them would pass a generic validator here and let the body
//! through on AWS, so [`unsupported_keywords`] refuses them, and [`schema_errors`] implements only
//! the keywords API Gateway does.

use serde_json::Value;

/// The document, as committed (compiled in, so a test cannot read a stale copy).
pub const DOCUMENT: &str = include_str!("../../../terraform/data-sharing/api/openapi.json");

/// The keywords a Warden schema may use: what API Gateway's draft-4 validation enforces, plus
/// annotations.
pub const SUPPORTED_KEYWORDS: &[&str] = &[
    "type",
    "required",
    "properties",
    "items",
    "enum",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "description",
    "title",
    "$ref",
];

/// One example of a request body.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The path, e.g. `/credentials`.
    pub path: String,
    /// The example's key.
    pub name: String,
    /// The body.
    pub value: Value,
    /// For an invalid example: the field the handler must name when refusing it.
    pub refused_field: Option<String>,
    /// For an invalid example: whether API Gateway's validation refuses it too.
    pub gateway_refuses: bool,
}

/// The parsed document.
///
/// # Errors
/// The committed document is not JSON.
pub fn document() -> Result<Value, String> {
    serde_json::from_str(DOCUMENT).map_err(|e| format!("openapi.json: {e}"))
}

/// Every request-body example of `POST <path>`.
///
/// # Errors
/// The path has no JSON request body with examples.
pub fn examples(doc: &Value, path: &str) -> Result<Vec<Example>, String> {
    let media = &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"];
    let Some(map) = media["examples"].as_object() else {
        return Err(format!("{path}: no request body examples"));
    };
    Ok(map
        .iter()
        .map(|(name, ex)| Example {
            path: path.to_owned(),
            name: name.clone(),
            value: ex["value"].clone(),
            refused_field: ex["x-warden-refused-field"].as_str().map(str::to_owned),
            gateway_refuses: ex["x-warden-gateway-refuses"].as_bool().unwrap_or(false),
        })
        .collect())
}

/// The request body schema of `POST <path>`.
#[must_use]
pub fn request_schema<'a>(doc: &'a Value, path: &str) -> &'a Value {
    &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
}

/// What in a response body breaks the document's schema for `POST <path>` answering `status`
/// (an undocumented status is an error too).
#[must_use]
pub fn response_errors(doc: &Value, path: &str, status: u64, body: &Value) -> Vec<String> {
    let schema = &doc["paths"][path]["post"]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    if schema.is_null() {
        return vec![format!("{path}: status {status} is not documented")];
    }
    schema_errors(doc, schema, body)
}

/// Whether a handler's error names `field` first: `field: rule`, or `field[i]: rule` for an
/// item of a list.
#[must_use]
pub fn names_field(error: &str, field: &str) -> bool {
    error
        .strip_prefix(field)
        .is_some_and(|rest| rest.starts_with(':') || rest.starts_with('['))
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> Result<&'a Value, String> {
    match schema["$ref"].as_str() {
        None => Ok(schema),
        Some(r) => r
            .strip_prefix("#/components/schemas/")
            .map(|name| &doc["components"]["schemas"][name])
            .filter(|s| s.is_object())
            .ok_or_else(|| format!("$ref {r}: not a schema of this document")),
    }
}

/// What API Gateway's body validation would refuse in `value` against `schema` (empty: valid),
/// each as `<path>: <rule>`.
#[must_use]
pub fn schema_errors(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(doc, schema, value, "body", &mut out);
    out
}

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

fn check(doc: &Value, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    let schema = match resolve(doc, schema) {
        Ok(s) => s,
        Err(e) => return out.push(format!("{at}: {e}")),
    };
    if let Some(ty) = schema["type"].as_str()
        && !type_matches(ty, v)
    {
        return out.push(format!("{at}: must be of type {ty}"));
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(v)
    {
        out.push(format!(
            "{at}: must be one of {}",
            Value::Array(allowed.clone())
        ));
    }
    if let Some(s) = v.as_str() {
        let chars = s.chars().count() as u64;
        if let Some(min) = schema["minLength"].as_u64().filter(|m| chars < *m) {
            out.push(format!("{at}: at least {min} characters"));
        }
        if let Some(max) = schema["maxLength"].as_u64().filter(|m| chars > *m) {
            out.push(format!("{at}: at most {max} characters"));
        }
        if let Some(p) = schema["pattern"].as_str() {
            match regex_lite::Regex::new(p) {
                Ok(re) if !re.is_match(s) => out.push(format!("{at}: must match {p}")),
                Ok(_) => {}
                Err(e) => out.push(format!("{at}: pattern {p} does not compile ({e})")),
            }
        }
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = schema["minimum"].as_f64().filter(|m| n < *m) {
            out.push(format!("{at}: at least {min}"));
        }
        if let Some(max) = schema["maximum"].as_f64().filter(|m| n > *m) {
            out.push(format!("{at}: at most {max}"));
        }
    }
    if let Some(obj) = v.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            if let Some(name) = name.as_str().filter(|n| !obj.contains_key(*n)) {
                out.push(format!("{at}.{name}: required"));
            }
        }
        if let Some(props) = schema["properties"].as_object() {
            for (name, sub) in props {
                if let Some(field) = obj.get(name) {
                    check(doc, sub, field, &format!("{at}.{name}"), out);
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            check(doc, items, item, &format!("{at}[{i}]"), out);
        }
    }
}

/// Everything in the document's schemas that API Gateway does not enforce or refuses, and model
/// names it refuses, each as `<where>: <what>`.
#[must_use]
pub fn unsupported_keywords(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            if !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                out.push(format!(
                    "components.schemas.{name}: model names must be alphanumeric"
                ));
            }
            walk(schema, &format!("components.schemas.{name}"), &mut out);
        }
    }
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            let schema = &item["post"]["requestBody"]["content"]["application/json"]["schema"];
            if !schema.is_null() {
                walk(schema, &format!("paths.{path}.post.requestBody"), &mut out);
            }
        }
    }
    out
}

fn walk(schema: &Value, at: &str, out: &mut Vec<String>) {
    let Some(obj) = schema.as_object() else {
        return out.push(format!("{at}: a schema must be an object"));
    };
    for (key, sub) in obj {
        if !SUPPORTED_KEYWORDS.contains(&key.as_str()) {
            out.push(format!(
                "{at}: `{key}` is not enforced by API Gateway's request validation"
            ));
        }
        match key.as_str() {
            "properties" => {
                for (name, s) in sub.as_object().into_iter().flatten() {
                    walk(s, &format!("{at}.{name}"), out);
                }
            }
            "items" => walk(sub, &format!("{at}[]"), out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn the_committed_document_uses_only_what_api_gateway_enforces() {
        let doc = document().unwrap();
        assert_eq!(unsupported_keywords(&doc), Vec::<String>::new());
    }

    #[test]
    fn seeded_unsupported_keywords_are_caught() {
        let mut doc = document().unwrap();
        doc["components"]["schemas"]["CredentialsRequest"]["additionalProperties"] = json!(false);
        doc["components"]["schemas"]["AccessRequest"]["properties"]["prefixes"]["minItems"] =
            json!(1);
        doc["components"]["schemas"]["Decision_v2"] = json!({"type": "object", "oneOf": []});
        let found = unsupported_keywords(&doc);
        assert_eq!(found.len(), 4, "{found:#?}");
        for needle in ["additionalProperties", "minItems", "oneOf", "alphanumeric"] {
            assert!(
                found.iter().any(|f| f.contains(needle)),
                "{needle}: {found:#?}"
            );
        }
    }

    #[test]
    fn the_validator_applies_each_keyword() {
        let doc = document().unwrap();
        let s = request_schema(&doc, "/credentials");
        assert!(schema_errors(&doc, s, &json!({"prefix": "a/b/"})).is_empty());
        for (bad, needle) in [
            (json!({}), "body.prefix: required"),
            (json!({"prefix": 3}), "type string"),
            (json!({"prefix": "a"}), "at least 2"),
            (json!({"prefix": "a/b"}), "must match"),
            (json!({"prefix": "a/", "access_level": "x"}), "one of"),
            (
                json!({"prefix": "a/", "duration_seconds": 899}),
                "at least 900",
            ),
            (
                json!({"prefix": "a/", "duration_seconds": 3601}),
                "at most 3600",
            ),
            (
                json!({"prefix": "a/", "duration_seconds": 1.5}),
                "type integer",
            ),
            (json!([]), "type object"),
        ] {
            let errs = schema_errors(&doc, s, &bad);
            assert!(errs.iter().any(|e| e.contains(needle)), "{bad}: {errs:?}");
        }
        let r = request_schema(&doc, "/requests");
        let errs = schema_errors(
            &doc,
            r,
            &json!({"prefixes": ["ok/", 1], "access_level": "read",
            "expiration_date": "2027-01-01T00:00:00Z", "justification": "long enough reason"}),
        );
        assert_eq!(errs, vec!["body.prefixes[1]: must be of type string"]);
    }

    #[test]
    fn every_path_has_valid_and_invalid_examples() {
        let doc = document().unwrap();
        for path in ["/credentials", "/requests", "/approvals"] {
            let ex = examples(&doc, path).unwrap();
            assert!(ex.iter().any(|e| e.refused_field.is_none()), "{path}");
            assert!(ex.iter().any(|e| e.refused_field.is_some()), "{path}");
        }
    }

    #[test]
    fn the_gateway_verdict_of_every_example_is_as_the_document_says() {
        let doc = document().unwrap();
        for path in ["/credentials", "/requests", "/approvals"] {
            let schema = request_schema(&doc, path);
            for ex in examples(&doc, path).unwrap() {
                let errs = schema_errors(&doc, schema, &ex.value);
                match &ex.refused_field {
                    None => assert!(errs.is_empty(), "{path} {}: {errs:?}", ex.name),
                    Some(field) if ex.gateway_refuses => assert!(
                        errs.iter().any(|e| e.starts_with(&format!("body.{field}"))),
                        "{path} {}: API Gateway must refuse it at {field}: {errs:?}",
                        ex.name
                    ),
                    // Only the handler can tell (e.g. unknown fields, `..` segments, the cap).
                    Some(_) => assert!(
                        errs.is_empty(),
                        "{path} {}: marked handler-only but the schema refuses it: {errs:?}",
                        ex.name
                    ),
                }
            }
        }
    }
}
