//! CloudTrail pipeline benchmark: parse + normalise + all detectors on one core, over synthetic
//! S3 data events (~1.4 KB each). Goal: ≥ 500,000 records/s for plain JSON input.
//!
//! Run: `cargo bench -p warden-core --bench pipeline`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use warden_core::cloudtrail::bare::Bare;
use warden_core::cloudtrail::synth::{Rng, SynthConfig, record};
use warden_core::cloudtrail::{normalise_owned, parse_bytes, parse_text, parse_text_each};
use warden_core::detect::{DetectConfig, Pipeline};
use warden_core::grant::Registry;

const N: u64 = 20_000;

fn input() -> (Vec<u8>, Vec<u8>) {
    let cfg = SynthConfig {
        accounts: 20,
        seed: 42,
        start: DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        bucket: "warden-shared-data-111111111111".into(),
        primary_account: "111111111111".into(),
    };
    let mut rng = Rng::new(42);
    let records: Vec<String> = (0..N)
        .map(|n| record(&cfg, &mut rng, n).to_string())
        .collect();
    let jsonl = records.join("\n").into_bytes();
    let log = format!("{{\"Records\":[{}]}}", records.join(",")).into_bytes();
    (jsonl, log)
}

fn registry() -> Arc<Registry> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/grants/consumers-20.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    Arc::new(
        Registry::from_json(
            &text,
            DateTime::parse_from_rfc3339("2026-11-22T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        )
        .unwrap(),
    )
}

fn run(bytes: &[u8], reg: &Arc<Registry>) -> usize {
    let cfg = DetectConfig {
        shared_bucket: Some("warden-shared-data-111111111111".into()),
        trusted_accounts: vec!["111111111111".into()],
        ..DetectConfig::default()
    };
    let mut p = Pipeline::new(&cfg, Some(reg.clone())).unwrap();
    let mut alerts = Vec::new();
    let mut n = 0;
    // As the replay and the logger do: each record is normalised and detected as it is read.
    parse_text_each("bench", std::str::from_utf8(bytes).unwrap(), |r| {
        if let Ok(a) = normalise_owned(r) {
            alerts.clear();
            p.observe(&a, &mut alerts);
            n += alerts.len();
        }
    });
    n
}

fn bench(c: &mut Criterion) {
    let (jsonl, log) = input();
    let reg = registry();
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(N));
    g.sample_size(20);
    g.bench_function("log file: parse + normalise + 12 detectors", |b| {
        b.iter(|| black_box(run(black_box(&log), &reg)))
    });
    g.bench_function("JSON Lines: parse + normalise + 12 detectors", |b| {
        b.iter(|| black_box(run(black_box(&jsonl), &reg)))
    });
    g.bench_function(
        "baseline: skip-parse with serde IgnoredAny (log file)",
        |b| {
            b.iter(|| {
                black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&log)).is_ok())
            })
        },
    );
    g.bench_function("baseline: bare typed serde parse (JSON Lines)", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for line in black_box(&jsonl).split(|c| *c == b'\n') {
                n += usize::from(serde_json::from_slice::<Bare>(line).is_ok());
            }
            black_box(n)
        })
    });
    g.bench_function("parse only, streamed (log file)", |b| {
        b.iter(|| {
            let mut n = 0usize;
            parse_text_each(
                "bench",
                std::str::from_utf8(black_box(&log)).unwrap(),
                |r| {
                    n += black_box(&r).index & 1;
                },
            );
            black_box(n)
        })
    });
    g.bench_function("parse only, collected (log file)", |b| {
        b.iter(|| {
            black_box(
                parse_text("bench", std::str::from_utf8(black_box(&log)).unwrap())
                    .records
                    .len(),
            )
        })
    });
    g.bench_function("parse only, owned copy (log file)", |b| {
        b.iter(|| black_box(parse_bytes("bench", black_box(&log)).records.len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
