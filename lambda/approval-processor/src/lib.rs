//! approval-processor (self-service portal), two entry points:
//!
//! - `POST /approvals` (SigV4; who may call it is decided by IAM): `{task_token, decision,
//!   comment}` from an approver → the waiting workflow gets SendTaskSuccess (approve) or
//!   SendTaskFailure with error `Rejected`;
//! - workflow tasks `{action: apply|reject|expire, request}` → the pending request becomes
//!   `active` (checked first: a self-approval or an overlap with an existing grant is rejected,
//!   never silently widened), `rejected` or `expired`. Activation reaches the policy-reconciler
//!   through the registry's stream.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use warden_core::grant::{Grant, GrantInput, Registry};
use warden_core::ports::{GrantStore, PortError, RequestStore, Workflow};

fn response(status: u16, body: Value) -> Value {
    json!({"statusCode": status, "headers": {"content-type": "application/json"}, "body": body.to_string()})
}

/// An approver's decision from the API.
pub async fn decide<W: Workflow>(workflow: &W, event: &Value) -> Value {
    let Some(approver) = event["requestContext"]["identity"]["userArn"].as_str() else {
        return response(
            403,
            json!({"error": "no verified caller identity: call POST /approvals with SigV4"}),
        );
    };
    let body: Value = match serde_json::from_str(event["body"].as_str().unwrap_or("{}")) {
        Ok(b) => b,
        Err(e) => return response(400, json!({"error": format!("body: not JSON ({e})")})),
    };
    let Some(token) = body["task_token"].as_str().filter(|t| !t.is_empty()) else {
        return response(
            400,
            json!({"error": "task_token: required (from the approval email)"}),
        );
    };
    let comment = body["comment"].as_str().unwrap_or_default();
    let outcome = match body["decision"].as_str() {
        Some("approve") => Ok(
            json!({"decision": "approved", "approver": approver, "comment": comment}).to_string(),
        ),
        Some("reject") => Err((
            "Rejected".to_owned(),
            format!("rejected by {approver}: {comment}"),
        )),
        _ => {
            return response(
                400,
                json!({"error": "decision: must be \"approve\" or \"reject\""}),
            );
        }
    };
    match workflow.answer(token, outcome).await {
        Ok(()) => response(200, json!({"status": "recorded"})),
        Err(e) => response(
            409,
            json!({"error": format!("the request is no longer waiting (expired or already decided): {e}")}),
        ),
    }
}

/// A workflow task.
///
/// # Errors
/// A service call failed (the workflow retries the task).
pub async fn task<G: GrantStore + RequestStore>(
    store: &G,
    event: &Value,
    now: DateTime<Utc>,
) -> Result<Value, PortError> {
    let req = &event["request"];
    let field = |k: &str| req[k].as_str().unwrap_or_default().to_owned();
    let (account, request_id) = (field("account_id"), field("request_id"));
    let approver = req["decision"]["approver"]
        .as_str()
        .unwrap_or("workflow")
        .to_owned();
    match event["action"].as_str() {
        Some("apply") => {
            // Four eyes: whoever asked cannot be the one who approved.
            if approver == field("requester") {
                let why = format!("{approver} approved their own request");
                store
                    .settle(&account, &request_id, "rejected", &why)
                    .await?;
                return Ok(json!({"request_id": request_id, "state": "rejected", "reason": why}));
            }
            // Would the registry stay consistent with this grant? Overlaps are rejected, not merged.
            let candidate = GrantInput {
                account_id: account.clone(),
                name: None,
                allowed_prefixes: req["prefix_list"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                access_level: field("access_level"),
                expiration_date: field("expiration_date"),
                owner_email: None,
                external_id: None,
                created_by: Some(field("requester")),
                created_at: None,
            };
            let registry = store.load_registry(now).await?;
            let check = Grant::from_input(&candidate, now)
                .map_err(|e| e.to_string())
                .and_then(|g| {
                    let mut all = registry.grants().to_vec();
                    all.push(g);
                    Registry::new(all).map(|_| ()).map_err(|e| e.to_string())
                });
            if let Err(why) = check {
                store
                    .settle(
                        &account,
                        &request_id,
                        "rejected",
                        &format!("registry check: {why}"),
                    )
                    .await?;
                return Ok(json!({"request_id": request_id, "state": "rejected", "reason": why}));
            }
            let changed = store
                .settle(&account, &request_id, "active", &approver)
                .await?;
            Ok(
                json!({"request_id": request_id, "state": if changed { "active" } else { "unchanged" }}),
            )
        }
        Some(action @ ("reject" | "expire")) => {
            let state = if action == "reject" {
                "rejected"
            } else {
                "expired"
            };
            store
                .settle(&account, &request_id, state, &approver)
                .await?;
            Ok(json!({"request_id": request_id, "state": state}))
        }
        other => Err(PortError::new(
            "workflow",
            "task",
            format!("action: unknown {other:?} (apply, reject, expire)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use warden_core::grant::Timestamp;
    use warden_testkit::FakeGrants;

    struct Store {
        grants: FakeGrants,
        settled: Mutex<Vec<(String, String)>>,
    }
    impl GrantStore for Store {
        async fn load_registry(&self, now: DateTime<Utc>) -> Result<Registry, PortError> {
            self.grants.load_registry(now).await
        }
        async fn expired(
            &self,
            now: DateTime<Utc>,
        ) -> Result<Vec<warden_core::ports::GrantRef>, PortError> {
            self.grants.expired(now).await
        }
        async fn accounts(&self) -> Result<Vec<String>, PortError> {
            self.grants.accounts().await
        }
        async fn revoke(
            &self,
            g: &warden_core::ports::GrantRef,
            now: DateTime<Utc>,
        ) -> Result<bool, PortError> {
            self.grants.revoke(g, now).await
        }
    }
    impl RequestStore for Store {
        async fn put_pending(&self, _i: &str, _g: &Grant, _j: &str) -> Result<(), PortError> {
            Ok(())
        }
        async fn settle(
            &self,
            _a: &str,
            id: &str,
            state: &str,
            _by: &str,
        ) -> Result<bool, PortError> {
            self.settled.lock().unwrap().push((id.into(), state.into()));
            Ok(true)
        }
    }

    fn store() -> Store {
        let reg = Registry::from_json(r#"{"consumer_accounts":[{"account_id":"210000000000","allowed_prefixes":["analytics/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#, Utc::now()).unwrap();
        Store {
            grants: FakeGrants::new(reg),
            settled: Mutex::new(vec![]),
        }
    }

    fn apply(prefix: &str) -> Value {
        json!({"action": "apply", "request": {"request_id": "request-1", "account_id": "210000000000", "prefix_list": [prefix],
               "access_level": "read", "expiration_date": "2030-01-01T00:00:00Z", "requester": "alice", "decision": {"approver": "bob"}}})
    }

    #[tokio::test]
    async fn apply_activates_or_rejects_overlaps() {
        let s = store();
        let now = Timestamp::parse("2026-11-23T10:00:00Z").unwrap().0;
        let ok = task(&s, &apply("finance/"), now).await.unwrap();
        assert_eq!(ok["state"], "active");
        let overlap = task(&s, &apply("analytics/2026/"), now).await.unwrap();
        assert_eq!(overlap["state"], "rejected");
        assert!(overlap["reason"].as_str().unwrap().contains("overlaps"));
        assert_eq!(
            s.settled.lock().unwrap().clone(),
            vec![
                ("request-1".into(), "active".into()),
                ("request-1".into(), "rejected".into())
            ]
        );
    }

    #[derive(Default)]
    struct Flow(Mutex<Vec<Result<String, (String, String)>>>);
    impl Workflow for Flow {
        async fn start(&self, _n: &str, _i: &str) -> Result<(), PortError> {
            Ok(())
        }
        async fn answer(
            &self,
            _t: &str,
            o: Result<String, (String, String)>,
        ) -> Result<(), PortError> {
            self.0.lock().unwrap().push(o);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_requester_cannot_approve_their_own_request() {
        let s = store();
        let now = Timestamp::parse("2026-11-23T10:00:00Z").unwrap().0;
        let mut event = apply("finance/");
        event["request"]["decision"]["approver"] = json!("alice");
        let out = task(&s, &event, now).await.unwrap();
        assert_eq!(out["state"], "rejected");
        assert!(out["reason"].as_str().unwrap().contains("own request"));
        assert_eq!(
            s.settled.lock().unwrap().clone(),
            vec![("request-1".into(), "rejected".into())]
        );
    }

    #[tokio::test]
    async fn approver_decisions() {
        let f = Flow::default();
        let ev = |body: &str| json!({"requestContext": {"identity": {"userArn": "arn:aws:iam::111111111111:user/bob"}}, "body": body});
        assert_eq!(
            decide(&f, &ev(r#"{"task_token":"t","decision":"approve"}"#)).await["statusCode"],
            200
        );
        assert_eq!(
            decide(
                &f,
                &ev(r#"{"task_token":"t","decision":"reject","comment":"no"}"#)
            )
            .await["statusCode"],
            200
        );
        assert_eq!(
            decide(&f, &ev(r#"{"task_token":"t","decision":"maybe"}"#)).await["statusCode"],
            400
        );
        assert_eq!(
            decide(&f, &ev(r#"{"decision":"approve"}"#)).await["statusCode"],
            400
        );
        let answers = f.0.lock().unwrap();
        assert!(answers[0].is_ok() && answers[1].as_ref().unwrap_err().0 == "Rejected");
    }
}
