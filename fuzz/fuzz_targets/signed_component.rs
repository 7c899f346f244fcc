//! A component file as `ward install` and `ward-sign verify` read it: the top-level section
//! walker, the embedded signature envelope, verification against a trust policy, `inspect`,
//! `digest` and `strip`.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use ward_signing::{Capability, digest, inspect, strip, verify_at};

fuzz_target!(|data: &[u8]| {
    let policy = ward_fuzz::policy();
    let inspected = inspect(data, None);
    let digested = digest(data);
    if let (Ok(i), Ok(d)) = (&inspected, &digested) {
        assert_eq!(i.digest, *d, "inspect and digest disagree");
        assert!(
            i.signed_range.end == data.len(),
            "the signed range ends early"
        );
    }
    if let Ok(stripped) = strip(data) {
        // Stripping removes only the signature section: the digest is the same.
        assert_eq!(digest(&stripped).ok(), digested.as_ref().ok().copied());
    }
    if let Ok(v) = verify_at(data, None, policy, ward_fuzz::PLUGIN, ward_fuzz::NOW) {
        assert_eq!(
            Some(v.digest()),
            digested.ok(),
            "verified a different digest"
        );
        assert!(!v.signers().is_empty(), "verified without a signer");
        let _ = v.manifest();
        let _ = v.check_capabilities(&BTreeSet::from([Capability::Http]));
        let _ = v.check_capabilities(&BTreeSet::from([Capability::Secrets]));
    }
    let _ = verify_at(data, None, policy, "other:plugin@1.0.0", ward_fuzz::NOW);
});
