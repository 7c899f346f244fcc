//! A proposal's examples file (`Examples::parse`, TOML or JSON), which an agent submits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ex) = ward_propose::Examples::parse(data) {
        // The parsed file passes its own rules again (the API checks a JSON one this way).
        assert!(ex.check().is_ok(), "a parsed examples file fails check");
    }
});
