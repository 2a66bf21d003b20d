//! Fuzz the policy parser, validator, linter and the simulate contract: any text, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::policy::lint::{LintOptions, lint};
use warden_core::policy::model::{Policy, PolicyKind};
use warden_core::policy::simulate::simulate_line;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = Policy::parse(text) {
            let _ = p.validate(PolicyKind::Resource);
            for audit_role in [false, true] {
                let _ = lint(&p, &LintOptions { audit_role, require_mfa: true });
            }
            let _ = Policy::parse(&p.to_compact_json());
        }
        let _ = simulate_line(text);
    }
});
