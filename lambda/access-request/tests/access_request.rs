//! access-request on the local emulator: the pending request in the registry table and the approval
//! workflow started on Step Functions, which notifies the approvers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use access_request::{Settings, handle};
use chrono::{Duration, Utc};
use serde_json::json;
use warden_aws::local::{Environment, EventSourceMapping, emulator_from_env, unique};
use warden_aws::{DynamoGrantStore, SfnWorkflow};

#[tokio::test]
async fn records_the_request_and_notifies_the_approvers() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let grants = r#"{"consumer_accounts":[
 {"account_id":"370000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#;
    let env = Environment::create(&cfg, &unique("req"), grants, Utc::now())
        .await
        .unwrap();
    let store = DynamoGrantStore::new(&cfg, &env.registry_table);
    let flow = SfnWorkflow::new(&cfg, &env.state_machine_arn);
    let until =
        (Utc::now() + Duration::days(90)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let event = json!({"requestContext": {"requestId": unique("r"), "identity": {"accountId": "370000000001",
        "userArn": "arn:aws:sts::370000000001:assumed-role/analyst/alice"}},
        "body": json!({"prefixes": ["ml/"], "access_level": "read", "expiration_date": until,
            "justification": "model training on the ml exports"}).to_string()});
    let r = handle(&store, &flow, &Settings::default(), &event, Utc::now()).await;
    assert_eq!(r["statusCode"], 202, "{r}");
    let inbox = EventSourceMapping::new(&cfg, &env.approver_inbox_url)
        .await
        .unwrap();
    // The workflow's first task publishes the mail; a loaded emulator takes a while to run it.
    let mut batch = inbox.receive(10).await.unwrap();
    for _ in 0..40 {
        if !batch.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        batch = inbox.receive(10).await.unwrap();
    }
    let mail = batch.event.to_string();
    assert!(
        mail.contains("from account 370000000001 for ml/ (read)"),
        "{mail}"
    );
    // Approvers see what they approve: the expiry, who asks and why.
    assert!(mail.contains(&format!("until {until}")), "{mail}");
    assert!(
        mail.contains("requested by arn:aws:sts::370000000001:assumed-role/analyst/alice"),
        "{mail}"
    );
    assert!(
        mail.contains("Justification: model training on the ml exports"),
        "{mail}"
    );
    assert!(mail.contains("task token"), "{mail}");
}

/// The OpenAPI document's examples of `POST /requests`, replayed through the handler: each valid
/// one is recorded as pending and starts the workflow, each invalid one is refused with 400 naming
/// its field and records nothing.
#[tokio::test]
async fn contract_openapi_examples_of_post_requests() {
    use warden_core::grant::{Registry, Timestamp};
    use warden_testkit::{FakeRequests, FakeWorkflow, openapi};
    // The examples' expiries are written against this date (and max_grant_days = 365).
    let now = Timestamp::parse("2026-12-01T00:00:00Z").unwrap().0;
    let doc = openapi::document().unwrap();
    for ex in openapi::examples(&doc, "/requests").unwrap() {
        let reg = Registry::from_json(r#"{"consumer_accounts":[]}"#, now).unwrap();
        let (store, workflow) = (FakeRequests::new(reg), FakeWorkflow::default());
        let event = serde_json::json!({"requestContext": {"requestId": "contract-1", "identity": {
            "accountId": "210000000000", "userArn": "arn:aws:sts::210000000000:assumed-role/analyst/alice"}},
            "body": ex.value.to_string()});
        let r = access_request::handle(
            &store,
            &workflow,
            &access_request::Settings::default(),
            &event,
            now,
        )
        .await;
        let body: serde_json::Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        let status = r["statusCode"].as_u64().unwrap();
        let off = openapi::response_errors(&doc, "/requests", status, &body);
        assert!(
            off.is_empty(),
            "{}: the response is not as documented: {off:?}",
            ex.name
        );
        match &ex.refused_field {
            None => {
                assert_eq!(r["statusCode"], 202, "{}: {r}", ex.name);
                assert_eq!(workflow.started.lock().unwrap().len(), 1, "{}", ex.name);
            }
            Some(field) => {
                assert_eq!(r["statusCode"], 400, "{}: {r}", ex.name);
                let error = body["error"].as_str().unwrap();
                assert!(
                    openapi::names_field(error, field),
                    "{}: the error must name {field}: {error}",
                    ex.name
                );
                assert!(workflow.started.lock().unwrap().is_empty(), "{}", ex.name);
            }
        }
    }
}
