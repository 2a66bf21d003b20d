//! Synthetic S3 data events: realistic CloudTrail records for benchmarks, demos and load tests.
//!
//! Deterministic for a seed (a SplitMix64 generator, no dependency). Records look like real S3
//! data events (~1.4 KB each): assumed-role sessions of the consumer roles, mostly reads inside
//! the account's prefix, some writes, listings, a few denials and out-of-prefix probes.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

/// Deterministic pseudo-random numbers (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for a seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            s.push_str(&format!("{:016x}", self.next_u64()));
        }
        s.truncate(n);
        s
    }
    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }
}

/// Settings of the generator.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    /// Number of consumer accounts (account IDs follow `fixtures/grants/consumers-20.json`).
    pub accounts: u32,
    /// Seed.
    pub seed: u64,
    /// Time of the first record.
    pub start: DateTime<Utc>,
    /// The shared bucket.
    pub bucket: String,
    /// The primary account (recipient).
    pub primary_account: String,
}

/// Account ID of consumer `i` (same scheme as the 20-consumer fixture).
#[must_use]
pub fn account_id(i: u32) -> String {
    format!("{:012}", 210_000_000_000u64 + u64::from(i) * 1001)
}

/// Prefix name of consumer `i` (the first 20 match the fixture).
#[must_use]
pub fn prefix_name(i: u32) -> String {
    const NAMES: [&str; 20] = [
        "analytics",
        "finance",
        "marketing",
        "risk",
        "compliance",
        "sales-eu",
        "sales-us",
        "data-science",
        "ml-platform",
        "reporting",
        "audit",
        "treasury",
        "payments",
        "fraud",
        "customer-360",
        "supply-chain",
        "logistics",
        "merch",
        "pricing",
        "partners",
    ];
    NAMES
        .get(i as usize)
        .map_or_else(|| format!("consumer-{i}"), |s| (*s).to_owned())
}

/// Generate record number `n` (records are ~0.2 s apart).
pub fn record(cfg: &SynthConfig, rng: &mut Rng, n: u64) -> Value {
    let a = u32::try_from(rng.below(u64::from(cfg.accounts.max(1)))).unwrap_or(0);
    let acct = account_id(a);
    let roll = rng.below(1000);
    // Consumers with read-write grants in the 20-account fixture; the others only read.
    let writer = [7, 8, 9, 19].contains(&a);
    let (event, read_only, bytes_in, bytes_out) = match roll {
        0..=699 => ("GetObject", true, 0, 1024 + rng.below(50 * 1024 * 1024)),
        700..=799 if writer => ("PutObject", false, 1024 + rng.below(20 * 1024 * 1024), 0),
        700..=799 => ("GetObject", true, 0, 1024 + rng.below(50 * 1024 * 1024)),
        800..=899 => ("HeadObject", true, 0, 0),
        _ => ("ListObjectsV2", true, 0, 0),
    };
    // 1% of requests probe another consumer's prefix; 2% are denied.
    let prefix = if rng.below(100) == 0 {
        prefix_name((a + 1) % cfg.accounts.max(1))
    } else {
        prefix_name(a)
    };
    let key = format!(
        "{prefix}/{}/{:02}/part-{:05}.parquet",
        2026,
        1 + rng.below(12),
        rng.below(100_000)
    );
    let denied = rng.below(50) == 0;
    let time = cfg.start
        + Duration::milliseconds(
            i64::try_from(n).unwrap_or(0) * 200 + i64::try_from(rng.below(200)).unwrap_or(0),
        );
    let ip = if rng.below(10) == 0 {
        format!("2001:db8:{:x}::{:x}", rng.below(65536), rng.below(65536))
    } else {
        format!("203.0.{}.{}", rng.below(256), 1 + rng.below(254))
    };
    let session = format!("warden-{}", rng.hex(12));
    let role_arn = format!("arn:aws:iam::{acct}:role/warden-consumer");
    let mut params = json!({"bucketName": cfg.bucket});
    if event == "ListObjectsV2" {
        params["prefix"] = json!(format!("{prefix}/"));
        params["list-type"] = json!("2");
    } else {
        params["key"] = json!(key);
    }
    let mut r = json!({
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": format!("AROA{}:{session}", rng.hex(16).to_uppercase()),
            "arn": format!("arn:aws:sts::{acct}:assumed-role/warden-consumer/{session}"),
            "accountId": acct,
            "accessKeyId": format!("ASIA{}", rng.hex(16).to_uppercase()),
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "arn": role_arn, "accountId": acct, "userName": "warden-consumer"},
                "attributes": {"creationDate": (time - Duration::minutes(5)).to_rfc3339_opts(SecondsFormat::Secs, true), "mfaAuthenticated": "false"}
            }
        },
        "eventTime": time.to_rfc3339_opts(SecondsFormat::Secs, true),
        "eventSource": "s3.amazonaws.com",
        "eventName": event,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "[aws-sdk-java/2.25.1 Linux/6.1 Java/17]",
        "requestParameters": params,
        "additionalEventData": {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": bytes_in,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": rng.hex(40),
            "bytesTransferredOut": if denied { 0 } else { bytes_out }
        },
        "requestID": rng.hex(16).to_uppercase(),
        "eventID": rng.uuid(),
        "readOnly": read_only,
        "resources": [
            {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{}/{key}", cfg.bucket)},
            {"accountId": cfg.primary_account, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{}", cfg.bucket)}
        ],
        "eventType": "AwsApiCall",
        "managementEvent": false,
        "recipientAccountId": cfg.primary_account,
        "eventCategory": "Data",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"}
    });
    if denied {
        r["errorCode"] = json!("AccessDenied");
        r["errorMessage"] = json!("Access Denied");
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudtrail::{normalise, parse_bytes};

    #[test]
    fn deterministic_realistic_and_parseable() {
        let cfg = SynthConfig {
            accounts: 20,
            seed: 7,
            start: DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            bucket: "warden-shared-data-111111111111".into(),
            primary_account: "111111111111".into(),
        };
        let generate = |seed| {
            let mut rng = Rng::new(seed);
            (0..200)
                .map(|n| record(&cfg, &mut rng, n).to_string())
                .collect::<Vec<_>>()
        };
        let a = generate(7);
        assert_eq!(a, generate(7));
        assert_ne!(a, generate(8));
        let avg = a.iter().map(String::len).sum::<usize>() / a.len();
        assert!((1200..1700).contains(&avg), "average record size {avg}");
        let o = parse_bytes("synth", a.join("\n").as_bytes());
        assert_eq!(o.records.len(), 200);
        for p in &o.records {
            let r = normalise(p).unwrap();
            assert!(r.account_id.starts_with("2100000"));
        }
    }
}
