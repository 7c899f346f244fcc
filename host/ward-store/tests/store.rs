//! ward-store integration tests: real SQLite in temporary homes. Attack tests are named after the
//! attack.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::json;
use ward_store::{
    AuditAction, AuditError, AuditEvent, AuditQuery, BlobDigest, InstallRecord, Outcome, Store,
    StoreError, StoreOptions, audit_row_hash,
};

const NAME: &str = "acme:hello";

struct Home {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

fn home() -> Home {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("ward");
    Home { _tmp: tmp, path }
}

fn bytes_for(name: &str, version: &str) -> Vec<u8> {
    format!("component {name} {version}").into_bytes()
}

fn digest_for(name: &str, version: &str) -> String {
    format!("sha256:{}", BlobDigest::of(&bytes_for(name, version)))
}

fn record(
    store: &mut Store,
    name: &str,
    version: &str,
    signers: serde_json::Value,
) -> InstallRecord {
    let bytes = bytes_for(name, version);
    let blob = store.put_blob(&bytes).expect("put_blob");
    InstallRecord {
        name: name.to_string(),
        version: version.to_string(),
        digest: digest_for(name, version),
        blob,
        manifest_toml: format!("name = \"{name}\"\nversion = \"{version}\"\n"),
        signers,
        grants: json!([{ "kind": "http", "hosts": [format!("{version}.example.com")] }]),
        summary: format!("http to {version}.example.com"),
        allow_downgrade: false,
    }
}

fn install(store: &mut Store, name: &str, version: &str) {
    let rec = record(store, name, version, json!(["k1"]));
    store.install(&rec).expect("install");
}

fn current_version(store: &Store, name: &str) -> Option<String> {
    store.current(name).expect("current").map(|c| c.version)
}

/// Temporary files or a leftover journal anywhere in the store.
fn leftovers(home: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for dir in [home.to_path_buf(), home.join("blobs")] {
        for e in std::fs::read_dir(&dir).expect("read_dir") {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") || name.ends_with("-journal") {
                out.push(name);
            }
        }
    }
    out
}

fn blob_files(home: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(home.join("blobs"))
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn db(home: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(home.join("store.db")).expect("open db");
    c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .expect("drop triggers");
    c
}

/// A store with five audit rows.
fn audited_home() -> Home {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    install(&mut s, NAME, "1.0.0");
    install(&mut s, NAME, "1.1.0");
    s.disable(NAME, "testing").expect("disable");
    s.enable(NAME).expect("enable");
    install(&mut s, "acme:other", "0.1.0");
    assert_eq!(s.audit_verify().expect("verify").rows, 5);
    h
}

fn verify_after_reopen(home: &Path) -> Result<ward_store::AuditReport, AuditError> {
    Store::open(home).expect("reopen").audit_verify()
}

// ---------------------------------------------------------------- registry

#[test]
fn install_upgrade_inspect_and_list() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    let rec = record(&mut s, NAME, "1.0.0", json!(["k1"]));
    let out = s.install(&rec).expect("install");
    assert_eq!(out.action, "install");
    let rec2 = record(&mut s, NAME, "1.1.0", json!(["k1"]));
    let out = s.install(&rec2).expect("upgrade");
    assert_eq!(out.action, "upgrade");
    assert_eq!(out.previous_version.as_deref(), Some("1.0.0"));

    let cur = s.current(NAME).expect("current").expect("installed");
    assert_eq!(cur.version, "1.1.0");
    assert_eq!(cur.digest, rec2.digest);
    assert_eq!(cur.grants, rec2.grants);
    assert!(cur.enabled);
    assert_eq!(
        s.get_blob(&cur.blob).expect("blob"),
        bytes_for(NAME, "1.1.0")
    );

    let d = s.inspect(NAME).expect("inspect");
    assert_eq!(d.highest_version, "1.1.0");
    let versions: Vec<_> = d
        .versions
        .iter()
        .map(|v| (v.version.as_str(), v.current))
        .collect();
    assert_eq!(versions, [("1.1.0", true), ("1.0.0", false)]);

    let list = s.list().expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].kept_versions, 1);
    serde_json::to_string(&d).expect("inspect serializes for --json");

    let actions: Vec<_> = s
        .audit_list(AuditQuery::default())
        .expect("audit")
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(actions, ["install", "upgrade"]);
}

#[test]
fn same_version_and_digest_is_already_installed() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    let rec = record(&mut s, NAME, "1.2.3", json!(["k1"]));
    s.install(&rec).expect("install");
    let err = s.install(&rec).expect_err("second install");
    assert_eq!(err.to_string(), "acme:hello 1.2.3 is already installed");
}

#[test]
fn same_version_with_another_digest_is_refused() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    let rec = record(&mut s, NAME, "1.2.3", json!(["k1"]));
    s.install(&rec).expect("install");
    let mut other = rec.clone();
    other.digest = "sha256:feed".into();
    let err = s.install(&other).expect_err("different digest");
    assert_eq!(
        err.to_string(),
        "version 1.2.3 is already installed with a different digest; bump the version"
    );
    assert_eq!(
        s.current(NAME).expect("current").expect("some").digest,
        rec.digest
    );
}

#[test]
fn downgrade_is_refused_without_allow() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    install(&mut s, NAME, "2.0.0");
    let mut rec = record(&mut s, NAME, "1.9.0", json!(["k1"]));
    let err = s.install(&rec).expect_err("downgrade");
    assert!(matches!(err, StoreError::Downgrade { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "acme:hello 1.9.0 is lower than 2.0.0, the highest version ever installed; a downgrade needs --allow-downgrade"
    );
    assert_eq!(current_version(&s, NAME).as_deref(), Some("2.0.0"));

    rec.allow_downgrade = true;
    assert_eq!(s.install(&rec).expect("allowed").action, "downgrade");
    assert_eq!(current_version(&s, NAME).as_deref(), Some("1.9.0"));
    assert_eq!(s.inspect(NAME).expect("inspect").highest_version, "2.0.0");
}

#[test]
fn downgrade_is_refused_after_uninstall_without_purge() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    install(&mut s, NAME, "2.0.0");
    s.uninstall(NAME, false).expect("uninstall");
    let rec = record(&mut s, NAME, "1.0.0", json!(["k1"]));
    assert!(matches!(s.install(&rec), Err(StoreError::Downgrade { .. })));
    s.kv_put(NAME, b"k", b"v").expect("kv");
    s.uninstall(NAME, true)
        .expect("purge forgets the highest version");
    s.install(&rec).expect("install after purge");
}

#[test]
fn grants_are_not_inherited_by_a_new_digest() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    let rec1 = record(&mut s, NAME, "1.0.0", json!(["k1"]));
    s.install(&rec1).expect("install");
    let mut rec2 = record(&mut s, NAME, "1.1.0", json!(["k1"]));
    rec2.grants = json!([]);
    s.install(&rec2).expect("upgrade");
    assert_eq!(s.grants_for(&rec2.digest).expect("grants"), Some(json!([])));
    assert_eq!(s.current(NAME).expect("c").expect("some").grants, json!([]));
    assert_eq!(
        s.grants_for("sha256:never-installed").expect("grants"),
        None
    );
    // The old digest keeps its own grants, bound to it.
    assert_eq!(
        s.grants_for(&rec1.digest).expect("grants"),
        Some(rec1.grants.clone())
    );
}

#[test]
fn hostile_names_are_stored_safely() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    // Stored as plain row keys: never a path.
    for name in [
        "../x",
        "acme:аbc", /* Cyrillic а */
        "acme:abc",
        "/etc/passwd",
        "acme:%s'; DROP TABLE plugins;--",
    ] {
        install(&mut s, name, "1.0.0");
        assert_eq!(
            current_version(&s, name).as_deref(),
            Some("1.0.0"),
            "{name}"
        );
    }
    assert_eq!(s.list().expect("list").len(), 5);
    assert_ne!(
        s.current("acme:аbc").expect("c").expect("some").digest,
        s.current("acme:abc").expect("c").expect("some").digest
    );
    assert!(!h.path.parent().expect("parent").join("x").exists());
    for name in blob_files(&h.path) {
        assert_eq!(name.len(), 64, "blobs are named by digest only: {name}");
    }
    // Refused: NUL, 10 KB, bidi override.
    let long = "a".repeat(10 * 1024);
    for name in ["a\0b", long.as_str(), "acme:a\u{202E}b"] {
        let rec = InstallRecord {
            name: name.to_string(),
            ..record(&mut s, NAME, "9.0.0", json!([]))
        };
        let err = s.install(&rec).expect_err("refused");
        assert!(matches!(err, StoreError::InvalidName { .. }), "{err}");
        assert!(err.to_string().len() < 200, "error message is bounded");
    }
    assert_eq!(s.list().expect("list").len(), 5);
    s.audit_verify().expect("verify");
}

#[test]
fn invalid_version_and_digest_are_refused() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    let mut rec = record(&mut s, NAME, "1.0.0", json!([]));
    rec.version = "one".into();
    assert!(matches!(
        s.install(&rec),
        Err(StoreError::InvalidVersion { .. })
    ));
    for bad in ["../../etc/passwd", "ABCDEF", "sha256:xyz", &"0".repeat(63)] {
        assert!(
            matches!(bad.parse::<BlobDigest>(), Err(StoreError::InvalidDigest(_))),
            "{bad}"
        );
    }
}

#[test]
fn keep_versions_prunes_the_oldest_and_their_blobs() {
    let h = home();
    let mut s = Store::open_with(&h.path, StoreOptions { keep_versions: 2 }).expect("open");
    for v in ["1.0.0", "1.1.0", "1.2.0", "1.3.0"] {
        install(&mut s, NAME, v);
    }
    let d = s.inspect(NAME).expect("inspect");
    let versions: Vec<_> = d.versions.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(versions, ["1.3.0", "1.2.0", "1.1.0"]);
    assert_eq!(blob_files(&h.path).len(), 3);
    assert!(!blob_files(&h.path).contains(&BlobDigest::of(&bytes_for(NAME, "1.0.0")).to_hex()));
    assert_eq!(
        s.grants_for(&digest_for(NAME, "1.0.0")).expect("grants"),
        None
    );
    let last = s
        .audit_list(AuditQuery {
            since: None,
            limit: Some(1),
        })
        .expect("audit");
    assert_eq!(last[0].detail["pruned"], json!(["1.0.0"]));
}

// ---------------------------------------------------------------- rollback

#[test]
fn rollback_goes_to_the_previous_kept_version_with_its_grants() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    let rec1 = record(&mut s, NAME, "1.0.0", json!(["k1"]));
    s.install(&rec1).expect("install");
    install(&mut s, NAME, "1.1.0");
    install(&mut s, NAME, "1.2.0");
    let cur = s.rollback(NAME, None).expect("rollback");
    assert_eq!(cur.version, "1.1.0");
    let cur = s.rollback(NAME, None).expect("rollback");
    assert_eq!(cur.version, "1.0.0");
    assert_eq!(cur.grants, rec1.grants);
    assert_eq!(cur.digest, rec1.digest);
    let err = s.rollback(NAME, None).expect_err("nothing earlier");
    assert_eq!(
        err.to_string(),
        "acme:hello has no kept version earlier than 1.0.0"
    );
    // Forward again to a named kept version.
    assert_eq!(
        s.rollback(NAME, Some("1.2.0")).expect("to").version,
        "1.2.0"
    );
    let err = s.rollback(NAME, Some("0.9.0")).expect_err("not kept");
    assert!(matches!(err, StoreError::VersionNotKept { .. }));
    // Reinstalling the highest version that is current is "already installed"; a kept one is reinstated.
    s.rollback(NAME, Some("1.1.0")).expect("to");
    let rec = record(&mut s, NAME, "1.2.0", json!(["k1"]));
    assert_eq!(s.install(&rec).expect("reinstate").action, "reinstate");
    let rows = s.audit_list(AuditQuery::default()).expect("audit");
    let rb: Vec<_> = rows.iter().filter(|r| r.action == "rollback").collect();
    assert_eq!(
        rb[0].detail,
        json!({"from_version": "1.2.0", "to_version": "1.1.0"})
    );
    s.audit_verify().expect("verify");
}

#[test]
fn rollback_refuses_an_altered_kept_blob() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    install(&mut s, NAME, "1.0.0");
    install(&mut s, NAME, "1.1.0");
    let old = BlobDigest::of(&bytes_for(NAME, "1.0.0")).to_hex();
    std::fs::write(h.path.join("blobs").join(old), b"evil").expect("tamper");
    assert!(matches!(
        s.rollback(NAME, None),
        Err(StoreError::BlobCorrupt(_))
    ));
    assert_eq!(current_version(&s, NAME).as_deref(), Some("1.1.0"));
}

// ---------------------------------------------------------------- trust, enable, data

#[test]
fn revoke_disables_plugins_that_depend_only_on_that_key() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    s.trust_add(
        "k1",
        "ed25519:AAAA",
        "publisher",
        vec!["acme:*".into()],
        None,
        None,
    )
    .expect("k1");
    s.trust_add(
        "k2",
        "ed25519:BBBB",
        "ci",
        vec!["acme:*".into()],
        Some(vec!["http".into()]),
        Some("2099-01-01T00:00:00Z".into()),
    )
    .expect("k2");
    assert!(matches!(
        s.trust_add("k1", "x", "dup", vec![], None, None),
        Err(StoreError::KeyExists(_))
    ));
    for (name, signers) in [
        ("acme:only-k1", json!(["k1"])),
        ("acme:both", json!([{ "key_id": "k1" }, { "key_id": "k2" }])),
        ("acme:only-k2", json!(["k2"])),
    ] {
        let rec = record(&mut s, name, "1.0.0", signers);
        s.install(&rec).expect("install");
    }
    let disabled = s.trust_revoke("k1").expect("revoke");
    assert_eq!(disabled, ["acme:only-k1"]);
    let c = s.current("acme:only-k1").expect("c").expect("some");
    assert!(!c.enabled);
    assert_eq!(c.disabled_reason.as_deref(), Some("signing key k1 revoked"));
    assert!(s.current("acme:both").expect("c").expect("some").enabled);
    assert!(s.current("acme:only-k2").expect("c").expect("some").enabled);
    assert!(matches!(
        s.trust_revoke("k1"),
        Err(StoreError::UnknownKey(_))
    ));

    let keys = s.trust_list().expect("list");
    assert!(keys[0].revoked_at.is_some() && keys[1].revoked_at.is_none());
    assert_eq!(keys[1].ceiling.as_deref(), Some(&["http".to_string()][..]));
    let rows = s
        .audit_list(AuditQuery {
            since: None,
            limit: Some(2),
        })
        .expect("audit");
    assert_eq!(rows[0].action, "trust-revoke");
    assert_eq!(rows[0].detail["plugins"], json!(["acme:only-k1"]));
    assert_eq!(rows[1].action, "disable");
    assert_eq!(rows[1].detail["reason"], "signing-key-revoked");
    s.audit_verify().expect("verify");
}

#[test]
fn enable_disable_round_trip() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    install(&mut s, NAME, "1.0.0");
    s.disable(NAME, "maintenance window").expect("disable");
    let c = s.current(NAME).expect("c").expect("some");
    assert!(!c.enabled);
    assert_eq!(c.disabled_reason.as_deref(), Some("maintenance window"));
    // The operator's text is not copied into the audit log.
    let rows = s.audit_list(AuditQuery::default()).expect("audit");
    assert!(
        !serde_json::to_string(&rows)
            .expect("json")
            .contains("maintenance")
    );
    // Upgrading keeps the plugin disabled.
    install(&mut s, NAME, "1.1.0");
    assert!(!s.current(NAME).expect("c").expect("some").enabled);
    s.enable(NAME).expect("enable");
    assert!(s.current(NAME).expect("c").expect("some").enabled);
    assert!(matches!(
        s.enable("acme:nope"),
        Err(StoreError::NotInstalled(_))
    ));
}

#[test]
fn purge_removes_data() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    install(&mut s, NAME, "1.0.0");
    install(&mut s, "acme:other", "1.0.0");
    s.kv_put(NAME, b"a", b"1").expect("put");
    s.kv_put(NAME, b"b", b"22").expect("put");
    s.kv_put("acme:other", b"a", b"x").expect("put");
    assert_eq!(s.kv_usage(NAME).expect("usage").keys, 2);
    assert_eq!(s.kv_usage(NAME).expect("usage").bytes, 5);
    assert!(s.kv_delete(NAME, b"b").expect("delete"));
    assert_eq!(
        s.kv_get(NAME, b"a").expect("get").as_deref(),
        Some(&b"1"[..])
    );

    s.uninstall(NAME, false).expect("uninstall keeps data");
    assert_eq!(
        s.kv_get(NAME, b"a").expect("get").as_deref(),
        Some(&b"1"[..])
    );
    assert!(s.current(NAME).expect("c").is_none());
    assert_eq!(
        blob_files(&h.path).len(),
        1,
        "the uninstalled plugin's blob is removed"
    );

    s.uninstall(NAME, true).expect("purge");
    assert_eq!(s.kv_get(NAME, b"a").expect("get"), None);
    assert_eq!(
        s.kv_get("acme:other", b"a").expect("get").as_deref(),
        Some(&b"x"[..])
    );
    assert!(matches!(
        s.uninstall(NAME, true),
        Err(StoreError::NotInstalled(_))
    ));
    let last = s
        .audit_list(AuditQuery {
            since: None,
            limit: Some(1),
        })
        .expect("audit");
    assert_eq!(last[0].detail["purge"], json!(true));
}

// ---------------------------------------------------------------- files and permissions

#[test]
fn altered_blob_is_refused() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    let d = s.put_blob(b"original bytes").expect("put");
    let path = h.path.join("blobs").join(d.to_hex());
    std::fs::write(&path, b"original bytez").expect("tamper");
    let err = s.get_blob(&d).expect_err("altered");
    assert!(matches!(err, StoreError::BlobCorrupt(_)), "{err}");
    assert!(err.to_string().contains("altered on disk"));
    // Putting the bytes again repairs it.
    s.put_blob(b"original bytes").expect("put");
    assert_eq!(s.get_blob(&d).expect("get"), b"original bytes");
}

#[test]
fn symlinked_blob_cannot_redirect_outside_home() {
    let h = home();
    let outside = h.path.parent().expect("parent").join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    let mut s = Store::open(&h.path).expect("open");

    // Read: a blob replaced by a link to an outside file with the very same bytes is not followed.
    let d = s.put_blob(b"plugin bytes").expect("put");
    let blob_path = h.path.join("blobs").join(d.to_hex());
    std::fs::write(outside.join("copy"), b"plugin bytes").expect("write");
    std::fs::remove_file(&blob_path).expect("rm");
    std::os::unix::fs::symlink(outside.join("copy"), &blob_path).expect("symlink");
    assert!(s.get_blob(&d).is_err());
    std::fs::remove_file(&blob_path).expect("rm");
    std::os::unix::fs::symlink("../../outside/copy", &blob_path).expect("relative symlink");
    assert!(s.get_blob(&d).is_err());

    // Write: a link planted at the name of a blob about to be written is replaced, not written through.
    let bytes = b"new plugin bytes";
    let target = h.path.join("blobs").join(BlobDigest::of(bytes).to_hex());
    std::fs::write(outside.join("victim"), b"victim").expect("write");
    std::os::unix::fs::symlink(outside.join("victim"), &target).expect("symlink");
    let d2 = s.put_blob(bytes).expect("put");
    assert_eq!(
        std::fs::read(outside.join("victim")).expect("read"),
        b"victim"
    );
    assert!(
        !std::fs::symlink_metadata(&target)
            .expect("meta")
            .file_type()
            .is_symlink()
    );
    assert_eq!(s.get_blob(&d2).expect("get"), bytes);

    // The blobs directory itself swapped for a link: the open store keeps using its handle ...
    std::fs::rename(h.path.join("blobs"), h.path.join("blobs.real")).expect("mv");
    std::os::unix::fs::symlink(&outside, h.path.join("blobs")).expect("symlink dir");
    s.put_blob(b"more bytes").expect("put");
    assert!(
        !outside
            .join(BlobDigest::of(b"more bytes").to_hex())
            .exists()
    );
    drop(s);
    // ... and a new open refuses it.
    let err = Store::open(&h.path).expect_err("linked blobs dir");
    assert!(
        matches!(err, StoreError::UnexpectedFileType { .. }),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&outside).expect("ls").count(),
        2,
        "nothing written outside"
    );
}

#[test]
fn registry_generation_moves_with_the_registry_and_only_with_it() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    let mut last = s.registry_generation().expect("generation");
    let mut moved = |s: &Store, what: &str| {
        let now = s.registry_generation().expect("generation");
        assert!(now > last, "{what}: {last} -> {now}");
        last = now;
    };
    install(&mut s, "acme:tool", "1.0.0");
    moved(&s, "install");
    install(&mut s, "acme:tool", "1.1.0");
    moved(&s, "upgrade");
    s.disable("acme:tool", "operator").expect("disable");
    moved(&s, "disable");
    s.enable("acme:tool").expect("enable");
    moved(&s, "enable");
    s.set_grants(
        "acme:tool",
        &digest_for("acme:tool", "1.1.0"),
        &json!([{ "kind": "paper" }]),
        AuditAction::Promote,
    )
    .expect("set grants");
    moved(&s, "grants");
    s.rollback("acme:tool", None).expect("rollback");
    moved(&s, "rollback");
    // Audit rows, usage counters, tokens and confirmations are not the registry.
    let before = s.registry_generation().expect("generation");
    s.record_requests(
        &[AuditEvent::new(AuditAction::Run)],
        &[ward_store::UsageDelta {
            scope: "plugin:acme:tool".into(),
            day: ward_store::utc_day(),
            usage: ward_store::Usage {
                calls: 1,
                cpu_ms: 1,
                fuel: 1,
            },
        }],
    )
    .expect("record");
    s.token_create(&ward_store::NewToken {
        plugin: "acme:tool".into(),
        ..ward_store::NewToken::default()
    })
    .expect("token");
    assert_eq!(s.registry_generation().expect("generation"), before);
    s.uninstall("acme:tool", false).expect("uninstall");
    moved(&s, "uninstall");
}

#[test]
fn symlinked_database_is_refused() {
    let h = home();
    drop(Store::open(&h.path).expect("open"));
    let elsewhere = h.path.parent().expect("parent").join("elsewhere.db");
    std::fs::rename(h.path.join("store.db"), &elsewhere).expect("mv");
    std::os::unix::fs::symlink(&elsewhere, h.path.join("store.db")).expect("symlink");
    assert!(matches!(
        Store::open(&h.path),
        Err(StoreError::UnexpectedFileType { .. })
    ));
}

#[test]
fn home_writable_by_others_is_refused() {
    let h = home();
    drop(Store::open(&h.path).expect("open"));
    let mode = std::fs::metadata(&h.path)
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);

    std::fs::set_permissions(&h.path, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let err = Store::open(&h.path).expect_err("open");
    assert!(
        matches!(err, StoreError::InsecurePermissions { mode: 0o777, .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&h.path.display().to_string()) && msg.contains("chmod 700"),
        "{msg}"
    );

    std::fs::set_permissions(&h.path, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::fs::set_permissions(h.path.join("blobs"), std::fs::Permissions::from_mode(0o770))
        .expect("chmod");
    let err = Store::open(&h.path).expect_err("open");
    assert!(err.to_string().contains("blobs"), "{err}");
    std::fs::set_permissions(h.path.join("blobs"), std::fs::Permissions::from_mode(0o700))
        .expect("chmod");
    Store::open(&h.path).expect("open again");
}

#[test]
fn schema_migration_is_idempotent() {
    let h = home();
    drop(Store::open(&h.path).expect("open"));
    drop(Store::open(&h.path).expect("open again"));
    let c = rusqlite::Connection::open(h.path.join("store.db")).expect("db");
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(v, ward_store::SCHEMA_VERSION);
    c.pragma_update(None, "user_version", 99).expect("bump");
    drop(c);
    assert!(matches!(
        Store::open(&h.path),
        Err(StoreError::SchemaTooNew { found: 99, .. })
    ));
}

#[test]
fn recovery_does_not_remove_a_blob_another_process_is_installing() {
    let h = home();
    let mut first = Store::open(&h.path).expect("open");
    let rec = record(&mut first, NAME, "1.0.0", json!(["k1"]));
    std::fs::write(h.path.join("blobs").join(".tmp-0123"), b"in flight").expect("temp");
    // A second process opens the store while the first is between put_blob and install.
    let second = Store::open(&h.path).expect("second open");
    assert_eq!(
        blob_files(&h.path).len(),
        2,
        "no recovery while another store is open"
    );
    first.install(&rec).expect("install still finds its blob");
    drop(first);
    drop(second);
    drop(Store::open(&h.path).expect("alone again"));
    assert_eq!(blob_files(&h.path).len(), 1, "recovery ran once alone");
}

// ---------------------------------------------------------------- audit

#[test]
fn audit_rows_chain_and_hold_no_argument_values() {
    let h = home();
    let mut s = Store::open(&h.path).expect("open");
    let mut run = AuditEvent::new(AuditAction::Run);
    run.plugin = Some(NAME.into());
    run.detail.command = Some("greet".into());
    let mut deny = AuditEvent::new(AuditAction::Deny);
    deny.outcome = Outcome::Denied;
    deny.actor = Some("token:agent-1".into());
    deny.detail.reason = Some("not-granted");
    deny.detail.capabilities = vec!["http".into()];
    s.append_audit(&run).expect("append");
    s.append_audit_batch(&[deny.clone(), deny]).expect("batch");
    let rows = s.audit_list(AuditQuery::default()).expect("list");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].prev_hash, ward_store::GENESIS_HASH);
    for w in rows.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    for r in &rows {
        assert_eq!(audit_row_hash(r), r.hash);
    }
    assert_eq!(rows[1].actor, "token:agent-1");
    assert_eq!(rows[1].outcome, "denied");
    assert!(rows[0].actor.starts_with("uid:"));
    assert!(rows[0].time.ends_with('Z'));
    let since = s
        .audit_list(AuditQuery {
            since: Some(1),
            limit: Some(1),
        })
        .expect("since");
    assert_eq!(since[0].seq, 2);
    let head = std::fs::read_to_string(h.path.join("audit.head")).expect("head");
    assert_eq!(head, format!("3 {}\n", rows[2].hash));
    let report = s.audit_verify().expect("verify");
    assert_eq!((report.rows, report.head_seq, report.unanchored), (3, 3, 0));
}

#[test]
fn audit_edited_row_is_detected() {
    let h = audited_home();
    db(&h.path)
        .execute(
            "UPDATE audit SET detail = '{\"version\":\"9.9.9\"}' WHERE seq = 2",
            [],
        )
        .expect("edit");
    assert!(matches!(
        verify_after_reopen(&h.path),
        Err(AuditError::Edited { seq: 2 })
    ));

    // Edited with the row's own hash recomputed: the next row no longer chains to it.
    let h = audited_home();
    let mut row = Store::open(&h.path)
        .expect("open")
        .audit_list(AuditQuery::default())
        .expect("l")[1]
        .clone();
    row.outcome = "denied".into();
    let hash = audit_row_hash(&row);
    db(&h.path)
        .execute(
            "UPDATE audit SET outcome = 'denied', hash = ?1 WHERE seq = 2",
            [&hash],
        )
        .expect("edit");
    assert!(matches!(
        verify_after_reopen(&h.path),
        Err(AuditError::ChainBroken { seq: 3 })
    ));

    // Every later row rewritten too: audit.head no longer matches.
    let h = audited_home();
    let rows = Store::open(&h.path)
        .expect("open")
        .audit_list(AuditQuery::default())
        .expect("l");
    let c = db(&h.path);
    let mut prev = rows[0].hash.clone();
    for (i, r) in rows.iter().enumerate().skip(1) {
        let mut r = r.clone();
        if i == 1 {
            r.outcome = "denied".into();
        }
        r.prev_hash = prev;
        r.hash = audit_row_hash(&r);
        c.execute(
            "UPDATE audit SET outcome = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![r.outcome, r.prev_hash, r.hash, r.seq as i64],
        )
        .expect("rewrite");
        prev = r.hash;
    }
    drop(c);
    assert!(matches!(
        verify_after_reopen(&h.path),
        Err(AuditError::HeadMismatch { seq: 5 })
    ));
}

#[test]
fn audit_deleted_row_is_detected() {
    let h = audited_home();
    db(&h.path)
        .execute("DELETE FROM audit WHERE seq = 3", [])
        .expect("delete");
    assert!(matches!(
        verify_after_reopen(&h.path),
        Err(AuditError::Gap {
            expected: 3,
            found: 4
        })
    ));

    // Deleted and the later rows renumbered: their hashes cover the sequence number.
    let h = audited_home();
    let c = db(&h.path);
    c.execute("DELETE FROM audit WHERE seq = 3", [])
        .expect("delete");
    c.execute("UPDATE audit SET seq = seq - 1 WHERE seq > 3", [])
        .expect("renumber");
    drop(c);
    assert!(matches!(
        verify_after_reopen(&h.path),
        Err(AuditError::Edited { seq: 3 })
    ));

    // The first row deleted.
    let h = audited_home();
    db(&h.path)
        .execute("DELETE FROM audit WHERE seq = 1", [])
        .expect("delete");
    assert!(matches!(
        verify_after_reopen(&h.path),
        Err(AuditError::Gap {
            expected: 1,
            found: 2
        })
    ));
}

#[test]
fn audit_reordered_rows_are_detected() {
    let h = audited_home();
    let c = db(&h.path);
    c.execute_batch(
        "UPDATE audit SET seq = 100 WHERE seq = 2;
         UPDATE audit SET seq = 2 WHERE seq = 3;
         UPDATE audit SET seq = 3 WHERE seq = 100;",
    )
    .expect("swap");
    drop(c);
    assert!(matches!(
        verify_after_reopen(&h.path),
        Err(AuditError::Edited { seq: 2 })
    ));

    // Swapped with each row's own hash recomputed for its new position: the chain breaks.
    let h = audited_home();
    let rows = Store::open(&h.path)
        .expect("open")
        .audit_list(AuditQuery::default())
        .expect("l");
    let c = db(&h.path);
    for (from, to) in [(1usize, 3u64), (2, 2)] {
        let mut r = rows[from].clone();
        r.seq = to;
        r.hash = audit_row_hash(&r);
        c.execute(
            "UPDATE audit SET time = ?1, actor = ?2, action = ?3, plugin = ?4, digest = ?5, outcome = ?6,
             detail = ?7, prev_hash = ?8, hash = ?9 WHERE seq = ?10",
            rusqlite::params![r.time, r.actor, r.action, r.plugin, r.digest, r.outcome,
                r.detail.to_string(), r.prev_hash, r.hash, to as i64],
        )
        .expect("rewrite");
    }
    drop(c);
    assert!(matches!(
        verify_after_reopen(&h.path),
        Err(AuditError::ChainBroken { seq: 2 })
    ));
}

#[test]
fn audit_inserted_row_is_detected() {
    let h = audited_home();
    let rows = Store::open(&h.path)
        .expect("open")
        .audit_list(AuditQuery::default())
        .expect("l");
    let c = db(&h.path);
    // Make room after row 2 and insert a forged row that chains correctly from row 2.
    c.execute("UPDATE audit SET seq = seq + 1000 WHERE seq > 2", [])
        .expect("shift");
    c.execute("UPDATE audit SET seq = seq - 999 WHERE seq > 1000", [])
        .expect("shift");
    let mut forged = rows[1].clone();
    forged.seq = 3;
    forged.action = "enable".into();
    forged.prev_hash = rows[1].hash.clone();
    forged.hash = audit_row_hash(&forged);
    c.execute(
        "INSERT INTO audit (seq, time, actor, action, plugin, digest, outcome, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        rusqlite::params![3, forged.time, forged.actor, forged.action, forged.plugin, forged.digest,
            forged.outcome, forged.detail.to_string(), forged.prev_hash, forged.hash],
    )
    .expect("insert");
    drop(c);
    assert!(matches!(
        verify_after_reopen(&h.path),
        Err(AuditError::Edited { seq: 4 })
    ));

    // A row with a made-up hash appended at the end.
    let h = audited_home();
    db(&h.path)
        .execute(
            "INSERT INTO audit SELECT 6, time, actor, 'grant', plugin, digest, outcome, detail, hash, hash
             FROM audit WHERE seq = 5",
            [],
        )
        .expect("insert");
    assert!(matches!(
        verify_after_reopen(&h.path),
        Err(AuditError::Edited { seq: 6 })
    ));
}

#[test]
fn audit_truncation_is_detected() {
    let h = audited_home();
    db(&h.path)
        .execute("DELETE FROM audit WHERE seq >= 4", [])
        .expect("truncate");
    let mut s = Store::open(&h.path).expect("reopen");
    assert!(matches!(
        s.audit_verify(),
        Err(AuditError::Truncated {
            head_seq: 5,
            last_seq: 3
        })
    ));
    // State changes are refused until the operator reseals, and the head is not overwritten.
    assert!(s.audit_problem().is_some());
    assert!(matches!(s.enable(NAME), Err(StoreError::AuditBroken(_))));
    assert!(matches!(
        s.append_audit(&AuditEvent::new(AuditAction::Run)),
        Err(StoreError::AuditBroken(_))
    ));
    assert!(
        std::fs::read_to_string(h.path.join("audit.head"))
            .expect("head")
            .starts_with("5 ")
    );
    s.audit_reseal().expect("reseal");
    let last = s
        .audit_list(AuditQuery {
            since: None,
            limit: Some(1),
        })
        .expect("l");
    assert_eq!(last[0].action, "audit-reseal");
    assert_eq!(last[0].detail["reason"], "head-ahead-of-log");
    s.disable(NAME, "x").expect("works again");

    // Truncated, then as many forged rows appended: the head's hash does not match.
    let h = audited_home();
    let s = Store::open(&h.path).expect("open");
    let rows = s.audit_list(AuditQuery::default()).expect("l");
    drop(s);
    let c = db(&h.path);
    c.execute("DELETE FROM audit WHERE seq = 5", [])
        .expect("truncate");
    let mut forged = rows[4].clone();
    forged.action = "run".into();
    forged.hash = audit_row_hash(&forged);
    c.execute(
        "INSERT INTO audit (seq, time, actor, action, plugin, digest, outcome, detail, prev_hash, hash)
         VALUES (5, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        rusqlite::params![forged.time, forged.actor, forged.action, forged.plugin, forged.digest,
            forged.outcome, forged.detail.to_string(), forged.prev_hash, forged.hash],
    )
    .expect("forge");
    drop(c);
    assert!(matches!(
        verify_after_reopen(&h.path),
        Err(AuditError::HeadMismatch { seq: 5 })
    ));

    // The head file deleted.
    let h = audited_home();
    std::fs::remove_file(h.path.join("audit.head")).expect("rm");
    assert!(matches!(
        verify_after_reopen(&h.path),
        Err(AuditError::HeadMissing)
    ));
    // The head file garbled.
    let h = audited_home();
    std::fs::write(h.path.join("audit.head"), "five\n").expect("write");
    assert!(matches!(
        verify_after_reopen(&h.path),
        Err(AuditError::HeadCorrupt)
    ));
}

#[test]
fn audit_appended_row_with_valid_hash_is_only_unanchored() {
    // Documented limit: someone with write access to store.db who computes a correct hash can append
    // rows; they are indistinguishable from a crash between commit and head update.
    let h = audited_home();
    let rows = Store::open(&h.path)
        .expect("open")
        .audit_list(AuditQuery::default())
        .expect("l");
    let mut forged = rows[4].clone();
    forged.seq = 6;
    forged.prev_hash = forged.hash.clone();
    forged.hash = audit_row_hash(&forged);
    db(&h.path)
        .execute(
            "INSERT INTO audit (seq, time, actor, action, plugin, digest, outcome, detail, prev_hash, hash)
             VALUES (6, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![forged.time, forged.actor, forged.action, forged.plugin, forged.digest,
                forged.outcome, forged.detail.to_string(), forged.prev_hash, forged.hash],
        )
        .expect("append");
    let s = Store::open(&h.path).expect("open rolls the head forward");
    let report = s.audit_verify().expect("verify");
    assert_eq!((report.rows, report.head_seq, report.unanchored), (6, 6, 0));
}

// ---------------------------------------------------------------- crash consistency

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Install,
    Upgrade,
    Rollback,
    Uninstall,
}

/// Brings the store to the state before `op`.
fn prepare(home: &Path, op: Op) {
    let mut s = Store::open(home).expect("open");
    match op {
        Op::Install => {}
        Op::Upgrade | Op::Uninstall => install(&mut s, NAME, "1.0.0"),
        Op::Rollback => {
            install(&mut s, NAME, "1.0.0");
            install(&mut s, NAME, "1.1.0");
        }
    }
}

/// Runs `op`; its result is the caller's business.
fn run_op(s: &mut Store, op: Op) -> Result<(), StoreError> {
    let version = if op == Op::Install { "1.0.0" } else { "1.1.0" };
    match op {
        Op::Install | Op::Upgrade => {
            let bytes = bytes_for(NAME, version);
            let blob = s.put_blob(&bytes)?;
            let rec = InstallRecord {
                blob,
                ..record_without_put(NAME, version)
            };
            s.install(&rec).map(|_| ())
        }
        Op::Rollback => s.rollback(NAME, None).map(|_| ()),
        Op::Uninstall => s.uninstall(NAME, false),
    }
}

fn record_without_put(name: &str, version: &str) -> InstallRecord {
    InstallRecord {
        name: name.to_string(),
        version: version.to_string(),
        digest: digest_for(name, version),
        blob: BlobDigest::of(&bytes_for(name, version)),
        manifest_toml: format!("name = \"{name}\"\n"),
        signers: json!(["k1"]),
        grants: json!([{ "kind": "http", "hosts": [format!("{version}.example.com")] }]),
        summary: String::new(),
        allow_downgrade: false,
    }
}

/// (old, new) current version around `op`.
fn old_new(op: Op) -> (Option<&'static str>, Option<&'static str>) {
    match op {
        Op::Install => (None, Some("1.0.0")),
        Op::Upgrade => (Some("1.0.0"), Some("1.1.0")),
        Op::Rollback => (Some("1.1.0"), Some("1.0.0")),
        Op::Uninstall => (Some("1.0.0"), None),
    }
}

fn points(op: Op) -> &'static [&'static str] {
    match op {
        Op::Install | Op::Upgrade => ward_store::FAIL_POINTS,
        Op::Rollback | Op::Uninstall => &["before-commit", "after-commit", "after-head"],
    }
}

/// After recovery: exactly the old or the new state, the audit verifies, no temporary files, no
/// unreferenced blobs, and the store accepts the operation again (or already has its result).
fn check_recovered(home: &Path, op: Op, point: &str) {
    let s = Store::open(home).expect("reopen");
    let (old, new) = old_new(op);
    let cur = s.current(NAME).expect("current");
    let got = cur.as_ref().map(|c| c.version.as_str());
    let committed = matches!(point, "after-commit" | "after-head");
    let want = if committed { new } else { old };
    assert_eq!(
        got, want,
        "{op:?} at {point}: state is neither old nor new as expected"
    );
    if let Some(c) = &cur {
        assert_eq!(
            s.get_blob(&c.blob).expect("blob of current version"),
            bytes_for(NAME, &c.version)
        );
        assert_eq!(c.grants["0"], serde_json::Value::Null);
        assert_eq!(
            c.grants[0]["hosts"][0],
            format!("{}.example.com", c.version)
        );
    }
    let report = s
        .audit_verify()
        .unwrap_or_else(|e| panic!("{op:?} at {point}: audit verify: {e}"));
    assert_eq!(report.unanchored, 0, "head rolled forward");
    let actions = s.audit_list(AuditQuery::default()).expect("audit").len();
    let before = match op {
        Op::Install => 0,
        Op::Upgrade | Op::Uninstall => 1,
        Op::Rollback => 2,
    };
    assert_eq!(
        actions,
        before + usize::from(committed),
        "{op:?} at {point}: audit rows"
    );
    assert_eq!(
        leftovers(home),
        Vec::<String>::new(),
        "{op:?} at {point}: leftovers"
    );
    let referenced: usize = s.inspect(NAME).map(|d| d.versions.len()).unwrap_or(0);
    assert_eq!(
        blob_files(home).len(),
        referenced,
        "{op:?} at {point}: unreferenced blobs"
    );
    drop(s);
    // The operation can be completed afterwards.
    let mut s = Store::open(home).expect("reopen");
    if !committed {
        run_op(&mut s, op).expect("retry succeeds");
    }
    assert_eq!(current_version(&s, NAME).as_deref(), new);
    s.audit_verify().expect("verify after retry");
}

#[test]
fn crash_at_each_fail_point_leaves_old_or_new_state() {
    for op in [Op::Install, Op::Upgrade, Op::Rollback, Op::Uninstall] {
        for point in points(op) {
            let h = home();
            prepare(&h.path, op);
            let mut s = Store::open(&h.path).expect("open");
            s.set_fail_point(Some(point));
            let err = run_op(&mut s, op).expect_err("fail point");
            assert!(
                matches!(err, StoreError::FailPoint(p) if p == *point),
                "{op:?} {point}: {err}"
            );
            drop(s);
            check_recovered(&h.path, op, point);
        }
    }
}

const CHILD_ENV: &str = "WARD_STORE_TEST_CHILD";

/// Child side of `killed_at_each_fail_point_leaves_old_or_new_state`; does nothing in a normal run.
#[test]
fn crash_child_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (op, home) = spec.split_once('\n').expect("spec");
    let op = match op {
        "install" => Op::Install,
        "upgrade" => Op::Upgrade,
        "uninstall" => Op::Uninstall,
        _ => Op::Rollback,
    };
    let mut s = Store::open(Path::new(home)).expect("open");
    let _ = run_op(&mut s, op);
    // Reaching this line means the fail point did not abort.
    std::process::exit(3);
}

#[test]
fn killed_at_each_fail_point_leaves_old_or_new_state() {
    if !cfg!(debug_assertions) {
        return; // the environment fail points exist only in debug builds
    }
    let exe = std::env::current_exe().expect("test binary");
    for (op, name) in [
        (Op::Install, "install"),
        (Op::Upgrade, "upgrade"),
        (Op::Rollback, "rollback"),
    ] {
        for point in points(op) {
            let h = home();
            prepare(&h.path, op);
            let status = std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "crash_child_entry",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, format!("{name}\n{}", h.path.display()))
                .env("WARD_STORE_FAILPOINT", format!("{point}:abort"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .expect("spawn");
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                status.signal(),
                Some(6),
                "{op:?} at {point}: child was not aborted: {status}"
            );
            check_recovered(&h.path, op, point);
        }
    }
}

// ---- agent tokens, usage counters and confirmations (issue 6) ----

mod agent {
    use super::*;
    use ward_store::{
        ConfirmState, NewConfirmation, NewToken, TokenCheck, Usage, UsageDelta, utc_day,
    };

    fn token_spec() -> NewToken {
        NewToken {
            plugin: NAME.into(),
            command: Some("greet".into()),
            rate: Some((10, 60)),
            daily_calls: Some(100),
            daily_cpu_ms: Some(60_000),
            expires_in_secs: Some(30 * 86_400),
        }
    }

    #[test]
    fn token_is_printed_once_and_only_its_hash_is_stored() {
        let h = home();
        let mut store = Store::open(&h.path).unwrap();
        let issued = store.token_create(&token_spec()).unwrap();
        assert!(issued.token.starts_with("wk_"));
        assert_eq!(issued.token.len(), ward_store::TOKEN_LEN);
        assert!(!format!("{issued:?}").contains(&issued.token));
        // The token text is nowhere in the database file.
        drop(store);
        let raw = std::fs::read(h.path.join("store.db")).unwrap();
        let needle = issued.token.as_bytes();
        assert!(!raw.windows(needle.len()).any(|w| w == needle));
        let store = Store::open(&h.path).unwrap();
        match store.token_check(&issued.token).unwrap() {
            TokenCheck::Valid(t) => {
                assert_eq!(t.id, issued.row.id);
                assert_eq!(t.plugin, NAME);
                assert_eq!(t.command.as_deref(), Some("greet"));
                assert_eq!((t.rate_count, t.rate_per_secs), (Some(10), Some(60)));
                assert_eq!(t.daily_calls, Some(100));
            }
            other => panic!("{other:?}"),
        }
        let list = store.token_list().unwrap();
        assert_eq!(list.len(), 1);
        let rows = store.audit_list(AuditQuery::default()).unwrap();
        assert_eq!(rows.last().unwrap().action, "token-create");
        assert!(!rows.last().unwrap().detail.to_string().contains("wk_"));
    }

    #[test]
    fn wrong_or_malformed_token_is_unknown() {
        let h = home();
        let mut store = Store::open(&h.path).unwrap();
        let issued = store.token_create(&token_spec()).unwrap();
        let mut wrong = issued.token.clone().into_bytes();
        let last = wrong.len() - 1;
        wrong[last] = if wrong[last] == b'a' { b'b' } else { b'a' };
        let wrong = String::from_utf8(wrong).unwrap();
        for presented in [wrong.as_str(), "", "wk_", "Bearer x", &"a".repeat(10_000)] {
            assert_eq!(store.token_check(presented).unwrap(), TokenCheck::Unknown);
        }
    }

    #[test]
    fn revoked_token_is_refused_immediately() {
        let h = home();
        let mut store = Store::open(&h.path).unwrap();
        let issued = store.token_create(&token_spec()).unwrap();
        // A second connection (the daemon's) sees the revocation at once.
        let other = Store::open(&h.path).unwrap();
        store.token_revoke(&issued.row.id).unwrap();
        assert!(matches!(
            other.token_check(&issued.token).unwrap(),
            TokenCheck::Revoked(_)
        ));
        assert!(matches!(
            store.token_revoke(&issued.row.id),
            Err(StoreError::UnknownToken(_))
        ));
        assert!(matches!(
            store.token_revoke("tk_nope"),
            Err(StoreError::UnknownToken(_))
        ));
    }

    #[test]
    fn expired_token_is_refused() {
        let h = home();
        let mut store = Store::open(&h.path).unwrap();
        let issued = store
            .token_create(&NewToken {
                expires_in_secs: Some(0),
                ..token_spec()
            })
            .unwrap();
        assert!(matches!(
            store.token_check(&issued.token).unwrap(),
            TokenCheck::Expired(_)
        ));
    }

    #[test]
    fn usage_is_committed_with_its_audit_rows() {
        let h = home();
        let mut store = Store::open(&h.path).unwrap();
        let day = utc_day();
        let delta = |calls| UsageDelta {
            scope: "token:tk_1".into(),
            day: day.clone(),
            usage: Usage {
                calls,
                cpu_ms: 5,
                fuel: 7,
            },
        };
        let mut ev = AuditEvent::new(AuditAction::Run);
        ev.detail.token = Some("tk_1".into());
        store
            .record_requests(&[ev.clone(), ev.clone()], &[delta(1), delta(2)])
            .unwrap();
        assert_eq!(
            store.usage("token:tk_1", &day).unwrap(),
            Usage {
                calls: 3,
                cpu_ms: 10,
                fuel: 14
            }
        );
        // A failed commit leaves neither the rows nor the counters.
        store.set_fail_point(Some("before-commit"));
        assert!(store.record_requests(&[ev.clone()], &[delta(5)]).is_err());
        store.set_fail_point(None);
        assert_eq!(store.usage("token:tk_1", &day).unwrap().calls, 3);
        assert_eq!(store.audit_verify().unwrap().rows, 2);
        // An event with a control character in an identifier is refused, nothing written.
        ev.detail.token = Some("tk\n1".into());
        assert!(store.record_requests(&[ev], &[delta(1)]).is_err());
        assert_eq!(store.usage("token:tk_1", &day).unwrap().calls, 3);
    }

    #[test]
    fn unanchored_rows_are_durable_and_anchored_later() {
        let h = home();
        let mut store = Store::open(&h.path).unwrap();
        let ev = AuditEvent::new(AuditAction::Run);
        let first = store
            .record_requests_unanchored(std::slice::from_ref(&ev), &[])
            .unwrap()
            .unwrap();
        let last = store
            .record_requests_unanchored(&[ev.clone(), ev.clone()], &[])
            .unwrap()
            .unwrap();
        assert_eq!(last.seq, first.seq + 2);
        // The head has not moved: the rows are chained but not anchored yet.
        let report = store.audit_verify().unwrap();
        assert_eq!((report.rows, report.unanchored), (3, 3));
        assert_eq!(report.last_hash, last.hash);
        // An older anchor never moves the head back.
        let writer = store.head_writer().unwrap();
        writer.advance(&last).unwrap();
        writer.advance(&first).unwrap();
        let report = store.audit_verify().unwrap();
        assert_eq!((report.head_seq, report.unanchored), (last.seq, 0));
        // Rows a crashed writer left unanchored are anchored by the next open.
        store.record_requests_unanchored(&[ev], &[]).unwrap();
        drop(store);
        let report = Store::open(&h.path).unwrap().audit_verify().unwrap();
        assert_eq!((report.rows, report.unanchored), (4, 0));
    }

    #[test]
    fn commits_go_through_the_write_ahead_log() {
        let h = home();
        drop(Store::open(&h.path).unwrap());
        let c = rusqlite::Connection::open(h.path.join("store.db")).unwrap();
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    fn pending(store: &mut Store, hash: &str, ttl: u64) -> ward_store::Confirmation {
        store
            .confirmation_create(&NewConfirmation {
                token: "tk_1".into(),
                plugin: NAME.into(),
                command: "greet".into(),
                action_hash: hash.into(),
                summary: "acme:hello greet(name=\"x\")".into(),
                ttl_secs: ttl,
            })
            .expect("confirmation")
    }

    #[test]
    fn confirmation_approve_is_single_use_and_bound_to_the_action() {
        let h = home();
        let mut store = Store::open(&h.path).unwrap();
        let c = pending(&mut store, "aa", 600);
        assert_eq!(store.confirmation_list(false).unwrap().len(), 1);
        assert!(!store.confirmation_use(&c.id, "aa").unwrap()); // not approved yet
        assert_eq!(
            store.confirmation_decide(&c.id, true).unwrap().state,
            ConfirmState::Approved
        );
        assert!(matches!(
            store.confirmation_decide(&c.id, false),
            Err(StoreError::ConfirmationNotPending { .. })
        ));
        assert!(!store.confirmation_use(&c.id, "bb").unwrap()); // another action
        assert!(store.confirmation_use(&c.id, "aa").unwrap());
        assert!(!store.confirmation_use(&c.id, "aa").unwrap()); // replay
        assert_eq!(
            store.confirmation_get(&c.id).unwrap().unwrap().state,
            ConfirmState::Used
        );
        assert_eq!(
            store
                .confirmation_for_action("tk_1", "aa")
                .unwrap()
                .unwrap()
                .id,
            c.id
        );
        assert!(store.confirmation_list(false).unwrap().is_empty());
    }

    #[test]
    fn confirmation_deny_and_expiry_and_restart() {
        let h = home();
        let mut store = Store::open(&h.path).unwrap();
        let denied = pending(&mut store, "aa", 600);
        store.confirmation_decide(&denied.id, false).unwrap();
        assert!(!store.confirmation_use(&denied.id, "aa").unwrap());

        let expired = pending(&mut store, "bb", 0);
        assert_eq!(expired.state, ConfirmState::Pending);
        assert_eq!(
            store.confirmation_get(&expired.id).unwrap().unwrap().state,
            ConfirmState::Expired
        );
        assert!(matches!(
            store.confirmation_decide(&expired.id, true),
            Err(StoreError::ConfirmationNotPending {
                state: "expired",
                ..
            })
        ));

        let open = pending(&mut store, "cc", 600);
        let approved = pending(&mut store, "dd", 600);
        store.confirmation_decide(&approved.id, true).unwrap();
        assert_eq!(store.confirmation_deny_open().unwrap(), 3); // includes the expired pending row
        for id in [&open.id, &approved.id] {
            assert_eq!(
                store.confirmation_get(id).unwrap().unwrap().state,
                ConfirmState::Denied
            );
        }
        assert!(!store.confirmation_use(&approved.id, "dd").unwrap());
        assert!(matches!(
            store.confirmation_decide("cf_unknown", true),
            Err(StoreError::UnknownConfirmation(_))
        ));
        store.audit_verify().unwrap();
    }

    #[test]
    fn confirmation_summary_with_escape_sequence_is_refused() {
        let h = home();
        let mut store = Store::open(&h.path).unwrap();
        let r = store.confirmation_create(&NewConfirmation {
            token: "tk_1".into(),
            plugin: NAME.into(),
            command: "greet".into(),
            action_hash: "aa".into(),
            summary: "approve \x1b[2K everything".into(),
            ttl_secs: 600,
        });
        assert!(matches!(r, Err(StoreError::InvalidName { .. })));
    }
}
