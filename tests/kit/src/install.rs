//! Installing into a store the way `ward install` leaves it, without going through the CLI:
//! components packed with a manifest and signed by the kit's publisher key, which is trusted for
//! every plugin in the home. Every load authorizes, so a test plugin must be signed like a real one.

use std::path::Path;
use std::sync::OnceLock;

use serde_json::{Value, json};
use ward_signing::SecretKey;
use ward_store::{InstallRecord, Store};

/// Label of the kit's publisher key in the trust store.
pub const PUBLISHER_LABEL: &str = "test-publisher";

/// The kit's publisher key, one per test process.
pub fn publisher() -> &'static SecretKey {
    static KEY: OnceLock<SecretKey> = OnceLock::new();
    KEY.get_or_init(|| SecretKey::generate().expect("key"))
}

/// Trusts the kit's publisher key for every plugin in `store` (once).
pub fn trust_publisher(store: &mut Store) {
    let key = publisher().public_key();
    let id = key.key_id().to_string();
    if store
        .trust_list()
        .unwrap()
        .iter()
        .any(|k| k.key_id == id && k.revoked_at.is_none())
    {
        return;
    }
    store
        .trust_add(
            &id,
            &key.to_openssh(),
            PUBLISHER_LABEL,
            vec!["*".into()],
            None,
            None,
        )
        .unwrap();
}

/// `wasm` packed with `manifest_toml` and signed by the kit's publisher.
pub fn signed(wasm: &str, manifest_toml: &str) -> Vec<u8> {
    let bytes = std::fs::read(wasm).unwrap();
    let packed = ward_manifest::embed(&bytes, manifest_toml.as_bytes()).unwrap();
    ward_signing::sign(&packed, publisher()).unwrap()
}

/// Installs `wasm` with `manifest_toml` (which names the plugin and its version) and `grants`
/// into the store at `home`, signed and trusted; returns the digest.
pub fn install_signed(home: &Path, wasm: &str, manifest_toml: &str, grants: Value) -> String {
    let mut store = Store::open(home).unwrap();
    trust_publisher(&mut store);
    install_signed_in(&mut store, wasm, manifest_toml, grants)
}

/// [`install_signed`] into an open store (whose trust store already trusts the kit's publisher).
pub fn install_signed_in(
    store: &mut Store,
    wasm: &str,
    manifest_toml: &str,
    grants: Value,
) -> String {
    let manifest = ward_manifest::Manifest::parse(manifest_toml.as_bytes()).unwrap();
    let signed = signed(wasm, manifest_toml);
    let digest = ward_signing::digest(&signed).unwrap().to_string();
    let blob = store.put_blob(&signed).unwrap();
    let key_id = publisher().public_key().key_id().to_string();
    store
        .install(&InstallRecord {
            name: manifest.name.to_string(),
            version: manifest.version.to_string(),
            digest: digest.clone(),
            blob,
            manifest_toml: manifest_toml.to_owned(),
            signers: json!([{ "key_id": key_id, "labels": [PUBLISHER_LABEL] }]),
            grants,
            summary: String::new(),
            allow_downgrade: false,
        })
        .unwrap();
    digest
}

/// The JSON Lines `ward audit --json` prints, as one JSON array.
pub fn json_lines(bytes: &[u8]) -> Value {
    Value::Array(
        String::from_utf8_lossy(bytes)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}
