//! The operator's `policy.toml` (`OperatorPolicy::parse`: trust rules, pre-approvals, `[redact]`
//! patterns compiled within their limits, `[network]`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = ward_home::OperatorPolicy::parse(text);
});
