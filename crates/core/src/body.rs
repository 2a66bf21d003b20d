//! Request bodies of the Warden API, parsed so that every refusal names the field: a wrong type
//! (`duration_seconds: invalid type: string "3600", expected u32`), a missing field
//! (`prefix: required`) and an unknown one (`account_id: not accepted ...`) all start with the
//! field's name, as `terraform/data-sharing/api/openapi.json` promises and its contract tests check.

use serde::de::DeserializeOwned;

/// A body that does not parse, naming the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct BodyError {
    /// The field, as the body spells it (`body` when the text is not a JSON object at all).
    pub field: String,
    /// What it must be.
    pub rule: String,
}

/// Parse `text` as `T` (which should deny unknown fields). `shape` names the fields for a body
/// that is not a JSON object, e.g. `{prefix, access_level, duration_seconds}`.
///
/// # Errors
/// [`BodyError`] naming the first field that breaks the shape.
pub fn parse<T: DeserializeOwned>(text: &str, shape: &str) -> Result<T, BodyError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| BodyError {
        field: "body".into(),
        rule: format!("must be a JSON object {shape} ({e})"),
    })?;
    from_value(value, shape)
}

/// [`parse`] for a body already read as JSON (to look at it before the typed parse).
///
/// # Errors
/// [`BodyError`] naming the first field that breaks the shape.
pub fn from_value<T: DeserializeOwned>(
    value: serde_json::Value,
    shape: &str,
) -> Result<T, BodyError> {
    if !value.is_object() {
        return Err(BodyError {
            field: "body".into(),
            rule: format!("must be a JSON object {shape}"),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let at_top = path == "." || path.is_empty();
        let message = e.inner().to_string();
        // serde names a missing or unknown field in backquotes: `missing field `x``.
        let quoted = message.split('`').nth(1).unwrap_or_default();
        if message.starts_with("missing field") {
            return BodyError {
                field: if at_top {
                    quoted.to_owned()
                } else {
                    format!("{path}.{quoted}")
                },
                rule: "required".into(),
            };
        }
        if message.starts_with("unknown field") {
            return BodyError {
                field: if at_top { quoted.to_owned() } else { path },
                rule: format!("not accepted; the body is {shape}"),
            };
        }
        BodyError {
            field: if at_top { "body".into() } else { path },
            rule: message,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        prefix: String,
        #[serde(default)]
        duration_seconds: Option<u32>,
        #[serde(default)]
        prefixes: Vec<String>,
    }

    fn err(text: &str) -> BodyError {
        parse::<Req>(text, "{prefix, duration_seconds}").unwrap_err()
    }

    #[test]
    fn every_refusal_names_the_field() {
        assert_eq!(
            err(r#"{"duration_seconds": 900}"#).to_string(),
            "prefix: required"
        );
        let e = err(r#"{"prefix": "a/", "account_id": "1"}"#);
        assert_eq!(e.field, "account_id");
        assert!(e.rule.contains("{prefix, duration_seconds}"), "{e}");
        let e = err(r#"{"prefix": "a/", "duration_seconds": "3600"}"#);
        assert_eq!(e.field, "duration_seconds");
        assert!(e.rule.contains("invalid type"), "{e}");
        assert_eq!(
            err(r#"{"prefix": "a/", "prefixes": "a/"}"#).field,
            "prefixes"
        );
        assert_eq!(
            err(r#"{"prefix": "a/", "prefixes": ["a/", 3]}"#).field,
            "prefixes[1]"
        );
        assert_eq!(err("[1]").field, "body");
        assert_eq!(err("not json").field, "body");
        assert_eq!(err("").field, "body");
    }

    #[test]
    fn a_good_body_parses() {
        let r: Req = parse(r#"{"prefix": "a/", "duration_seconds": 900}"#, "").unwrap();
        assert_eq!((r.prefix.as_str(), r.duration_seconds), ("a/", Some(900)));
    }
}
