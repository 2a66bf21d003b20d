//! End-to-end tests of the `warden` binary: the CLI contract other tools depend on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn warden(args: &[&str], stdin: Option<&str>) -> Output {
    warden_bytes(args, stdin.map(str::as_bytes))
}

fn warden_bytes(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

const GRANTS: &str = "fixtures/grants/consumers-20.json";

#[test]
fn simulate_single_and_batch_keep_order_and_name_errors() {
    let req = r#"{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:GetObject","resource":"arn:aws:s3:::b/k","resource_account":"111122223333","identity_policies":[{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}]}"#;
    let out = warden(&["policy", "simulate", "-"], Some(req));
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "Allowed");

    let deny = req.replace("s3:GetObject", "s3:PutObject");
    let batch = format!("{req}\n{{\"principal\":\"anonymous\"}}\n\n{deny}\nnot json\n");
    let out = warden(&["policy", "simulate", "--batch"], Some(&batch));
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5, "one result per input line");
    assert_eq!(lines[0]["decision"], "Allowed");
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("action: is required")
    );
    assert!(
        lines[2]["error"]
            .as_str()
            .unwrap()
            .contains("empty request")
    );
    assert_eq!(lines[3]["decision"], "ImplicitlyDenied");
    assert!(
        lines[4]["error"]
            .as_str()
            .unwrap()
            .starts_with("request: not valid JSON")
    );
}

/// The batch reader takes lines as bytes from its 64 KiB buffer: a CRLF line, a line longer than
/// the buffer, a line of invalid UTF-8 and a last line without a newline each get one result.
#[test]
fn simulate_batch_lines_across_buffers_and_bytes() {
    let req = r#"{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:GetObject","resource":"arn:aws:s3:::b/k","resource_account":"111122223333","identity_policies":[{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}]}"#;
    // 100 KB of resources in the identity policy: the line spans two reads.
    let big_list: Vec<String> = (0..3000)
        .map(|i| format!("\"arn:aws:s3:::other-{i}/*\""))
        .collect();
    let big = req.replace(
        "\"Resource\":\"*\"",
        &format!("\"Resource\":[\"*\",{}]", big_list.join(",")),
    );
    assert!(big.len() > 70_000);
    let mut input = Vec::new();
    input.extend_from_slice(format!("{req}\r\n{big}\n").as_bytes());
    input.extend_from_slice(b"{\"principal\":\"\xff\"}\n");
    input.extend_from_slice(req.as_bytes());
    let out = warden_bytes(&["policy", "simulate", "--batch"], Some(&input));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0]["decision"], "Allowed");
    assert_eq!(lines[1]["decision"], "Allowed");
    assert!(
        lines[2]["error"]
            .as_str()
            .unwrap()
            .starts_with("request: not valid UTF-8"),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3]["decision"], "Allowed");
}

/// 30 consumers on their own namespaces overflow the bucket policy; with the access-point tier
/// the first 20 stay in it, the other 10 get access points, and every document's headroom is
/// printed. `warden access check` then answers through the tier each consumer is on.
#[test]
fn render_moves_consumers_past_the_threshold_to_access_points() {
    let consumers: Vec<Value> = (0..30)
        .map(|i| {
            serde_json::json!({
                "account_id": format!("{:012}", 300_000_000_000u64 + i),
                "allowed_prefixes": [format!("consumers/c{i:03}/inbox/"), format!("consumers/c{i:03}/shared/")],
                "access_level": "read",
                "expiration_date": "2027-12-31T00:00:00Z",
                "external_id": format!("ext-{i:04}-abcdef"),
            })
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("warden-cli-ap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let grants = dir.join("grants.json");
    std::fs::write(
        &grants,
        serde_json::json!({"primary_account_id": "111111111111", "consumer_accounts": consumers})
            .to_string(),
    )
    .unwrap();
    let g = grants.to_str().unwrap();
    let refused = warden(
        &[
            "policy",
            "render",
            "--grants",
            g,
            "--sharing-mode",
            "bucket-policy",
        ],
        None,
    );
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("over the 20480-byte limit") && err.contains("--sharing-mode auto"),
        "{err}"
    );

    let text = warden(
        &[
            "policy",
            "render",
            "--grants",
            g,
            "--sharing-mode",
            "auto",
            "--access-point-threshold",
            "20",
        ],
        None,
    );
    assert!(
        text.status.success(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.starts_with("# Size headroom"), "{text}");
    assert!(
        text.contains("largest of 10 access point policies"),
        "{text}"
    );
    assert!(
        text.contains("accesspoint/warden-prod-300000000029"),
        "{text}"
    );

    let json = warden(
        &[
            "policy",
            "render",
            "--grants",
            g,
            "--sharing-mode",
            "access-points",
            "--format",
            "json",
        ],
        None,
    );
    assert!(json.status.success());
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["access_points"].as_object().unwrap().len(), 30);
    for h in v["headroom"].as_array().unwrap() {
        assert!(
            h["size"].as_u64().unwrap() <= h["budget"].as_u64().unwrap(),
            "{h}"
        );
    }
    assert!(
        v["bucket_policy"]["policy"]
            .to_string()
            .contains("s3:DataAccessPointAccount"),
        "the bucket delegates"
    );
    // The consumer past the threshold reads through its access point, and is told so.
    let check = |account: &str, key: &str| {
        let out = warden(
            &[
                "access",
                "check",
                "--grants",
                g,
                "--account",
                account,
                "--action",
                "s3:GetObject",
                "--key",
                key,
                "--json",
            ],
            None,
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v)
    };
    let (code, v) = check("300000000025", "consumers/c025/shared/a.csv");
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["tier"], "access-point");
    assert_eq!(v["access_point"]["name"], "warden-prod-300000000025");
    assert_eq!(
        v["resource"],
        "arn:aws:s3:us-east-1:111111111111:accesspoint/warden-prod-300000000025/object/consumers/c025/shared/a.csv"
    );
    let layers: Vec<&str> = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["layer"].as_str().unwrap())
        .collect();
    assert_eq!(layers, ["s3-access-point", "s3", "kms"]);
    let (code, v) = check("300000000025", "consumers/c024/shared/a.csv");
    assert_eq!(code, Some(3), "{v}");
    assert!(
        v["advice"]
            .as_str()
            .unwrap()
            .contains("outside the prefixes"),
        "{v}"
    );
    // A live access point policy without the grant: the access point layer denies, and the fix
    // names the reconciler.
    let empty = dir.join("empty-ap.json");
    std::fs::write(
        &empty,
        r#"{"Policy":"{\"Version\":\"2012-10-17\",\"Statement\":[]}"}"#,
    )
    .unwrap();
    let out = warden(
        &[
            "access",
            "check",
            "--grants",
            g,
            "--account",
            "300000000025",
            "--action",
            "s3:GetObject",
            "--key",
            "consumers/c025/shared/a.csv",
            "--access-point-policy",
            empty.to_str().unwrap(),
            "--json",
        ],
        None,
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["denied_by"], "s3-access-point (s3:GetObject)", "{v}");
    assert!(
        v["advice"].as_str().unwrap().contains("policy-reconciler"),
        "{v}"
    );
    // A consumer under the threshold stays on the bucket.
    let (code, v) = check("300000000003", "consumers/c003/shared/a.csv");
    assert_eq!(
        (code, v["tier"].as_str()),
        (Some(0), Some("bucket-policy")),
        "{v}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn render_json_has_every_document_with_sizes() {
    let out = warden(
        &[
            "policy",
            "render",
            "--grants",
            GRANTS,
            "--format",
            "json",
            "--require-mfa",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["bucket_policy"]["size"].as_u64().unwrap() <= 20480);
    assert_eq!(v["kms_grants"].as_array().unwrap().len(), 20);
    assert_eq!(v["trust_policies"].as_object().unwrap().len(), 20);
    let text = v["trust_policies"]["210000000000"]["policy"].to_string();
    assert!(text.contains("aws:MultiFactorAuthPresent"));
}

#[test]
fn render_reports_bad_grants_by_field() {
    let dir = std::env::temp_dir().join(format!("warden-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.json");
    std::fs::write(&f, r#"{"primary_account_id":"111111111111","consumer_accounts":[{"account_id":"210000000000","allowed_prefixes":["/abs/"],"access_level":"read","expiration_date":"2027-01-01T00:00:00Z"}]}"#).unwrap();
    let out = warden(&["policy", "render", "--grants", f.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("consumer_accounts[0].allowed_prefixes[0]: must not start with '/'"),
        "{err}"
    );
}

#[test]
fn lint_exit_codes() {
    let dir = std::env::temp_dir().join(format!("warden-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.json");
    let bad = dir.join("bad.json");
    std::fs::write(&good, r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#).unwrap();
    std::fs::write(&bad, r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}}"#).unwrap();
    assert_eq!(
        warden(&["policy", "lint", good.to_str().unwrap()], None)
            .status
            .code(),
        Some(0)
    );
    let out = warden(&["policy", "lint", bad.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("wildcard-resource"));
    assert_eq!(
        warden(&["policy", "lint", "/nonexistent.json"], None)
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn access_check_allows_inside_denies_outside_and_after_expiry() {
    let check = |acct: &str, action: &str, key: &str, at: &str| {
        warden(
            &[
                "access",
                "check",
                "--grants",
                GRANTS,
                "--account",
                acct,
                "--action",
                action,
                "--key",
                key,
                "--at",
                at,
            ],
            None,
        )
    };
    let ok = check(
        "210000000000",
        "s3:GetObject",
        "analytics/a.csv",
        "2026-11-22T10:00:00Z",
    );
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("allow:"));
    let out = check(
        "210000000000",
        "s3:GetObject",
        "finance/a.csv",
        "2026-11-22T10:00:00Z",
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("deny:"));
    assert_eq!(
        check(
            "210000000000",
            "s3:PutObject",
            "analytics/a.csv",
            "2026-11-22T10:00:00Z"
        )
        .status
        .code(),
        Some(3)
    );
    assert_eq!(
        check(
            "210000019019",
            "s3:GetObject",
            "partners/a.csv",
            "2027-01-02T00:00:00Z"
        )
        .status
        .code(),
        Some(3)
    );
    let bad = check(
        "21000000000",
        "s3:GetObject",
        "analytics/a.csv",
        "2026-11-22T10:00:00Z",
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--account: account_id: must be exactly 12 digits")
    );
}

#[test]
fn access_check_follows_the_kms_layer_of_the_live_documents() {
    let dir = std::env::temp_dir().join(format!("warden-check-kms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // What a key policy without consumer statements and a key without grants look like, as the
    // AWS CLI prints them (get-key-policy wraps the document in a JSON string).
    let key_policy = dir.join("key-policy.json");
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Sid":"EnableRootAccountAdministration","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"*"}]}"#;
    std::fs::write(
        &key_policy,
        serde_json::json!({"Policy": doc, "PolicyName": "default"}).to_string(),
    )
    .unwrap();
    let no_grants = dir.join("grants-none.json");
    std::fs::write(&no_grants, r#"{"Grants":[],"Truncated":false}"#).unwrap();
    let base = [
        "access",
        "check",
        "--grants",
        GRANTS,
        "--account",
        "210000000000",
        "--action",
        "s3:GetObject",
        "--key",
        "analytics/a.csv",
        "--at",
        "2026-11-22T10:00:00Z",
        "--key-policy",
        key_policy.to_str().unwrap(),
    ];
    let mut args = base.to_vec();
    args.extend(["--kms-grants", no_grants.to_str().unwrap(), "--json"]);
    let out = warden(&args, None);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "ImplicitlyDenied");
    assert_eq!(v["denied_by"], "kms (kms:Decrypt)");
    assert_eq!(v["layers"][0]["decision"], "Allowed", "S3 itself allows");
    assert_eq!(v["layers"][1]["action"], "kms:Decrypt");
    assert!(
        v["advice"]
            .as_str()
            .unwrap()
            .starts_with("the KMS grant for 210000000000 is missing"),
        "{v}"
    );
    assert_eq!(v["documents"]["kms_grants"], no_grants.to_str().unwrap());
    // The grants the reconciler renders (the default) let the same read through.
    let ok = warden(&base, None);
    assert_eq!(ok.status.code(), Some(0));
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(text.contains("[kms] kms:Decrypt on arn:aws:kms:"), "{text}");
    assert!(text.contains("KMS grant warden-210000000000-read allows kms:Decrypt"));
    // A truncated ListGrants page is refused by name: a missing grant would read as a denial.
    let truncated = dir.join("grants-truncated.json");
    std::fs::write(
        &truncated,
        r#"{"Grants":[],"Truncated":true,"NextMarker":"x"}"#,
    )
    .unwrap();
    let mut args = base.to_vec();
    args.extend(["--kms-grants", truncated.to_str().unwrap()]);
    let out = warden(&args, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--kms-grants.Truncated"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_1() {
    let out = warden(&["policy", "frobnicate"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(warden(&["--help"], None).status.code(), Some(0));
}

#[test]
fn audit_replay_alerts_records_and_exit_codes() {
    let dir = std::env::temp_dir().join(format!("warden-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let records = dir.join("records.jsonl");
    let out = warden(
        &[
            "audit",
            "replay",
            "fixtures/cloudtrail/log-file.json.gz",
            "--grants",
            GRANTS,
            "--records-out",
            records.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(alerts.iter().any(|a| a["detector"] == "unknown-account"));
    assert!(alerts.iter().all(|a| a["event_id"].is_string()
        && a["severity"].is_string()
        && a["summary"].is_string()));
    assert_eq!(
        std::fs::read_to_string(&records).unwrap().lines().count(),
        20
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("210000000000") && stderr.contains("20 record(s)"),
        "{stderr}"
    );

    // Without --grants: says once which detectors are off.
    let out = warden(
        &[
            "audit",
            "replay",
            "fixtures/cloudtrail/log-file.json.gz",
            "fixtures/cloudtrail/eventbridge-getobject.json",
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("detectors are off").count(), 1, "{stderr}");

    // Some input unreadable: exit 2 after processing the rest.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"Records\": [").unwrap();
    let out = warden(
        &[
            "audit",
            "replay",
            bad.to_str().unwrap(),
            "fixtures/cloudtrail/log-file.json.gz",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.json record 0: invalid JSON"));
    assert!(
        !out.stdout.is_empty(),
        "the readable file was still processed"
    );

    // Usage errors exit 1.
    assert_eq!(warden(&["audit", "replay"], None).status.code(), Some(1));
    let cfg = dir.join("cfg.json");
    std::fs::write(&cfg, r#"{"time_zone":"Mars/Base"}"#).unwrap();
    let out = warden(
        &[
            "audit",
            "replay",
            "fixtures/cloudtrail",
            "--config",
            cfg.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("time_zone"));
}

/// Attack (issue 13): a directory holding a symbolic link to itself must not make the replay
/// recurse without end, and a file over `--max-file-bytes` is reported, not read into memory.
#[cfg(unix)]
#[test]
fn attack_replay_symlink_loop_and_oversized_file_are_bounded() {
    let dir = std::env::temp_dir().join(format!("warden-replay-loop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::copy(
        repo().join("fixtures/cloudtrail/log-file.json.gz"),
        dir.join("logs/a.json.gz"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("logs/loop")).unwrap();
    let out = warden(
        &["audit", "replay", dir.to_str().unwrap(), "--grants", GRANTS],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("loop: symbolic link not followed"),
        "{stderr}"
    );
    // The real file was still read once.
    assert!(String::from_utf8_lossy(&out.stdout).contains("unknown-account"));

    let big = dir.join("logs/a.json.gz");
    let out = warden(
        &[
            "audit",
            "replay",
            big.to_str().unwrap(),
            "--max-file-bytes",
            "100",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("larger than --max-file-bytes (100 bytes)"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// An Athena / CloudTrail Lake export of the same log: `eventTime` as `YYYY-MM-DD HH:MM:SS.fff`
/// (UTC, no zone) and nested objects as JSON strings. The replay reads it as the original, gives
/// the same alerts and records, and says which forms it read; a record without any event time
/// is refused by name (exit 2).
#[test]
fn audit_replay_reads_export_forms_as_the_original() {
    use std::io::Read as _;
    let dir = std::env::temp_dir().join(format!("warden-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/cloudtrail/log-file.json.gz"
        ))
        .unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let log: Value = serde_json::from_str(&text).unwrap();
    let mut export = String::new();
    for r in log["Records"].as_array().unwrap() {
        let mut r = r.clone();
        let t = r["eventTime"].as_str().unwrap().to_owned();
        r["eventTime"] = Value::String(format!("{} {}.000", &t[..10], &t[11..19]));
        for k in ["userIdentity", "requestParameters", "additionalEventData"] {
            if r[k].is_object() {
                r[k] = Value::String(r[k].to_string());
            }
        }
        export.push_str(&r.to_string());
        export.push('\n');
    }
    let path = dir.join("athena-export.jsonl");
    std::fs::write(&path, &export).unwrap();
    let run = |input: &str, records: &std::path::Path| {
        warden(
            &[
                "audit",
                "replay",
                input,
                "--grants",
                GRANTS,
                "--records-out",
                records.to_str().unwrap(),
            ],
            None,
        )
    };
    let (a, b) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    let original = run("fixtures/cloudtrail/log-file.json.gz", &a);
    let exported = run(path.to_str().unwrap(), &b);
    assert_eq!(
        exported.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    assert_eq!(
        original.stdout, exported.stdout,
        "the same alerts, byte for byte"
    );
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "the same records"
    );
    let stderr = String::from_utf8_lossy(&exported.stderr);
    assert!(
        stderr.contains("export forms read: 20 record(s) with eventTime as YYYY-MM-DD HH:MM:SS[.fff] (taken as UTC), 20 with nested objects as JSON strings"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&original.stderr).contains("export forms"));
    // One record without any event time: refused by name, the rest read.
    let first = export.lines().next().unwrap();
    let mut no_time: Value = serde_json::from_str(first).unwrap();
    no_time.as_object_mut().unwrap().remove("eventTime");
    std::fs::write(&path, format!("{no_time}\n{export}")).unwrap();
    let out = run(path.to_str().unwrap(), &b);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("eventTime is missing"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--jobs N` reads, parses and normalises files on N threads, and the detectors still see every
/// record in input order: the alerts, the records and the problems are the same as with
/// `--jobs 1`, byte for byte, whatever N (more jobs than files included).
#[test]
fn audit_replay_jobs_give_the_same_alerts_as_one_job() {
    let dir = std::env::temp_dir().join(format!("warden-jobs-{}", std::process::id()));
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let generated = warden(
        &[
            "dev",
            "gen-cloudtrail",
            "--records",
            "6000",
            "--seed",
            "3",
            "--per-file",
            "250",
            "--out-dir",
            logs.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    // A broken file in the middle: its problem is reported at the same place.
    std::fs::write(logs.join("m-broken.json"), "{\"Records\": [").unwrap();
    // Thresholds low enough that the windowed detectors (state per account, split over the
    // detector shards) fire for every account.
    let config = dir.join("detect.json");
    std::fs::write(
        &config,
        r#"{"failed_auth_threshold": 1, "failed_auth_window_seconds": 3600,
            "egress_threshold_bytes": 2000000000, "egress_window_seconds": 3600}"#,
    )
    .unwrap();
    let run = |jobs: &str| {
        let records = dir.join(format!("records-{jobs}.jsonl"));
        let out = warden(
            &[
                "audit",
                "replay",
                logs.to_str().unwrap(),
                "--grants",
                GRANTS,
                "--config",
                config.to_str().unwrap(),
                "--jobs",
                jobs,
                "--records-out",
                records.to_str().unwrap(),
            ],
            None,
        );
        (out, std::fs::read(&records).unwrap())
    };
    let (one, one_records) = run("1");
    assert_eq!(one.status.code(), Some(2), "the broken file is reported");
    let alerts = String::from_utf8_lossy(&one.stdout);
    for windowed in ["\"failed-auth\"", "\"egress-spike\""] {
        assert!(
            alerts.matches(windowed).count() >= 20,
            "{windowed} fires for every account"
        );
    }
    for jobs in ["2", "3", "64"] {
        let (n, n_records) = run(jobs);
        assert_eq!(n.status.code(), Some(2));
        assert_eq!(n.stdout, one.stdout, "alerts with --jobs {jobs}");
        assert_eq!(n_records, one_records, "records with --jobs {jobs}");
        assert_eq!(
            n.stderr, one.stderr,
            "summary and problems with --jobs {jobs}"
        );
    }
    let zero = warden(
        &["audit", "replay", logs.to_str().unwrap(), "--jobs", "0"],
        None,
    );
    assert_eq!(zero.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--jobs: must be at least 1"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `warden audit replay s3://…` against the emulator: log files of three days in CloudTrail's
/// key layout (gzip); `--since/--until` pick one day and replay it to the same alerts as the
/// local files of that day; `--checkpoint` records the last key done, so a second run reads
/// nothing. Skipped (with a note) when `make test` has not started moto.
#[test]
fn audit_replay_from_s3_picks_days_and_resumes_from_its_checkpoint() {
    use std::io::Write as _;
    let Ok(endpoint) = std::env::var("WARDEN_MOTO_ENDPOINT") else {
        eprintln!("NOTE: WARDEN_MOTO_ENDPOINT not set: emulator test skipped");
        return;
    };
    let dir = std::env::temp_dir().join(format!("warden-s3-replay-{}", std::process::id()));
    let bucket = format!("warden-trail-{}", std::process::id());
    let prefix = "AWSLogs/111111111111/CloudTrail/us-east-1/";
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cfg = rt.block_on(warden_aws::local_config(&endpoint, "us-east-1"));
    rt.block_on(warden_aws::bootstrap::create_bucket(&cfg, &bucket))
        .unwrap();
    let source = warden_aws::S3LogSource::new(&cfg);
    for (n, day) in ["22", "23", "24"].iter().enumerate() {
        let local = dir.join(day);
        let out = warden(
            &[
                "dev",
                "gen-cloudtrail",
                "--records",
                "600",
                "--per-file",
                "200",
                "--seed",
                &(n + 1).to_string(),
                "--start",
                &format!("2026-11-{day}T08:00:00Z"),
                "--out-dir",
                local.to_str().unwrap(),
            ],
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for f in std::fs::read_dir(&local).unwrap() {
            let f = f.unwrap().path();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&std::fs::read(&f).unwrap()).unwrap();
            let key = format!(
                "{prefix}2026/11/{day}/{}.gz",
                f.file_name().unwrap().to_str().unwrap()
            );
            rt.block_on(source.put(&bucket, &key, gz.finish().unwrap()))
                .unwrap();
        }
    }
    let uri = format!("s3://{bucket}/{prefix}");
    let s3 = |extra: &[&str]| {
        let mut a = vec![
            "audit",
            "replay",
            &uri,
            "--grants",
            GRANTS,
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
        ];
        a.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(&a)
            .current_dir(repo())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap()
    };
    let one_day = s3(&["--since", "2026-11-23", "--until", "2026-11-23"]);
    assert_eq!(
        one_day.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&one_day.stderr)
    );
    let local = warden(
        &[
            "audit",
            "replay",
            dir.join("23").to_str().unwrap(),
            "--grants",
            GRANTS,
            "--jobs",
            "1",
        ],
        None,
    );
    assert!(!local.stdout.is_empty());
    assert_eq!(
        one_day.stdout, local.stdout,
        "the day's alerts, as from the local files"
    );
    let stderr = String::from_utf8_lossy(&one_day.stderr);
    assert!(
        stderr.contains("3 file(s) read") && stderr.contains("600 record(s)"),
        "{stderr}"
    );
    // `warden report` of that day from the same folder: the days its window touches, the same
    // records and alerts.
    let page = dir.join("day.html");
    let rep = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "report",
            &uri,
            "--since",
            "2026-11-23",
            "--until",
            "2026-11-24",
            "--grants",
            GRANTS,
            "--out",
            page.to_str().unwrap(),
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
        ])
        .current_dir(repo())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    let rep_err = String::from_utf8_lossy(&rep.stderr);
    assert_eq!(rep.status.code(), Some(0), "{rep_err}");
    let n_alerts = String::from_utf8_lossy(&one_day.stdout).lines().count();
    assert!(
        rep_err.contains(&format!(
            "600 record(s) in the window (0 outside it), {n_alerts} alert(s)"
        )),
        "{rep_err}"
    );
    assert!(
        std::fs::read_to_string(&page)
            .unwrap()
            .contains("<section id=\"denied\">")
    );

    let cp = dir.join("checkpoint.json");
    let all = s3(&["--checkpoint", cp.to_str().unwrap()]);
    assert_eq!(all.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&all.stderr).contains("1800 record(s)"));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&cp).unwrap()).unwrap();
    assert!(
        saved[&uri].as_str().unwrap().contains("2026/11/24/"),
        "{saved}"
    );
    let again = s3(&["--checkpoint", cp.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("0 file(s) read"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    // Errors name the option and the rule.
    let bad = s3(&["--since", "23/11/2026"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--since: \"23/11/2026\" must be a day as YYYY-MM-DD")
    );
    let mixed = warden(&["audit", "replay", &uri, "fixtures/cloudtrail"], None);
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("not both"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `warden grants list` against the emulator's registry: every grant with its state as of now
/// (one expired but not yet revoked, one revoked), filtered by state, account and expiry, as a
/// table and as JSON; a bad filter is named. Skipped (with a note) without moto.
#[test]
fn grants_list_reads_the_live_registry_with_states_and_filters() {
    use warden_core::ports::GrantStore as _;
    let Ok(endpoint) = std::env::var("WARDEN_MOTO_ENDPOINT") else {
        eprintln!("NOTE: WARDEN_MOTO_ENDPOINT not set: emulator test skipped");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cfg = rt.block_on(warden_aws::local_config(&endpoint, "us-east-1"));
    let soon = (chrono::Utc::now() + chrono::Duration::days(10))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let grants = format!(
        r#"{{"consumer_accounts":[
 {{"account_id":"360000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}},
 {{"account_id":"360000000002","allowed_prefixes":["ml/"],"access_level":"read-write","expiration_date":"{soon}"}},
 {{"account_id":"360000000003","allowed_prefixes":["old/"],"access_level":"read","expiration_date":"2020-01-01T00:00:00Z"}},
 {{"account_id":"360000000004","allowed_prefixes":["gone/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}}]}}"#
    );
    let env = rt
        .block_on(warden_aws::local::Environment::create(
            &cfg,
            &format!("cli-grants-{}", std::process::id()),
            &grants,
            chrono::Utc::now(),
        ))
        .unwrap();
    let store = warden_aws::DynamoGrantStore::new(&cfg, &env.registry_table);
    assert!(
        rt.block_on(store.revoke(
            &warden_core::ports::GrantRef {
                account_id: "360000000004".into(),
                grant_id: "declared".into(),
                expiration_date: String::new(),
                allowed_prefixes: vec![],
                access_level: String::new(),
            },
            chrono::Utc::now(),
        ))
        .unwrap()
    );
    let list = |extra: &[&str]| {
        let mut a = vec![
            "grants",
            "list",
            "--table",
            &env.registry_table,
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
        ];
        a.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(&a)
            .current_dir(repo())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap()
    };
    let json = |extra: &[&str]| -> Vec<(String, String)> {
        let mut a = extra.to_vec();
        a.push("--json");
        let out = list(&a);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["account_id"].as_str().unwrap().to_owned(),
                    i["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pair = |a: &str, s: &str| (a.to_owned(), s.to_owned());
    assert_eq!(
        json(&[]),
        [
            pair("360000000001", "active"),
            pair("360000000002", "active"),
            pair("360000000003", "expired"),
            pair("360000000004", "revoked")
        ]
    );
    assert_eq!(
        json(&["--state", "expired"]),
        [pair("360000000003", "expired")]
    );
    assert_eq!(
        json(&["--account", "360000000004"]),
        [pair("360000000004", "revoked")]
    );
    assert_eq!(
        json(&["--expiring-within", "30d"]),
        [pair("360000000002", "active")]
    );
    let table = list(&[]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.starts_with("account") && text.contains("4 grant(s)"),
        "{text}"
    );
    let bad = list(&["--expiring-within", "soon"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--expiring-within: \"soon\""));
    let bad = list(&["--account", "12"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--account: \"12\" must be a 12-digit account ID")
    );
}

/// `warden grants diff` against the emulator's registry: a grants file that adds, changes and
/// removes consumers beside a self-service grant, as JSON and text, documents with sizes; the
/// reconciler's own selection (`load_registry_checked`) equals the one the diff renders from.
/// Skipped (with a note) without moto.
#[test]
fn grants_diff_plans_the_next_apply_against_the_live_registry() {
    use warden_core::ports::GrantStore as _;
    let Ok(endpoint) = std::env::var("WARDEN_MOTO_ENDPOINT") else {
        eprintln!("NOTE: WARDEN_MOTO_ENDPOINT not set: emulator test skipped");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cfg = rt.block_on(warden_aws::local_config(&endpoint, "us-east-1"));
    let live = r#"{"consumer_accounts":[
 {"account_id":"370000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"},
 {"account_id":"370000000002","allowed_prefixes":["ml/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"},
 {"account_id":"370000000003","allowed_prefixes":["old/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#;
    let now = chrono::Utc::now();
    let env = rt
        .block_on(warden_aws::local::Environment::create(
            &cfg,
            &format!("cli-diff-{}", std::process::id()),
            live,
            now,
        ))
        .unwrap();
    let store = warden_aws::DynamoGrantStore::new(&cfg, &env.registry_table);
    let request = warden_core::grant::Grant::from_input(
        &serde_json::from_value(serde_json::json!({
            "account_id": "370000000003", "allowed_prefixes": ["extra/"],
            "access_level": "read", "expiration_date": "2030-01-01T00:00:00Z",
            "created_by": "arn:aws:iam::370000000003:role/analyst"
        }))
        .unwrap(),
        now,
    )
    .unwrap();
    rt.block_on(store.put_grant(&request, "request-0001"))
        .unwrap();
    // The diff's selection is the reconciler's.
    let items = rt.block_on(store.list_items()).unwrap();
    let (ours, _) = warden_aws::registry_of_items(&items, now);
    let (reconciler, _) = rt.block_on(store.load_registry_checked(now)).unwrap();
    assert_eq!(ours, reconciler);

    let dir = std::env::temp_dir().join(format!("warden-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("prod.tfvars.json");
    std::fs::write(
        &file,
        r#"{"primary_account_id":"111122223333","consumer_accounts":[
 {"account_id":"370000000001","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"},
 {"account_id":"370000000002","allowed_prefixes":["ml/"],"access_level":"read-write","expiration_date":"2031-01-01T00:00:00Z"},
 {"account_id":"370000000004","allowed_prefixes":["new/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#,
    )
    .unwrap();
    let diff = |extra: &[&str]| {
        let mut a = vec![
            "grants",
            "diff",
            "--table",
            &env.registry_table,
            "--grants",
            file.to_str().unwrap(),
            "--endpoint-url",
            &endpoint,
        ];
        a.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(&a)
            .current_dir(repo())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap()
    };
    let out = diff(&["--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes: Vec<(String, String)> = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap().to_owned(),
                c["account_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        changes,
        [
            pair("update", "370000000002"),
            pair("add", "370000000004"),
            pair("remove", "370000000003")
        ]
    );
    assert_eq!(plan["self_service_items"], 1);
    assert_eq!(plan["documents"][0]["document"], "bucket policy");
    assert_eq!(plan["documents"][0]["changed"], true);
    assert!(plan["documents"][0]["after"].as_u64().unwrap() > 0);
    let text = diff(&["--sharing-mode", "access-points"]);
    let t = String::from_utf8_lossy(&text.stdout);
    assert!(
        t.contains("1 to add, 1 to change, 1 to remove; 1 self-service item(s) kept"),
        "{t}"
    );
    assert!(
        t.contains("~ 370000000002 access_level: read -> read-write"),
        "{t}"
    );
    assert!(t.contains("+ access point policy 370000000004"), "{t}");
    // 003 keeps its self-service grant, so its access point stays.
    assert!(!t.contains("- access point policy 370000000003"), "{t}");
    let bad = diff(&["--primary-account", "12"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--primary-account"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `warden doctor` against the emulator, bootstrapped as in `make demo` with the reconciler's
/// plan applied (bucket policy, KMS grants) and a logging trail: a healthy consumer passes every
/// check; with its KMS grant revoked and the trail stopped, those two are problems with their
/// fixes (exit 1); with the consumer's own credentials only its role is checked. Skipped (with a
/// note) without moto.
#[test]
fn doctor_passes_a_healthy_consumer_and_names_what_breaks() {
    use warden_core::ports::{KeyGrants as _, PolicyStore as _};
    let Ok(endpoint) = std::env::var("WARDEN_MOTO_ENDPOINT") else {
        eprintln!("NOTE: WARDEN_MOTO_ENDPOINT not set: emulator test skipped");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cfg = rt.block_on(warden_aws::local_config(&endpoint, "us-east-1"));
    let consumer = "380000000001";
    let grants = format!(
        r#"{{"consumer_accounts":[{{"account_id":"{consumer}","external_id":"ext-doctor-0123456789","allowed_prefixes":["sales/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}}]}}"#
    );
    let name = format!("cli-doctor-{}", std::process::id());
    let now = chrono::Utc::now();
    let env = rt
        .block_on(warden_aws::local::Environment::create(
            &cfg, &name, &grants, now,
        ))
        .unwrap();
    // What the policy-reconciler applies.
    let registry = warden_core::grant::Registry::from_json(&grants, now).unwrap();
    let s = &env.render;
    let tiers = warden_core::policy::access_point::render_tiers(
        &registry,
        s,
        warden_core::policy::render::baseline_statements(s),
        warden_core::policy::access_point::SharingMode::BucketPolicy,
        "warden-prod",
        now,
    )
    .unwrap();
    rt.block_on(
        warden_aws::S3PolicyStore::new(&cfg)
            .put_bucket_policy(&env.bucket, &tiers.bucket.policy.to_compact_json()),
    )
    .unwrap();
    let keys = warden_aws::KmsKeyGrants::new(&cfg);
    for g in &tiers.kms.grants {
        rt.block_on(keys.create_grant(&env.key_arn, g)).unwrap();
    }
    let trail_name = format!("{name}-trail");
    let trail = rt
        .block_on(warden_aws::bootstrap::create_trail(
            &cfg,
            &trail_name,
            &env.audit_bucket,
        ))
        .unwrap();
    let dir = std::env::temp_dir().join(format!("warden-doctor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let outputs = dir.join("outputs.json");
    // The shape of `terraform output -json`.
    let out = |v: &str| serde_json::json!({"value": v, "type": "string", "sensitive": false});
    std::fs::write(
        &outputs,
        serde_json::json!({
            "shared_bucket_name": out(&env.bucket),
            "kms_key_arn": out(&env.key_arn),
            "access_control_table_name": out(&env.registry_table),
            "consumer_directory_parameter": out(&env.roles_parameter),
            "cloudtrail_arn": out(&trail),
            "alerts_topic_arn": out(&env.alert_topic),
        })
        .to_string(),
    )
    .unwrap();
    // A session in the consumer account, as its engineers would have.
    let session = rt
        .block_on(
            aws_sdk_sts::Client::new(&cfg)
                .assume_role()
                .role_arn(format!("arn:aws:iam::{consumer}:role/warden-consumer"))
                .role_session_name("engineer")
                .external_id("ext-doctor-0123456789")
                .send(),
        )
        .unwrap();
    let creds = session.credentials().unwrap();
    let consumer_keys = (
        creds.access_key_id().to_owned(),
        creds.secret_access_key().to_owned(),
        creds.session_token().to_owned(),
    );
    let operator_keys = ("testing".to_owned(), "testing".to_owned(), String::new());
    let doctor = |keys: &(String, String, String), extra: &[&str]| {
        let mut a = vec![
            "doctor",
            "--outputs",
            outputs.to_str().unwrap(),
            "--account",
            consumer,
            "--endpoint-url",
            &endpoint,
            "--json",
        ];
        a.extend_from_slice(extra);
        let o = Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(&a)
            .current_dir(repo())
            .env("AWS_ACCESS_KEY_ID", &keys.0)
            .env("AWS_SECRET_ACCESS_KEY", &keys.1)
            .env("AWS_SESSION_TOKEN", &keys.2)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| {
            panic!(
                "{}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        });
        let by_name: std::collections::BTreeMap<String, Value> = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap().to_owned(), c.clone()))
            .collect();
        (o.status.code(), v, by_name)
    };
    let (code, v, checks) = doctor(&operator_keys, &[]);
    assert_eq!(v["credentials"], "operator");
    for (n, c) in &checks {
        assert_eq!(c["status"], "ok", "{n}: {c}");
    }
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(checks.len(), 7);

    // Broken: the KMS grant revoked, the trail stopped.
    for g in rt.block_on(keys.list_grants(&env.key_arn)).unwrap() {
        rt.block_on(keys.revoke_grant(&env.key_arn, &g.grant_id))
            .unwrap();
    }
    rt.block_on(warden_aws::bootstrap::stop_trail(&cfg, &trail_name))
        .unwrap();
    let (code, _, checks) = doctor(&operator_keys, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(checks["kms-grant"]["status"], "problem");
    assert!(
        checks["kms-grant"]["fix"]
            .as_str()
            .unwrap()
            .contains("policy-reconciler")
    );
    assert_eq!(checks["trail"]["status"], "problem");
    assert!(
        checks["trail"]["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("start-logging --name {trail}"))
    );
    assert_eq!(checks["grant"]["status"], "ok");

    // The consumer's own credentials.
    let (code, v, checks) = doctor(&consumer_keys, &[]);
    assert_eq!(v["credentials"], "consumer", "{v}");
    assert_eq!(checks["consumer-role"]["status"], "ok", "{v}");
    assert_eq!(checks["trail"]["status"], "skipped");
    assert!(
        checks["grant"]["detail"]
            .as_str()
            .unwrap()
            .contains("operator's credentials")
    );
    assert_eq!(code, Some(0));
    // Someone else's credentials are refused by name.
    let o = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "doctor",
            "--outputs",
            outputs.to_str().unwrap(),
            "--account",
            "12",
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--account"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `warden audit query` against the emulator's audit table, filled with the fixture log's
/// records as the access-logger writes them: by account, by object and by principal through
/// the indexes, with `--failed` and `--action`, as table, JSON and CSV; bad options named.
#[test]
fn audit_query_answers_who_did_what_through_the_indexes() {
    use warden_core::ports::AuditStore as _;
    let Ok(endpoint) = std::env::var("WARDEN_MOTO_ENDPOINT") else {
        eprintln!("NOTE: WARDEN_MOTO_ENDPOINT not set: emulator test skipped");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cfg = rt.block_on(warden_aws::local_config(&endpoint, "us-east-1"));
    let table = format!("cli-audit-{}", std::process::id());
    rt.block_on(warden_aws::bootstrap::create_audit_table(&cfg, &table))
        .unwrap();
    let bytes = std::fs::read(repo().join("fixtures/cloudtrail/log-file.json.gz")).unwrap();
    let parsed = warden_core::cloudtrail::parse_bytes("log-file.json.gz", &bytes);
    // The table is keyed by event ID: a record delivered twice is stored once (the fixture
    // repeats two IDs), so the expected counts are over distinct IDs, the last copy standing.
    let by_id: std::collections::BTreeMap<String, _> = parsed
        .records
        .iter()
        .map(|p| warden_core::cloudtrail::normalise(p).unwrap())
        .map(|r| (r.event_id.to_string(), r))
        .collect();
    let records: Vec<_> = by_id.into_values().collect();
    let items = records
        .iter()
        .map(|r| warden_core::cloudtrail::normalise::to_item(r, 365))
        .collect();
    let store = warden_aws::DynamoAuditStore::new(&cfg, &table);
    rt.block_on(store.write_records(items))
        .unwrap()
        .require_all()
        .unwrap();
    let acct = records[0].account_id.to_string();
    let of_acct = records.iter().filter(|r| r.account_id == acct).count();
    let failed = records
        .iter()
        .filter(|r| r.account_id == acct && !r.success_status)
        .count();
    let q = |extra: &[&str]| {
        let mut a = vec![
            "audit",
            "query",
            "--table",
            &table,
            "--since",
            "2020-01-01T00:00:00Z",
            "--until",
            "2030-01-01T00:00:00Z",
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
        ];
        a.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(&a)
            .current_dir(repo())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap()
    };
    let json = |extra: &[&str]| -> Vec<Value> {
        let mut a = extra.to_vec();
        a.extend(["--format", "json"]);
        let out = q(&a);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
    };
    let by_account = json(&["--account", &acct]);
    assert_eq!(by_account.len(), of_acct);
    assert!(
        by_account
            .windows(2)
            .all(|w| w[0]["timestamp"].as_str() <= w[1]["timestamp"].as_str())
    );
    assert_eq!(json(&["--account", &acct, "--failed"]).len(), failed);
    let with_object = records
        .iter()
        .find(|r| r.object_key.is_some() && r.bucket.is_some())
        .unwrap();
    let object = format!(
        "{}/{}",
        with_object.bucket.as_ref().unwrap(),
        with_object.object_key.as_ref().unwrap()
    );
    let touched = json(&["--object", &object]);
    assert!(!touched.is_empty() && touched.iter().all(|r| r["object_ref"] == object.as_str()));
    let role = records[0].principal_arn.to_string();
    let by_role = json(&["--principal", &role]);
    assert_eq!(
        by_role.len(),
        records.iter().filter(|r| r.principal_arn == role).count()
    );
    let action = records[0].action.to_string();
    assert!(
        json(&["--account", &acct, "--action", &action])
            .iter()
            .all(|r| r["action"] == action.as_str())
    );
    let csv = q(&["--account", &acct, "--format", "csv"]);
    let text = String::from_utf8_lossy(&csv.stdout);
    assert!(text.starts_with("timestamp,account_id,principal_arn"));
    assert_eq!(text.lines().count(), of_acct + 1);
    let table_out = String::from_utf8_lossy(&q(&["--account", &acct]).stdout).to_string();
    assert!(
        table_out.contains(&format!("{of_acct} record(s)")),
        "{table_out}"
    );
    let bad = warden(
        &[
            "audit",
            "query",
            "--table",
            &table,
            "--account",
            &acct,
            "--since",
            "yesterday",
        ],
        None,
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--since: \"yesterday\" must be an RFC 3339 time"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let none = q(&[]);
    assert_eq!(
        none.status.code(),
        Some(1),
        "one of --account/--object/--principal is required"
    );
    // `warden report --from-table`: the same records, read through the same index.
    let page =
        std::env::temp_dir().join(format!("warden-table-report-{}.html", std::process::id()));
    let report = |extra: &[&str]| {
        let mut a = vec![
            "report",
            "--from-table",
            &table,
            "--since",
            "2026-11-01",
            "--until",
            "2026-12-01",
            "--out",
            page.to_str().unwrap(),
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
        ];
        a.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(&a)
            .current_dir(repo())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap()
    };
    let out = report(&["--account", &acct]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains(&format!("{of_acct} in the window")), "{html}");
    assert!(
        html.contains(&format!("{failed} failed request(s)")),
        "{html}"
    );
    assert!(html.contains("the audit table keeps accesses, not alerts"));
    // The account that read `object` (above) has it among its top objects.
    let reader = with_object.account_id.to_string();
    assert_eq!(report(&["--account", &reader]).status.code(), Some(0));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains(&object), "{object} is among the top objects");
    // No account and no grants to take them from: named.
    let out = report(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--from-table: no accounts to read"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = report(&["--account", "12345"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--account: \"12345\" must be a 12-digit account ID")
    );
    let _ = std::fs::remove_file(&page);
}

/// `warden dev bare-parse`: the benchmark's yardstick reads every file of a directory and
/// counts its records (a file that is not a log file is an error naming it).
#[test]
fn dev_bare_parse_counts_the_records_of_the_log_files() {
    let dir = std::env::temp_dir().join(format!("warden-bare-{}", std::process::id()));
    let generated = warden(
        &[
            "dev",
            "gen-cloudtrail",
            "--records",
            "2500",
            "--per-file",
            "1000",
            "--out-dir",
            dir.to_str().unwrap(),
        ],
        None,
    );
    assert!(generated.status.success());
    let out = warden(&["dev", "bare-parse", dir.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["records"].as_u64(), v["files"].as_u64()),
        (Some(2500), Some(3))
    );
    std::fs::write(dir.join("zz-broken.json"), "{\"Records\": [").unwrap();
    let bad = warden(&["dev", "bare-parse", dir.to_str().unwrap()], None);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("zz-broken.json"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// One request the local API stand-in received: path, body, whether its SigV4 signature is the
/// one the test's secret gives, and the scope it was signed for.
#[derive(Debug)]
struct Received {
    path: String,
    body: Value,
    signature_ok: bool,
    scope: String,
    token: Option<String>,
}

/// A stand-in for API Gateway on 127.0.0.1: for each answer in `answers`, one request is
/// accepted, its SigV4 signature recomputed with `secret`, and the answer sent.
fn api_stand_in(
    secret: &'static str,
    answers: Vec<(u16, Value)>,
) -> (String, std::thread::JoinHandle<Vec<Received>>) {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let base_in = base.clone();
    let handle = std::thread::spawn(move || {
        let mut got = Vec::new();
        // A request that never comes fails the test instead of hanging it.
        listener.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        for (status, answer) in answers {
            let stream = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        assert!(
                            std::time::Instant::now() < deadline,
                            "the stand-in got {} of the requests expected",
                            got.len()
                        );
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    Err(e) => panic!("{e}"),
                }
            };
            stream.set_nonblocking(false).unwrap();
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let path = line.split(' ').nth(1).unwrap().to_owned();
            let mut headers = std::collections::BTreeMap::new();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.insert(k.to_ascii_lowercase(), v.trim().to_owned());
            }
            let len: usize = headers["content-length"].parse().unwrap();
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            // Sign the same request again with the known secret at the request's own time.
            let auth = headers["authorization"].clone();
            let scope = auth
                .split("Credential=")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap();
            let mut parts = scope.split('/');
            let (key_id, _day, region) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            let at =
                chrono::NaiveDateTime::parse_from_str(&headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
                    .unwrap()
                    .and_utc();
            let token = headers.get("x-amz-security-token").cloned();
            let identity =
                aws_credential_types::Credentials::new(key_id, secret, token.clone(), None, "test")
                    .into();
            let params = aws_sigv4::sign::v4::SigningParams::builder()
                .identity(&identity)
                .region(region)
                .name("execute-api")
                .time(std::time::SystemTime::from(at))
                .settings(aws_sigv4::http_request::SigningSettings::default())
                .build()
                .unwrap()
                .into();
            let url = format!("{base_in}{path}");
            let signable = aws_sigv4::http_request::SignableRequest::new(
                "POST",
                &url,
                [("content-type", "application/json")].into_iter(),
                aws_sigv4::http_request::SignableBody::Bytes(&body),
            )
            .unwrap();
            let (_, want) = aws_sigv4::http_request::sign(signable, &params)
                .unwrap()
                .into_parts();
            let signature_ok = auth.ends_with(&format!("Signature={want}"));
            let text = answer.to_string();
            let mut w = stream;
            write!(w, "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}", text.len()).unwrap();
            got.push(Received {
                path,
                body: serde_json::from_slice(&body).unwrap(),
                signature_ok,
                scope: scope.to_owned(),
                token,
            });
        }
        got
    });
    (format!("{base}/prod"), handle)
}

fn warden_signed(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .current_dir(repo())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "AKIDWARDENTEST")
        .env("AWS_SECRET_ACCESS_KEY", "wardentestsecret")
        .env("AWS_SESSION_TOKEN", "session-token-1")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
}

/// `warden access request | approve | reject | credentials` send what the OpenAPI document
/// describes (each body valid against its schema), signed with SigV4 for `execute-api` with the
/// caller's credentials (the stand-in recomputes the signature), and map the API's answers to
/// the documented exit codes; a bad flag is refused by name before anything is sent.
#[test]
fn access_commands_follow_the_openapi_contract_signed_with_sigv4() {
    use serde_json::json;
    use warden_testkit::openapi;
    let creds = json!({"credentials": {"access_key_id": "ASIAVENDED", "secret_access_key": "vended-secret",
        "session_token": "vended-token", "expiration": "2026-12-05T19:00:00Z"}, "prefix": "analytics/2026/",
        "granted_prefix": "analytics/", "access_level": "read", "role_arn": "arn:aws:iam::210000000000:role/warden-consumer",
        "bucket": "warden-prod-shared", "access_point": null, "example": "aws s3 ls s3://warden-prod-shared/analytics/2026/"});
    let (url, server) = api_stand_in(
        "wardentestsecret",
        vec![
            (200, creds.clone()),
            (200, creds),
            (
                202,
                json!({"request_id": "request-abc", "status": "pending approval"}),
            ),
            (
                200,
                json!({"status": "recorded", "approver": "arn:aws:sts::111111111111:assumed-role/owner/bob"}),
            ),
            (
                403,
                json!({"message": "User: arn:aws:sts::210000000000:assumed-role/analyst/alice is not authorized to perform: execute-api:Invoke"}),
            ),
            (
                400,
                json!({"error": "duration_seconds: must be between 900 and 1800"}),
            ),
        ],
    );
    let out = warden_signed(&[
        "access",
        "credentials",
        "--api-url",
        &url,
        "--prefix",
        "analytics/2026/",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("export AWS_ACCESS_KEY_ID='ASIAVENDED'")
            && text.contains("export AWS_SESSION_TOKEN='vended-token'"),
        "{text}"
    );
    let out = warden_signed(&[
        "access",
        "credentials",
        "--api-url",
        &url,
        "--prefix",
        "analytics/2026/",
        "--level",
        "read-write",
        "--duration-seconds",
        "900",
        "--format",
        "credential-process",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cp: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (cp["Version"].as_i64(), cp["AccessKeyId"].as_str()),
        (Some(1), Some("ASIAVENDED"))
    );
    let out = warden_signed(&[
        "access",
        "request",
        "--api-url",
        &url,
        "--prefix",
        "finance/reports/",
        "--prefix",
        "finance/ledgers/",
        "--level",
        "read",
        "--until",
        "30d",
        "--justification",
        "Quarterly audit of the ledgers",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("request-abc: pending approval"));
    let out = warden_signed(&[
        "access",
        "approve",
        "AQCEtoken",
        "--api-url",
        &url,
        "--comment",
        "ok",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = warden_signed(&["access", "reject", "AQCEtoken", "--api-url", &url]);
    assert_eq!(out.status.code(), Some(3), "a refusal by the API exits 3");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not authorized"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A deployment may allow shorter sessions than the document's 3600: only the API knows.
    let out = warden_signed(&[
        "access",
        "credentials",
        "--api-url",
        &url,
        "--prefix",
        "analytics/2026/",
        "--duration-seconds",
        "3600",
    ]);
    assert_eq!(out.status.code(), Some(1), "a body the API refuses exits 1");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("duration_seconds: must be between 900 and 1800")
    );
    // Refused here by flag: nothing reaches the API.
    for args in [
        vec![
            "access",
            "credentials",
            "--api-url",
            url.as_str(),
            "--prefix",
            "a",
        ],
        vec![
            "access",
            "request",
            "--api-url",
            url.as_str(),
            "--prefix",
            "a/",
            "--until",
            "30d",
            "--justification",
            "short",
        ],
        vec![
            "access",
            "credentials",
            "--api-url",
            url.as_str(),
            "--prefix",
            "a/",
            "--duration-seconds",
            "60",
        ],
        vec![
            "access",
            "credentials",
            "--api-url",
            url.as_str(),
            "--prefix",
            "a/../b/",
        ],
        vec![
            "access",
            "credentials",
            "--api-url",
            url.as_str(),
            "--prefix",
            "a/",
            "--level",
            "write",
        ],
        vec!["access", "approve", "", "--api-url", url.as_str()],
    ] {
        let out = warden_signed(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            err.contains("error: --") || err.contains("error: TOKEN:"),
            "{args:?}: {err}"
        );
    }
    let got = server.join().unwrap();
    let doc = openapi::document().unwrap();
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/prod/credentials",
            "/prod/credentials",
            "/prod/requests",
            "/prod/approvals",
            "/prod/approvals",
            "/prod/credentials"
        ]
    );
    for r in &got {
        assert!(r.signature_ok, "{r:?}: the signature is not the caller's");
        assert!(
            r.scope.starts_with("AKIDWARDENTEST/")
                && r.scope.ends_with("/eu-west-1/execute-api/aws4_request"),
            "{r:?}"
        );
        assert_eq!(r.token.as_deref(), Some("session-token-1"));
        let route = r.path.trim_start_matches("/prod");
        let errs = openapi::schema_errors(&doc, openapi::request_schema(&doc, route), &r.body);
        assert!(errs.is_empty(), "{route}: {errs:?} in {}", r.body);
    }
    assert_eq!(
        got[2].body["prefixes"],
        json!(["finance/reports/", "finance/ledgers/"])
    );
    assert_eq!(
        got[3].body,
        json!({"task_token": "AQCEtoken", "decision": "approve", "comment": "ok"})
    );
    assert_eq!(got[4].body["decision"], "reject");
}

/// `warden report` from log files: every section filled from the records, detectors and grants,
/// caller-controlled values escaped; then, in headless Chromium (`WARDEN_CHROMIUM`, which
/// scripts/test.sh sets), the page is drawn with its six sections in order — found in the
/// screenshot by the colour bar beside each heading — and fetches nothing, not even the image a
/// crafted object key points at a listener here.
#[test]
fn report_is_one_self_contained_page_with_every_section_drawn_in_chromium() {
    use std::io::Read as _;
    let dir = std::env::temp_dir().join(format!("warden-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A listener the page must never reach.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    // The fixture's records, and one denied read of an object whose key is markup.
    let mut gz = flate2::read::GzDecoder::new(
        std::fs::File::open(repo().join("fixtures/cloudtrail/log-file.json.gz")).unwrap(),
    );
    let mut text = String::new();
    gz.read_to_string(&mut text).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let mut evil = fixture["Records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["eventName"] == "GetObject")
        .unwrap()
        .clone();
    let key = format!(
        "analytics/<img src=\"http://127.0.0.1:{port}/leak\"><script>fetch('http://127.0.0.1:{port}/js')</script>"
    );
    evil["requestParameters"]["key"] = Value::String(key);
    evil["eventID"] = "evil-1".into();
    evil["errorCode"] = "AccessDenied".into();
    std::fs::write(
        dir.join("evil.json"),
        serde_json::json!({"Records": [evil]}).to_string(),
    )
    .unwrap();
    // The fixture's grants; analytics expires in ten days, the rest later than the horizon.
    let mut grants: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join(GRANTS)).unwrap()).unwrap();
    let now = chrono::Utc::now();
    for (i, g) in grants["consumer_accounts"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        let days = if i == 0 { 10 } else { 400 };
        g["expiration_date"] = (now + chrono::Duration::days(days))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
            .into();
    }
    let grants_file = dir.join("grants.json");
    std::fs::write(&grants_file, grants.to_string()).unwrap();
    let page = dir.join("report.html");
    let out = warden(
        &[
            "report",
            "--since",
            "2026-11-22",
            "--until",
            "2026-11-24",
            "fixtures/cloudtrail/log-file.json.gz",
            dir.join("evil.json").to_str().unwrap(),
            "--grants",
            grants_file.to_str().unwrap(),
            "--config",
            "fixtures/cloudtrail/detect-config.json",
            "--out",
            page.to_str().unwrap(),
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(out.stdout.is_empty(), "alerts are not printed: {stderr}");
    assert!(stderr.contains("21 record(s) in the window"), "{stderr}");
    let html = std::fs::read_to_string(&page).unwrap();
    let section = |id: &str| {
        let start = html
            .find(&format!("<section id=\"{id}\">"))
            .unwrap_or_else(|| panic!("no {id} section"));
        let end = html[start..].find("</section>").unwrap() + start;
        &html[start..end]
    };
    assert!(section("summary").contains("21 in the window"));
    assert!(section("accounts").contains("210000000000"));
    assert!(section("accounts").contains("<svg"));
    assert!(section("objects").contains("warden-shared-data-111111111111/analytics/"));
    for d in ["unknown-account", "off-hours", "prefix-outside-grant"] {
        assert!(section("alerts").contains(d), "{d}");
    }
    let g = section("grants");
    assert!(g.contains("210000000000"), "{g}");
    assert!(g.contains("(1 of 20)"), "{g}");
    let denied = section("denied");
    assert!(denied.contains("AccessDenied"), "{denied}");
    assert!(
        denied.contains("&lt;img src=&quot;http://127.0.0.1"),
        "{denied}"
    );
    assert!(!html.contains("<img") && !html.contains("<script"));
    assert!(html.contains("default-src 'none'"));
    // Bad windows and flags are named.
    for (args, want) in [
        (
            vec!["--since", "2026-11-24", "--until", "2026-11-22"],
            "--since",
        ),
        (vec!["--since", "yesterday"], "--since:"),
        (
            vec!["--since", "2026-11-22", "--expiring-within", "soon"],
            "--expiring-within:",
        ),
    ] {
        let mut a = vec!["report", "fixtures/cloudtrail/log-file.json.gz"];
        a.extend(args);
        a.extend(["--out", page.to_str().unwrap()]);
        let o = warden(&a, None);
        assert_eq!(o.status.code(), Some(1), "{a:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(want),
            "{a:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    let Ok(chromium) = std::env::var("WARDEN_CHROMIUM") else {
        eprintln!("NOTE: WARDEN_CHROMIUM not set: the page was checked, not drawn");
        return;
    };
    let shot = dir.join("report.png");
    let o = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1400,6000",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        o.status.success() && shot.exists(),
        "{chromium}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    // The first row where each section's colour bar is drawn (at least 10 pixels of it).
    let first_row = |rgb: [u8; 3]| {
        (0..info.height as usize).find(|&y| {
            let row = &buf[y * info.line_size..(y + 1) * info.line_size];
            row.chunks(channels)
                .filter(|p| (0..3).all(|c| p[c].abs_diff(rgb[c]) <= 3))
                .count()
                >= 10
        })
    };
    let mut last = 0;
    for (id, _, rgb) in warden_core::report::SECTIONS {
        let y = first_row(rgb).unwrap_or_else(|| panic!("section {id} is not drawn"));
        assert!(
            y > last,
            "section {id} at row {y}, above the one before (row {last})"
        );
        last = y;
    }
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the page fetched from 127.0.0.1:{port}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every day-2 command's `--help` ends with an example (issue 18's convention).
#[test]
fn every_day_two_command_has_an_example_in_its_help() {
    for cmd in [
        &["grants", "list"][..],
        &["grants", "diff"],
        &["audit", "query"],
        &["audit", "replay"],
        &["access", "request"],
        &["access", "approve"],
        &["access", "reject"],
        &["access", "credentials"],
        &["doctor"],
        &["report"],
    ] {
        let mut a = cmd.to_vec();
        a.push("--help");
        let out = warden(&a, None);
        assert_eq!(out.status.code(), Some(0), "{cmd:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Example") && help.contains(&format!("warden {}", cmd.join(" "))),
            "{cmd:?} --help has no example:\n{help}"
        );
    }
}
