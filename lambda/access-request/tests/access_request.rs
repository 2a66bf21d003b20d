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
