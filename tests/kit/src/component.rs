//! Hand-built components and signature envelopes for signing tests: a small real component with
//! a manifest, custom sections, LEB128, envelopes and the helpers that pick them apart.

use std::ops::Range;

use sha2::{Digest as _, Sha256};
use ward_signing::{
    MANIFEST_SECTION, SecretKey, SignatureStatus, TrustPolicy, Verified, VerifyError,
};
use wasm_encoder::{
    CodeSection, Component, CustomSection, ExportKind, ExportSection, Function, FunctionSection,
    Module, ModuleSection, TypeSection, ValType,
};

/// A small real component: a `ward-manifest` custom section and a core module whose function
/// `answer` returns `answer`.
pub fn component(manifest: &str, answer: i32) -> Vec<u8> {
    let mut m = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], [ValType::I32]);
    m.section(&types);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    m.section(&funcs);
    let mut exports = ExportSection::new();
    exports.export("answer", ExportKind::Func, 0);
    m.section(&exports);
    let mut code = CodeSection::new();
    let mut f = Function::new([]);
    f.instructions().i32_const(answer).end();
    code.function(&f);
    m.section(&code);
    let mut c = Component::new();
    c.section(&CustomSection {
        name: MANIFEST_SECTION.into(),
        data: manifest.as_bytes().into(),
    });
    c.section(&ModuleSection(&m));
    c.finish()
}

pub const MANIFEST: &str =
    "name = \"acme:hello\"\nversion = \"1.0.0\"\n[capabilities]\nhttp = [\"api.acme.test\"]\n";

pub fn plain() -> Vec<u8> {
    component(MANIFEST, 42)
}

pub fn key() -> SecretKey {
    SecretKey::generate().unwrap()
}

pub fn custom(name: &str, data: &[u8]) -> Vec<u8> {
    let mut payload = vec![u8::try_from(name.len()).unwrap()];
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    let mut out = vec![0u8];
    leb(&mut out, payload.len());
    out.extend(payload);
    out
}

pub fn leb(out: &mut Vec<u8>, mut v: usize) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Where the envelope (the `signature` section's data) sits in a signed component.
pub fn envelope_range(signed: &[u8]) -> Range<usize> {
    assert_eq!(signed[8], 0, "first section is not custom");
    let mut pos = 9;
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let b = signed[pos];
        pos += 1;
        len |= usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let end = pos + len;
    let name_len = usize::from(signed[pos]);
    assert_eq!(&signed[pos + 1..pos + 1 + name_len], b"signature");
    pos + 1 + name_len..end
}

/// The content (everything after the signature section) of a signed component.
pub fn content(signed: &[u8]) -> &[u8] {
    &signed[envelope_range(signed).end..]
}

/// The 64 signature bytes of a component signed once.
pub fn only_signature(signed: &[u8]) -> [u8; 64] {
    let env = &signed[envelope_range(signed)];
    env[env.len() - 64..].try_into().unwrap()
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// One signature record in the envelope encoding.
pub fn record(key_id: Option<&[u8]>, alg: u8, sig: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    let id = key_id.unwrap_or_default();
    leb(&mut r, id.len());
    r.extend_from_slice(id);
    r.push(alg);
    leb(&mut r, sig.len());
    r.extend_from_slice(sig);
    r
}

/// One set of signed hashes: the hashes and the encoded records over them.
pub type HashSet = (Vec<[u8; 32]>, Vec<Vec<u8>>);

/// An envelope with the given sets of (hashes, records).
pub fn envelope(sets: &[HashSet]) -> Vec<u8> {
    let mut out = vec![1, 1, 1];
    leb(&mut out, sets.len());
    for (hashes, records) in sets {
        let mut s = Vec::new();
        leb(&mut s, hashes.len());
        for h in hashes {
            s.extend_from_slice(h);
        }
        leb(&mut s, records.len());
        for r in records {
            leb(&mut s, r.len());
            s.extend_from_slice(r);
        }
        leb(&mut out, s.len());
        out.extend(s);
    }
    out
}

/// `unsigned` with `envelope` embedded as its signature section.
pub fn with_envelope(unsigned: &[u8], envelope: &[u8]) -> Vec<u8> {
    let mut out = unsigned[..8].to_vec();
    out.extend(custom("signature", envelope));
    out.extend_from_slice(&unsigned[8..]);
    out
}

pub fn trust(toml: &str) -> TrustPolicy {
    TrustPolicy::from_toml(toml, std::path::Path::new(".")).unwrap()
}

pub fn trust_one(key: &SecretKey, label: &str, scope: &str) -> String {
    format!(
        "[[key]]\nlabel = \"{label}\"\npublic_key = \"{}\"\nscope = [\"{scope}\"]\n",
        key.public_key().to_openssh()
    )
}

/// The statuses of every signature of a refused verification; panics when it was not refused.
pub fn refused(result: Result<Verified, VerifyError>) -> Vec<SignatureStatus> {
    match result {
        Err(VerifyError::Refused(report)) => {
            assert!(!report.rule.passed);
            report.signatures.iter().map(|s| s.status).collect()
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(v) => panic!("accepted: {}", v.report().summary()),
    }
}

pub fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 0x01;
    b
}

pub fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}
