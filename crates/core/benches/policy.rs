//! Policy engine benchmarks: decisions per second against a 20-consumer rendered bucket policy
//! (goal ≥ 1,000,000/s on one core), the same with the KMS layer on (the kms:Decrypt S3 makes
//! against the key policy and grants), render time for 1,000 grants (goal ≤ 10 ms), and both
//! tiers for 1,000 consumers on access points (goal ≤ 50 ms).
//!
//! Run: `cargo bench -p warden-core --bench policy`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use warden_core::grant::{AccountId, Grant, GrantInput, Registry, Timestamp};
use warden_core::policy::access_point::{self, SharingMode};
use warden_core::policy::condition::Context;
use warden_core::policy::eval::{Caller, CompiledPolicy, PolicySet, Request, evaluate};
use warden_core::policy::model::Policy;
use warden_core::policy::path::{self, Deployment};
use warden_core::policy::render::{self, RenderSettings};

fn now() -> DateTime<Utc> {
    Timestamp::parse("2026-11-22T12:00:00Z").unwrap().0
}

fn settings() -> RenderSettings {
    RenderSettings {
        partition: "aws".into(),
        region: "us-east-1".into(),
        primary_account: AccountId::parse("111111111111").unwrap(),
        bucket: "warden-shared-data".into(),
        kms_key_arn: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
        consumer_role_name: "warden-consumer".into(),
        require_mfa: true,
        vending_role_arn: None,
    }
}

/// Grant `i`: consumer account 2000000000<i>, read-write for every fourth, until 2027-12-31.
fn grant(i: usize, prefixes: Vec<String>) -> Grant {
    let input = GrantInput {
        account_id: format!("{:012}", 200_000_000_000u64 + i as u64),
        name: None,
        allowed_prefixes: prefixes,
        access_level: if i.is_multiple_of(4) {
            "read-write"
        } else {
            "read"
        }
        .into(),
        expiration_date: "2027-12-31T00:00:00Z".into(),
        owner_email: None,
        external_id: None,
        created_by: None,
        created_at: None,
    };
    Grant::from_input(&input, now()).unwrap()
}

fn registry(n: usize, distinct_prefixes: usize) -> Registry {
    Registry::new(
        (0..n)
            .map(|i| grant(i, vec![format!("dataset-{}/", i % distinct_prefixes)]))
            .collect(),
    )
    .unwrap()
}

fn requests() -> Vec<Request> {
    (0..20)
        .map(|i| {
            let mut ctx = Context::new();
            ctx.set("aws:SecureTransport", "true");
            ctx.set("aws:CurrentTime", "2026-11-22T12:00:00Z");
            // Half inside the granted prefix, half outside.
            let prefix = if i % 2 == 0 { i } else { i + 1 };
            Request {
                caller: Caller::parse(&format!(
                    "arn:aws:sts::{:012}:assumed-role/warden-consumer/s",
                    200_000_000_000u64 + i as u64
                ))
                .unwrap(),
                action: "s3:GetObject".into(),
                resource: format!(
                    "arn:aws:s3:::warden-shared-data/dataset-{prefix}/2026/11/part-0001.parquet"
                ),
                resource_account: Some("111111111111".into()),
                context: ctx,
            }
            .with_global_keys()
        })
        .collect()
}

fn kms_identity(s: &RenderSettings) -> Policy {
    Policy::parse(&format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"kms:Decrypt","Resource":"{}"}}}}"#,
        s.kms_key_arn
    ))
    .unwrap()
}

/// The kms:Decrypt S3 makes, as the caller, to serve `s3` on an SSE-KMS object (Bucket Keys on).
fn kms_request(s: &RenderSettings, s3: &Request) -> Request {
    let mut ctx = Context::new();
    ctx.set("aws:SecureTransport", "true");
    ctx.set("aws:CurrentTime", "2026-11-22T12:00:00Z");
    ctx.set("kms:ViaService", "s3.us-east-1.amazonaws.com");
    ctx.set("kms:EncryptionContext:aws:s3:arn", s.bucket_arn());
    Request {
        caller: s3.caller.clone(),
        action: "kms:Decrypt".into(),
        resource: s.kms_key_arn.clone(),
        resource_account: Some("111111111111".into()),
        context: ctx,
    }
    .with_global_keys()
}

fn bench(c: &mut Criterion) {
    let s = settings();
    let reg = registry(20, 20);
    let bucket = render::bucket_policy(&reg, &s, now()).unwrap();
    let identity = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    )
    .unwrap();
    let set = PolicySet {
        identity: vec![CompiledPolicy::new("identity", &identity)],
        resource: Some(CompiledPolicy::new("bucket", &bucket.policy)),
        ..Default::default()
    };
    let reqs = requests();
    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(reqs.len() as u64));
    g.bench_function("20-consumer bucket policy, 20 decisions", |b| {
        b.iter(|| {
            for r in &reqs {
                black_box(evaluate(&set, black_box(r)));
            }
        })
    });

    // The KMS layer on: each request is the S3 decision plus the kms:Decrypt S3 makes as the
    // caller (key policy naming the 20 roles, 20 grants with the bucket-ARN constraint).
    let kms = render::kms(&reg, &s, now()).unwrap();
    let kms_set = PolicySet {
        identity: vec![CompiledPolicy::new("identity", &kms_identity(&s))],
        resource: Some(CompiledPolicy::new("key", &kms.key_policy.policy)),
        kms_grants: Deployment::grants_from_specs(&kms.grants, &s.kms_key_arn).unwrap(),
        ..Default::default()
    };
    let kms_reqs: Vec<Request> = reqs.iter().map(|r| kms_request(&s, r)).collect();
    g.bench_function("20-consumer bucket policy + KMS layer, 20 requests", |b| {
        b.iter(|| {
            for (r, k) in reqs.iter().zip(&kms_reqs) {
                black_box(evaluate(&set, black_box(r)));
                black_box(evaluate(&kms_set, black_box(k)));
            }
        })
    });
    // The same through path::check, which also builds the requests and judges each document
    // alone for the advice (what `warden access check` and governance run).
    let d = Deployment {
        settings: s.clone(),
        bucket_policy: CompiledPolicy::new("bucket", &bucket.policy),
        key_policy: CompiledPolicy::new("key", &kms.key_policy.policy),
        kms_grants: kms_set.kms_grants.clone(),
        key_aliases: Vec::new(),
        access_point: None,
    };
    let roles = [CompiledPolicy::new("identity", &identity)];
    let accounts: Vec<AccountId> = (0..20)
        .map(|i| AccountId::parse(&format!("{:012}", 200_000_000_000u64 + i as u64)).unwrap())
        .collect();
    g.bench_function(
        "path::check (S3 + KMS, with per-document parts), 20 requests",
        |b| {
            b.iter(|| {
                for (i, a) in accounts.iter().enumerate() {
                    let key = format!("dataset-{i}/2026/11/part-0001.parquet");
                    black_box(path::check(&d, &roles, a, "s3:GetObject", &key, now()).unwrap());
                }
            })
        },
    );
    g.finish();

    let big = registry(1000, 50);
    let mut g = c.benchmark_group("render");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("bucket policy + KMS for 1,000 grants", |b| {
        b.iter(|| {
            // 1,000 role ARNs exceed the 20 KB bucket policy budget: the renderer measures and
            // refuses, which is part of the work being timed.
            let _ = black_box(render::bucket_policy(black_box(&big), &s, now()));
            let _ = black_box(render::kms(black_box(&big), &s, now()));
        })
    });
    // Issue 16: 1,000 consumers, each on its own namespace with two prefixes, on access points
    // (the bucket policy holds the first 20 and delegates): bucket policy, 980 access point
    // policies, key policy and 1,000 grants, every document measured (goal <= 50 ms).
    let namespaces = Registry::new(
        (0..1000)
            .map(|i| {
                grant(
                    i,
                    vec![
                        format!("consumers/{i:04}/inbox/"),
                        format!("consumers/{i:04}/shared/"),
                    ],
                )
            })
            .collect(),
    )
    .unwrap();
    g.bench_function(
        "both tiers for 1,000 consumers x 2 prefixes (20 in the bucket policy, 980 access points)",
        |b| {
            b.iter(|| {
                black_box(
                    access_point::render_tiers(
                        black_box(&namespaces),
                        &s,
                        render::baseline_statements(&s),
                        SharingMode::Auto { threshold: 20 },
                        "warden-prod",
                        now(),
                    )
                    .unwrap(),
                )
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
