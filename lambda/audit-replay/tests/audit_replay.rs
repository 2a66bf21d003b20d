//! audit-replay against the in-memory archive (and S3 on the emulator): the items' alerts
//! together are one whole-range replay's, byte for byte, with bursts that straddle midnight;
//! inputs are refused by name; a failed fetch fails the item (the Map retries it) and a broken
//! file is reported without stopping the item.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write as _;

use audit_replay::{ReplayError, Settings, handle};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use warden_core::cloudtrail::{normalise_owned, parse_text_each};
use warden_core::detect::{DetectConfig, Pipeline};
use warden_core::replay::DayItem;
use warden_testkit::FakeArchive;

const TRAIL: &str = "trail-bucket";
const RESULTS: &str = "audit-bucket";
const PRIMARY: &str = "111111111111";

fn folder(region: &str) -> String {
    format!("cloudtrail/AWSLogs/o-abc123/{PRIMARY}/CloudTrail/{region}/")
}

fn config() -> DetectConfig {
    DetectConfig {
        shared_bucket: Some("shared".into()),
        trusted_accounts: vec![PRIMARY.into()],
        failed_auth_threshold: 5,
        failed_auth_window_seconds: 600,
        request_spike_threshold: 6,
        request_spike_window_seconds: 300,
        egress_threshold_bytes: 40_000_000,
        egress_window_seconds: 3600,
        ..DetectConfig::default()
    }
}

fn settings() -> Settings {
    Settings {
        trail_bucket: TRAIL.into(),
        trail_prefix: "cloudtrail/".into(),
        results_bucket: RESULTS.into(),
        results_prefix: "replay/".into(),
        detect: config(),
    }
}

fn record(account: &str, at: DateTime<Utc>, id: &str, denied: bool, bytes: u64) -> Value {
    let mut r = json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "accountId": account,
            "arn": format!("arn:aws:sts::{account}:assumed-role/warden-consumer/s1"),
            "sessionContext": {"sessionIssuer": {"type": "Role", "accountId": account,
                "arn": format!("arn:aws:iam::{account}:role/warden-consumer")}}},
        "eventTime": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2", "eventID": id,
        "eventType": "AwsApiCall", "recipientAccountId": PRIMARY, "eventCategory": "Data",
        "requestParameters": {"bucketName": "shared", "key": "analytics/a.csv"},
        "additionalEventData": {"bytesTransferredIn": 0, "bytesTransferredOut": bytes},
    });
    if denied {
        r["errorCode"] = json!("AccessDenied");
    }
    r
}

fn gz(v: &Value) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(v.to_string().as_bytes()).unwrap();
    e.finish().unwrap()
}

/// Three days of five-minute log files in two regions' folders: steady reads by four accounts,
/// and bursts of denied requests, requests and bytes around each midnight, so that windows
/// opened before midnight fire (or stay quiet) after it.
fn archive() -> FakeArchive {
    let a = FakeArchive::default();
    let start = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
    for region in ["eu-west-1", "us-east-1"] {
        let mut n = 0u64;
        for slot in 0..(3 * 288) {
            let from = start + Duration::minutes(5 * slot);
            let mut records = Vec::new();
            for k in 0..6 {
                let at = from + Duration::seconds(50 * k);
                let acct = format!("2100000000{:02}", (slot + k) % 4);
                n += 1;
                records.push(record(
                    &acct,
                    at,
                    &format!("{region}-{n}"),
                    false,
                    1_000_000,
                ));
            }
            let minute = (slot % 288) * 5;
            // Around midnight (23:50–00:10): denials and bursts by one account.
            if !(10..=285).contains(&(slot % 288)) || minute >= 23 * 60 + 50 {
                for k in 0..4 {
                    n += 1;
                    let at = from + Duration::seconds(60 * k + 7);
                    records.push(record(
                        "210000000099",
                        at,
                        &format!("{region}-{n}"),
                        true,
                        0,
                    ));
                    n += 1;
                    records.push(record(
                        "210000000099",
                        at,
                        &format!("{region}-{n}"),
                        false,
                        9_000_000,
                    ));
                }
            }
            let end = from + Duration::minutes(5);
            let key = format!(
                "{}{}/{PRIMARY}_CloudTrail_{region}_{}_x{slot}.json.gz",
                folder(region),
                from.format("%Y/%m/%d"),
                end.format("%Y%m%dT%H%MZ"),
            );
            a.put(TRAIL, &key, gz(&json!({"Records": records})));
        }
    }
    // Digest files are not events: the plan does not walk into them.
    a.put(
        TRAIL,
        &format!(
            "cloudtrail/AWSLogs/o-abc123/{PRIMARY}/CloudTrail-Digest/eu-west-1/2026/11/22/d.json.gz"
        ),
        b"{}".to_vec(),
    );
    a
}

/// `warden audit replay s3://<folder> --since 2026-11-22 --until 2026-11-24` for each trail
/// folder in turn: each folder's files in key order (= time order) through one pipeline.
fn whole_range(a: &FakeArchive) -> String {
    let mut out = String::new();
    let mut alerts = Vec::new();
    let mut folders = vec![folder("eu-west-1"), folder("us-east-1")];
    folders.sort();
    for f in folders {
        let mut p = Pipeline::new(&config(), None).unwrap();
        for key in a.keys_under(TRAIL, &f) {
            let bytes = a.get(TRAIL, &key).unwrap();
            let text = warden_core::cloudtrail::decompress(&bytes)
                .unwrap()
                .into_owned();
            let text = String::from_utf8(text).unwrap();
            parse_text_each(&key, &text, |r| {
                let rec = normalise_owned(r).unwrap();
                alerts.clear();
                p.observe(&rec, &mut alerts);
                for al in &alerts {
                    out.push_str(&serde_json::to_string(al).unwrap());
                    out.push('\n');
                }
            });
        }
    }
    out
}

async fn run_plan(a: &FakeArchive, run: &str) -> Value {
    handle(
        a,
        &settings(),
        None,
        &json!({"action": "plan", "source": format!("s3://{TRAIL}/cloudtrail/AWSLogs/"),
                "since": "2026-11-22", "until": "2026-11-24", "run_id": run}),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_items_alerts_together_are_one_replay_of_the_range() {
    let a = archive();
    let plan = run_plan(&a, "r1").await;
    assert_eq!(plan["items"], 6, "2 folders × 3 days: {plan}");
    assert_eq!(plan["manifest"]["Key"], "replay/r1/manifest.json");
    let manifest: Vec<DayItem> =
        serde_json::from_slice(&a.get(RESULTS, "replay/r1/manifest.json").unwrap()).unwrap();
    assert_eq!(manifest.len(), 6);
    let mut union = String::new();
    let mut warmups = 0;
    for item in &manifest {
        // As the Map's ItemSelector hands it over.
        let out = handle(
            &a,
            &settings(),
            None,
            &json!({"item": item, "run_id": "r1"}),
        )
        .await
        .unwrap();
        assert_eq!(out["problem_count"], 0, "{out}");
        warmups += out["warmup_files"].as_u64().unwrap();
        let key = out["alerts_key"].as_str().unwrap();
        union.push_str(&String::from_utf8(a.get(RESULTS, key).unwrap()).unwrap());
    }
    let reference = whole_range(&a);
    for detector in ["failed-auth", "request-spike", "egress-spike"] {
        assert!(
            reference.contains(&format!("\"detector\":\"{detector}\"")),
            "the data makes {detector} fire"
        );
    }
    assert_eq!(
        union.lines().count(),
        reference.lines().count(),
        "as many alerts"
    );
    assert!(
        union == reference,
        "the same alerts, byte for byte, in the same order"
    );
    // Days 2 and 3 of both folders read the previous day's last two hours: the 24 files ending
    // after 22:00 and the one ending at 22:00 (a file's name carries the end of its 5 minutes).
    assert_eq!(warmups, 4 * 25);
}

/// Without the warm-up, an item starts with empty windows: a burst that began before midnight
/// fires again after it (or not at all). The warm-up is what makes the union exact.
#[tokio::test]
async fn without_the_warm_up_the_union_would_differ() {
    let a = archive();
    let reference = whole_range(&a);
    // Replay day 2 of one folder with only its own files.
    let mut p = Pipeline::new(&config(), None).unwrap();
    let mut own = String::new();
    let mut alerts = Vec::new();
    for key in a.keys_under(TRAIL, &format!("{}2026/11/23/", folder("eu-west-1"))) {
        let bytes = a.get(TRAIL, &key).unwrap();
        let text = String::from_utf8(
            warden_core::cloudtrail::decompress(&bytes)
                .unwrap()
                .into_owned(),
        )
        .unwrap();
        parse_text_each(&key, &text, |r| {
            alerts.clear();
            p.observe(&normalise_owned(r).unwrap(), &mut alerts);
            for al in &alerts {
                own.push_str(&serde_json::to_string(al).unwrap());
                own.push('\n');
            }
        });
    }
    let item = DayItem {
        bucket: TRAIL.into(),
        folder: folder("eu-west-1"),
        day: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
    };
    let out = handle(
        &a,
        &settings(),
        None,
        &json!({"item": item, "run_id": "warm"}),
    )
    .await
    .unwrap();
    let warm =
        String::from_utf8(a.get(RESULTS, out["alerts_key"].as_str().unwrap()).unwrap()).unwrap();
    assert!(
        warm.lines().all(|l| reference.contains(l)),
        "the warm item's alerts are the range's"
    );
    assert_ne!(
        own, warm,
        "a cold start raises other alerts than the whole-range replay"
    );
    let extra = own.lines().filter(|l| !reference.contains(*l)).count();
    let missing = warm.lines().filter(|l| !own.contains(*l)).count();
    assert!(
        extra + missing > 0,
        "cold: {extra} alerts too many, {missing} missing"
    );
}

#[tokio::test]
async fn inputs_are_refused_by_name() {
    let a = archive();
    let s = settings();
    let cases = [
        (
            json!({"action": "plan", "source": "trail-bucket/x", "since": "2026-11-22", "until": "2026-11-24", "run_id": "r"}),
            "source",
        ),
        (
            json!({"action": "plan", "source": "s3://trail-bucket/cloudtrail/", "since": "2026-11-25", "until": "2026-11-24", "run_id": "r"}),
            "until",
        ),
        (
            json!({"action": "plan", "source": "s3://trail-bucket/cloudtrail/", "since": "2026-11-22", "until": "2026-11-24", "run_id": "../r"}),
            "run_id",
        ),
        (
            json!({"action": "plan", "source": "s3://trail-bucket/cloudtrail/nothing-here/", "since": "2026-11-22", "until": "2026-11-24", "run_id": "r"}),
            "source",
        ),
        (
            json!({"action": "plan", "since": "2026-11-22", "until": "2026-11-24", "run_id": "r"}),
            "source",
        ),
        (
            json!({"item": {"bucket": TRAIL, "folder": "cloudtrail/AWSLogs/", "day": "2026-11-23"}, "run_id": "r"}),
            "item.folder",
        ),
        (
            json!({"item": {"bucket": TRAIL, "folder": folder("eu-west-1"), "day": "2026-11-23", "extra": 1}, "run_id": "r"}),
            "item",
        ),
        (json!({"action": "delete"}), "action"),
        // Only the trail bucket, only under its prefix, only folders in CloudTrail's layout.
        (
            json!({"action": "plan", "source": "s3://other-bucket/cloudtrail/AWSLogs/", "since": "2026-11-22", "until": "2026-11-24", "run_id": "r"}),
            "source",
        ),
        (
            json!({"action": "plan", "source": "s3://trail-bucket/replay/", "since": "2026-11-22", "until": "2026-11-24", "run_id": "r"}),
            "source",
        ),
        (
            json!({"item": {"bucket": "other-bucket", "folder": folder("eu-west-1"), "day": "2026-11-23"}, "run_id": "r"}),
            "item.bucket",
        ),
        (
            json!({"item": {"bucket": TRAIL, "folder": "cloudtrail/x/111111111111/CloudTrail/eu-west-1/", "day": "2026-11-23"}, "run_id": "r"}),
            "item.folder",
        ),
    ];
    for (event, want) in cases {
        match handle(&a, &s, None, &event).await {
            Err(ReplayError::Input(e)) => assert_eq!(e.field, want, "{event}: {e}"),
            other => panic!("{event}: want an input error on {want}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_failed_fetch_fails_the_item_and_a_broken_file_is_reported() {
    let a = archive();
    let item = DayItem {
        bucket: TRAIL.into(),
        folder: folder("eu-west-1"),
        day: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
    };
    let event = json!({"item": item, "run_id": "r2"});
    let keys = a.keys_under(TRAIL, &format!("{}2026/11/23/", folder("eu-west-1")));
    a.failing.lock().unwrap().push(keys[40].clone());
    match handle(&a, &settings(), None, &event).await {
        Err(ReplayError::Port(e)) => assert!(e.message.contains("SlowDown"), "{e}"),
        other => panic!("want the fetch error, got {other:?}"),
    }
    assert!(
        a.get(
            RESULTS,
            &format!("replay/r2/alerts/{}2026-11-23.jsonl", folder("eu-west-1"))
        )
        .is_none(),
        "nothing written for a failed item"
    );
    // The retry (the Map's) succeeds and writes the item's key once.
    a.failing.lock().unwrap().clear();
    a.put(TRAIL, &keys[3], b"{\"Records\": [".to_vec());
    let out = handle(&a, &settings(), None, &event).await.unwrap();
    assert_eq!(out["problem_count"], 1, "{out}");
    assert!(out["problems"][0].as_str().unwrap().contains(&keys[3]));
    assert_eq!(out["files"], 288);
    let again = handle(&a, &settings(), None, &event).await.unwrap();
    assert_eq!(
        again, out,
        "a second delivery of the item writes the same result"
    );
    // A record delivered twice (in two files of the day) raises its alerts once.
    let dup = a.get(TRAIL, &keys[100]).unwrap();
    a.put(
        TRAIL,
        &format!(
            "{}2026/11/23/{PRIMARY}_CloudTrail_eu-west-1_20261123T2359Z_dup.json.gz",
            folder("eu-west-1")
        ),
        dup,
    );
    let out = handle(&a, &settings(), None, &event).await.unwrap();
    assert!(out["duplicate_alerts"].as_u64().unwrap() > 0, "{out}");
    let text =
        String::from_utf8(a.get(RESULTS, out["alerts_key"].as_str().unwrap()).unwrap()).unwrap();
    let mut seen = std::collections::HashSet::new();
    for l in text.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert!(
            seen.insert((v["detector"].to_string(), v["event_id"].to_string())),
            "once: {l}"
        );
    }
}

/// The function on the real S3 adapter against the emulator: the plan walks the folders with
/// ListObjectsV2 and a delimiter (digest folders left out), and the items read, warm up and
/// write to S3 exactly as on the in-memory archive. Skipped (with a note) without moto.
#[tokio::test]
async fn plan_and_items_on_the_emulator_match_the_in_memory_archive() {
    let Ok(endpoint) = std::env::var("WARDEN_MOTO_ENDPOINT") else {
        eprintln!("NOTE: WARDEN_MOTO_ENDPOINT not set (run `make test`): emulator test skipped");
        return;
    };
    let cfg = warden_aws::local_config(&endpoint, "us-east-1").await;
    let suffix = std::process::id();
    let (trail, results) = (format!("trail-{suffix}"), format!("results-{suffix}"));
    warden_aws::bootstrap::create_bucket(&cfg, &trail)
        .await
        .unwrap();
    warden_aws::bootstrap::create_bucket(&cfg, &results)
        .await
        .unwrap();
    let s3 = warden_aws::S3LogSource::new(&cfg);
    let mem = archive();
    // Two days of one folder (and the digest file) copied into the emulator.
    let keep = format!("{}2026/11/2", folder("eu-west-1"));
    let copied: Vec<String> = mem
        .keys_under(TRAIL, "cloudtrail/")
        .into_iter()
        .filter(|k| (k.starts_with(&keep) && !k.contains("/2026/11/24/")) || k.contains("Digest"))
        .collect();
    let bodies: Vec<(String, Vec<u8>)> = copied
        .iter()
        .map(|k| (k.clone(), mem.get(TRAIL, k).unwrap()))
        .collect();
    futures_util::future::join_all(bodies.chunks(16).map(|c| {
        let (s3, trail) = (&s3, &trail);
        async move {
            for (k, b) in c {
                s3.put(trail, k, b.clone()).await.unwrap();
            }
        }
    }))
    .await;
    let s = Settings {
        trail_bucket: trail.clone(),
        results_bucket: results.clone(),
        ..settings()
    };
    let plan = handle(
        &s3,
        &s,
        None,
        &json!({"action": "plan", "source": format!("s3://{trail}/cloudtrail/"),
                "since": "2026-11-23", "until": "2026-11-23", "run_id": "moto"}),
    )
    .await
    .unwrap();
    assert_eq!(
        (plan["folders"].as_u64(), plan["items"].as_u64()),
        (Some(1), Some(1)),
        "{plan}"
    );
    let manifest: Vec<DayItem> =
        serde_json::from_slice(&s3.get(&results, "replay/moto/manifest.json").await.unwrap())
            .unwrap();
    let out = handle(
        &s3,
        &s,
        None,
        &json!({"item": manifest[0], "run_id": "moto"}),
    )
    .await
    .unwrap();
    assert_eq!(
        (out["files"].as_u64(), out["warmup_files"].as_u64()),
        (Some(288), Some(25)),
        "{out}"
    );
    let on_s3 = s3
        .get(&results, out["alerts_key"].as_str().unwrap())
        .await
        .unwrap();
    // The same item on the in-memory archive writes the same alerts.
    let mut item = manifest[0].clone();
    item.bucket = TRAIL.into();
    let mem_out = handle(
        &mem,
        &settings(),
        None,
        &json!({"item": item, "run_id": "moto"}),
    )
    .await
    .unwrap();
    let in_mem = mem
        .get(RESULTS, mem_out["alerts_key"].as_str().unwrap())
        .unwrap();
    assert!(!on_s3.is_empty());
    assert!(
        on_s3 == in_mem,
        "S3 and in-memory items raise the same alerts"
    );
}
