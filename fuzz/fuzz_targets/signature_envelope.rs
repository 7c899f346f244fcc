//! A detached signature file (`.sig`) over a fixed component: the envelope parser on its own,
//! then verification and `inspect` of what it claims.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use ward_signing::{inspect, verify_at};

static COMPONENT: LazyLock<Vec<u8>> = LazyLock::new(ward_fuzz::component);

fuzz_target!(|data: &[u8]| {
    let policy = ward_fuzz::policy();
    let _ = inspect(&COMPONENT, Some(data));
    if let Ok(v) = verify_at(
        &COMPONENT,
        Some(data),
        policy,
        ward_fuzz::PLUGIN,
        ward_fuzz::NOW,
    ) {
        assert!(!v.signers().is_empty(), "verified without a signer");
        assert_eq!(v.manifest(), Some(ward_fuzz::MANIFEST.as_bytes()));
    }
});
