//! What the fuzz targets share: the fixed component and the key the seed corpus is signed with.
//!
//! `keys/seed.key` is a throwaway key made for the seed corpus (`cargo run --example make_seeds`);
//! it signs nothing but fuzz seeds and grants nothing anywhere else.

use std::sync::LazyLock;

use ward_signing::TrustPolicy;

/// The seed key's public half, trusted by the signing targets.
pub const SEED_PUBLIC_KEY: &str = include_str!("../keys/seed.pub");

/// The plugin the signing targets verify for (the seed manifest's name).
pub const PLUGIN: &str = "fuzz:seed";

/// A fixed time (2026-01-01T00:00:00Z) so that verification does not depend on the clock.
pub const NOW: i64 = 1_767_225_600;

/// The manifest packed into [`component`].
pub const MANIFEST: &str = "name = \"fuzz:seed\"\nversion = \"1.0.0\"\n\n[capabilities]\nnetwork = [{ url = \"https://api.example.com\", methods = [\"GET\"] }]\n";

/// A small real component (one core module exporting `answer`) with [`MANIFEST`] packed in,
/// unsigned: the content the detached-signature seeds sign.
pub fn component() -> Vec<u8> {
    // Harness set-up, not a finding: the component and its manifest are fixed.
    let wasm = match wat::parse_str(
        r#"(component (core module (func (export "answer") (result i32) i32.const 42)))"#,
    ) {
        Ok(w) => w,
        Err(e) => panic!("the seed component's wat: {e}"),
    };
    match ward_manifest::embed(&wasm, MANIFEST.as_bytes()) {
        Ok(c) => c,
        Err(e) => panic!("cannot pack the seed manifest: {e}"),
    }
}

/// A trust policy with the seed key (every plugin, ceiling `http`) and a rule for `fuzz:*` that
/// requires its label, so that scopes, ceilings and rules all have something to decide.
pub fn policy() -> &'static TrustPolicy {
    static POLICY: LazyLock<TrustPolicy> = LazyLock::new(|| {
        let text = format!(
            "[[key]]\nlabel = \"seed\"\npublic_key = \"{}\"\nscope = [\"*\"]\nceiling = [\"http\"]\n\n\
             [[rule]]\nnamespace = \"fuzz:*\"\nthreshold = 1\nrequire_labels = [\"seed\"]\n",
            SEED_PUBLIC_KEY.trim()
        );
        // A harness bug, not a finding: the fixed policy must parse.
        match TrustPolicy::from_toml(&text, std::path::Path::new(".")) {
            Ok(p) => p,
            Err(e) => panic!("the signing targets' trust policy does not parse: {e}"),
        }
    });
    &POLICY
}
