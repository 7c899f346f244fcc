//! Writes the seed corpus that is not copied from the repository as is: the seed key pair
//! (`keys/`, made once and then reused, so the committed seeds stay valid) and the signed
//! components and signature files made with it.
//!
//! Run from `fuzz/` without the fuzzing flags: `cargo run --example make_seeds`.

use std::path::Path;

use ward_signing::{SecretKey, sign, sign_detached};

fn write(dir: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = Path::new("corpus").join(dir);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key_file = Path::new("keys/seed.key");
    let key = if key_file.exists() {
        SecretKey::read_file(key_file, None)?
    } else {
        let key = SecretKey::generate()?;
        std::fs::create_dir_all("keys")?;
        key.write_file(key_file, None)?;
        key
    };
    let public = key.public_key();
    std::fs::write("keys/seed.pub", format!("{}\n", public.to_openssh()))?;

    let unsigned = ward_fuzz::component();
    let signed = sign(&unsigned, &key)?;
    let other = SecretKey::generate()?;
    write("signed_component", "signed.wasm", &signed)?;
    write("signed_component", "unsigned.wasm", &unsigned)?;
    write(
        "signed_component",
        "signed-twice.wasm",
        &sign(&signed, &other)?,
    )?;
    write(
        "signed_component",
        "untrusted.wasm",
        &sign(&unsigned, &other)?,
    )?;
    write(
        "signature_envelope",
        "seed.sig",
        &sign_detached(&unsigned, None, &key)?,
    )?;
    write(
        "signature_envelope",
        "untrusted.sig",
        &sign_detached(&unsigned, None, &other)?,
    )?;
    write("manifest_section", "component.wasm", &unsigned)?;
    write("manifest_section", "signed.wasm", &signed)?;

    write("key_file", "seed.pub", public.to_openssh().as_bytes())?;
    write(
        "key_file",
        "seed.hex",
        format!("ed25519:{}", hex(&public.to_bytes())).as_bytes(),
    )?;
    write("key_file", "seed.wasmsign2", &public.to_wasmsign2_bytes())?;
    write(
        "key_file",
        "seed.key",
        key.to_file_contents(None)?.as_bytes(),
    )?;
    write(
        "key_file",
        "encrypted.key",
        other.to_file_contents(Some("fuzz"))?.as_bytes(),
    )?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
