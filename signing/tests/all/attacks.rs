//! Every attack named in issue 3, one test each, plus the rules ward adds to the format.

use std::collections::BTreeSet;
use std::time::Instant;

use ward_signing::{
    Capability, EnvelopeError, FormatError, KeyError, PublicKey, Purpose, SignatureStatus as S,
    TrustPolicy, VerifyError, digest, inspect, sign, sign_detached, sign_message, strip, verify,
    verify_at, verify_detached, verify_message,
};

use crate::*;

const PLUGIN: &str = "acme:hello";

#[test]
fn signed_component_verifies_and_exposes_only_the_signed_manifest() {
    let k = key();
    let signed = sign(&plain(), &k).unwrap();
    let v = verify(&signed, &TrustPolicy::single_key(k.public_key()), PLUGIN).unwrap();
    assert_eq!(v.manifest(), Some(MANIFEST.as_bytes()));
    assert_eq!(v.signers().len(), 1);
    assert_eq!(v.signers()[0].key_id(), k.public_key().key_id());
    assert_eq!(v.signed_range(), envelope_range(&signed).end..signed.len());
    assert_eq!(v.report().signatures[0].status, S::Counted);
    assert!(v.report().rule.passed);
}

#[test]
fn digest_is_the_signed_hash_and_survives_signing_and_strip() {
    let unsigned = plain();
    let k = key();
    let signed = sign(&unsigned, &k).unwrap();
    let d = digest(&unsigned).unwrap();
    assert_eq!(d, digest(&signed).unwrap());
    assert_eq!(d.as_bytes(), &sha256(&unsigned[8..]));
    assert_eq!(d.as_bytes(), &sha256(content(&signed)));
    assert_eq!(strip(&signed).unwrap(), unsigned);
    let v = verify(&signed, &TrustPolicy::single_key(k.public_key()), PLUGIN).unwrap();
    assert_eq!(v.digest(), d);
}

#[test]
fn bit_flip_in_code_is_refused() {
    let k = key();
    let signed = sign(&plain(), &k).unwrap();
    // i32.const 42; end
    let at = find(&signed, &[0x41, 42, 0x0b]) + 1;
    let tampered = flip(&signed, at);
    let policy = TrustPolicy::single_key(k.public_key());
    assert_eq!(
        refused(verify(&tampered, &policy, PLUGIN)),
        [S::DoesNotCoverContent]
    );
}

#[test]
fn bit_flip_in_manifest_section_is_refused() {
    let k = key();
    let signed = sign(&plain(), &k).unwrap();
    let at = find(&signed, b"api.acme.test");
    let tampered = flip(&signed, at);
    let policy = TrustPolicy::single_key(k.public_key());
    assert_eq!(
        refused(verify(&tampered, &policy, PLUGIN)),
        [S::DoesNotCoverContent]
    );
}

#[test]
fn bit_flip_in_signature_is_refused() {
    let k = key();
    let signed = sign(&plain(), &k).unwrap();
    let policy = TrustPolicy::single_key(k.public_key());
    let env = envelope_range(&signed);
    // a flip in R (first half) and in S (second half)
    for at in [env.end - 64, env.end - 1] {
        let tampered = flip(&signed, at);
        assert_eq!(refused(verify(&tampered, &policy, PLUGIN)), [S::Invalid]);
    }
}

#[test]
fn bit_flip_in_key_id_is_refused() {
    let k = key();
    let signed = sign(&plain(), &k).unwrap();
    let policy = TrustPolicy::single_key(k.public_key());
    let id = k.public_key().key_id();
    let at = find(&signed, id.as_bytes());
    let tampered = flip(&signed, at);
    let err = verify(&tampered, &policy, PLUGIN);
    let Err(VerifyError::Refused(report)) = err else {
        panic!("accepted a flipped key id")
    };
    assert_eq!(report.signatures[0].status, S::Untrusted);
    // the envelope's claim is shown as a claim, never as the signer
    assert_eq!(report.signatures[0].key_id, None);
    assert_ne!(report.signatures[0].claimed_key_id, Some(id.to_string()));
}

#[test]
fn bit_flip_in_signed_hash_is_refused() {
    let k = key();
    let signed = sign(&plain(), &k).unwrap();
    let d = digest(&signed).unwrap();
    let at = find(&signed, d.as_bytes());
    let tampered = flip(&signed, at);
    let policy = TrustPolicy::single_key(k.public_key());
    assert_eq!(
        refused(verify(&tampered, &policy, PLUGIN)),
        [S::DoesNotCoverContent]
    );
}

#[test]
fn valid_signature_moved_to_another_component_is_refused() {
    let k = key();
    let signed = sign(&plain(), &k).unwrap();
    let other = component(MANIFEST, 7);
    let env = &signed[envelope_range(&signed)];
    let moved = with_envelope(&other, env);
    let policy = TrustPolicy::single_key(k.public_key());
    assert_eq!(
        refused(verify(&moved, &policy, PLUGIN)),
        [S::DoesNotCoverContent]
    );
    // and as a detached signature
    assert_eq!(
        refused(verify_detached(&other, env, &policy, PLUGIN)),
        [S::DoesNotCoverContent]
    );
}

#[test]
fn signature_by_untrusted_key_is_refused() {
    let signer = key();
    let trusted = key();
    let signed = sign(&plain(), &signer).unwrap();
    let policy = trust(&trust_one(&trusted, "publisher", "acme:*"));
    assert_eq!(refused(verify(&signed, &policy, PLUGIN)), [S::Untrusted]);
}

#[test]
fn signature_by_revoked_key_is_refused() {
    let k = key();
    let signed = sign(&plain(), &k).unwrap();
    // revoked under one entry: revoked everywhere, even if another entry trusts it
    let toml = format!(
        "{}revoked = true\n{}",
        trust_one(&k, "old", "acme:*"),
        trust_one(&k, "publisher", "acme:*")
    );
    assert_eq!(
        refused(verify(&signed, &trust(&toml), PLUGIN)),
        [S::Revoked]
    );
}

#[test]
fn signature_by_expired_key_is_refused() {
    let k = key();
    let signed = sign(&plain(), &k).unwrap();
    let toml = format!(
        "{}expires = 2026-01-01T00:00:00Z\n",
        trust_one(&k, "publisher", "acme:*")
    );
    let policy = trust(&toml);
    let before = 1_767_225_599; // 2025-12-31T23:59:59Z
    assert!(verify_at(&signed, None, &policy, PLUGIN, before).is_ok());
    assert_eq!(
        refused(verify_at(&signed, None, &policy, PLUGIN, before + 1)),
        [S::Expired]
    );
}

#[test]
fn signature_by_out_of_scope_key_is_refused() {
    let k = key();
    let signed = sign(&plain(), &k).unwrap();
    let policy = trust(&trust_one(&k, "other-publisher", "other:*"));
    assert_eq!(refused(verify(&signed, &policy, PLUGIN)), [S::OutOfScope]);
    let policy = trust(&trust_one(&k, "publisher", "acme:hello"));
    assert!(verify(&signed, &policy, "acme:hello@1.0.0").is_ok());
    assert_eq!(
        refused(verify(&signed, &policy, "acme:other")),
        [S::OutOfScope]
    );
}

const PROD_RULE: &str =
    "[[rule]]\nnamespace = \"prod:*\"\nthreshold = 2\nrequire_labels = [\"ci\"]\n";

#[test]
fn threshold_not_met_is_refused() {
    let (publisher, ci) = (key(), key());
    let toml = format!(
        "{}{}{PROD_RULE}",
        trust_one(&publisher, "publisher", "prod:*"),
        trust_one(&ci, "ci", "prod:*")
    );
    let policy = trust(&toml);
    let one = sign(&plain(), &publisher).unwrap();
    let Err(VerifyError::Refused(report)) = verify(&one, &policy, "prod:db") else {
        panic!("one signature met a threshold of two")
    };
    assert_eq!(report.rule.namespace, "prod:*");
    assert_eq!(report.rule.counted, 1);
    assert_eq!(
        report.rule.reason,
        "needs 2 distinct trusted keys, 1 counted"
    );
    // two keys, but neither labelled ci
    let other = key();
    let toml2 = format!("{toml}{}", trust_one(&other, "operator", "prod:*"));
    let two = sign(&one, &other).unwrap();
    let Err(VerifyError::Refused(report)) = verify(&two, &trust(&toml2), "prod:db") else {
        panic!("threshold met without the ci label")
    };
    assert_eq!(
        report.rule.reason,
        "needs a distinct key labelled \"ci\" among the signers"
    );
    // publisher + ci passes, and names the rule
    let both = sign(&one, &ci).unwrap();
    let v = verify(&both, &policy, "prod:db").unwrap();
    assert_eq!(v.report().rule.namespace, "prod:*");
    assert_eq!(v.signers().len(), 2);
}

#[test]
fn one_key_used_twice_toward_a_threshold_counts_once() {
    let (publisher, ci) = (key(), key());
    let toml = format!(
        "{}{}{PROD_RULE}",
        trust_one(&publisher, "publisher", "prod:*"),
        trust_one(&ci, "ci", "prod:*")
    );
    let unsigned = plain();
    let signed = sign(&unsigned, &ci).unwrap();
    let sig = only_signature(&signed);
    let h = sha256(&unsigned[8..]);
    let id = ci.public_key().key_id();
    // the same signature three times: with its key id, without, and in a second hash set
    let env = envelope(&[
        (
            vec![h],
            vec![record(Some(id.as_bytes()), 1, &sig), record(None, 1, &sig)],
        ),
        (
            vec![h, [0u8; 32]],
            vec![record(Some(id.as_bytes()), 1, &sig)],
        ),
    ]);
    let forged = with_envelope(&unsigned, &env);
    let statuses = refused(verify(&forged, &trust(&toml), "prod:db"));
    assert_eq!(statuses[..2], [S::Counted, S::Duplicate]);
    // signing again with the same key adds nothing
    assert_eq!(sign(&signed, &ci).unwrap(), signed);
}

#[test]
fn one_key_listed_twice_counts_once() {
    let k = key();
    let toml = format!(
        "{}{}{PROD_RULE}",
        trust_one(&k, "publisher", "prod:*"),
        trust_one(&k, "ci", "prod:*")
    );
    let signed = sign(&plain(), &k).unwrap();
    let Err(VerifyError::Refused(report)) = verify(&signed, &trust(&toml), "prod:db") else {
        panic!("one key listed under two labels met a threshold of two")
    };
    assert_eq!(report.rule.counted, 1);
    assert_eq!(report.signatures[0].labels, ["publisher", "ci"]);
}

#[test]
fn signature_made_for_another_payload_type_is_refused() {
    let k = key();
    let unsigned = plain();
    let h = sha256(&unsigned[8..]);
    // an audit-checkpoint signature over exactly the bytes a component signature signs
    let mut msg = b"wasmsig\x01\x01\x01".to_vec();
    msg.extend_from_slice(&h);
    let sig = sign_message(Purpose::AuditCheckpoint, &msg, &k);
    let id = k.public_key().key_id();
    let forged = with_envelope(
        &unsigned,
        &envelope(&[(vec![h], vec![record(Some(id.as_bytes()), 1, &sig)])]),
    );
    let policy = TrustPolicy::single_key(k.public_key());
    assert_eq!(refused(verify(&forged, &policy, PLUGIN)), [S::Invalid]);
    // and the other way: a component signature is no checkpoint or approval signature
    let signed = sign(&unsigned, &k).unwrap();
    let csig = only_signature(&signed);
    let stripped_prefix = &msg[..];
    assert!(
        verify_message(
            Purpose::AuditCheckpoint,
            stripped_prefix,
            &csig,
            &k.public_key()
        )
        .is_err()
    );
    let checkpoint = sign_message(Purpose::AuditCheckpoint, b"root 1", &k);
    assert!(
        verify_message(
            Purpose::AuditCheckpoint,
            b"root 1",
            &checkpoint,
            &k.public_key()
        )
        .is_ok()
    );
    assert!(verify_message(Purpose::Approval, b"root 1", &checkpoint, &k.public_key()).is_err());
}

#[test]
fn custom_section_appended_after_signing_grants_nothing() {
    let k = key();
    let signed = sign(&plain(), &k).unwrap();
    let policy = TrustPolicy::single_key(k.public_key());
    // a second manifest granting more, and a harmless-looking section: both void the signature
    for extra in [
        custom(MANIFEST_SECTION, b"[capabilities]\nsecrets = [\"all\"]\n"),
        custom("producers", b"x"),
        custom("signature_delimiter", &[0u8; 16]),
    ] {
        let mut appended = signed.clone();
        appended.extend(extra);
        assert_eq!(
            refused(verify(&appended, &policy, PLUGIN)),
            [S::DoesNotCoverContent]
        );
    }
}

#[test]
fn huge_envelope_is_a_bounded_refusal() {
    let unsigned = plain();
    let huge = with_envelope(&unsigned, &vec![1u8; 8 * 1024 * 1024]);
    let k = key();
    let t = Instant::now();
    let err = verify(&huge, &TrustPolicy::single_key(k.public_key()), PLUGIN).unwrap_err();
    assert!(
        matches!(err, VerifyError::Envelope(EnvelopeError::TooLarge { .. })),
        "{err}"
    );
    assert!(t.elapsed().as_millis() < 1000);
}

#[test]
fn truncated_envelope_is_a_bounded_refusal() {
    let k = key();
    let signed = sign(&plain(), &k).unwrap();
    let env = signed[envelope_range(&signed)].to_vec();
    let policy = TrustPolicy::single_key(k.public_key());
    for n in 0..env.len() {
        let cut = with_envelope(&plain(), &env[..n]);
        assert!(
            verify(&cut, &policy, PLUGIN).is_err(),
            "prefix {n} accepted"
        );
    }
    // a signature section that claims more bytes than the file has
    let mut truncated = signed.clone();
    truncated.truncate(envelope_range(&signed).end - 10);
    assert!(matches!(
        verify(&truncated, &policy, PLUGIN),
        Err(VerifyError::Format(FormatError::SectionOutOfBounds { .. }))
    ));
}

#[test]
fn ten_thousand_signatures_are_a_bounded_refusal() {
    let k = key();
    let unsigned = plain();
    let h = sha256(&unsigned[8..]);
    let sig = only_signature(&sign(&unsigned, &k).unwrap());
    let records: Vec<Vec<u8>> = (0..10_000).map(|_| record(None, 1, &sig)).collect();
    let env = envelope(&[(vec![h], records)]);
    let forged = with_envelope(&unsigned, &env);
    let t = Instant::now();
    let err = verify(&forged, &TrustPolicy::single_key(k.public_key()), PLUGIN).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Envelope(EnvelopeError::TooLarge { .. })
                | VerifyError::Envelope(EnvelopeError::TooManySignatures { .. })
        ),
        "{err}"
    );
    assert!(t.elapsed().as_millis() < 1000);
    // 10,000 signatures that fit the size bound (empty records) are refused by count
    let small: Vec<Vec<u8>> = (0..10_000).map(|_| Vec::new()).collect();
    let forged = with_envelope(&unsigned, &envelope(&[(vec![h], small)]));
    let err = verify(&forged, &TrustPolicy::single_key(k.public_key()), PLUGIN).unwrap_err();
    assert_eq!(
        err.to_string(),
        "signature envelope has 10000 signatures, more than the 32 allowed"
    );
}

#[test]
fn unknown_algorithm_is_refused() {
    let k = key();
    let unsigned = plain();
    let h = sha256(&unsigned[8..]);
    let sig = only_signature(&sign(&unsigned, &k).unwrap());
    let forged = with_envelope(
        &unsigned,
        &envelope(&[(vec![h], vec![record(None, 2, &sig)])]),
    );
    let err = verify(&forged, &TrustPolicy::single_key(k.public_key()), PLUGIN).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported signature algorithm 0x02 in signature 0 (ward accepts only ed25519, 0x01)"
    );
}

#[cfg(unix)]
#[test]
fn secret_key_file_with_mode_0644_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.key");
    let k = key();
    k.write_file(&path, None).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(ward_signing::SecretKey::read_file(&path, None).is_ok());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = ward_signing::SecretKey::read_file(&path, None).unwrap_err();
    assert!(matches!(
        err,
        KeyError::InsecurePermissions { mode: 0o644, .. }
    ));
    assert!(err.to_string().contains("chmod 600"), "{err}");
    // never overwritten
    assert!(k.write_file(&path, None).is_err());
}

/// Adds the group order l to the S half of a signature (a malleated, non-canonical S).
fn malleate(sig: &[u8; 64]) -> [u8; 64] {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = *sig;
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(out[32 + i]) + u16::from(L[i]) + carry;
        out[32 + i] = v as u8;
        carry = v >> 8;
    }
    out
}

#[test]
fn malleable_signature_with_non_canonical_s_is_refused() {
    let k = key();
    let unsigned = plain();
    let signed = sign(&unsigned, &k).unwrap();
    let sig = malleate(&only_signature(&signed));
    let h = sha256(&unsigned[8..]);
    let forged = with_envelope(
        &unsigned,
        &envelope(&[(vec![h], vec![record(None, 1, &sig)])]),
    );
    let policy = TrustPolicy::single_key(k.public_key());
    assert_eq!(refused(verify(&forged, &policy, PLUGIN)), [S::Untrusted]);
    let m = malleate(&sign_message(Purpose::Approval, b"m", &k));
    assert!(verify_message(Purpose::Approval, b"m", &m, &k.public_key()).is_err());
}

#[test]
fn small_order_and_non_canonical_keys_are_refused() {
    // identity (order 1): with R = identity and S = 0 it "signs" every message
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(matches!(
        PublicKey::from_bytes(&identity),
        Err(KeyError::WeakPublicKey)
    ));
    // y = 2^255 - 19 + 1: a non-canonical encoding of the identity
    let mut noncanonical = [0xffu8; 32];
    noncanonical[0] = 0xee;
    noncanonical[31] = 0x7f;
    assert!(PublicKey::from_bytes(&noncanonical).is_err());
    // the same refusals through every text format
    let line = format!("ed25519:{}", hex::encode(identity));
    assert!(PublicKey::parse(line.as_bytes()).is_err());
    let mut ws = vec![1u8];
    ws.extend_from_slice(&identity);
    assert!(PublicKey::parse(&ws).is_err());
}

#[test]
fn core_module_is_refused() {
    let module = wasm_encoder::Module::new().finish();
    let k = key();
    assert!(matches!(
        sign(&module, &k),
        Err(ward_signing::SignError::Format(FormatError::CoreModule))
    ));
    assert!(matches!(
        verify(&module, &TrustPolicy::single_key(k.public_key()), PLUGIN),
        Err(VerifyError::Format(FormatError::CoreModule))
    ));
}

#[test]
fn signature_section_must_be_first_and_unique() {
    let k = key();
    let signed = sign(&plain(), &k).unwrap();
    let env = signed[envelope_range(&signed)].to_vec();
    let policy = TrustPolicy::single_key(k.public_key());
    let mut late = plain();
    late.extend(custom("signature", &env));
    assert!(matches!(
        verify(&late, &policy, PLUGIN),
        Err(VerifyError::Format(FormatError::MisplacedSignatureSection))
    ));
    let mut twice = signed.clone();
    twice.extend(custom("signature", &env));
    assert!(matches!(
        verify(&twice, &policy, PLUGIN),
        Err(VerifyError::Format(FormatError::MisplacedSignatureSection))
    ));
    assert!(matches!(
        verify(&plain(), &policy, PLUGIN),
        Err(VerifyError::NotSigned)
    ));
}

#[test]
fn detached_signatures_hold_the_same_records() {
    let (a, b) = (key(), key());
    let unsigned = plain();
    let sig = sign_detached(&unsigned, None, &a).unwrap();
    let sig = sign_detached(&unsigned, Some(&sig), &b).unwrap();
    let toml = format!(
        "{}{}[[rule]]\nnamespace = \"acme:*\"\nthreshold = 2\n",
        trust_one(&a, "publisher", "acme:*"),
        trust_one(&b, "ci", "acme:*")
    );
    let v = verify_detached(&unsigned, &sig, &trust(&toml), PLUGIN).unwrap();
    assert_eq!(v.signers().len(), 2);
    // embedding the same records gives the same verdict
    let embedded = with_envelope(&unsigned, &sig);
    assert!(verify(&embedded, &trust(&toml), PLUGIN).is_ok());
    assert!(matches!(
        verify_detached(&embedded, &sig, &trust(&toml), PLUGIN),
        Err(VerifyError::EmbeddedAndDetached)
    ));
    assert_eq!(
        inspect(&unsigned, Some(&sig)).unwrap().hash_sets[0]
            .claimed_key_ids
            .len(),
        2
    );
}

#[test]
fn publisher_ci_and_operator_signatures_coexist() {
    let (p, c, o) = (key(), key(), key());
    let mut signed = plain();
    for k in [&p, &c, &o] {
        signed = sign(&signed, k).unwrap();
    }
    let toml = format!(
        "{}{}{}[[rule]]\nnamespace = \"acme:hello\"\nthreshold = 3\nrequire_labels = [\"ci\", \"operator\"]\n",
        trust_one(&p, "publisher", "acme:*"),
        trust_one(&c, "ci", "*"),
        trust_one(&o, "operator", "*")
    );
    let v = verify(&signed, &trust(&toml), PLUGIN).unwrap();
    let labels: Vec<_> = v.signers().iter().map(|s| s.labels[0].as_str()).collect();
    assert_eq!(labels, ["publisher", "ci", "operator"]);
    assert_eq!(digest(&signed).unwrap(), digest(&plain()).unwrap());
}

#[test]
fn capability_ceiling_limits_what_a_key_vouches_for() {
    let k = key();
    let toml = format!(
        "{}ceiling = [\"http\", \"read-paths\"]\n",
        trust_one(&k, "publisher", "acme:*")
    );
    let signed = sign(&plain(), &k).unwrap();
    let v = verify(&signed, &trust(&toml), PLUGIN).unwrap();
    let http: BTreeSet<_> = [Capability::Http].into();
    assert!(v.check_capabilities(&http).is_ok());
    let secrets: BTreeSet<_> = [Capability::Http, Capability::Secrets].into();
    let Err(VerifyError::Refused(report)) = v.check_capabilities(&secrets) else {
        panic!("a key without secrets in its ceiling vouched for secrets")
    };
    assert_eq!(report.signatures[0].status, S::BeyondCeiling);
    let writable: BTreeSet<_> = [Capability::WritablePaths].into();
    assert!(v.check_capabilities(&writable).is_err());
}

#[test]
fn key_id_is_recomputed_when_the_envelope_names_none() {
    let k = key();
    let unsigned = plain();
    let sig = only_signature(&sign(&unsigned, &k).unwrap());
    let h = sha256(&unsigned[8..]);
    let anonymous = with_envelope(
        &unsigned,
        &envelope(&[(vec![h], vec![record(None, 1, &sig)])]),
    );
    let v = verify(&anonymous, &TrustPolicy::single_key(k.public_key()), PLUGIN).unwrap();
    let r = &v.report().signatures[0];
    assert_eq!(r.claimed_key_id, None);
    assert_eq!(r.key_id, Some(k.public_key().key_id().to_string()));
}

#[test]
fn two_manifests_in_signed_content_are_refused() {
    let k = key();
    let mut unsigned = plain();
    unsigned.extend(custom(MANIFEST_SECTION, b"name = \"acme:other\"\n"));
    let signed = sign(&unsigned, &k).unwrap();
    assert!(matches!(
        verify(&signed, &TrustPolicy::single_key(k.public_key()), PLUGIN),
        Err(VerifyError::Format(FormatError::DuplicateManifest(2)))
    ));
}
