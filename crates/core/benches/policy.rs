//! Policy engine benchmarks: decisions per second against a 20-consumer rendered bucket policy
//! (goal ≥ 1,000,000/s on one core) and render time for 1,000 grants (goal ≤ 10 ms).
//!
//! Run: `cargo bench -p warden-core --bench policy`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use warden_core::grant::{AccountId, Grant, GrantInput, Registry, Timestamp};
use warden_core::policy::condition::Context;
use warden_core::policy::eval::{Caller, CompiledPolicy, PolicySet, Request, evaluate};
use warden_core::policy::model::Policy;
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

fn registry(n: usize, distinct_prefixes: usize) -> Registry {
    let grants = (0..n)
        .map(|i| {
            let input = GrantInput {
                account_id: format!("{:012}", 200_000_000_000u64 + i as u64),
                name: None,
                allowed_prefixes: vec![format!("dataset-{}/", i % distinct_prefixes)],
                access_level: if i % 4 == 0 {
                    "read-write".into()
                } else {
                    "read".into()
                },
                expiration_date: "2027-12-31T00:00:00Z".into(),
                owner_email: None,
                external_id: None,
                created_by: None,
                created_at: None,
            };
            Grant::from_input(&input, now()).unwrap()
        })
        .collect();
    Registry::new(grants).unwrap()
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
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
