//! access-request (self-service portal): `POST /requests` with SigV4. The requesting account is the
//! API-verified caller's, never the body's. The request is validated with the same rules as a
//! declared grant (errors name the field), recorded in the registry as `pending` (not rendered)
//! and handed to the approval workflow.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::grant::{Grant, GrantError, GrantInput};
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

fn response(status: u16, body: Value) -> Value {
    json!({"statusCode": status, "headers": {"content-type": "application/json"}, "body": body.to_string()})
}

/// Handle one API Gateway request.
pub async fn handle<S: RequestStore, W: Workflow>(
    store: &S,
    workflow: &W,
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
    let req: AccessRequest = match serde_json::from_str(event["body"].as_str().unwrap_or("{}")) {
        Ok(r) => r,
        Err(e) => {
            return response(
                400,
                json!({"error": format!("body: must be {{prefixes, access_level, expiration_date, justification}} ({e})")}),
            );
        }
    };
    if req.justification.trim().len() < 10 {
        return response(
            400,
            json!({"error": "justification: must explain the need in at least 10 characters"}),
        );
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
    let id = format!("request-{request_id}");
    if let Err(e) = store.put_pending(&id, &grant, &req.justification).await {
        tracing::error!(error = %e, "request not recorded");
        return response(503, json!({"error": "registry unavailable, retry"}));
    }
    let input = json!({
        "request_id": id, "account_id": account, "prefixes": req.prefixes.join(", "), "prefix_list": req.prefixes,
        "access_level": grant.access_level.as_str(), "expiration_date": grant.expiration_date.to_rfc3339(),
        "justification": req.justification, "requester": requester,
    });
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
    use std::sync::Mutex;

    use super::*;
    use warden_core::ports::PortError;

    #[derive(Default)]
    struct Store(Mutex<Vec<(String, String)>>);
    impl RequestStore for Store {
        async fn put_pending(&self, id: &str, g: &Grant, _j: &str) -> Result<(), PortError> {
            self.0
                .lock()
                .unwrap()
                .push((id.into(), g.account_id.to_string()));
            Ok(())
        }
        async fn settle(&self, _a: &str, _r: &str, _s: &str, _b: &str) -> Result<bool, PortError> {
            Ok(true)
        }
    }
    #[derive(Default)]
    struct Flow(Mutex<Vec<(String, String)>>);
    impl Workflow for Flow {
        async fn start(&self, name: &str, input: &str) -> Result<(), PortError> {
            self.0.lock().unwrap().push((name.into(), input.into()));
            Ok(())
        }
        async fn answer(
            &self,
            _t: &str,
            _o: Result<String, (String, String)>,
        ) -> Result<(), PortError> {
            Ok(())
        }
    }

    fn event(account: Option<&str>, body: &str) -> Value {
        let mut identity =
            json!({"userArn": "arn:aws:sts::210000000000:assumed-role/analyst/alice"});
        if let Some(a) = account {
            identity["accountId"] = json!(a);
        }
        json!({"requestContext": {"requestId": "abc-123", "identity": identity}, "body": body})
    }

    #[tokio::test]
    async fn records_pending_and_starts_workflow_for_the_verified_account() {
        let (s, f) = (Store::default(), Flow::default());
        let body = r#"{"prefixes":["finance/reports/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z","justification":"quarterly audit of the ledger"}"#;
        let r = handle(&s, &f, &event(Some("210000000000"), body), Utc::now()).await;
        assert_eq!(r["statusCode"], 202, "{r}");
        assert_eq!(
            s.0.lock().unwrap()[0],
            ("request-abc-123".to_owned(), "210000000000".to_owned())
        );
        assert!(
            f.0.lock().unwrap()[0]
                .1
                .contains("\"account_id\":\"210000000000\"")
        );
    }

    #[tokio::test]
    async fn errors_name_the_field_and_unverified_calls_are_refused() {
        let (s, f) = (Store::default(), Flow::default());
        let bad = r#"{"prefixes":["/abs/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z","justification":"quarterly audit of the ledger"}"#;
        let r = handle(&s, &f, &event(Some("210000000000"), bad), Utc::now()).await;
        assert_eq!(r["statusCode"], 400);
        assert!(
            r["body"]
                .as_str()
                .unwrap()
                .contains(r#""error":"prefixes[0]: must not start with '/'"#)
        );
        let past = r#"{"prefixes":["a/"],"access_level":"read","expiration_date":"2020-01-01T00:00:00Z","justification":"quarterly audit of the ledger"}"#;
        assert_eq!(
            handle(&s, &f, &event(Some("210000000000"), past), Utc::now()).await["statusCode"],
            400
        );
        assert_eq!(
            handle(&s, &f, &event(None, past), Utc::now()).await["statusCode"],
            403
        );
        assert!(s.0.lock().unwrap().is_empty() && f.0.lock().unwrap().is_empty());
    }
}
