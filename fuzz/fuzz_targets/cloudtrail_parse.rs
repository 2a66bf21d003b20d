//! Fuzz the CloudTrail parsers, the normaliser and every detector: any bytes, never a panic.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use warden_core::cloudtrail::{normalise, parse_bytes};
use warden_core::detect::{DetectConfig, Pipeline};
use warden_core::grant::Registry;

const GRANTS: &str = r#"{"consumer_accounts":[{"account_id":"210000000000","allowed_prefixes":["analytics/"],"access_level":"read","expiration_date":"2030-01-01T00:00:00Z"}]}"#;

fuzz_target!(|data: &[u8]| {
    let out = parse_bytes("fuzz", data);
    // The registry detectors run too (a fixed registry; "now" only filters expired grants).
    let registry = Registry::from_json(GRANTS, chrono::DateTime::UNIX_EPOCH).ok().map(Arc::new);
    let Ok(mut pipeline) = Pipeline::new(&DetectConfig::default(), registry) else {
        return;
    };
    let mut alerts = Vec::new();
    for p in &out.records {
        if let Ok(r) = normalise(p) {
            pipeline.observe(&r, &mut alerts);
        }
    }
});
