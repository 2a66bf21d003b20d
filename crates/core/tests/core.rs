//! warden-core integration tests: third-party corpora, AWS documentation cases, and property
//! tests of the policy engine and renderer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::Value;
use warden_core::grant::{AccessLevel, AccountId, Grant, GrantInput, Registry, Timestamp};
use warden_core::policy::access_point::{self as ap, SharingMode, Tiered};
use warden_core::policy::condition::Context;
use warden_core::policy::eval::{
    Caller, CompiledPolicy, Decision, PolicySet, Request, evaluate, evaluate_principal_policies,
};
use warden_core::policy::model::{Policy, PolicyKind};
use warden_core::policy::path::{self, Deployment};
use warden_core::policy::render::{self, RenderSettings};
use warden_core::policy::simulate::simulate_value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared/corpora` beside the repository (CI has it), or `$WARDEN_CORPORA`.
fn corpora() -> Option<PathBuf> {
    let p = std::env::var_os("WARDEN_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/corpora"));
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "NOTE: third-party corpora not found at {} — corpus tests skipped",
            p.display()
        );
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Third-party corpora

#[test]
fn moto_policy_validation_corpus() {
    let Some(dir) = corpora() else { return };
    let text = fs::read_to_string(dir.join("iam/moto/moto_policy_validation_cases.jsonl")).unwrap();
    let (mut valid, mut invalid, mut same_text) = (0, 0, 0);
    for (i, line) in text.lines().enumerate() {
        let case: Value = serde_json::from_str(line).unwrap();
        let doc = &case["document"];
        let result = match doc {
            Value::String(s) => Policy::parse(s),
            other => Policy::from_value(other),
        }
        .and_then(|p| p.validate(PolicyKind::Identity).map(|()| p));
        if case["valid"].as_bool().unwrap() {
            let p =
                result.unwrap_or_else(|e| panic!("case {i}: valid document rejected: {e}\n{doc}"));
            // Round trip keeps meaning.
            assert_eq!(Policy::parse(&p.to_compact_json()).unwrap(), p, "case {i}");
            valid += 1;
        } else {
            let e = result
                .err()
                .unwrap_or_else(|| panic!("case {i}: invalid document accepted: {doc}"));
            let want = case["error_message"].as_str().unwrap();
            if e.message.starts_with(want.trim_end_matches('.')) {
                same_text += 1;
            }
            invalid += 1;
        }
    }
    eprintln!(
        "moto corpus: {valid} valid accepted, {invalid} invalid rejected, {same_text} with AWS's exact message"
    );
    assert_eq!((valid, invalid), (54, 78));
    assert!(
        same_text >= 60,
        "only {same_text} of 78 messages match AWS's text"
    );
}

#[test]
fn iam_rs_policies_parse_and_round_trip() {
    let Some(dir) = corpora() else { return };
    let mut n = 0;
    for entry in fs::read_dir(dir.join("iam/iam-rs/tests/policies")).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        let p = Policy::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let again = Policy::parse(&p.to_compact_json()).unwrap();
        assert_eq!(p, again, "{}", path.display());
        // Serialization keeps meaning: same JSON value modulo key order inside Condition.
        let orig: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            normalise(&orig),
            normalise(&p.to_value()),
            "{}: serialized form differs",
            path.display()
        );
        n += 1;
    }
    assert_eq!(n, 64);
}

fn normalise(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<_> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), normalise(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(normalise).collect()),
        other => other.clone(),
    }
}

#[test]
fn iam_rs_decision_cases() {
    let Some(dir) = corpora() else { return };
    let mut n = 0;
    for entry in fs::read_dir(dir.join("iam/iam-rs/tests/requests")).unwrap() {
        let path = entry.unwrap().path();
        let case: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let r = &case["request"];
        let policy = Policy::from_value(&case["policy"]).unwrap();
        let mut ctx = Context::new();
        for (k, v) in r["Context"].as_object().unwrap() {
            ctx.set(k, v.as_str().unwrap());
        }
        let req = Request {
            caller: Caller::parse(r["Principal"]["AWS"].as_str().unwrap()).unwrap(),
            action: r["Action"].as_str().unwrap().into(),
            resource: r["Resource"].as_str().unwrap().into(),
            resource_account: None,
            context: ctx,
        }
        .with_global_keys();
        let set = PolicySet {
            identity: vec![CompiledPolicy::new("policy", &policy)],
            ..Default::default()
        };
        let want = match case["result"].as_str().unwrap() {
            "Allow" => Decision::Allowed,
            "Deny" => Decision::ExplicitlyDenied,
            _ => Decision::ImplicitlyDenied,
        };
        // iam-rs decides identity policies alone: the principal's side of the evaluation.
        assert_eq!(
            evaluate_principal_policies(&set, &req).decision,
            want,
            "{}",
            path.display()
        );
        n += 1;
    }
    assert_eq!(n, 5);
}

// ---------------------------------------------------------------------------------------------
// Hand-written cases from AWS's IAM documentation, through the `policy simulate` contract.

#[test]
fn aws_documentation_cases() {
    let text = fs::read_to_string(repo().join("fixtures/policy/aws-doc-cases.jsonl")).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let out = simulate_value(&case["request"]);
        assert_eq!(
            out["decision"], case["expect"],
            "{} ({}): {out}",
            case["name"], case["source"]
        );
        n += 1;
    }
    assert!(n >= 30, "{n} cases");
}

// ---------------------------------------------------------------------------------------------
// Property tests

const ACCOUNTS: [&str; 5] = [
    "100000000001",
    "100000000002",
    "100000000003",
    "100000000004",
    "100000000005",
];
const PREFIXES: [&str; 6] = ["a/", "b/", "a/x/", "c/d/", "shared/", "ab/"];
const KEYS: [&str; 9] = [
    "a/1", "a/x/2", "b/3", "c/d/4", "shared/5", "z/6", "a", "ab/7", "c/",
];

fn t0() -> DateTime<Utc> {
    Timestamp::parse("2026-11-22T00:00:00Z").unwrap().0
}

fn grant_strategy() -> impl Strategy<Value = GrantInput> {
    (
        0..ACCOUNTS.len(),
        proptest::sample::subsequence(PREFIXES.to_vec(), 1..3),
        any::<bool>(),
        1i64..4,
    )
        .prop_map(|(a, prefixes, rw, days)| GrantInput {
            account_id: ACCOUNTS[a].into(),
            name: None,
            allowed_prefixes: prefixes.into_iter().map(String::from).collect(),
            access_level: if rw {
                "read-write".into()
            } else {
                "read".into()
            },
            expiration_date: (t0() + Duration::days(days * 10)).to_rfc3339(),
            owner_email: None,
            external_id: None,
            created_by: None,
            created_at: None,
        })
}

fn registry_strategy() -> impl Strategy<Value = Registry> {
    proptest::collection::vec(grant_strategy(), 0..6).prop_filter_map("valid registry", |inputs| {
        let grants: Option<Vec<Grant>> = inputs
            .iter()
            .map(|g| Grant::from_input(g, t0()).ok())
            .collect();
        Registry::new(grants?).ok()
    })
}

fn settings() -> RenderSettings {
    RenderSettings {
        partition: "aws".into(),
        region: "eu-west-1".into(),
        primary_account: AccountId::parse("999999999999").unwrap(),
        bucket: "shared-bucket".into(),
        kms_key_arn: "arn:aws:kms:eu-west-1:999999999999:key/k".into(),
        consumer_role_name: "warden-consumer".into(),
        require_mfa: false,
        vending_role_arn: None,
    }
}

/// The context of an SSE-KMS object request over TLS at `at`.
fn s3_context(at: DateTime<Utc>) -> Context {
    let mut ctx = Context::new();
    ctx.set("aws:SecureTransport", "true");
    ctx.set("aws:CurrentTime", at.to_rfc3339());
    ctx.set("s3:x-amz-server-side-encryption", "aws:kms");
    ctx.set(
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        settings().kms_key_arn,
    );
    ctx
}

fn decide(
    set: &PolicySet,
    account: &str,
    role: &str,
    action: &str,
    key: &str,
    at: DateTime<Utc>,
) -> Decision {
    let s = settings();
    let mut ctx = s3_context(at);
    let resource = if action == "s3:ListBucket" {
        ctx.set("s3:prefix", key);
        s.bucket_arn()
    } else {
        format!("{}/{key}", s.bucket_arn())
    };
    let req = Request {
        caller: Caller::parse(&format!("arn:aws:sts::{account}:assumed-role/{role}/p")).unwrap(),
        action: action.into(),
        resource,
        resource_account: Some("999999999999".into()),
        context: ctx,
    }
    .with_global_keys();
    evaluate(set, &req).decision
}

/// One element of a record list: a record (with or without an `eventID`, its object in
/// `requestParameters` or only in `resources[]`), or a value that is not a record.
fn cloudtrail_item() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (any::<bool>(), 0u32..1000, "[a-z0-9/]{0,12}", any::<bool>()).prop_map(|(with_id, n, key, in_resources)| {
            let id = if with_id { format!(r#""eventID":"id-{n}","#) } else { String::new() };
            let object = if in_resources {
                format!(r#""resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/{key}"}}]"#)
            } else {
                format!(r#""requestParameters":{{"bucketName":"b","key":"{key}"}}"#)
            };
            format!(r#"{{{id}"eventTime":"2026-11-22T10:{:02}:00Z","eventName":"GetObject","requestID":"r{n}",{object}}}"#, n % 60)
        }),
        1 => proptest::sample::select(vec!["5", "null", "\"text\"", "true"]).prop_map(str::to_owned),
    ]
}

/// A request of `account`'s consumer role decided on both tiers' documents: straight to the
/// bucket (`via_ap` false: the bucket policy alone), or through the consumer's access point
/// (both the access point policy on the access point's ARN and the bucket policy on the
/// bucket's, with the access point's context keys, must allow; no access point, no request).
#[allow(clippy::too_many_arguments)]
fn decide_tiers(
    t: &Tiered,
    bucket: &PolicySet,
    access_points: &std::collections::BTreeMap<AccountId, PolicySet>,
    account: &str,
    action: &str,
    key: &str,
    at: DateTime<Utc>,
    via_ap: bool,
) -> Decision {
    let s = settings();
    let acct = AccountId::parse(account).unwrap();
    let mut ctx = s3_context(at);
    let list = action == "s3:ListBucket";
    if list {
        ctx.set("s3:prefix", key);
    }
    let req = |resource: String, ctx: Context| {
        Request {
            caller: Caller::parse(&format!(
                "arn:aws:sts::{account}:assumed-role/warden-consumer/p"
            ))
            .unwrap(),
            action: action.into(),
            resource,
            resource_account: Some("999999999999".into()),
            context: ctx,
        }
        .with_global_keys()
    };
    let bucket_resource = if list {
        s.bucket_arn()
    } else {
        format!("{}/{key}", s.bucket_arn())
    };
    if !via_ap {
        return evaluate(bucket, &req(bucket_resource, ctx)).decision;
    }
    let (Some(doc), Some(set)) = (t.access_points.get(&acct), access_points.get(&acct)) else {
        return Decision::ImplicitlyDenied;
    };
    ctx.set("s3:DataAccessPointAccount", "999999999999");
    ctx.set("s3:DataAccessPointArn", doc.arn.clone());
    ctx.set("s3:AccessPointNetworkOrigin", "Internet");
    let ap_resource = if list {
        doc.arn.clone()
    } else {
        format!("{}/object/{key}", doc.arn)
    };
    let on_ap = evaluate(set, &req(ap_resource, ctx.clone())).decision;
    let on_bucket = evaluate(bucket, &req(bucket_resource, ctx)).decision;
    if on_ap == Decision::Allowed && on_bucket == Decision::Allowed {
        Decision::Allowed
    } else if on_ap == Decision::ExplicitlyDenied || on_bucket == Decision::ExplicitlyDenied {
        Decision::ExplicitlyDenied
    } else {
        Decision::ImplicitlyDenied
    }
}

/// Consumers spread over the tiers: everyone in the bucket policy, everyone on access points, or
/// a threshold between.
fn mode_strategy() -> impl Strategy<Value = SharingMode> {
    prop_oneof![
        Just(SharingMode::BucketPolicy),
        Just(SharingMode::AccessPoints),
        (0usize..6).prop_map(|threshold| SharingMode::Auto { threshold }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The rendered bucket policy, evaluated by the evaluator, allows exactly the granted
    /// (account, prefix, level, before-expiry) combinations and nothing else.
    #[test]
    fn rendered_bucket_policy_allows_exactly_the_registry(
        registry in registry_strategy(),
        rendered_days in 0i64..25,
        query_days in 0i64..45,
    ) {
        let s = settings();
        let rendered_at = t0() + Duration::days(rendered_days);
        let at = t0() + Duration::days(query_days) + Duration::hours(1);
        let bucket = render::bucket_policy(&registry, &s, rendered_at).unwrap();
        // The consumer account's admin may do anything: only the bucket policy bounds access.
        let anything = Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#).unwrap();
        let set = PolicySet {
            identity: vec![CompiledPolicy::new("identity", &anything)],
            resource: Some(CompiledPolicy::new("bucket", &bucket.policy)),
            ..Default::default()
        };
        for account in ACCOUNTS.iter().chain(["777777777777"].iter()) {
            for key in KEYS {
                for (action, write) in [("s3:GetObject", false), ("s3:PutObject", true), ("s3:ListBucket", false)] {
                    // Expired grants were filtered when rendering, and DateLessThan covers the rest.
                    let want = registry.allows(account, key, write, at) && registry.allows(account, key, write, rendered_at);
                    let got = decide(&set, account, "warden-consumer", action, key, at);
                    prop_assert_eq!(got == Decision::Allowed, want, "{} {} {} at {}", account, action, key, at);
                    // No other role in the consumer account ever gets in.
                    prop_assert_ne!(decide(&set, account, "other-role", action, key, at), Decision::Allowed);
                }
            }
        }
    }

    /// Both tiers rendered from one registry, evaluated as S3 does, allow exactly the registry's
    /// (account, prefix, level, before-expiry) pairs, through the tier each consumer is on —
    /// straight to the bucket for the bucket tier, through its own access point for the other —
    /// and nothing through the other tier.
    #[test]
    fn both_tiers_allow_exactly_the_registry_through_each_consumers_tier(
        registry in registry_strategy(),
        mode in mode_strategy(),
        rendered_days in 0i64..25,
        query_days in 0i64..45,
    ) {
        let s = settings();
        let rendered_at = t0() + Duration::days(rendered_days);
        let at = t0() + Duration::days(query_days) + Duration::hours(1);
        let t = ap::render_tiers(&registry, &s, render::baseline_statements(&s), mode, "warden-test", rendered_at).unwrap();
        let anything = Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#).unwrap();
        let identity = vec![CompiledPolicy::new("identity", &anything)];
        let bucket = PolicySet {
            identity: identity.clone(),
            resource: Some(CompiledPolicy::new("bucket", &t.bucket.policy)),
            ..Default::default()
        };
        let aps: std::collections::BTreeMap<AccountId, PolicySet> = t
            .access_points
            .iter()
            .map(|(a, p)| (a.clone(), PolicySet {
                identity: identity.clone(),
                resource: Some(CompiledPolicy::new("access point", &p.doc.policy)),
                ..Default::default()
            }))
            .collect();
        let on_ap = ap::access_point_accounts(&registry, mode);
        for account in ACCOUNTS.iter().chain(["777777777777"].iter()) {
            let tier_is_ap = on_ap.contains(&AccountId::parse(account).unwrap());
            for key in KEYS {
                for (action, write) in [("s3:GetObject", false), ("s3:PutObject", true), ("s3:ListBucket", false)] {
                    let granted = registry.allows(account, key, write, at) && registry.allows(account, key, write, rendered_at);
                    for via_ap in [false, true] {
                        let want = granted && via_ap == tier_is_ap;
                        let got = decide_tiers(&t, &bucket, &aps, account, action, key, at, via_ap);
                        prop_assert_eq!(got == Decision::Allowed, want, "{} {} {} via_ap={} ({:?}) at {}", account, action, key, via_ap, mode, at);
                    }
                }
            }
        }
    }

    /// The whole path of an object request — bucket policy and consumer role policy, then the
    /// KMS calls S3 makes (key policy, role policy, grants) — allows exactly the registry's
    /// granted (account, key, level) before expiry and nothing after, whether the key policy
    /// names the consumer roles or the KMS grants alone carry them.
    #[test]
    fn whole_path_with_kms_allows_exactly_the_registry(
        registry in registry_strategy(),
        rendered_days in 0i64..25,
        query_days in 0i64..45,
        key_policy_names_roles in any::<bool>(),
    ) {
        let s = settings();
        let rendered_at = t0() + Duration::days(rendered_days);
        let at = t0() + Duration::days(query_days) + Duration::hours(1);
        let bucket = render::bucket_policy(&registry, &s, rendered_at).unwrap();
        let kms = render::kms(&registry, &s, rendered_at).unwrap();
        let key_policy = if key_policy_names_roles {
            kms.key_policy.policy.clone()
        } else {
            Policy::new(vec![render::key_admin_statement(&s)])
        };
        let d = Deployment {
            bucket_policy: CompiledPolicy::new("bucket policy", &bucket.policy),
            key_policy: CompiledPolicy::new("key policy", &key_policy),
            kms_grants: Deployment::grants_from_specs(&kms.grants, &s.kms_key_arn).unwrap(),
            key_aliases: Vec::new(),
            access_point: None,
            settings: s.clone(),
        };
        for account in ACCOUNTS.iter().chain(["777777777777"].iter()) {
            let acct = AccountId::parse(account).unwrap();
            let role = render::consumer_role_policy(&registry, &acct, &s, rendered_at);
            let roles = [CompiledPolicy::new("consumer role policy", &role)];
            for key in KEYS {
                for (action, write) in [("s3:GetObject", false), ("s3:PutObject", true), ("s3:ListBucket", false)] {
                    let want = registry.allows(account, key, write, at) && registry.allows(account, key, write, rendered_at);
                    let r = path::check(&d, &roles, &acct, action, key, at).unwrap();
                    prop_assert_eq!(r.decision == Decision::Allowed, want, "{} {} {} at {}: {:?}", account, action, key, at, r);
                    // Every KMS operation S3 needs for the request was evaluated.
                    prop_assert_eq!(r.layers.len(), 1 + path::kms_operations(action).len());
                    if !want {
                        let advice = path::advise(&r, &registry, &s, &acct, action, key, at);
                        prop_assert!(advice.is_some_and(|a| !a.is_empty()));
                    }
                }
            }
        }
    }

    /// Session policies confine vended credentials to one prefix at the grant's level.
    #[test]
    fn session_policy_confines_to_prefix(registry in registry_strategy()) {
        let s = settings();
        for g in registry.grants() {
            let prefix = &g.allowed_prefixes[0];
            let sp = render::session_policy(g, prefix, &s, None).unwrap();
            let set = PolicySet {
                identity: vec![CompiledPolicy::new("role", &render::consumer_role_policy(&registry, &g.account_id, &s, t0()))],
                session: Some(CompiledPolicy::new("session", &sp.policy)),
                ..Default::default()
            };
            for key in KEYS {
                let mut ctx = Context::new();
                ctx.set("aws:CurrentTime", t0().to_rfc3339());
                let req = Request {
                    caller: Caller::parse(&format!("arn:aws:sts::{}:assumed-role/warden-consumer/v", g.account_id)).unwrap(),
                    action: "s3:PutObject".into(),
                    resource: format!("{}/{key}", s.bucket_arn()),
                    resource_account: Some(g.account_id.to_string()),
                    context: ctx,
                }.with_global_keys();
                let allowed = evaluate(&set, &req).decision == Decision::Allowed;
                prop_assert_eq!(allowed, prefix.contains_key(key) && g.access_level == AccessLevel::ReadWrite);
            }
        }
    }

    /// Parse → serialize → parse is the identity on the model.
    #[test]
    fn policy_round_trip(p in policy_strategy()) {
        let text = p.to_compact_json();
        let again = Policy::parse(&text).unwrap();
        prop_assert_eq!(&again, &p);
        prop_assert_eq!(again.to_compact_json(), text);
    }

    /// Arbitrary text never panics the parser or the simulate contract, and always yields
    /// exactly one result object.
    #[test]
    fn parsers_never_panic(s in ".{0,200}") {
        if let Ok(p) = Policy::parse(&s) {
            let _ = warden_core::policy::lint::lint(&p, &warden_core::policy::lint::LintOptions { audit_role: true, require_mfa: true });
        }
        let out = warden_core::policy::simulate::simulate_line(&s);
        prop_assert!(out.get("error").is_some() || out.get("decision").is_some());
    }

    /// The streamed reader agrees with reading each record alone: a log file, a JSON array and
    /// JSON Lines of the same elements give the same records, in order, at their positions,
    /// with the same IDs (`eventID`, or the synthetic one from the record's own text, so a
    /// record re-delivered in another shape keeps its ID); non-objects are reported, not read.
    #[test]
    fn streamed_shapes_agree_with_single_records(items in proptest::collection::vec(cloudtrail_item(), 1..8)) {
        use warden_core::cloudtrail::parse_bytes;
        let expected: Vec<(usize, String, _)> = items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.starts_with('{'))
            .map(|(n, i)| {
                let one = parse_bytes("one", i.as_bytes());
                (n, one.records[0].event_id.to_string(), one.records[0].record.clone())
            })
            .collect();
        let shapes = [
            format!("{{\"Records\":[{}]}}", items.join(",")),
            format!("[{}]", items.join(",")),
            items.join("\n"),
        ];
        for (k, text) in shapes.iter().enumerate() {
            let o = parse_bytes("t", text.as_bytes());
            let got: Vec<(usize, String, _)> = o
                .records
                .iter()
                .map(|p| (p.index, p.event_id.to_string(), p.record.clone()))
                .collect();
            prop_assert_eq!(&got, &expected, "shape {}: {}", k, text);
            prop_assert_eq!(o.errors.is_empty(), expected.len() == items.len(), "shape {}: {:?}", k, o.errors);
        }
    }

    #[test]
    fn grant_parsers_never_panic(s in "\\PC{0,80}") {
        let _ = warden_core::grant::Prefix::parse(&s);
        let _ = AccountId::parse(&s);
        let _ = Registry::from_json(&s, t0());
    }
}

fn policy_strategy() -> impl Strategy<Value = Policy> {
    use warden_core::policy::model::{CondValues, Effect, Principal, Scalar, Statement, StrList};
    let strlist = |pool: &'static [&'static str]| {
        (
            proptest::sample::subsequence(pool.to_vec(), 1..3),
            any::<bool>(),
        )
            .prop_map(|(v, single)| StrList {
                single: single && v.len() == 1,
                items: v.into_iter().map(String::from).collect(),
            })
    };
    let scalar = prop_oneof![
        "[a-z0-9:/*-]{0,12}".prop_map(Scalar::Str),
        any::<bool>().prop_map(Scalar::Bool),
        any::<i32>().prop_map(|n| Scalar::Num(n.into())),
    ];
    let cond = proptest::collection::btree_map(
        proptest::sample::select(vec![
            "StringEquals",
            "StringLike",
            "ForAnyValue:StringEquals",
            "NumericLessThan",
            "Bool",
            "IpAddressIfExists",
            "Null",
        ]),
        proptest::collection::btree_map(
            "[a-z]{1,5}:[A-Za-z]{1,8}",
            (proptest::collection::vec(scalar, 1..3), any::<bool>()).prop_map(|(items, single)| {
                CondValues {
                    single: single && items.len() == 1,
                    items,
                }
            }),
            1..3,
        ),
        0..3,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<std::collections::BTreeMap<_, _>>()
    });
    let statement = (
        proptest::option::of("[A-Za-z0-9]{1,8}"),
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some(Principal::Any)),
            Just(Some(Principal::aws(["arn:aws:iam::111122223333:root"])))
        ],
        any::<bool>(),
        strlist(&["s3:GetObject", "s3:*", "kms:Decrypt", "*"]),
        strlist(&["*", "arn:aws:s3:::b/*", "arn:aws:s3:::b"]),
        cond,
    )
        .prop_map(
            |(sid, allow, principal, not_action, actions, resources, cond)| {
                let mut st = Statement::new(if allow { Effect::Allow } else { Effect::Deny });
                st.sid = sid;
                st.principal = principal;
                if not_action {
                    st.not_action = Some(actions);
                } else {
                    st.action = Some(actions);
                }
                st.resource = Some(resources);
                st.condition = (!cond.is_empty()).then_some(cond);
                st
            },
        );
    (proptest::collection::vec(statement, 1..4), any::<bool>()).prop_map(|(statements, single)| {
        let mut p = Policy::new(statements);
        p.single_statement = single && p.statements.len() == 1;
        p
    })
}

#[test]
fn twenty_consumer_fixture_renders_within_budget() {
    let text = fs::read_to_string(repo().join("fixtures/grants/consumers-20.json")).unwrap();
    let registry = Registry::from_json(&text, t0()).unwrap();
    assert_eq!(registry.grants().len(), 20);
    let r = render::bucket_policy(&registry, &settings(), t0()).unwrap();
    assert!(r.size <= render::BUCKET_POLICY_BUDGET);
    r.policy.validate(PolicyKind::Resource).unwrap();
}

// ---------------------------------------------------------------------------------------------
// CloudTrail pipeline

mod cloudtrail {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use super::*;
    use warden_core::cloudtrail::{normalise, parse_bytes};
    use warden_core::detect::{DetectConfig, Pipeline};

    fn pipeline() -> Pipeline {
        let text = fs::read_to_string(repo().join("fixtures/grants/consumers-20.json")).unwrap();
        let reg = Registry::from_json(&text, t0()).unwrap();
        let cfg = DetectConfig {
            shared_bucket: Some("warden-shared-data-111111111111".into()),
            trusted_accounts: vec!["111111111111".into()],
            ..DetectConfig::default()
        };
        Pipeline::new(&cfg, Some(Arc::new(reg))).unwrap()
    }

    /// The records of one detector case: its record, or a burst of `repeat` copies with their
    /// own event IDs, `every_seconds` apart (whole seconds, rounded down), for the windowed
    /// detectors. `bench/run.sh` expands them the same way for the Python side.
    fn case_records(case: &Value) -> Vec<Value> {
        let Some(repeat) = case["repeat"].as_u64() else {
            return vec![case["record"].clone()];
        };
        let every = case["every_seconds"].as_f64().unwrap();
        let start =
            chrono::DateTime::parse_from_rfc3339(case["record"]["eventTime"].as_str().unwrap())
                .unwrap();
        (0..repeat)
            .map(|i| {
                let mut r = case["record"].clone();
                let at = start + chrono::Duration::seconds((i as f64 * every).floor() as i64);
                r["eventTime"] = at.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
                r["eventID"] = format!("{}-{i}", r["eventID"].as_str().unwrap()).into();
                r
            })
            .collect()
    }

    #[test]
    fn every_detector_fixture_gives_exactly_its_alerts() {
        let text =
            fs::read_to_string(repo().join("fixtures/cloudtrail/detector-cases.jsonl")).unwrap();
        let mut fired = BTreeSet::new();
        for line in text.lines() {
            let case: Value = serde_json::from_str(line).unwrap();
            // One pipeline per case: a burst's window state is its own.
            let mut pipeline = pipeline();
            let mut got: Vec<&str> = Vec::new();
            for record in case_records(&case) {
                let parsed = parse_bytes("case", record.to_string().as_bytes());
                assert!(parsed.errors.is_empty(), "{}", case["name"]);
                let rec = normalise(&parsed.records[0]).unwrap();
                let mut alerts = Vec::new();
                pipeline.observe(&rec, &mut alerts);
                got.extend(alerts.iter().map(|a| a.detector));
            }
            let want: Vec<&str> = case["expect"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(got, want, "{}", case["name"]);
            fired.extend(got.iter().map(|s| s.to_string()));
        }
        // Every detector has a true case here (and the windowed ones a just-below-threshold one).
        for d in warden_core::detect::DETECTOR_NAMES {
            assert!(fired.contains(d), "no fixture fires {d}");
        }
    }

    #[test]
    fn fixture_envelopes_and_gzip_parse() {
        let eb = fs::read(repo().join("fixtures/cloudtrail/eventbridge-getobject.json")).unwrap();
        assert_eq!(parse_bytes("eb", &eb).records.len(), 1);
        let gz = fs::read(repo().join("fixtures/cloudtrail/log-file.json.gz")).unwrap();
        let o = parse_bytes("gz", &gz);
        assert_eq!(o.records.len(), 20);
        assert!(o.errors.is_empty());
    }

    #[test]
    fn aws_documentation_records_all_parse() {
        let Some(dir) = corpora() else { return };
        let (mut n, mut timeless) = (0, 0);
        for entry in fs::read_dir(dir.join("cloudtrail/awsdocs")).unwrap() {
            let path = entry.unwrap().path();
            for (i, line) in fs::read_to_string(&path).unwrap().lines().enumerate() {
                let wrapper: Value = serde_json::from_str(line).unwrap();
                let rec = wrapper["log"].to_string();
                let o = parse_bytes(&format!("{}:{}", path.display(), i + 1), rec.as_bytes());
                assert!(o.errors.is_empty(), "{:?}", o.errors);
                assert_eq!(o.records.len(), 1);
                match normalise(&o.records[0]) {
                    Ok(a) => assert!(!a.action.is_empty()),
                    // Documentation excerpts without eventTime cannot be placed in time: a named error.
                    Err(e) => {
                        assert!(e.message.contains("eventTime"), "{e}");
                        timeless += 1;
                    }
                }
                n += 1;
            }
        }
        eprintln!("awsdocs: {n} records parsed, {timeless} without eventTime rejected by name");
        assert_eq!(n, 109);
        assert_eq!(timeless, 5);
    }

    #[test]
    fn stratus_red_team_attack_logs() {
        let Some(dir) = corpora() else { return };
        let mut p = Pipeline::new(&DetectConfig::default(), None).unwrap();
        let (mut n, mut alerts) = (0, Vec::new());
        for entry in fs::read_dir(dir.join("cloudtrail/stratus-red-team")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let o = parse_bytes(&path.display().to_string(), &fs::read(&path).unwrap());
            assert!(o.errors.is_empty(), "{:?}", o.errors);
            for r in &o.records {
                let a = normalise(r).unwrap();
                p.observe(&a, &mut alerts);
                n += 1;
            }
        }
        assert_eq!(n, 310);
        let names: BTreeSet<&str> = alerts.iter().map(|a| a.detector).collect();
        // The attack runs include trail tampering and IAM backdoors.
        assert!(
            names.contains("audit-tampering") && names.contains("policy-change"),
            "{names:?}"
        );
    }

    #[test]
    fn processing_library_test_set() {
        let Some(dir) = corpora() else { return };
        let dir = dir.join("cloudtrail/aws-cloudtrail-processing-library");
        let read = |f: &str| parse_bytes(f, &fs::read(dir.join(f)).unwrap());
        for f in [
            "SerializerTestFile.json",
            "SerializerTestFileCompact.json",
            "SerializerTestFileCompact.json.gz",
            "SerializerTestFileLocation.json",
            "SerializerTestFileNewFieldAtRandomPlaces.json",
            "SerializerTestFileNewFieldsInRoot.json",
            "SerializerTestFileNewFieldsInUserIdentity.json",
            "SerializerVariousUserIdentityTestFile.json",
        ] {
            let o = read(f);
            assert!(
                o.errors.is_empty() && !o.records.is_empty(),
                "{f}: {:?}",
                o.errors
            );
            for r in &o.records {
                assert!(
                    r.event_id.starts_with("synthetic-"),
                    "old format has no eventID"
                );
                normalise(r).unwrap();
            }
        }
        assert_eq!(
            read("SerializerTestFileCompact.json.gz").records,
            read("SerializerTestFileCompact.json").records
        );
        // Malformed: named errors, the rest still processed.
        let bad = read("SerializerTestFileBadJsonFormat.json");
        assert!(
            bad.errors[0]
                .to_string()
                .starts_with("SerializerTestFileBadJsonFormat.json record 0: invalid JSON"),
            "{:?}",
            bad.errors
        );
        for (f, n) in [
            ("SerializerAllFieldsNull.json", 2),
            ("SerializerTestFileBadFieldName.json", 2),
            ("SerializerTestFileNewFieldName.json", 2),
            ("SerializerTestFileMissField.json", 4),
        ] {
            let o = read(f);
            assert_eq!(o.records.len(), n, "{f}");
            let errs: Vec<String> = o
                .records
                .iter()
                .filter_map(|r| normalise(r).err())
                .map(|e| e.to_string())
                .collect();
            assert_eq!(errs.len(), 1, "{f}: {errs:?}");
            assert!(errs[0].contains("eventTime"), "{f}: {errs:?}");
        }
        for f in ["SQSMessageBody", "SQSMessageBodyWrongFormat"] {
            let o = read(f);
            assert!(
                o.records.is_empty() && o.errors[0].to_string().starts_with(f),
                "{f}: {:?}",
                o.errors
            );
        }
    }
}

/// Attack (issue 13): a policy whose action has a multi-byte character where the linter used to
/// slice by bytes (`s3:ABé`, `iam:Puté*`) must be linted, not panic `warden policy lint` or tfcheck.
#[test]
fn attack_lint_non_ascii_action_does_not_panic() {
    use warden_core::policy::lint::{LintOptions, lint};
    for action in [
        "s3:ABé",
        "s3:Gé*",
        "iam:Puté*",
        "s3:é",
        "kms:Décrypt",
        "s3:Listé",
        "ä:*",
    ] {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
        );
        let p = Policy::parse(&doc).unwrap();
        for audit_role in [false, true] {
            let findings = lint(
                &p,
                &LintOptions {
                    audit_role,
                    require_mfa: true,
                },
            );
            assert!(
                findings
                    .iter()
                    .any(|f| f.rule == "wildcard-resource" || f.rule == "invalid-policy"),
                "{action}: {findings:?}"
            );
        }
    }
}
