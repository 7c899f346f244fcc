//! The agent token `ward mcp` reads from its environment or a file (`AgentToken::parse`): what it
//! accepts is exactly `wk_` and ASCII letters and digits, surrounding whitespace removed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_mcp::AgentToken;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(token) = AgentToken::parse(text, "fuzz") {
        let t = token.expose();
        assert_eq!(t, text.trim());
        assert!(t.starts_with("wk_") && t[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(!format!("{token:?}").contains(t), "Debug shows the token");
    }
});
