//! Interop with the real `wasmsign2` CLI (wasmsign2-cli 0.2.8), both ways, embedded and detached.
//!
//! `signing/scripts/install-wasmsign2.sh` installs it into `target/tools/bin`. Without it these
//! tests fail when `CI` is set and print a skip message otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use ward_signing::{PublicKey, TrustPolicy, sign, sign_detached, verify, verify_detached};

use crate::*;

fn wasmsign2() -> Option<PathBuf> {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/bin/wasmsign2");
    if local.exists() {
        return Some(local);
    }
    let on_path = Command::new("wasmsign2").arg("--version").output();
    if on_path.is_ok_and(|o| o.status.success()) {
        return Some(PathBuf::from("wasmsign2"));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "wasmsign2 not found on PATH or in target/tools/bin; run signing/scripts/install-wasmsign2.sh"
    );
    eprintln!("skipping: wasmsign2 not found; run signing/scripts/install-wasmsign2.sh");
    None
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const PLUGIN: &str = "acme:hello";

#[test]
fn wasmsign2_signatures_verify_in_ward_with_a_trust_store() {
    let Some(ws) = wasmsign2() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("in.wasm"), plain()).unwrap();
    run(Command::new(&ws)
        .current_dir(d)
        .args(["keygen", "-k", "w.sk", "-K", "w.pk"]));
    // with a key id (-K) and without one
    run(Command::new(&ws).current_dir(d).args([
        "sign",
        "-k",
        "w.sk",
        "-K",
        "w.pk",
        "-i",
        "in.wasm",
        "-o",
        "with-id.wasm",
    ]));
    run(Command::new(&ws).current_dir(d).args([
        "sign",
        "-k",
        "w.sk",
        "-i",
        "in.wasm",
        "-o",
        "no-id.wasm",
    ]));
    run(Command::new(&ws).current_dir(d).args([
        "sign",
        "-k",
        "w.sk",
        "-K",
        "w.pk",
        "-i",
        "in.wasm",
        "-o",
        "unchanged.wasm",
        "-S",
        "in.sig",
    ]));
    let toml = "[[key]]\nlabel = \"wasmsign2\"\npublic_key_file = \"w.pk\"\nscope = [\"acme:*\"]\n";
    std::fs::write(d.join("trust.toml"), toml).unwrap();
    let policy = TrustPolicy::load(&d.join("trust.toml")).unwrap();
    let pk = PublicKey::parse(&std::fs::read(d.join("w.pk")).unwrap()).unwrap();
    for f in ["with-id.wasm", "no-id.wasm"] {
        let signed = std::fs::read(d.join(f)).unwrap();
        let v = verify(&signed, &policy, PLUGIN).unwrap();
        assert_eq!(v.signers()[0].key_id(), pk.key_id(), "{f}");
        assert_eq!(v.manifest(), Some(MANIFEST.as_bytes()));
        assert_eq!(v.digest(), ward_signing::digest(&plain()).unwrap());
    }
    // wasmsign2's key id is the one ward computes
    let signed = std::fs::read(d.join("with-id.wasm")).unwrap();
    let claimed =
        ward_signing::inspect(&signed, None).unwrap().hash_sets[0].claimed_key_ids[0].clone();
    assert_eq!(claimed, Some(pk.key_id().to_string()));
    // detached
    let sig = std::fs::read(d.join("in.sig")).unwrap();
    let unsigned = std::fs::read(d.join("unchanged.wasm")).unwrap();
    assert!(verify_detached(&unsigned, &sig, &policy, PLUGIN).is_ok());
    // and the ward-sign CLI agrees
    let out = crate::cli::ward_sign(d)
        .args([
            "verify",
            "--trust",
            "trust.toml",
            "--plugin",
            PLUGIN,
            "with-id.wasm",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ward_signatures_verify_in_wasmsign2() {
    let Some(ws) = wasmsign2() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let k = key();
    let pk = k.public_key();
    std::fs::write(d.join("ward.pub"), format!("{}\n", pk.to_openssh())).unwrap();
    std::fs::write(d.join("ward.pk"), pk.to_wasmsign2_bytes()).unwrap();
    let unsigned = plain();
    std::fs::write(d.join("signed.wasm"), sign(&unsigned, &k).unwrap()).unwrap();
    std::fs::write(d.join("plain.wasm"), &unsigned).unwrap();
    std::fs::write(
        d.join("plain.sig"),
        sign_detached(&unsigned, None, &k).unwrap(),
    )
    .unwrap();
    // ward's .pub is an OpenSSH line (wasmsign2 --ssh), and the raw wasmsign2 form works too
    run(Command::new(&ws).current_dir(d).args([
        "verify",
        "--ssh",
        "-K",
        "ward.pub",
        "-i",
        "signed.wasm",
    ]));
    run(Command::new(&ws)
        .current_dir(d)
        .args(["verify", "-K", "ward.pk", "-i", "signed.wasm"]));
    run(Command::new(&ws).current_dir(d).args([
        "verify",
        "-K",
        "ward.pk",
        "-i",
        "plain.wasm",
        "-S",
        "plain.sig",
    ]));
    // a tampered one fails in wasmsign2 too
    let signed = std::fs::read(d.join("signed.wasm")).unwrap();
    let at = find(&signed, b"api.acme.test");
    std::fs::write(d.join("tampered.wasm"), flip(&signed, at)).unwrap();
    let out = Command::new(&ws)
        .current_dir(d)
        .args(["verify", "-K", "ward.pk", "-i", "tampered.wasm"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn ward_and_wasmsign2_signatures_coexist_in_one_component() {
    let Some(ws) = wasmsign2() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let k = key();
    std::fs::write(d.join("ward.pk"), k.public_key().to_wasmsign2_bytes()).unwrap();
    std::fs::write(d.join("in.wasm"), plain()).unwrap();
    run(Command::new(&ws)
        .current_dir(d)
        .args(["keygen", "-k", "w.sk", "-K", "w.pk"]));
    run(Command::new(&ws).current_dir(d).args([
        "sign", "-k", "w.sk", "-K", "w.pk", "-i", "in.wasm", "-o", "one.wasm",
    ]));
    let one = std::fs::read(d.join("one.wasm")).unwrap();
    let both = sign(&one, &k).unwrap();
    std::fs::write(d.join("both.wasm"), &both).unwrap();
    for pk in ["w.pk", "ward.pk"] {
        run(Command::new(&ws)
            .current_dir(d)
            .args(["verify", "-K", pk, "-i", "both.wasm"]));
    }
    let toml = format!(
        "[[key]]\nlabel = \"publisher\"\npublic_key_file = \"w.pk\"\nscope = [\"acme:*\"]\n\
         [[key]]\nlabel = \"ci\"\npublic_key = \"{}\"\nscope = [\"acme:*\"]\n\
         [[rule]]\nnamespace = \"acme:*\"\nthreshold = 2\nrequire_labels = [\"ci\", \"publisher\"]\n",
        k.public_key().to_openssh()
    );
    let policy = TrustPolicy::from_toml(&toml, d).unwrap();
    assert_eq!(verify(&both, &policy, PLUGIN).unwrap().signers().len(), 2);
}
