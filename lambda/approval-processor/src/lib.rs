//! approval-processor (self-service portal), two entry points:
//!
//! - `POST /approvals` (SigV4; the API's resource policy admits only `approver_principal_arns`):
//!   `{task_token, decision, comment}` from an approver. The approver is the caller API Gateway
//!   verified, never a body field, and must be on the allow-list; the waiting workflow then gets
//!   SendTaskSuccess (approve, with the approver's identity as output) or SendTaskFailure with
//!   error `Rejected`.
//! - workflow tasks `{action: apply|reject|expire, request, execution}` (only the approval
//!   workflow's role may invoke the function for these: IAM, see lambda-approval-processor.tf).
//!   The task acts on the request *as stored* at request time (account, prefixes, level, expiry,
//!   requester), never on the event's copies; the request must still be pending and the task
//!   must come from the request's own execution (`execution` = `$$.Execution.Id`, whose name is
//!   the request ID). Apply checks four eyes (allow-listed approver, another account, another
//!   identity and person than the requester), the expiry cap (`max_grant_days`) and overlaps with
//!   existing grants (rejected, never silently widened), then activates the request; reject and
//!   expire record the outcome. Activation reaches the policy-reconciler through the registry's
//!   stream.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod identity;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::grant::{Grant, GrantInput, Registry};
use warden_core::ports::{Activation, GrantStore, PortError, RequestStore, Workflow};

pub use identity::{Approvers, Caller, IdentityError, Principal, four_eyes};
pub use warden_aws::DynamoPendingRequests;
pub use warden_core::ports::{PendingRequest, PendingRequests};

/// The longest grant `max_grant_days` may allow (Terraform validates 1..3650).
pub const MAX_GRANT_DAYS_LIMIT: u32 = 3650;

/// Conditional activations tried before the task fails (each refused one means the account's
/// items changed in between: someone else's approval or a Terraform apply).
pub const ACTIVATION_ATTEMPTS: usize = 3;

/// What the function is configured with (Terraform's environment).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Who may decide requests (`APPROVER_PRINCIPAL_ARNS`); empty: every decision is refused.
    pub approvers: Approvers,
    /// Longest grant, in days from the moment it is applied (`MAX_GRANT_DAYS`).
    pub max_grant_days: u32,
    /// The approval workflow (`STATE_MACHINE_ARN`): a task must come from one of its executions.
    pub state_machine_arn: String,
}

/// A setting that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// `APPROVER_PRINCIPAL_ARNS`.
    #[error(transparent)]
    Approvers(#[from] IdentityError),
    /// Another variable, naming it and the rule.
    #[error("{name}: {rule} (got {value:?})")]
    Invalid {
        /// Environment variable.
        name: &'static str,
        /// What it must be.
        rule: String,
        /// What it was.
        value: String,
    },
}

impl Settings {
    /// From the environment values (`None`: not set).
    ///
    /// # Errors
    /// A value breaks its rule.
    pub fn from_values(
        approvers: Option<&str>,
        max_grant_days: Option<&str>,
        state_machine_arn: &str,
    ) -> Result<Self, SettingsError> {
        let approvers = Approvers::parse(approvers.unwrap_or_default())?;
        let max_grant_days = match max_grant_days {
            None => 365,
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|d| (1..=MAX_GRANT_DAYS_LIMIT).contains(d))
                .ok_or_else(|| SettingsError::Invalid {
                    name: "MAX_GRANT_DAYS",
                    rule: format!(
                        "must be a whole number of days from 1 to {MAX_GRANT_DAYS_LIMIT}"
                    ),
                    value: v.to_owned(),
                })?,
        };
        if !state_machine_arn.starts_with("arn:") || !state_machine_arn.contains(":stateMachine:") {
            return Err(SettingsError::Invalid {
                name: "STATE_MACHINE_ARN",
                rule: "must be a Step Functions state machine ARN (arn:<partition>:states:<region>:<account>:stateMachine:<name>)".into(),
                value: state_machine_arn.to_owned(),
            });
        }
        Ok(Settings {
            approvers,
            max_grant_days,
            state_machine_arn: state_machine_arn.to_owned(),
        })
    }

    /// The ARN of the execution that decides `request_id` (StartExecution names it after the
    /// request: arn:…:execution:<state machine name>:<execution name>).
    #[must_use]
    pub fn execution_arn(&self, request_id: &str) -> String {
        format!(
            "{}:{request_id}",
            self.state_machine_arn
                .replacen(":stateMachine:", ":execution:", 1)
        )
    }
}

fn response(status: u16, body: Value) -> Value {
    json!({"statusCode": status, "headers": {"content-type": "application/json"}, "body": body.to_string()})
}

/// The longest task token Step Functions issues or accepts.
pub const MAX_TASK_TOKEN_CHARS: usize = 2048;

/// The body of `POST /approvals`. Nothing else is accepted: in particular no `approver`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    task_token: String,
    decision: String,
    #[serde(default)]
    comment: String,
}

/// An approver's decision from the API.
pub async fn decide<W: Workflow>(workflow: &W, settings: &Settings, event: &Value) -> Value {
    let approver = match Caller::from_api_event(event) {
        Ok(c) => c,
        Err(why) => return response(403, json!({"error": why})),
    };
    if settings.approvers.is_empty() {
        tracing::warn!(caller = %approver.arn, "decision refused: no approvers configured");
        return response(
            403,
            json!({"error": "no approver is configured (approver_principal_arns is empty): decisions are refused"}),
        );
    }
    if !settings.approvers.admits(&approver.principal) {
        tracing::warn!(caller = %approver.arn, "decision refused: caller is not an approver");
        return response(
            403,
            json!({"error": format!("caller {} is not an approver (approver_principal_arns)", approver.arn)}),
        );
    }
    let raw: Value = match serde_json::from_str(event["body"].as_str().unwrap_or("{}")) {
        Ok(b) => b,
        Err(e) => return response(400, json!({"error": format!("body: not JSON ({e})")})),
    };
    if raw.get("approver").is_some() {
        return response(
            400,
            json!({"error": "approver: not accepted in the body; the approver is the API-verified caller"}),
        );
    }
    let body: DecisionBody =
        match warden_core::body::from_value(raw, "{task_token, decision, comment}") {
            Ok(b) => b,
            Err(e) => return response(400, json!({"error": e.to_string()})),
        };
    if body.task_token.is_empty() {
        return response(
            400,
            json!({"error": "task_token: required (from the approval email)"}),
        );
    }
    // Step Functions refuses a longer token: SendTaskSuccess takes 1 to 2048 characters
    // (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html).
    if body.task_token.chars().count() > MAX_TASK_TOKEN_CHARS {
        return response(
            400,
            json!({"error": format!("task_token: at most {MAX_TASK_TOKEN_CHARS} characters")}),
        );
    }
    if body.comment.chars().count() > 1000 {
        return response(400, json!({"error": "comment: at most 1000 characters"}));
    }
    let outcome = match body.decision.as_str() {
        "approve" => {
            let mut out = serde_json::Map::new();
            out.insert("decision".into(), json!("approved"));
            approver.record("approver", &mut out);
            out.insert("comment".into(), json!(body.comment));
            Ok(Value::Object(out).to_string())
        }
        "reject" => Err((
            "Rejected".to_owned(),
            format!("rejected by {}: {}", approver.arn, body.comment),
        )),
        _ => {
            return response(
                400,
                json!({"error": "decision: must be \"approve\" or \"reject\""}),
            );
        }
    };
    match workflow.answer(&body.task_token, outcome).await {
        Ok(()) => response(200, json!({"status": "recorded", "approver": approver.arn})),
        Err(e) => response(
            409,
            json!({"error": format!("the request is no longer waiting (expired or already decided): {e}")}),
        ),
    }
}

fn refused(request_id: &str, why: String) -> Value {
    tracing::warn!(request_id, reason = %why, "workflow task refused");
    json!({"request_id": request_id, "state": "refused", "reason": why})
}

/// A request ID as access-request makes them: `request-` and at most 64 of `[A-Za-z0-9-]`.
fn request_id_ok(id: &str) -> bool {
    id.strip_prefix("request-").is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 64
            && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// A workflow task.
///
/// # Errors
/// A service call failed (the workflow retries the task).
pub async fn task<S: GrantStore + RequestStore, P: PendingRequests>(
    store: &S,
    pending: &P,
    settings: &Settings,
    event: &Value,
    now: DateTime<Utc>,
) -> Result<Value, PortError> {
    let req = &event["request"];
    let (account, request_id) = (
        req["account_id"].as_str().unwrap_or_default(),
        req["request_id"].as_str().unwrap_or_default(),
    );
    let action = match event["action"].as_str() {
        Some(a @ ("apply" | "reject" | "expire")) => a,
        other => {
            return Err(PortError::new(
                "workflow",
                "task",
                format!("action: unknown {other:?} (apply, reject, expire)"),
            ));
        }
    };
    if !request_id_ok(request_id) || account.len() != 12 {
        return Ok(refused(
            request_id,
            "request.request_id / request.account_id: not a request of the approval workflow"
                .into(),
        ));
    }
    // Only the request's own execution may decide it: Step Functions puts $$.Execution.Id into
    // the task payload; a direct invoke has none, a task of another request another one.
    let expected = settings.execution_arn(request_id);
    match event["execution"].as_str() {
        Some(e) if e == expected => {}
        Some(e) => {
            return Ok(refused(
                request_id,
                format!("execution: {e} is not the request's workflow execution {expected}"),
            ));
        }
        None => {
            return Ok(refused(
                request_id,
                "execution: missing; workflow tasks come from the approval state machine only"
                    .into(),
            ));
        }
    }
    let Some(stored) = pending.claim(account, request_id, &expected, now).await? else {
        return Ok(refused(
            request_id,
            format!(
                "no pending request {request_id} of account {account} for this execution (already decided, unknown, or bound to another execution)"
            ),
        ));
    };
    if action != "apply" {
        let state = if action == "reject" {
            "rejected"
        } else {
            "expired"
        };
        let by = req["error"]["Cause"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map_or_else(
                || format!("workflow: {action}"),
                |c| format!("workflow: {c}"),
            );
        let changed = store.settle(account, request_id, state, &by).await?;
        return Ok(
            json!({"request_id": request_id, "state": if changed { state } else { "unchanged" }}),
        );
    }
    let reject = |why: String| async move {
        store
            .settle(account, request_id, "rejected", &why)
            .await
            .map(|_| json!({"request_id": request_id, "state": "rejected", "reason": why}))
    };
    // Four eyes, on the stored requester. The event's requester fields may only add refusals.
    let mut requester =
        match Caller::from_record(&json!({"requester": stored.requester}), "requester") {
            Ok(c) => c,
            Err(why) => return reject(format!("stored requester: {why}")).await,
        };
    if let Ok(told) = Caller::from_record(req, "requester") {
        if told.principal.identity() != requester.principal.identity() {
            tracing::warn!(request_id, stored = %requester.arn, event = %told.arn, "task event names another requester; the stored one is used");
        } else {
            requester.principal_id = told.principal_id;
            requester.source_identity = told.source_identity;
        }
    }
    let approver = match Caller::from_record(&req["decision"], "approver") {
        Ok(c) => c,
        Err(why) => return reject(format!("decision: {why}")).await,
    };
    if let Err(why) = four_eyes(&settings.approvers, &requester, &approver) {
        return reject(why).await;
    }
    // The grant as stored, capped: max_grant_days from now at the latest.
    let candidate = GrantInput {
        account_id: stored.account_id.clone(),
        name: None,
        allowed_prefixes: stored.allowed_prefixes.clone(),
        access_level: stored.access_level.clone(),
        expiration_date: stored.expiration_date.clone(),
        owner_email: None,
        external_id: None,
        created_by: Some(stored.requester.clone()),
        created_at: None,
    };
    let grant = match Grant::from_input(&candidate, now) {
        Ok(g) => g,
        Err(e) => return reject(format!("stored request: {e}")).await,
    };
    let cap = now + Duration::days(i64::from(settings.max_grant_days));
    if grant.expiration_date.0 > cap {
        return reject(format!(
            "expiration_date: {} is more than max_grant_days ({}) from now",
            stored.expiration_date, settings.max_grant_days
        ))
        .await;
    }
    if !grant.is_active(now) {
        return reject(format!(
            "expiration_date: {} has already passed",
            stored.expiration_date
        ))
        .await;
    }
    // Would the account's grants stay consistent with this one? Overlaps are rejected, not
    // merged. The check and the activation are one conditional write: if another approval or a
    // Terraform apply changed the account's items in between, the write is refused and the check
    // runs again on what is there now.
    let mut changed = None;
    for _ in 0..ACTIVATION_ATTEMPTS {
        let (mut current, snapshot) = store.account_snapshot(account, now).await?;
        current.push(grant.clone());
        if let Err(e) = Registry::new(current) {
            return reject(format!("registry check: {e}")).await;
        }
        match store
            .activate(account, request_id, &approver.arn, &snapshot)
            .await?
        {
            Activation::Activated => changed = Some(true),
            Activation::NotPending => changed = Some(false),
            Activation::Changed => continue,
        }
        break;
    }
    let Some(changed) = changed else {
        // The task fails and Step Functions retries it (the claim binds it to this execution).
        return Err(PortError::new(
            "dynamodb",
            "TransactWriteItems",
            format!(
                "the registry items of account {account} changed during each of {ACTIVATION_ATTEMPTS} activation attempts; retry"
            ),
        ));
    };
    Ok(
        json!({"request_id": request_id, "state": if changed { "active" } else { "unchanged" },
        "approver": approver.arn, "allowed_prefixes": stored.allowed_prefixes,
        "access_level": stored.access_level, "expiration_date": stored.expiration_date}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::grant::Timestamp;
    use warden_testkit::{FakeRequests, FakeWorkflow};

    const SM: &str =
        "arn:aws:states:us-east-1:111111111111:stateMachine:warden-prod-access-approval";
    const ALICE: &str = "arn:aws:sts::210000000000:assumed-role/analyst/alice";
    const BOB: &str = "arn:aws:sts::111111111111:assumed-role/data-owner/bob";

    fn now() -> DateTime<Utc> {
        Timestamp::parse("2026-11-23T10:00:00Z").unwrap().0
    }

    fn settings() -> Settings {
        Settings::from_values(
            Some(r#"["arn:aws:iam::111111111111:role/data-owner","arn:aws:iam::210000000000:role/analyst-lead"]"#),
            Some("365"),
            SM,
        )
        .unwrap()
    }

    /// A registry with analytics/ for 210000000000 and a pending request `request-1` of that
    /// account for `prefix`, asked by `requester`, until `until`.
    fn store_with(prefix: &str, requester: &str, until: &str) -> FakeRequests {
        let reg = Registry::from_json(r#"{"consumer_accounts":[{"account_id":"210000000000","allowed_prefixes":["analytics/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#, now()).unwrap();
        let s = FakeRequests::new(reg);
        let input = GrantInput {
            account_id: "210000000000".into(),
            name: None,
            allowed_prefixes: vec![prefix.into()],
            access_level: "read".into(),
            expiration_date: until.into(),
            owner_email: None,
            external_id: None,
            created_by: Some(requester.into()),
            created_at: None,
        };
        // Stored as access-request validated it (the cap is checked there against its clock).
        let g = Grant::from_input(&input, now()).unwrap();
        s.requests
            .lock()
            .unwrap()
            .push(warden_testkit::FakeRequest {
                request_id: "request-1".into(),
                grant: g,
                justification: "quarterly audit of the ledger".into(),
                state: "pending".into(),
                decided_by: None,
                task_execution: None,
            });
        s
    }

    fn store() -> FakeRequests {
        store_with("finance/", ALICE, "2027-06-01T00:00:00Z")
    }

    /// The ApplyGrant task's payload as Step Functions builds it.
    fn apply_by(approver: &str) -> Value {
        json!({"action": "apply", "execution": format!("{}:request-1", SM.replace(":stateMachine:", ":execution:")),
               "request": {"request_id": "request-1", "account_id": "210000000000", "prefixes": "finance/",
                           "access_level": "read", "expiration_date": "2027-06-01T00:00:00Z", "requester": ALICE,
                           "decision": {"decision": "approved", "approver": approver}}})
    }

    fn state(s: &FakeRequests) -> String {
        s.request("request-1").unwrap().state
    }

    #[tokio::test]
    async fn apply_activates_the_stored_request() {
        let s = store();
        let out = task(&s, &s, &settings(), &apply_by(BOB), now())
            .await
            .unwrap();
        assert_eq!(out["state"], "active", "{out}");
        assert_eq!(
            s.request("request-1").unwrap().decided_by.as_deref(),
            Some(BOB)
        );
        let reg = s.load_registry(now()).await.unwrap();
        assert!(reg.allows("210000000000", "finance/x.csv", false, now()));
    }

    #[tokio::test]
    async fn apply_rejects_an_overlap_with_an_existing_grant() {
        let s = store_with("analytics/2026/", ALICE, "2027-06-01T00:00:00Z");
        let out = task(&s, &s, &settings(), &apply_by(BOB), now())
            .await
            .unwrap();
        assert_eq!(out["state"], "rejected");
        assert!(
            out["reason"].as_str().unwrap().contains("overlaps"),
            "{out}"
        );
        assert_eq!(state(&s), "rejected");
    }

    /// A grant of 210000000000 for `prefix`, as another approval would make active.
    fn other_grant(prefix: &str) -> Grant {
        Grant::from_input(
            &GrantInput {
                account_id: "210000000000".into(),
                name: None,
                allowed_prefixes: vec![prefix.into()],
                access_level: "read".into(),
                expiration_date: "2027-01-01T00:00:00Z".into(),
                owner_email: None,
                external_id: None,
                created_by: Some("someone-else".into()),
                created_at: None,
            },
            now(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn race_an_overlapping_grant_activated_meanwhile_is_caught_by_the_conditional_write() {
        // Our request is finance/; between our check and our write, another approval makes
        // finance/2026/ active. The write is refused, the check runs again and rejects ours.
        let s = store();
        *s.interfere.lock().unwrap() = Some(other_grant("finance/2026/"));
        let out = task(&s, &s, &settings(), &apply_by(BOB), now())
            .await
            .unwrap();
        assert_eq!(out["state"], "rejected", "{out}");
        assert!(
            out["reason"].as_str().unwrap().contains("overlaps"),
            "{out}"
        );
        assert_eq!(state(&s), "rejected");
    }

    #[tokio::test]
    async fn race_an_unrelated_change_meanwhile_only_costs_a_second_check() {
        let s = store();
        *s.interfere.lock().unwrap() = Some(other_grant("marketing/"));
        let out = task(&s, &s, &settings(), &apply_by(BOB), now())
            .await
            .unwrap();
        assert_eq!(out["state"], "active", "{out}");
        let reg = s.load_registry(now()).await.unwrap();
        assert!(reg.allows("210000000000", "finance/x.csv", false, now()));
        assert!(reg.allows("210000000000", "marketing/x.csv", false, now()));
    }

    #[tokio::test]
    async fn reject_and_expire_settle_the_stored_request() {
        for (action, expect) in [("reject", "rejected"), ("expire", "expired")] {
            let s = store();
            let mut ev = apply_by(BOB);
            ev["action"] = json!(action);
            ev["request"]["error"] = json!({"Error": "Rejected", "Cause": "rejected by bob: no"});
            let out = task(&s, &s, &settings(), &ev, now()).await.unwrap();
            assert_eq!(out["state"], expect, "{out}");
            assert_eq!(state(&s), expect);
        }
    }

    #[tokio::test]
    async fn attack_direct_invoke_without_step_functions_context_is_refused() {
        let s = store();
        let mut ev = apply_by(BOB);
        ev.as_object_mut().unwrap().remove("execution");
        let out = task(&s, &s, &settings(), &ev, now()).await.unwrap();
        assert_eq!(out["state"], "refused", "{out}");
        assert!(
            out["reason"]
                .as_str()
                .unwrap()
                .starts_with("execution: missing")
        );
        assert_eq!(state(&s), "pending", "a refused task changes nothing");
    }

    #[tokio::test]
    async fn attack_task_from_another_execution_is_refused() {
        let s = store();
        for execution in [
            // Another request's execution of the same workflow.
            format!("{}:request-2", SM.replace(":stateMachine:", ":execution:")),
            // The same execution name in another state machine.
            "arn:aws:states:us-east-1:111111111111:execution:attacker-machine:request-1".to_owned(),
        ] {
            let mut ev = apply_by(BOB);
            ev["execution"] = json!(execution);
            let out = task(&s, &s, &settings(), &ev, now()).await.unwrap();
            assert_eq!(out["state"], "refused", "{out}");
        }
        assert_eq!(state(&s), "pending");
    }

    #[tokio::test]
    async fn attack_request_bound_to_one_execution_cannot_be_claimed_by_another() {
        let s = store();
        s.requests.lock().unwrap()[0].task_execution =
            Some("arn:aws:states:us-east-1:111111111111:execution:warden-prod-access-approval:request-1-old".into());
        let out = task(&s, &s, &settings(), &apply_by(BOB), now())
            .await
            .unwrap();
        assert_eq!(out["state"], "refused", "{out}");
        assert_eq!(state(&s), "pending");
    }

    #[tokio::test]
    async fn attack_forged_prefixes_level_and_expiry_in_the_task_event_are_ignored() {
        let s = store();
        let mut ev = apply_by(BOB);
        ev["request"]["prefix_list"] = json!(["", "finance/", "hr/"]);
        ev["request"]["prefixes"] = json!("hr/");
        ev["request"]["access_level"] = json!("read-write");
        ev["request"]["expiration_date"] = json!("9999-12-31T00:00:00Z");
        ev["request"]["account_id"] = json!("210000000000");
        let out = task(&s, &s, &settings(), &ev, now()).await.unwrap();
        assert_eq!(out["state"], "active", "{out}");
        assert_eq!(out["allowed_prefixes"], json!(["finance/"]));
        assert_eq!(out["access_level"], "read");
        let reg = s.load_registry(now()).await.unwrap();
        assert!(!reg.allows("210000000000", "hr/x", false, now()));
        assert!(!reg.allows("210000000000", "finance/x", true, now()));
    }

    #[tokio::test]
    async fn attack_forged_prefixes_cannot_dodge_the_overlap_check() {
        // Stored: analytics/2026/ (overlaps the existing grant); the event claims finance/.
        let s = store_with("analytics/2026/", ALICE, "2027-06-01T00:00:00Z");
        let mut ev = apply_by(BOB);
        ev["request"]["prefix_list"] = json!(["finance/"]);
        let out = task(&s, &s, &settings(), &ev, now()).await.unwrap();
        assert_eq!(out["state"], "rejected", "{out}");
        assert!(out["reason"].as_str().unwrap().contains("overlaps"));
    }

    #[tokio::test]
    async fn attack_forged_requester_in_the_task_event_is_ignored() {
        // Stored requester: a session of the approver role itself; the event names alice.
        let s = store_with(
            "finance/",
            "arn:aws:sts::210000000000:assumed-role/analyst-lead/carol",
            "2027-06-01T00:00:00Z",
        );
        let ev = apply_by("arn:aws:sts::210000000000:assumed-role/analyst-lead/carol2");
        let out = task(&s, &s, &settings(), &ev, now()).await.unwrap();
        assert_eq!(out["state"], "rejected", "{out}");
        assert!(
            out["reason"]
                .as_str()
                .unwrap()
                .contains("may not approve its own request")
        );
    }

    #[tokio::test]
    async fn attack_task_for_a_request_that_is_not_pending_is_refused() {
        let s = store();
        assert_eq!(
            task(&s, &s, &settings(), &apply_by(BOB), now())
                .await
                .unwrap()["state"],
            "active"
        );
        // Replay the same task, then try to reject what is active.
        let again = task(&s, &s, &settings(), &apply_by(BOB), now())
            .await
            .unwrap();
        assert_eq!(again["state"], "refused", "{again}");
        let mut rej = apply_by(BOB);
        rej["action"] = json!("reject");
        assert_eq!(
            task(&s, &s, &settings(), &rej, now()).await.unwrap()["state"],
            "refused"
        );
        assert_eq!(state(&s), "active");
        // Unknown request.
        let mut other = apply_by(BOB);
        other["request"]["request_id"] = json!("request-9");
        other["execution"] = json!(format!(
            "{}:request-9",
            SM.replace(":stateMachine:", ":execution:")
        ));
        assert_eq!(
            task(&s, &s, &settings(), &other, now()).await.unwrap()["state"],
            "refused"
        );
    }

    #[tokio::test]
    async fn attack_approve_as_the_requester_under_another_session_name_is_rejected() {
        // alice asks as analyst-lead/alice, approves as analyst-lead/alice2: same role.
        let s = store_with(
            "finance/",
            "arn:aws:sts::210000000000:assumed-role/analyst-lead/alice",
            "2027-06-01T00:00:00Z",
        );
        let out = task(
            &s,
            &s,
            &settings(),
            &apply_by("arn:aws:sts::210000000000:assumed-role/analyst-lead/alice2"),
            now(),
        )
        .await
        .unwrap();
        assert_eq!(out["state"], "rejected", "{out}");
        assert_eq!(state(&s), "rejected");
    }

    #[tokio::test]
    async fn attack_the_requesting_account_approving_its_own_request_is_rejected() {
        // Another role of the requesting account, even one on the allow-list.
        let s = store();
        let out = task(
            &s,
            &s,
            &settings(),
            &apply_by("arn:aws:sts::210000000000:assumed-role/analyst-lead/dave"),
            now(),
        )
        .await
        .unwrap();
        assert_eq!(out["state"], "rejected", "{out}");
        assert!(
            out["reason"]
                .as_str()
                .unwrap()
                .contains("requesting account 210000000000")
        );
    }

    #[tokio::test]
    async fn attack_the_same_person_behind_two_roles_is_rejected() {
        // The approver session's source identity (or session name) is the requester's session.
        let s = store();
        let mut ev = apply_by("arn:aws:sts::111111111111:assumed-role/data-owner/ops-session");
        ev["request"]["decision"]["approver_source_identity"] = json!("Alice");
        let out = task(&s, &s, &settings(), &ev, now()).await.unwrap();
        assert_eq!(out["state"], "rejected", "{out}");
        assert!(out["reason"].as_str().unwrap().contains("same person"));
        let s = store();
        let ev = apply_by("arn:aws:sts::111111111111:assumed-role/data-owner/alice");
        assert_eq!(
            task(&s, &s, &settings(), &ev, now()).await.unwrap()["state"],
            "rejected"
        );
    }

    #[tokio::test]
    async fn attack_forged_approval_naming_a_non_approver_is_rejected() {
        // SendTaskSuccess called directly with any approver: the task re-checks the allow-list.
        for approver in [
            "arn:aws:sts::111111111111:assumed-role/data-owner2/bob",
            "arn:aws:iam::111111111111:root",
            "workflow",
        ] {
            let s = store();
            let out = task(&s, &s, &settings(), &apply_by(approver), now())
                .await
                .unwrap();
            assert_eq!(out["state"], "rejected", "{approver}: {out}");
        }
        let s = store();
        let mut ev = apply_by(BOB);
        ev["request"].as_object_mut().unwrap().remove("decision");
        assert_eq!(
            task(&s, &s, &settings(), &ev, now()).await.unwrap()["state"],
            "rejected"
        );
    }

    #[tokio::test]
    async fn attack_expiry_beyond_max_grant_days_is_rejected_when_applied() {
        // Stored with a far expiry (a looser cap at request time, or an edited item).
        let s = store_with("finance/", ALICE, "9999-12-31T00:00:00Z");
        let out = task(&s, &s, &settings(), &apply_by(BOB), now())
            .await
            .unwrap();
        assert_eq!(out["state"], "rejected", "{out}");
        assert!(
            out["reason"]
                .as_str()
                .unwrap()
                .contains("max_grant_days (365)"),
            "{out}"
        );
        let tight = Settings::from_values(
            Some(r#"["arn:aws:iam::111111111111:role/data-owner"]"#),
            Some("30"),
            SM,
        )
        .unwrap();
        let s = store();
        assert_eq!(
            task(&s, &s, &tight, &apply_by(BOB), now()).await.unwrap()["state"],
            "rejected"
        );
    }

    #[test]
    fn settings_name_the_variable_and_the_rule() {
        for (days, ok) in [
            ("0", false),
            ("3651", false),
            ("x", false),
            ("1", true),
            ("3650", true),
        ] {
            assert_eq!(
                Settings::from_values(None, Some(days), SM).is_ok(),
                ok,
                "{days}"
            );
        }
        let e = Settings::from_values(None, Some("0"), SM)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("MAX_GRANT_DAYS: must be"), "{e}");
        assert!(Settings::from_values(None, None, "arn:aws:lambda:x").is_err());
        assert_eq!(
            Settings::from_values(None, None, SM)
                .unwrap()
                .max_grant_days,
            365
        );
    }

    fn api(user_arn: Option<&str>, body: &str) -> Value {
        let mut identity = json!({});
        if let Some(u) = user_arn {
            identity["userArn"] = json!(u);
            identity["accountId"] = json!(u.split(':').nth(4).unwrap());
        }
        json!({"requestContext": {"identity": identity}, "body": body})
    }

    #[tokio::test]
    async fn approver_decisions_go_back_to_the_workflow_with_the_verified_approver() {
        let f = FakeWorkflow::default();
        let s = settings();
        let ok = decide(
            &f,
            &s,
            &api(
                Some(BOB),
                r#"{"task_token":"t1","decision":"approve","comment":"ok"}"#,
            ),
        )
        .await;
        assert_eq!(ok["statusCode"], 200, "{ok}");
        let no = decide(
            &f,
            &s,
            &api(
                Some(BOB),
                r#"{"task_token":"t2","decision":"reject","comment":"no"}"#,
            ),
        )
        .await;
        assert_eq!(no["statusCode"], 200);
        assert_eq!(
            decide(
                &f,
                &s,
                &api(Some(BOB), r#"{"task_token":"t3","decision":"maybe"}"#)
            )
            .await["statusCode"],
            400
        );
        assert_eq!(
            decide(&f, &s, &api(Some(BOB), r#"{"decision":"approve"}"#)).await["statusCode"],
            400
        );
        let answers = f.answers.lock().unwrap();
        let out: Value = serde_json::from_str(answers[0].1.as_ref().unwrap()).unwrap();
        assert_eq!(out["approver"], BOB);
        assert_eq!(answers[1].1.as_ref().unwrap_err().0, "Rejected");
    }

    #[tokio::test]
    async fn attack_approver_named_in_the_body_is_refused() {
        let f = FakeWorkflow::default();
        let r = decide(&f, &settings(), &api(Some(BOB),
            r#"{"task_token":"t","decision":"approve","approver":"arn:aws:sts::111111111111:assumed-role/data-owner/someone-else"}"#)).await;
        assert_eq!(r["statusCode"], 400, "{r}");
        assert!(
            r["body"]
                .as_str()
                .unwrap()
                .contains("approver: not accepted")
        );
        assert!(f.answers.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn attack_token_holder_who_is_not_an_approver_is_refused() {
        let f = FakeWorkflow::default();
        let body = r#"{"task_token":"leaked","decision":"approve"}"#;
        for caller in [
            // The requester, holding a leaked token.
            Some(ALICE),
            // A look-alike role name, another account's data-owner, the root user.
            Some("arn:aws:sts::111111111111:assumed-role/data-owner2/bob"),
            Some("arn:aws:sts::999999999999:assumed-role/data-owner/bob"),
            Some("arn:aws:iam::111111111111:root"),
            // No verified identity at all (a direct invoke shaped like API Gateway's event).
            None,
        ] {
            let r = decide(&f, &settings(), &api(caller, body)).await;
            assert_eq!(r["statusCode"], 403, "{caller:?}: {r}");
        }
        let none = Settings::from_values(None, None, SM).unwrap();
        assert_eq!(
            decide(&f, &none, &api(Some(BOB), body)).await["statusCode"],
            403
        );
        assert!(f.answers.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn attack_replayed_task_token_is_refused() {
        let f = FakeWorkflow::default();
        let body = r#"{"task_token":"t","decision":"approve"}"#;
        assert_eq!(
            decide(&f, &settings(), &api(Some(BOB), body)).await["statusCode"],
            200
        );
        assert_eq!(
            decide(&f, &settings(), &api(Some(BOB), body)).await["statusCode"],
            409
        );
    }
}
