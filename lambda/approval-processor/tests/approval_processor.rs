//! approval-processor on the local emulator: a request, the approver's decision answered to the
//! waiting workflow (SendTaskSuccess/Failure), and the workflow's task settling the registry —
//! plus the attacks on that path that the emulator can play: a replayed token, forged task
//! events, a task from another execution.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use approval_processor::{DynamoPendingRequests, Settings, decide, task};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use warden_aws::local::{
    Environment, EventSourceMapping, await_execution, emulator_from_env, unique,
};
use warden_aws::{DynamoGrantStore, SfnWorkflow};
use warden_core::ports::GrantStore;

const APPROVER: &str = "arn:aws:sts::111111111111:assumed-role/owner/bob";

struct Run {
    store: DynamoGrantStore,
    pending: DynamoPendingRequests,
    settings: Settings,
    /// The task payload the workflow's Lambda task hands to approval-processor.
    payload: Value,
    mail: String,
}

async fn request_and_decide(decision: &str, account: &str) -> Run {
    let cfg = emulator_from_env().await.unwrap();
    let grants = format!(
        r#"{{"consumer_accounts":[{{"account_id":"{account}","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}}]}}"#
    );
    let env = Environment::create(&cfg, &unique("apr"), &grants, Utc::now())
        .await
        .unwrap();
    let store = DynamoGrantStore::new(&cfg, &env.registry_table);
    let pending = DynamoPendingRequests::new(&cfg, &env.registry_table);
    let flow = SfnWorkflow::new(&cfg, &env.state_machine_arn);
    let settings = Settings::from_values(
        Some(r#"["arn:aws:iam::111111111111:role/owner"]"#),
        None,
        &env.state_machine_arn,
    )
    .unwrap();
    let rid = unique("r");
    let until =
        (Utc::now() + Duration::days(90)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let event = json!({"requestContext": {"requestId": rid, "identity": {"accountId": account,
        "userArn": format!("arn:aws:sts::{account}:assumed-role/analyst/alice")}},
        "body": json!({"prefixes": ["ml/"], "access_level": "read", "expiration_date": until,
            "justification": "model training on the ml exports"}).to_string()});
    let r = access_request::handle(
        &store,
        &flow,
        &access_request::Settings::default(),
        &event,
        Utc::now(),
    )
    .await;
    assert_eq!(r["statusCode"], 202, "{r}");
    let inbox = EventSourceMapping::new(&cfg, &env.approver_inbox_url)
        .await
        .unwrap();
    // The workflow's first task publishes the approvers' mail; on a loaded machine the emulator
    // takes a while to run it.
    let mut mail = inbox.receive(10).await.unwrap();
    for _ in 0..40 {
        if !mail.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        mail = inbox.receive(10).await.unwrap();
    }
    let body: Value =
        serde_json::from_str(mail.event["Records"][0]["body"].as_str().unwrap()).unwrap();
    let message = body["Message"].as_str().unwrap().to_owned();
    let token = message.rsplit("task token: ").next().unwrap().to_owned();
    // The requester holding the token is no approver.
    let own = json!({"requestContext": {"identity": {"userArn": format!("arn:aws:sts::{account}:assumed-role/analyst/alice2")}},
        "body": json!({"task_token": token, "decision": "approve"}).to_string()});
    assert_eq!(decide(&flow, &settings, &own).await["statusCode"], 403);
    let approver = json!({"requestContext": {"identity": {"userArn": APPROVER}},
        "body": json!({"task_token": token, "decision": decision, "comment": "test"}).to_string()});
    assert_eq!(decide(&flow, &settings, &approver).await["statusCode"], 200);
    let execution = settings.execution_arn(&format!("request-{rid}"));
    let (status, output) = await_execution(&cfg, &execution, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(status, "SUCCEEDED");
    // A second answer to the same token, once the workflow has moved on, is refused. (Checked
    // after the execution ends: moto settles a token asynchronously, so a replay sent right away
    // can race its first answer under load. moto accepts a second SendTaskFailure, so this is
    // checked on approvals only.)
    if decision == "approve" {
        assert_eq!(decide(&flow, &settings, &approver).await["statusCode"], 409);
    }
    let payload: Value = serde_json::from_str(&output.unwrap()).unwrap();
    assert_eq!(payload["execution"], execution, "{payload}");
    Run {
        store,
        pending,
        settings,
        payload,
        mail: message,
    }
}

#[tokio::test]
async fn approval_activates_the_requested_grant() {
    if emulator_from_env().await.is_none() {
        return;
    }
    let run = request_and_decide("approve", "380000000001").await;
    assert!(
        run.mail
            .contains("from account 380000000001 for ml/ (read) until "),
        "{}",
        run.mail
    );
    assert!(
        run.mail
            .contains("Justification: model training on the ml exports."),
        "{}",
        run.mail
    );
    let out = task(
        &run.store,
        &run.pending,
        &run.settings,
        &run.payload,
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(out["state"], "active", "{out}");
    let reg = run.store.load_registry(Utc::now()).await.unwrap();
    assert!(reg.allows("380000000001", "ml/x", false, Utc::now()));
}

#[tokio::test]
async fn rejection_leaves_the_registry_unchanged() {
    if emulator_from_env().await.is_none() {
        return;
    }
    let run = request_and_decide("reject", "380000000002").await;
    let out = task(
        &run.store,
        &run.pending,
        &run.settings,
        &run.payload,
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(out["state"], "rejected", "{out}");
    let reg = run.store.load_registry(Utc::now()).await.unwrap();
    assert!(!reg.allows("380000000002", "ml/x", false, Utc::now()));
}

async fn apply(run: &Run, payload: &Value) -> Result<Value, warden_core::ports::PortError> {
    task(&run.store, &run.pending, &run.settings, payload, Utc::now()).await
}

#[tokio::test]
async fn attack_forged_task_events_on_the_registry_table_are_refused_or_ignored() {
    if emulator_from_env().await.is_none() {
        return;
    }
    let run = request_and_decide("approve", "380000000003").await;
    let now = Utc::now();
    // A direct invoke: no execution context.
    let mut direct = run.payload.clone();
    direct.as_object_mut().unwrap().remove("execution");
    assert_eq!(apply(&run, &direct).await.unwrap()["state"], "refused");
    // Another execution's task for this request.
    let mut other = run.payload.clone();
    other["execution"] = json!(format!(
        "{}-other",
        run.payload["execution"].as_str().unwrap()
    ));
    assert_eq!(apply(&run, &other).await.unwrap()["state"], "refused");
    // The genuine execution, with forged prefixes, level, expiry and requester: the stored
    // request is what gets applied.
    let mut forged = run.payload.clone();
    forged["request"]["prefix_list"] = json!(["sales/", "finance/"]);
    forged["request"]["access_level"] = json!("read-write");
    forged["request"]["expiration_date"] = json!("9999-12-31T00:00:00Z");
    forged["request"]["requester"] = json!("arn:aws:sts::999999999999:assumed-role/x/y");
    let out = apply(&run, &forged).await.unwrap();
    assert_eq!(out["state"], "active", "{out}");
    assert_eq!(out["allowed_prefixes"], json!(["ml/"]));
    let reg = run.store.load_registry(now).await.unwrap();
    assert!(reg.allows("380000000003", "ml/x", false, now));
    assert!(!reg.allows("380000000003", "ml/x", true, now));
    assert!(!reg.allows("380000000003", "finance/x", false, now));
    // Replayed once the request is settled: refused.
    assert_eq!(apply(&run, &run.payload).await.unwrap()["state"], "refused");
}

/// The overlap check's conditional write on the emulator: an activation made on a snapshot is
/// refused when another item of the account changed or a declared grant appeared since.
#[tokio::test]
async fn race_activation_is_refused_when_the_account_changed_since_the_check() {
    use warden_core::grant::{Grant, GrantInput};
    use warden_core::ports::{Activation, RequestStore};
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let table = unique("reg");
    warden_aws::bootstrap::create_registry_table(&cfg, &table)
        .await
        .unwrap();
    let store = DynamoGrantStore::new(&cfg, &table);
    let now = Utc::now();
    let grant = |prefix: &str| {
        Grant::from_input(
            &GrantInput {
                account_id: "360000000009".into(),
                name: None,
                allowed_prefixes: vec![prefix.into()],
                access_level: "read".into(),
                expiration_date: "2030-01-01T00:00:00Z".into(),
                owner_email: None,
                external_id: None,
                created_by: Some("alice".into()),
                created_at: None,
            },
            now,
        )
        .unwrap()
    };
    store
        .put_pending("request-a", &grant("ml/"), "a")
        .await
        .unwrap();
    store
        .put_pending("request-b", &grant("ml/2026/"), "b")
        .await
        .unwrap();
    // Both approvals check on the same snapshot: neither sees the other active.
    let (active, snap_a) = store.account_snapshot("360000000009", now).await.unwrap();
    assert!(active.is_empty());
    let (_, snap_b) = store.account_snapshot("360000000009", now).await.unwrap();
    assert_eq!(
        store
            .activate("360000000009", "request-b", "bob", &snap_b)
            .await
            .unwrap(),
        Activation::Activated
    );
    // A's check no longer holds (B became active): refused, nothing changed.
    assert_eq!(
        store
            .activate("360000000009", "request-a", "bob", &snap_a)
            .await
            .unwrap(),
        Activation::Changed
    );
    let (active, snap) = store.account_snapshot("360000000009", now).await.unwrap();
    assert_eq!(active.len(), 1, "only B is active");
    // A declared grant written by Terraform after the snapshot is seen too.
    store
        .put_grant(&grant("finance/"), "declared")
        .await
        .unwrap();
    assert_eq!(
        store
            .activate("360000000009", "request-a", "bob", &snap)
            .await
            .unwrap(),
        Activation::Changed
    );
    // Decided elsewhere meanwhile: not pending.
    let (_, snap) = store.account_snapshot("360000000009", now).await.unwrap();
    assert!(
        store
            .settle("360000000009", "request-a", "rejected", "carol")
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .activate("360000000009", "request-a", "bob", &snap)
            .await
            .unwrap(),
        Activation::NotPending
    );
}

/// The OpenAPI document's examples of `POST /approvals`, replayed through the handler: each valid
/// one reaches the workflow, each invalid one is refused with 400 naming its field (whether or not
/// API Gateway's validation would have stopped it first: the function never relies on it).
#[tokio::test]
async fn contract_openapi_examples_of_post_approvals() {
    use warden_testkit::openapi;
    let doc = openapi::document().unwrap();
    let examples = openapi::examples(&doc, "/approvals").unwrap();
    let settings = Settings::from_values(
        Some(r#"["arn:aws:iam::111111111111:role/owner"]"#),
        Some("365"),
        "arn:aws:states:us-east-1:111111111111:stateMachine:warden-prod-access-approval",
    )
    .unwrap();
    for ex in &examples {
        let workflow = warden_testkit::FakeWorkflow::default();
        let event = json!({"requestContext": {"requestId": "contract-1", "identity": {
            "accountId": "111111111111", "userArn": APPROVER}}, "body": ex.value.to_string()});
        let r = decide(&workflow, &settings, &event).await;
        let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        let status = r["statusCode"].as_u64().unwrap();
        let off = openapi::response_errors(&doc, "/approvals", status, &body);
        assert!(
            off.is_empty(),
            "{}: the response is not as documented: {off:?}",
            ex.name
        );
        match &ex.refused_field {
            None => {
                assert_eq!(r["statusCode"], 200, "{}: {r}", ex.name);
                assert_eq!(workflow.answers.lock().unwrap().len(), 1, "{}", ex.name);
            }
            Some(field) => {
                assert_eq!(r["statusCode"], 400, "{}: {r}", ex.name);
                let error = body["error"].as_str().unwrap();
                assert!(
                    openapi::names_field(error, field),
                    "{}: the error must name {field}: {error}",
                    ex.name
                );
                assert!(workflow.answers.lock().unwrap().is_empty(), "{}", ex.name);
            }
        }
    }
}
