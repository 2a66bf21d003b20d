//! approval-processor on the local emulator: a request, the approver's decision answered to the
//! waiting workflow (SendTaskSuccess/Failure), and the workflow's task settling the registry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use approval_processor::{decide, task};
use chrono::Utc;
use serde_json::{Value, json};
use warden_aws::local::{
    Environment, EventSourceMapping, await_execution, emulator_from_env, unique,
};
use warden_aws::{DynamoGrantStore, SfnWorkflow};
use warden_core::ports::GrantStore;

async fn request_and_decide(decision: &str, account: &str) -> (Value, DynamoGrantStore) {
    let cfg = emulator_from_env().await.unwrap();
    let grants = format!(
        r#"{{"consumer_accounts":[{{"account_id":"{account}","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}}]}}"#
    );
    let env = Environment::create(&cfg, &unique("apr"), &grants, Utc::now())
        .await
        .unwrap();
    let store = DynamoGrantStore::new(&cfg, &env.registry_table);
    let flow = SfnWorkflow::new(&cfg, &env.state_machine_arn);
    let rid = unique("r");
    let event = json!({"requestContext": {"requestId": rid, "identity": {"accountId": account,
        "userArn": format!("arn:aws:sts::{account}:assumed-role/analyst/alice")}},
        "body": json!({"prefixes": ["ml/"], "access_level": "read", "expiration_date": "2029-01-01T00:00:00Z",
            "justification": "model training on the ml exports"}).to_string()});
    let r = access_request_handle(&store, &flow, &event).await;
    assert_eq!(r["statusCode"], 202, "{r}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let inbox = EventSourceMapping::new(&cfg, &env.approver_inbox_url)
        .await
        .unwrap();
    let mail = inbox.receive(10).await.unwrap();
    let body: Value =
        serde_json::from_str(mail.event["Records"][0]["body"].as_str().unwrap()).unwrap();
    let token = body["Message"]
        .as_str()
        .unwrap()
        .rsplit("task token: ")
        .next()
        .unwrap()
        .to_owned();
    let approver = json!({"requestContext": {"identity": {"userArn": "arn:aws:sts::111111111111:assumed-role/owner/bob"}},
        "body": json!({"task_token": token, "decision": decision, "comment": "test"}).to_string()});
    assert_eq!(decide(&flow, &approver).await["statusCode"], 200);
    // A second answer to the same token: the workflow is no longer waiting. (moto accepts a
    // second SendTaskFailure, so this is checked on approvals only.)
    if decision == "approve" {
        assert_eq!(decide(&flow, &approver).await["statusCode"], 409);
    }
    let execution = format!(
        "{}:request-{rid}",
        env.state_machine_arn
            .replace(":stateMachine:", ":execution:")
    );
    let (status, output) = await_execution(&cfg, &execution, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(status, "SUCCEEDED");
    // What the workflow's Lambda task hands to approval-processor.
    let payload: Value = serde_json::from_str(&output.unwrap()).unwrap();
    (task(&store, &payload, Utc::now()).await.unwrap(), store)
}

async fn access_request_handle(
    store: &DynamoGrantStore,
    flow: &SfnWorkflow,
    event: &Value,
) -> Value {
    // The same code path the access-request function runs.
    access_request::handle(store, flow, event, Utc::now()).await
}

#[tokio::test]
async fn approval_activates_the_requested_grant() {
    if emulator_from_env().await.is_none() {
        return;
    }
    let (out, store) = request_and_decide("approve", "380000000001").await;
    assert_eq!(out["state"], "active", "{out}");
    let reg = store.load_registry(Utc::now()).await.unwrap();
    assert!(reg.allows("380000000001", "ml/x", false, Utc::now()));
}

#[tokio::test]
async fn rejection_leaves_the_registry_unchanged() {
    if emulator_from_env().await.is_none() {
        return;
    }
    let (out, store) = request_and_decide("reject", "380000000002").await;
    assert_eq!(out["state"], "rejected", "{out}");
    let reg = store.load_registry(Utc::now()).await.unwrap();
    assert!(!reg.allows("380000000002", "ml/x", false, Utc::now()));
}
