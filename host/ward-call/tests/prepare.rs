//! `prepare` against a real store and secret store in a temporary home: what a call of an
//! installed plugin gets, and every refusal with the denial its caller audits.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt as _;

use serde_json::json;
use ward_call::{ExecError, prepare};
use ward_home::{Home, OperatorPolicy};
use ward_store::{BlobDigest, InstallRecord, Store};
use zeroize::Zeroizing;

const VALUE: &str = "ghp_prepareS3cr3tVALUE0123456789abcdef";

const NAME: &str = "example:bot";

fn manifest() -> String {
    format!(
        "name = \"{NAME}\"\nversion = \"1.0.0\"\n\
         [capabilities]\n\
         network = [{{ url = \"https://api.example.com\" }}]\n\
         secrets = [{{ name = \"BOT_TOKEN\", hosts = [\"https://api.example.com\"], header = \"Authorization\", format = \"Bearer {{}}\" }}]\n\
         env = [\"LANG\"]\n\
         keyvalue = {{ quota = \"1KiB\" }}\n\
         confirm = true\n\
         [limits]\ntimeout = \"3s\"\n"
    )
}

/// A home with `NAME` installed from the hello component's bytes, granted `kinds` plus LANG.
struct Fixture {
    _dir: tempfile::TempDir,
    home: Home,
    store: Store,
    digest: String,
    bytes: Vec<u8>,
}

fn fixture(kinds: &[&str]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::locate(Some(&dir.path().join("home"))).unwrap();
    let policy = OperatorPolicy::default();
    let mut store = ward_home::open_store(&home, &policy).unwrap();
    let bytes = std::fs::read(ward_fixtures::HELLO).unwrap();
    let blob = store.put_blob(&bytes).unwrap();
    let digest = format!("sha256:{}", BlobDigest::of(&bytes).to_hex());
    let mut grants: Vec<_> = kinds
        .iter()
        .map(|k| json!({ "kind": "capability", "capability": k }))
        .collect();
    grants.push(json!({ "kind": "env", "name": "LANG", "value": "C" }));
    store
        .install(&InstallRecord {
            name: NAME.into(),
            version: "1.0.0".into(),
            digest: digest.clone(),
            blob,
            manifest_toml: manifest(),
            signers: json!([]),
            grants: json!(grants),
            summary: String::new(),
            allow_downgrade: false,
        })
        .unwrap();
    Fixture {
        _dir: dir,
        home,
        store,
        digest,
        bytes,
    }
}

fn set_secret(home: &Home, name: &str, value: &str) {
    let mut secrets = ward_secrets::SecretStore::open(home.root()).unwrap();
    secrets.set(name, Zeroizing::new(value.to_owned())).unwrap();
}

fn expose_key_file(home: &Home) {
    let key = home.root().join(ward_secrets::KEY_FILE);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn prepare_gives_the_digest_and_exactly_its_grants() {
    let f = fixture(&["http", "kv", "env", "secrets"]);
    set_secret(&f.home, "BOT_TOKEN", VALUE);
    let p = prepare(&f.home, &OperatorPolicy::default(), &f.store, NAME).unwrap();
    assert_eq!(p.name, NAME);
    assert_eq!(p.digest, f.digest);
    assert_eq!(p.component, f.bytes);
    assert_eq!(p.limits.timeout, std::time::Duration::from_secs(3));
    assert_eq!(p.grants.env, vec![("LANG".to_owned(), "C".to_owned())]);
    assert!(p.grants.keyvalue.is_some());
    let http = p.grants.http.as_ref().unwrap();
    let bound: Vec<&str> = http.grant().secrets().iter().map(|s| s.name()).collect();
    assert_eq!(bound, ["BOT_TOKEN"]);
    // The call's redactor knows the value; nothing printable holds it.
    assert_eq!(
        p.grants.redactor.redact(&format!("token {VALUE} end")),
        "token [redacted:secret] end"
    );
    let debug = format!("{p:?}");
    assert!(!debug.contains(VALUE), "{debug}");
}

#[test]
fn confirmations_need_the_declaration_and_the_operators_consent() {
    // Declared in the manifest but not consented to at install: no asking.
    let f = fixture(&["http"]);
    let p = prepare(&f.home, &OperatorPolicy::default(), &f.store, NAME).unwrap();
    assert!(!p.confirm);
    // Declared and consented to. The hook is the caller's to attach: none yet.
    let f = fixture(&["http", "confirm"]);
    let p = prepare(&f.home, &OperatorPolicy::default(), &f.store, NAME).unwrap();
    assert!(p.confirm);
    assert!(p.grants.confirm.is_none());
}

#[test]
fn disabled_plugin_is_refused_with_the_denial_to_audit() {
    let mut f = fixture(&["http"]);
    f.store.disable(NAME, "under review").unwrap();
    let err = prepare(&f.home, &OperatorPolicy::default(), &f.store, NAME).unwrap_err();
    assert_eq!(err.to_string(), "example:bot is disabled: under review");
    assert_eq!(err.audit_denial(), Some(("disabled", f.digest.as_str())));
}

#[test]
fn plugin_not_installed_is_refused_without_a_denial() {
    let f = fixture(&[]);
    let err = prepare(
        &f.home,
        &OperatorPolicy::default(),
        &f.store,
        "example:other",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "example:other is not installed (see `ward list`)"
    );
    assert_eq!(err.audit_denial(), None);
}

#[test]
fn granted_secret_that_is_not_set_stops_the_call() {
    let f = fixture(&["http", "secrets"]);
    let err = prepare(&f.home, &OperatorPolicy::default(), &f.store, NAME).unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret BOT_TOKEN is not set: run ward secret set BOT_TOKEN"
    );
    assert_eq!(
        err.audit_denial(),
        Some(("secret-not-set", f.digest.as_str()))
    );
}

#[test]
fn unusable_secret_store_fails_closed() {
    let f = fixture(&["http", "secrets"]);
    set_secret(&f.home, "BOT_TOKEN", VALUE);
    expose_key_file(&f.home);
    let err = prepare(&f.home, &OperatorPolicy::default(), &f.store, NAME).unwrap_err();
    assert!(matches!(err, ExecError::SecretStore(_)), "{err}");
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("mode 0644"), "{source}");
    assert!(!source.contains(VALUE));
}

#[test]
fn secret_not_granted_is_not_bound_and_the_store_is_not_opened() {
    // The manifest declares the secret, but the operator granted only the network: the call
    // gets no secret, and an unusable secret store does not matter.
    let f = fixture(&["http"]);
    set_secret(&f.home, "BOT_TOKEN", VALUE);
    expose_key_file(&f.home);
    let p = prepare(&f.home, &OperatorPolicy::default(), &f.store, NAME).unwrap();
    assert!(p.grants.http.as_ref().unwrap().grant().secrets().is_empty());
    assert_eq!(p.grants.redactor.redact(VALUE), VALUE);
    assert!(p.grants.keyvalue.is_none());
}

#[test]
fn policy_redact_section_reaches_the_call_redactor() {
    let f = fixture(&["http"]);
    let policy = OperatorPolicy::parse(
        "[[redact.extra_patterns]]\nname = \"acme-token\"\nregex = \"acme_[a-z0-9]{8}\"\n",
    )
    .unwrap();
    let p = prepare(&f.home, &policy, &f.store, NAME).unwrap();
    assert_eq!(
        p.grants.redactor.redact("key acme_abcdef12 here"),
        "key [redacted:acme-token] here"
    );
}
