//! The trust store (`TrustPolicy::from_toml`), then rule lookup for a few plugin names.
//!
//! `public_key_file` names a file to read: inputs naming anything but a plain file name are
//! skipped, so the target reads only inside its own directory, which holds `seed.pub` (and
//! never blocks on a FIFO elsewhere).
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use ward_signing::TrustPolicy;

/// The directory `public_key_file` names are relative to: under `WARD_FUZZ_TMP` (set by
/// `cargo xtask fuzz`, which removes it), else the system temporary directory.
static BASE: LazyLock<PathBuf> = LazyLock::new(|| {
    let base = std::env::var_os("WARD_FUZZ_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("trust-policy-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&base);
    let _ = std::fs::write(base.join("seed.pub"), ward_fuzz::SEED_PUBLIC_KEY);
    base
});

/// Whether every `public_key_file` in the document is a plain relative name (no separator).
fn key_files_are_local(text: &str) -> bool {
    let Ok(doc) = text.parse::<toml::Table>() else {
        return true; // refused by the parser before any file is read
    };
    let Some(keys) = doc.get("key").and_then(|k| k.as_array()) else {
        return true;
    };
    keys.iter().all(|k| match k.get("public_key_file") {
        None => true,
        Some(toml::Value::String(s)) => !s.contains(['/', '\\']) && s != ".." && s != ".",
        Some(_) => true, // not a string: refused by the parser
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if !key_files_are_local(text) {
        return;
    }
    if let Ok(policy) = TrustPolicy::from_toml(text, &BASE) {
        for plugin in ["acme:hello", "prod:api", "fuzz:seed", "a:b"] {
            let _ = policy.rule_for(plugin);
        }
        let _ = policy.keys().len();
    }
});
