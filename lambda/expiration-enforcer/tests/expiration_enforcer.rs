//! expiration-enforcer on the local emulator: the by-expiry index, conditional revocation and the
//! revocation record in the access-log table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::Utc;
use expiration_enforcer::enforce;
use warden_aws::local::{Environment, emulator_from_env, unique};
use warden_aws::{DynamoAuditStore, DynamoGrantStore, SnsNotifier};
use warden_core::ports::GrantStore;

#[tokio::test]
async fn revokes_each_expired_grant_once() {
    let Some(cfg) = emulator_from_env().await else {
        return;
    };
    let past = (Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let grants = format!(
        r#"{{"consumer_accounts":[
 {{"account_id":"320000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}},
 {{"account_id":"320000000002","allowed_prefixes":["ml/"],"access_level":"read","expiration_date":"{past}"}}]}}"#
    );
    let env = Environment::create(&cfg, &unique("exp"), &grants, Utc::now())
        .await
        .unwrap();
    let store = DynamoGrantStore::new(&cfg, &env.registry_table);
    let audit = DynamoAuditStore::new(&cfg, &env.audit_table);
    let owners = SnsNotifier::new(&cfg, &env.owner_topic);
    let r = enforce(&store, &audit, &owners, 365, Utc::now())
        .await
        .unwrap();
    assert_eq!(r.expired, 1);
    assert_eq!(r.revoked, vec!["320000000002/declared".to_owned()]);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let again = enforce(&store, &audit, &owners, 365, Utc::now())
        .await
        .unwrap();
    assert_eq!((again.expired, again.revoked.len()), (0, 0));
    let left = store.load_registry(Utc::now()).await.unwrap();
    assert!(!left.allows("320000000002", "ml/x", false, Utc::now()));
    assert!(left.allows("320000000001", "sales/x", false, Utc::now()));
}
