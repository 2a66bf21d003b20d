//! Fuzz the CloudTrail parsers and the normaliser: any bytes, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::cloudtrail::{normalise, parse_bytes};

fuzz_target!(|data: &[u8]| {
    let out = parse_bytes("fuzz", data);
    for p in &out.records {
        let _ = normalise(p);
    }
});
