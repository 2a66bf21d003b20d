//! access-request (self-service portal): `POST /requests` with SigV4. The requesting account is the
//! API-verified caller's, never the body's. The request is validated with the same rules as a
//! declared grant (errors name the field), its expiry capped at `max_grant_days` from now,
//! recorded in the registry as `pending` (not rendered) and handed to the approval workflow, whose
//! execution is named after the stored request (`request-<API request id>`): approval-processor
//! accepts a workflow task only from that execution, and applies the stored request, never the
//! execution's copy. The approvers' notice shows what they approve: account, requester,
//! prefixes, level, expiry and justification.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::grant::{AccessLevel, Grant, GrantError, GrantInput};
use warden_core::ports::{RequestStore, Workflow};

/// The request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRequest {
    /// Prefixes wanted.
    pub prefixes: Vec<String>,
    /// `read` or `read-write`.
    pub access_level: String,
    /// RFC 3339 expiry wanted.
    pub expiration_date: String,
    /// Why (shown to approvers, kept in the registry).
    pub justification: String,
}

/// The longest grant `max_grant_days` may allow (Terraform validates 1..3650).
pub const MAX_GRANT_DAYS_LIMIT: u32 = 3650;

/// Longest justification accepted (it goes into the approvers' e-mail and the registry item).
pub const MAX_JUSTIFICATION_CHARS: usize = 1000;

/// What the function is configured with (Terraform's environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Longest grant, in days from the request (`MAX_GRANT_DAYS`, default 365).
    pub max_grant_days: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_grant_days: 365,
        }
    }
}

/// A setting that does not parse, naming the variable and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {rule} (got {value:?})")]
pub struct SettingsError {
    /// Environment variable.
    pub name: &'static str,
    /// What it must be.
    pub rule: String,
    /// What it was.
    pub value: String,
}

impl Settings {
    /// From `MAX_GRANT_DAYS` (`None`: not set, 365).
    ///
    /// # Errors
    /// Not a whole number of days from 1 to 3650.
    pub fn from_values(max_grant_days: Option<&str>) -> Result<Self, SettingsError> {
        let Some(v) = max_grant_days else {
            return Ok(Settings::default());
        };
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=MAX_GRANT_DAYS_LIMIT).contains(d))
            .map(|max_grant_days| Settings { max_grant_days })
            .ok_or_else(|| SettingsError {
                name: "MAX_GRANT_DAYS",
                rule: format!("must be a whole number of days from 1 to {MAX_GRANT_DAYS_LIMIT}"),
                value: v.to_owned(),
            })
    }
}

fn response(status: u16, body: Value) -> Value {
    json!({"statusCode": status, "headers": {"content-type": "application/json"}, "body": body.to_string()})
}

/// Handle one API Gateway request.
pub async fn handle<S: RequestStore, W: Workflow>(
    store: &S,
    workflow: &W,
    settings: &Settings,
    event: &Value,
    now: DateTime<Utc>,
) -> Value {
    let ctx = &event["requestContext"];
    let Some(account) = ctx["identity"]["accountId"].as_str() else {
        return response(
            403,
            json!({"error": "no verified caller identity: call POST /requests on the Warden API with SigV4"}),
        );
    };
    let requester = ctx["identity"]["userArn"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned();
    let request_id: String = ctx["requestId"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    if request_id.is_empty() {
        return response(400, json!({"error": "requestContext.requestId: missing"}));
    }
    let req: AccessRequest = match warden_core::body::parse(
        event["body"].as_str().unwrap_or("{}"),
        "{prefixes, access_level, expiration_date, justification}",
    ) {
        Ok(r) => r,
        Err(e) => return response(400, json!({"error": e.to_string()})),
    };
    if req.justification.trim().len() < 10 {
        return response(
            400,
            json!({"error": "justification: must explain the need in at least 10 characters"}),
        );
    }
    if req.justification.chars().count() > MAX_JUSTIFICATION_CHARS {
        return response(
            400,
            json!({"error": format!("justification: at most {MAX_JUSTIFICATION_CHARS} characters")}),
        );
    }
    // The API takes the canonical levels only (the document's enum); aliases are for tfvars.
    if let Err(e) = AccessLevel::parse_canonical(&req.access_level) {
        return response(400, json!({"error": e.to_string()}));
    }
    let input = GrantInput {
        account_id: account.to_owned(),
        name: None,
        allowed_prefixes: req.prefixes.clone(),
        access_level: req.access_level.clone(),
        expiration_date: req.expiration_date.clone(),
        owner_email: None,
        external_id: None,
        created_by: Some(requester.clone()),
        created_at: None,
    };
    let grant = match Grant::from_input(&input, now) {
        Ok(g) => g,
        // Name the field as the request body spells it (`prefixes`, not the registry's name).
        Err(GrantError::Invalid { field, rule, value }) => {
            let field = field.replacen("allowed_prefixes", "prefixes", 1);
            return response(
                400,
                json!({"error": GrantError::Invalid { field, rule, value }.to_string()}),
            );
        }
        Err(e) => return response(400, json!({"error": e.to_string()})),
    };
    if !grant.is_active(now) {
        return response(
            400,
            json!({"error": "expiration_date: must be in the future"}),
        );
    }
    let cap = now + Duration::days(i64::from(settings.max_grant_days));
    if grant.expiration_date.0 > cap {
        return response(
            400,
            json!({"error": format!(
                "expiration_date: must be at most max_grant_days ({}) from now, i.e. not after {} (got {})",
                settings.max_grant_days,
                cap.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                req.expiration_date
            )}),
        );
    }
    // The stored request's ID is also the workflow execution's name: approval-processor accepts
    // a task only from the execution named after the request it decides.
    let id = format!("request-{request_id}");
    if let Err(e) = store.put_pending(&id, &grant, &req.justification).await {
        tracing::error!(error = %e, "request not recorded");
        return response(503, json!({"error": "registry unavailable, retry"}));
    }
    // What the approvers are shown (the notice) — approval-processor applies the stored request,
    // not these copies. The requester's principal ID and source identity only ever add refusals
    // to the four-eyes check.
    let mut input = json!({
        "request_id": id, "account_id": account, "prefixes": grant.allowed_prefixes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        "access_level": grant.access_level.as_str(), "expiration_date": grant.expiration_date.to_rfc3339(),
        "justification": req.justification.trim(), "requester": requester,
    });
    for (key, field) in [
        ("requester_principal_id", "user"),
        ("requester_source_identity", "sourceIdentity"),
    ] {
        if let Some(v) = ctx["identity"][field].as_str().filter(|v| !v.is_empty()) {
            input[key] = json!(v);
        }
    }
    if let Err(e) = workflow.start(&id, &input.to_string()).await {
        tracing::error!(error = %e, "workflow not started");
        return response(
            503,
            json!({"error": "approval workflow unavailable, retry"}),
        );
    }
    response(202, json!({"request_id": id, "status": "pending approval"}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::grant::{Registry, Timestamp};
    use warden_testkit::{FakeRequests, FakeWorkflow};

    fn now() -> DateTime<Utc> {
        Timestamp::parse("2026-11-23T10:00:00Z").unwrap().0
    }

    fn fakes() -> (FakeRequests, FakeWorkflow) {
        let reg = Registry::from_json(r#"{"consumer_accounts":[]}"#, now()).unwrap();
        (FakeRequests::new(reg), FakeWorkflow::default())
    }

    fn event(account: Option<&str>, body: &str) -> Value {
        let mut identity = json!({"userArn": "arn:aws:sts::210000000000:assumed-role/analyst/alice",
            "user": "AROAEXAMPLE:alice"});
        if let Some(a) = account {
            identity["accountId"] = json!(a);
        }
        json!({"requestContext": {"requestId": "abc-123", "identity": identity}, "body": body})
    }

    fn body(expiry: &str) -> String {
        json!({"prefixes": ["finance/reports/"], "access_level": "read", "expiration_date": expiry,
               "justification": "quarterly audit of the ledger"})
        .to_string()
    }

    #[tokio::test]
    async fn records_pending_and_starts_the_execution_named_after_it() {
        let (s, f) = fakes();
        let r = handle(
            &s,
            &f,
            &Settings::default(),
            &event(Some("210000000000"), &body("2027-06-01T00:00:00Z")),
            now(),
        )
        .await;
        assert_eq!(r["statusCode"], 202, "{r}");
        let stored = s.request("request-abc-123").unwrap();
        assert_eq!(stored.state, "pending");
        assert_eq!(stored.grant.account_id.as_str(), "210000000000");
        assert_eq!(
            stored.grant.created_by,
            "arn:aws:sts::210000000000:assumed-role/analyst/alice"
        );
        let started = f.started.lock().unwrap();
        assert_eq!(
            started[0].0, "request-abc-123",
            "execution name = stored request ID"
        );
        let input: Value = serde_json::from_str(&started[0].1).unwrap();
        assert_eq!(input["account_id"], "210000000000");
        assert_eq!(input["expiration_date"], "2027-06-01T00:00:00Z");
        assert_eq!(input["justification"], "quarterly audit of the ledger");
        assert_eq!(input["requester_principal_id"], "AROAEXAMPLE:alice");
    }

    #[tokio::test]
    async fn errors_name_the_field_and_unverified_calls_are_refused() {
        let (s, f) = fakes();
        let st = Settings::default();
        let bad = r#"{"prefixes":["/abs/"],"access_level":"read","expiration_date":"2027-01-01T00:00:00Z","justification":"quarterly audit of the ledger"}"#;
        let r = handle(&s, &f, &st, &event(Some("210000000000"), bad), now()).await;
        assert_eq!(r["statusCode"], 400);
        assert!(
            r["body"]
                .as_str()
                .unwrap()
                .contains(r#""error":"prefixes[0]: must not start with '/'"#)
        );
        let past = body("2020-01-01T00:00:00Z");
        assert_eq!(
            handle(&s, &f, &st, &event(Some("210000000000"), &past), now()).await["statusCode"],
            400
        );
        assert_eq!(
            handle(&s, &f, &st, &event(None, &past), now()).await["statusCode"],
            403
        );
        let long = json!({"prefixes": ["a/"], "access_level": "read", "expiration_date": "2027-01-01T00:00:00Z",
                          "justification": "x".repeat(1001)}).to_string();
        let r = handle(&s, &f, &st, &event(Some("210000000000"), &long), now()).await;
        assert!(
            r["body"]
                .as_str()
                .unwrap()
                .contains("justification: at most 1000"),
            "{r}"
        );
        assert!(s.requests.lock().unwrap().is_empty() && f.started.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn attack_expiry_beyond_max_grant_days_is_refused_at_request_time() {
        let (s, f) = fakes();
        for (days, expiry) in [
            (365, "9999-12-31T00:00:00Z"),
            (365, "2027-11-24T10:00:01Z"),
            (30, "2027-01-01T00:00:00Z"),
        ] {
            let st = Settings {
                max_grant_days: days,
            };
            let r = handle(
                &s,
                &f,
                &st,
                &event(Some("210000000000"), &body(expiry)),
                now(),
            )
            .await;
            assert_eq!(r["statusCode"], 400, "{expiry}: {r}");
            let msg = r["body"].as_str().unwrap();
            assert!(
                msg.contains(&format!(
                    "expiration_date: must be at most max_grant_days ({days}) from now"
                )),
                "{msg}"
            );
        }
        // Exactly at the cap is accepted.
        let r = handle(
            &s,
            &f,
            &Settings::default(),
            &event(Some("210000000000"), &body("2027-11-23T10:00:00Z")),
            now(),
        )
        .await;
        assert_eq!(r["statusCode"], 202, "{r}");
    }

    #[tokio::test]
    async fn attack_account_in_the_body_is_refused_and_never_used() {
        let (s, f) = fakes();
        let forged = json!({"account_id": "999999999999", "prefixes": ["finance/"], "access_level": "read",
                            "expiration_date": "2027-01-01T00:00:00Z", "justification": "quarterly audit of the ledger"}).to_string();
        let r = handle(
            &s,
            &f,
            &Settings::default(),
            &event(Some("210000000000"), &forged),
            now(),
        )
        .await;
        assert_eq!(r["statusCode"], 400, "{r}");
        assert!(s.requests.lock().unwrap().is_empty());
    }

    #[test]
    fn settings_name_the_variable_and_the_rule() {
        assert_eq!(Settings::from_values(None).unwrap().max_grant_days, 365);
        assert_eq!(
            Settings::from_values(Some("30")).unwrap().max_grant_days,
            30
        );
        for bad in ["0", "3651", "-1", "a year"] {
            let e = Settings::from_values(Some(bad)).unwrap_err().to_string();
            assert!(
                e.starts_with("MAX_GRANT_DAYS: must be a whole number of days from 1 to 3650"),
                "{e}"
            );
        }
    }
}
