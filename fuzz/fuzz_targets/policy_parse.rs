//! Fuzz the policy parser, validator and the simulate contract: any text, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::policy::model::{Policy, PolicyKind};
use warden_core::policy::simulate::simulate_line;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = Policy::parse(text) {
            let _ = p.validate(PolicyKind::Resource);
            let _ = Policy::parse(&p.to_compact_json());
        }
        let _ = simulate_line(text);
    }
});
