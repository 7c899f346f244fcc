//! `ward.toml` as a publisher writes it (`Manifest::parse`): the manifest is untrusted until its
//! signature is checked, and its text is shown to the operator. A parsed manifest must survive
//! `to_toml` unchanged (its documented promise), and its summary and diff must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Manifest::parse(data) else {
        return;
    };
    let text = m.to_toml();
    match Manifest::parse(text.as_bytes()) {
        Ok(again) => assert_eq!(again, m, "to_toml changed the manifest:\n{text}"),
        Err(e) => panic!("to_toml wrote a manifest that does not parse ({e}):\n{text}"),
    }
    let _ = m.summary();
    let _ = m.limits();
    let _ = m.capability_kinds();
    let _ = ward_manifest::diff(&m, &m).lines();
});
