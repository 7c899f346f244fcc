//! The manifest's network rule parsers on their own: `HostUrl::parse` (`scheme://host[:port]`,
//! wildcards, IDNA), `Method::parse` and `PluginName::parse`, one input line each.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_manifest::{HostUrl, Method, PluginName};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(url) = HostUrl::parse(text) {
        let _ = url.effective_port();
        let _ = url.host_text();
        assert!(
            url.host
                .bytes()
                .all(|b| b.is_ascii() && !b.is_ascii_uppercase()),
            "host is not lowercase ascii: {:?}",
            url.host
        );
    }
    if let Ok(m) = Method::parse(text) {
        assert_eq!(m.as_str(), text);
    }
    let _ = PluginName::parse(text);
});
