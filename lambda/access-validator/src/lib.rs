//! access-validator: the extra authorization layer of spec 000, as credential vending.
//!
//! Served behind the Warden API (`POST /credentials`, IAM auth): API Gateway has verified the
//! caller's SigV4 signature, so `requestContext.identity.accountId` is trustworthy. A direct
//! invocation carries no verified identity and is refused — otherwise any consumer could name
//! another account in the body. The registry decides (warden-core `vend`); on allow, STS assumes
//! the consumer role with a session policy cut down to the requested prefix and level, session
//! tags and a source identity for attribution and at most one hour. Every decision, allow or
//! deny, is written to the access log, and so is an allowed decision whose AssumeRole then failed.
//!
//! A principal allowed `lambda:InvokeFunction` could hand the function an API-Gateway-shaped event
//! naming any account: nothing in an event proves API Gateway sent it. What stops that is IAM —
//! the function's resource policy admits only the API (`source_arn`), and the README's
//! permissions-boundary/SCP example denies direct invokes — and the audit trail cannot be
//! rewritten by it: each record's key carries the Lambda invocation ID, which the caller cannot
//! choose, so a replayed or forged `requestId` adds a record and never overwrites one.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use warden_core::cloudtrail::normalise::{Attr, PK, TTL_ATTRIBUTE};
use warden_core::policy::access_point::Tiering;
use warden_core::policy::render::RenderSettings;
use warden_core::ports::{AuditStore, CredentialVendor, GrantStore, WriteOutcome};
use warden_core::vend::{self, VendRequest, Verdict};

/// Settings read once at start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bucket, key, consumer role name… for the session policy.
    pub render: RenderSettings,
    /// Longest session (≤ 3600).
    pub max_session_seconds: u32,
    /// TTL of audit records.
    pub retention_days: u32,
    /// External ID per consumer account (from the consumer-roles parameter).
    pub external_ids: HashMap<String, String>,
    /// Which consumers are on the access-point tier (as the policy-reconciler places them).
    pub tiering: Tiering,
}

fn response(status: u16, body: Value) -> Value {
    json!({"statusCode": status, "headers": {"content-type": "application/json"}, "body": body.to_string()})
}

/// Who asked, as API Gateway verified it, and which invocation answered.
#[derive(Debug, Clone)]
struct Origin {
    /// API Gateway's request ID (`requestContext.requestId`), or `direct`.
    request_id: String,
    /// Lambda's ID of this invocation: unique, and not chosen by whoever sent the event.
    invocation_id: String,
    /// Verified caller account.
    account: String,
    /// Verified caller ARN (for an assumed role, the session ARN: role and session name).
    caller: String,
    /// Verified principal ID (`AROA…:session`).
    principal_id: String,
}

/// The audit key of a decision (`suffix` distinguishes the outcome record of the same request).
fn audit_key(o: &Origin, suffix: &str) -> String {
    format!("warden-vend:{}:{}{suffix}", o.request_id, o.invocation_id)
}

#[allow(clippy::too_many_arguments)]
fn audit_item(
    origin: &Origin,
    suffix: &str,
    prefix: &str,
    allowed: bool,
    reason: Option<&str>,
    source_identity: Option<&str>,
    now: DateTime<Utc>,
    retention_days: u32,
) -> BTreeMap<String, Attr> {
    let s = |v: &str| Attr::S(v.to_owned());
    let or_unknown = |v: &str| {
        if v.is_empty() {
            "unknown".to_owned()
        } else {
            v.to_owned()
        }
    };
    let account = origin.account.as_str();
    let caller = origin.caller.as_str();
    let mut m = BTreeMap::from([
        (PK.to_owned(), s(&audit_key(origin, suffix))),
        ("request_id".to_owned(), s(&origin.request_id)),
        (
            "invocation_id".to_owned(),
            s(&or_unknown(&origin.invocation_id)),
        ),
        (
            "principal_id".to_owned(),
            s(&or_unknown(&origin.principal_id)),
        ),
        (
            "timestamp".to_owned(),
            s(&now.to_rfc3339_opts(SecondsFormat::Millis, true)),
        ),
        ("account_id".to_owned(), s(&or_unknown(account))),
        ("principal_arn".to_owned(), s(&or_unknown(caller))),
        ("action".to_owned(), s("warden:VendCredentials")),
        ("event_source".to_owned(), s("warden")),
        ("event_name".to_owned(), s("VendCredentials")),
        ("bytes_transferred".to_owned(), Attr::N("0".into())),
        ("source_ip".to_owned(), s("warden-api")),
        ("success_status".to_owned(), Attr::Bool(allowed)),
        ("identity_type".to_owned(), s("WardenService")),
        (
            TTL_ATTRIBUTE.to_owned(),
            Attr::N((now.timestamp() + i64::from(retention_days) * 86_400).to_string()),
        ),
    ]);
    if !prefix.is_empty() {
        m.insert("object_key".to_owned(), s(prefix));
    }
    if let Some(r) = reason {
        m.insert("error_code".to_owned(), s(r));
    }
    if let Some(si) = source_identity {
        m.insert("source_identity".to_owned(), s(si));
    }
    m
}

/// Handle one API Gateway (REST, proxy) request; `invocation_id` is Lambda's ID of this
/// invocation (`context.request_id`).
pub async fn handle<G: GrantStore, A: AuditStore, V: CredentialVendor>(
    grants: &G,
    audit: &A,
    sts: &V,
    settings: &Settings,
    event: &Value,
    invocation_id: &str,
    now: DateTime<Utc>,
) -> Value {
    let ctx = &event["requestContext"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let origin = Origin {
        request_id: ctx["requestId"].as_str().unwrap_or("direct").to_owned(),
        invocation_id: invocation_id.to_owned(),
        account: text(&ctx["identity"]["accountId"]),
        caller: text(&ctx["identity"]["userArn"]),
        principal_id: text(&ctx["identity"]["caller"]),
    };
    let account = origin.account.clone();
    let request_id = origin.request_id.clone();
    let record = |allowed: bool, prefix: &str, reason: Option<&str>| {
        audit_item(
            &origin,
            "",
            prefix,
            allowed,
            reason,
            None,
            now,
            settings.retention_days,
        )
    };
    if account.is_empty() {
        let why =
            "no verified caller identity: call POST /credentials on the Warden API with SigV4";
        let _ = audit
            .write_records(vec![record(false, "", Some(why))])
            .await;
        return response(403, json!({"error": why}));
    }
    let body = event["body"].as_str().unwrap_or("{}");
    let req: VendRequest =
        match warden_core::body::parse(body, "{prefix, access_level, duration_seconds}") {
            Ok(r) => r,
            Err(e) => {
                let why = e.to_string();
                let _ = audit
                    .write_records(vec![record(false, "", Some(&why))])
                    .await;
                return response(400, json!({"error": why}));
            }
        };
    let registry = match grants.load_registry(now).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "registry unavailable");
            return response(503, json!({"error": "registry unavailable, retry"}));
        }
    };
    let verdict = match vend::decide(
        &registry,
        &settings.render,
        &settings.tiering,
        &account,
        &req,
        settings.max_session_seconds,
        now,
    ) {
        Ok(v) => v,
        Err(why) => {
            let _ = audit
                .write_records(vec![record(false, &req.prefix, Some(&why))])
                .await;
            return response(400, json!({"error": why}));
        }
    };
    match verdict {
        Verdict::Deny(why) => {
            // A refusal hands nothing out, so it is returned even when it cannot be recorded.
            if let Err(e) = audit
                .write_records(vec![record(false, &req.prefix, Some(&why))])
                .await
                .and_then(WriteOutcome::require_all)
            {
                tracing::error!(error = %e, "refusal could not be audited");
            }
            response(403, json!({"error": why}))
        }
        Verdict::Allow {
            role_arn,
            session_policy,
            duration_seconds,
            tags,
            granted_prefix,
            level,
            access_point,
        } => {
            let source_identity = vend::source_identity(&request_id);
            // Audit before vending: a decision is never handed out unrecorded.
            let audited = audit
                .write_records(vec![audit_item(
                    &origin,
                    "",
                    &req.prefix,
                    true,
                    None,
                    Some(&source_identity),
                    now,
                    settings.retention_days,
                )])
                .await
                .and_then(WriteOutcome::require_all);
            if let Err(e) = audited {
                tracing::error!(error = %e, "decision could not be audited; refusing");
                return response(503, json!({"error": "audit log unavailable, retry"}));
            }
            let session = format!(
                "warden-{}",
                &request_id
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(40)
                    .collect::<String>()
            );
            match sts
                .assume(
                    &role_arn,
                    &session,
                    settings.external_ids.get(&account).map(String::as_str),
                    &session_policy,
                    duration_seconds,
                    &tags,
                    &source_identity,
                )
                .await
            {
                Ok(creds) => {
                    // What to pass as the bucket: the access point's ARN on that tier (the
                    // bucket policy does not name this consumer), else the bucket's name.
                    let bucket = access_point
                        .as_ref()
                        .map_or_else(|| settings.render.bucket.clone(), |a| a.arn.clone());
                    response(
                        200,
                        json!({"credentials": creds, "prefix": req.prefix, "granted_prefix": granted_prefix,
                               "access_level": level.as_str(), "role_arn": role_arn,
                               "bucket": bucket, "access_point": access_point,
                               "example": format!("aws s3 ls s3://{bucket}/{}", req.prefix)}),
                    )
                }
                Err(e) => {
                    tracing::error!(error = %e, role = %role_arn, "AssumeRole failed");
                    // The decision record says "allowed"; this one says nothing was handed out.
                    let outcome = audit_item(
                        &origin,
                        ":outcome",
                        &req.prefix,
                        false,
                        Some(&format!("AssumeRole failed, no credentials vended: {e}")),
                        Some(&source_identity),
                        now,
                        settings.retention_days,
                    );
                    if let Err(w) = audit
                        .write_records(vec![outcome])
                        .await
                        .and_then(WriteOutcome::require_all)
                    {
                        tracing::error!(error = %w, "AssumeRole failure could not be audited");
                    }
                    response(
                        502,
                        json!({"error": format!("could not assume {role_arn}: check the consumer role exists and trusts the access-validator with the account's external ID")}),
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use warden_core::grant::{AccountId, Registry};
    use warden_core::ports::{Credentials, PortError, WriteOutcome};
    use warden_testkit::FakeGrants;

    #[derive(Default)]
    struct Audit(Mutex<Vec<BTreeMap<String, Attr>>>);
    impl AuditStore for Audit {
        async fn write_records(
            &self,
            items: Vec<BTreeMap<String, Attr>>,
        ) -> Result<WriteOutcome, PortError> {
            let n = items.len();
            self.0.lock().unwrap().extend(items);
            Ok(WriteOutcome {
                written: n,
                failed: vec![],
            })
        }
    }

    /// A table that leaves every item unprocessed (throttled past the retries).
    struct Throttled;
    impl AuditStore for Throttled {
        async fn write_records(
            &self,
            items: Vec<BTreeMap<String, Attr>>,
        ) -> Result<WriteOutcome, PortError> {
            Ok(WriteOutcome {
                written: 0,
                failed: items.iter().map(|_| "id".to_owned()).collect(),
            })
        }
    }

    #[tokio::test]
    async fn nothing_is_vended_when_the_decision_is_not_recorded() {
        let s = Sts::default();
        let r = handle(
            &grants(),
            &Throttled,
            &s,
            &settings(),
            &api(Some("210000000000"), r#"{"prefix":"analytics/2026/"}"#),
            "inv-1",
            Utc::now(),
        )
        .await;
        assert_eq!(r["statusCode"], 503, "{r}");
        assert!(
            s.0.lock().unwrap().is_empty(),
            "no AssumeRole without an audit record"
        );
    }

    /// `(role, external ID, session policy, duration)` of each AssumeRole.
    type Assumed = (String, Option<String>, String, u32);

    #[derive(Default)]
    struct Sts(Mutex<Vec<Assumed>>);
    impl CredentialVendor for Sts {
        async fn assume(
            &self,
            role: &str,
            _s: &str,
            ext: Option<&str>,
            policy: &str,
            d: u32,
            _t: &[(String, String)],
            _si: &str,
        ) -> Result<Credentials, PortError> {
            self.0
                .lock()
                .unwrap()
                .push((role.into(), ext.map(Into::into), policy.into(), d));
            Ok(Credentials {
                access_key_id: "ASIA".into(),
                secret_access_key: "s".into(),
                session_token: "t".into(),
                expiration: "2026-11-23T11:00:00Z".into(),
            })
        }
    }

    fn settings() -> Settings {
        Settings {
            render: RenderSettings {
                partition: "aws".into(),
                region: "us-east-1".into(),
                primary_account: AccountId::parse("111111111111").unwrap(),
                bucket: "shared".into(),
                kms_key_arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
                consumer_role_name: "warden-consumer".into(),
                require_mfa: false,
                vending_role_arn: None,
            },
            max_session_seconds: 3600,
            retention_days: 365,
            external_ids: HashMap::from([("210000000000".to_owned(), "ext-1".to_owned())]),
            tiering: Tiering::bucket_only(),
        }
    }

    fn grants() -> FakeGrants {
        FakeGrants::new(
            Registry::from_json(
                r#"{"consumer_accounts":[{"account_id":"210000000000","allowed_prefixes":["analytics/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#,
                Utc::now(),
            )
            .unwrap(),
        )
    }

    /// The OpenAPI document's examples of `POST /credentials`, replayed through the handler:
    /// each valid one vends, each invalid one is refused with 400 naming its field, vends nothing
    /// and is audited; every response is as the document describes it.
    #[tokio::test]
    async fn contract_openapi_examples_of_post_credentials() {
        use warden_testkit::openapi;
        let doc = openapi::document().unwrap();
        let registry = r#"{"consumer_accounts":[{"account_id":"210000000000","allowed_prefixes":["finance/"],"access_level":"read-write","expiration_date":"2030-01-01T00:00:00Z"}]}"#;
        for ex in openapi::examples(&doc, "/credentials").unwrap() {
            let grants = FakeGrants::new(Registry::from_json(registry, Utc::now()).unwrap());
            let (a, s) = (Audit::default(), Sts::default());
            let r = handle(
                &grants,
                &a,
                &s,
                &settings(),
                &api(Some("210000000000"), &ex.value.to_string()),
                "inv-1",
                Utc::now(),
            )
            .await;
            let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            let status = r["statusCode"].as_u64().unwrap();
            let off = openapi::response_errors(&doc, "/credentials", status, &body);
            assert!(
                off.is_empty(),
                "{}: the response is not as documented: {off:?}",
                ex.name
            );
            match &ex.refused_field {
                None => {
                    assert_eq!(status, 200, "{}: {r}", ex.name);
                    assert_eq!(s.0.lock().unwrap().len(), 1, "{}", ex.name);
                }
                Some(field) => {
                    assert_eq!(status, 400, "{}: {r}", ex.name);
                    let error = body["error"].as_str().unwrap();
                    assert!(
                        openapi::names_field(error, field),
                        "{}: the error must name {field}: {error}",
                        ex.name
                    );
                    assert!(
                        s.0.lock().unwrap().is_empty(),
                        "{}: nothing vended",
                        ex.name
                    );
                    assert_eq!(a.0.lock().unwrap().len(), 1, "{}: audited", ex.name);
                }
            }
        }
    }

    fn api(account: Option<&str>, body: &str) -> Value {
        let mut identity =
            json!({"userArn": "arn:aws:sts::210000000000:assumed-role/analyst/alice"});
        if let Some(a) = account {
            identity["accountId"] = json!(a);
        }
        json!({"requestContext": {"requestId": "req-1", "identity": identity}, "body": body})
    }

    #[tokio::test]
    async fn vends_scoped_credentials_and_audits() {
        let (a, s) = (Audit::default(), Sts::default());
        let r = handle(
            &grants(),
            &a,
            &s,
            &settings(),
            &api(Some("210000000000"), r#"{"prefix":"analytics/2026/"}"#),
            "inv-1",
            Utc::now(),
        )
        .await;
        assert_eq!(r["statusCode"], 200, "{r}");
        let (role, ext, policy, d) = s.0.lock().unwrap()[0].clone();
        assert_eq!(role, "arn:aws:iam::210000000000:role/warden-consumer");
        assert_eq!(ext.as_deref(), Some("ext-1"));
        assert!(policy.contains("shared/analytics/2026/*") && d == 3600);
        let rec = &a.0.lock().unwrap()[0];
        assert_eq!(rec["success_status"], Attr::Bool(true));
    }

    /// On the access-point tier the session is scoped to the consumer's access point, and the
    /// response names it as the bucket to use.
    #[tokio::test]
    async fn access_point_consumers_are_told_their_access_point() {
        let (a, s) = (Audit::default(), Sts::default());
        let settings = Settings {
            tiering: Tiering::from_settings("access-points", None, "warden-prod").unwrap(),
            ..settings()
        };
        let r = handle(
            &grants(),
            &a,
            &s,
            &settings,
            &api(Some("210000000000"), r#"{"prefix":"analytics/2026/"}"#),
            "inv-1",
            Utc::now(),
        )
        .await;
        assert_eq!(r["statusCode"], 200, "{r}");
        let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        let ap = "arn:aws:s3:us-east-1:111111111111:accesspoint/warden-prod-210000000000";
        assert_eq!(body["bucket"], ap, "{body}");
        assert_eq!(body["access_point"]["name"], "warden-prod-210000000000");
        assert_eq!(
            body["example"],
            format!("aws s3 ls s3://{ap}/analytics/2026/")
        );
        let (_, _, policy, _) = s.0.lock().unwrap()[0].clone();
        assert!(
            policy.contains(&format!("{ap}/object/analytics/2026/*")),
            "{policy}"
        );
        assert!(!policy.contains("arn:aws:s3:::"), "{policy}");
    }

    #[tokio::test]
    async fn refuses_unverified_callers_other_prefixes_and_bad_bodies() {
        let (a, s) = (Audit::default(), Sts::default());
        let g = grants();
        let direct = handle(
            &g,
            &a,
            &s,
            &settings(),
            &json!({"prefix": "analytics/"}),
            "inv-1",
            Utc::now(),
        )
        .await;
        assert_eq!(direct["statusCode"], 403);
        let other = handle(
            &g,
            &a,
            &s,
            &settings(),
            &api(Some("210000000000"), r#"{"prefix":"finance/"}"#),
            "inv-1",
            Utc::now(),
        )
        .await;
        assert_eq!(other["statusCode"], 403);
        assert!(
            other["body"]
                .as_str()
                .unwrap()
                .contains("outside the prefixes")
        );
        let bad = handle(
            &g,
            &a,
            &s,
            &settings(),
            &api(
                Some("210000000000"),
                r#"{"prefix":"analytics/","colour":1}"#,
            ),
            "inv-1",
            Utc::now(),
        )
        .await;
        assert_eq!(bad["statusCode"], 400);
        assert!(
            bad["body"]
                .as_str()
                .unwrap()
                .contains("colour: not accepted")
        );
        assert!(s.0.lock().unwrap().is_empty(), "nothing vended");
        assert_eq!(a.0.lock().unwrap().len(), 3, "every decision audited");
    }

    /// An audit table keyed like DynamoDB: a second item with the same key replaces the first.
    #[derive(Default)]
    struct KeyedAudit(Mutex<BTreeMap<String, BTreeMap<String, Attr>>>);
    impl AuditStore for KeyedAudit {
        async fn write_records(
            &self,
            items: Vec<BTreeMap<String, Attr>>,
        ) -> Result<WriteOutcome, PortError> {
            let n = items.len();
            let mut t = self.0.lock().unwrap();
            for i in items {
                let Attr::S(k) = &i[PK] else { panic!("key") };
                t.insert(k.clone(), i);
            }
            Ok(WriteOutcome {
                written: n,
                failed: vec![],
            })
        }
    }

    /// STS that refuses every AssumeRole (a deleted role, a trust that no longer matches).
    struct FailingSts;
    impl CredentialVendor for FailingSts {
        async fn assume(
            &self,
            _r: &str,
            _s: &str,
            _e: Option<&str>,
            _p: &str,
            _d: u32,
            _t: &[(String, String)],
            _si: &str,
        ) -> Result<Credentials, PortError> {
            Err(PortError::new(
                "sts",
                "AssumeRole",
                "AccessDenied: not authorized",
            ))
        }
    }

    /// Attack: an insider with lambda:InvokeFunction replays a genuine request's `requestId` in a
    /// forged event (a denied one, from the same account). The genuine "allowed" record must
    /// survive: each record's key carries the Lambda invocation ID, which the sender cannot set.
    #[tokio::test]
    async fn attack_forged_event_reusing_a_request_id_never_overwrites_the_genuine_record() {
        let (a, s) = (KeyedAudit::default(), Sts::default());
        let genuine = handle(
            &grants(),
            &a,
            &s,
            &settings(),
            &api(Some("210000000000"), r#"{"prefix":"analytics/2026/"}"#),
            "5f1c1ae0-genuine",
            Utc::now(),
        )
        .await;
        assert_eq!(genuine["statusCode"], 200, "{genuine}");
        let forged = handle(
            &grants(),
            &a,
            &s,
            &settings(),
            &api(Some("210000000000"), r#"{"prefix":"finance/"}"#),
            "9b2d7c11-forged",
            Utc::now(),
        )
        .await;
        assert_eq!(forged["statusCode"], 403);
        let t = a.0.lock().unwrap();
        assert_eq!(t.len(), 2, "two records, none overwritten: {:?}", t.keys());
        let kept = t
            .values()
            .find(|r| r["success_status"] == Attr::Bool(true))
            .expect("the genuine allowed record is still there");
        assert_eq!(kept["invocation_id"], Attr::S("5f1c1ae0-genuine".into()));
        assert_eq!(kept["request_id"], Attr::S("req-1".into()));
    }

    /// Attack/failure: the decision is recorded as allowed, then STS refuses. The trail must also
    /// say that nothing was handed out, under its own key.
    #[tokio::test]
    async fn attack_sts_failure_after_an_allowed_decision_is_recorded_as_not_vended() {
        let a = KeyedAudit::default();
        let r = handle(
            &grants(),
            &a,
            &FailingSts,
            &settings(),
            &api(Some("210000000000"), r#"{"prefix":"analytics/2026/"}"#),
            "inv-7",
            Utc::now(),
        )
        .await;
        assert_eq!(r["statusCode"], 502, "{r}");
        let t = a.0.lock().unwrap();
        assert_eq!(t.len(), 2, "{:?}", t.keys());
        let outcome = &t["warden-vend:req-1:inv-7:outcome"];
        assert_eq!(outcome["success_status"], Attr::Bool(false));
        let Attr::S(why) = &outcome["error_code"] else {
            panic!("reason")
        };
        assert!(
            why.contains("AssumeRole failed, no credentials vended"),
            "{why}"
        );
        assert_eq!(
            t["warden-vend:req-1:inv-7"]["success_status"],
            Attr::Bool(true)
        );
    }

    /// The audit record keeps the session (not only the role) and the source identity the
    /// session carries, so CloudTrail's later calls join back to this decision and to the person.
    #[tokio::test]
    async fn vended_session_is_attributable_to_the_person_and_the_decision() {
        let a = KeyedAudit::default();
        let s = Sts::default();
        let mut event = api(Some("210000000000"), r#"{"prefix":"analytics/2026/"}"#);
        event["requestContext"]["identity"]["caller"] = json!("AROAEXAMPLE:alice");
        handle(&grants(), &a, &s, &settings(), &event, "inv-2", Utc::now()).await;
        let t = a.0.lock().unwrap();
        let rec = &t["warden-vend:req-1:inv-2"];
        assert_eq!(
            rec["principal_arn"],
            Attr::S("arn:aws:sts::210000000000:assumed-role/analyst/alice".into())
        );
        assert_eq!(rec["principal_id"], Attr::S("AROAEXAMPLE:alice".into()));
        assert_eq!(rec["source_identity"], Attr::S("warden-req-1".into()));
    }
}
