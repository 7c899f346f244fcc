//! The manifest inside a component: the `ward-manifest` custom section.

use std::ops::Range;

use crate::error::ManifestError;
use crate::schema::Manifest;

/// Name of the custom section that carries the manifest (the same as
/// [`ward_signing::MANIFEST_SECTION`]).
pub const SECTION: &str = "ward-manifest";

/// The 8-byte preamble of a component (magic, version 0x0d, layer 1).
const COMPONENT_PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
/// The preamble of a core module, refused with its own message.
const CORE_MODULE_PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
/// Most top-level sections read. Threat: a file of millions of empty sections.
const MAX_SECTIONS: usize = ward_signing::MAX_SECTIONS;

/// One top-level section: its whole byte range, and for a custom section its name and data.
struct Section<'a> {
    range: Range<usize>,
    custom: Option<(&'a str, &'a [u8])>,
}

/// Reads the top-level sections of a component, with every length checked against the input.
fn sections(bytes: &[u8]) -> Result<Vec<Section<'_>>, ManifestError> {
    let max = ward_policy::MAX_COMPONENT_BYTES;
    if bytes.len() as u64 > max {
        return Err(ManifestError::ComponentTooLarge {
            size: bytes.len(),
            max,
        });
    }
    match bytes.get(..8) {
        Some(p) if p == COMPONENT_PREAMBLE => {}
        Some(p) if p == CORE_MODULE_PREAMBLE => return Err(ManifestError::CoreModule),
        _ => return Err(ManifestError::NotAComponent),
    }
    let mut out = Vec::new();
    let mut pos = 8;
    while pos < bytes.len() {
        if out.len() >= MAX_SECTIONS {
            return Err(ManifestError::TooManySections { max: MAX_SECTIONS });
        }
        let start = pos;
        let id = bytes[pos];
        pos += 1;
        let len = leb_u32(bytes, &mut pos)?;
        let end =
            pos.checked_add(len)
                .filter(|e| *e <= bytes.len())
                .ok_or(ManifestError::Malformed {
                    offset: start,
                    reason: "section runs past the end of the file",
                })?;
        let custom = if id == 0 {
            let payload = &bytes[..end];
            let name_len = leb_u32(payload, &mut pos)?;
            let name_end = pos.checked_add(name_len).filter(|e| *e <= end).ok_or(
                ManifestError::Malformed {
                    offset: start,
                    reason: "custom section name runs past its section",
                },
            )?;
            let name = std::str::from_utf8(&bytes[pos..name_end]).map_err(|_| {
                ManifestError::Malformed {
                    offset: start,
                    reason: "custom section name is not UTF-8",
                }
            })?;
            Some((name, &bytes[name_end..end]))
        } else {
            None
        };
        out.push(Section {
            range: start..end,
            custom,
        });
        pos = end;
    }
    Ok(out)
}

/// Reads an unsigned LEB128 u32 (at most 5 bytes) at `*pos`, advancing it.
fn leb_u32(bytes: &[u8], pos: &mut usize) -> Result<usize, ManifestError> {
    let start = *pos;
    let bad = |reason| ManifestError::Malformed {
        offset: start,
        reason,
    };
    let mut value: u64 = 0;
    for i in 0..5 {
        let byte = *bytes.get(*pos).ok_or(bad("truncated length"))?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(value)
                .map(|v| v as usize)
                .map_err(|_| bad("length does not fit in 32 bits"));
        }
    }
    Err(bad("length is longer than 5 bytes"))
}

fn put_leb_u32(out: &mut Vec<u8>, value: usize) {
    let mut v = value as u64;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Embeds a manifest into an unsigned component, for `ward pack`.
///
/// The manifest is validated first ([`Manifest::parse`]) and embedded byte for byte as written.
/// A component that already has a `signature` section is refused: the manifest must be embedded
/// before signing, so that the signature covers it. An existing `ward-manifest` section is
/// replaced (a re-pack updates the manifest; a component never ends up with two). The new
/// section is appended after every other section, which keeps it inside the range a signature
/// added later covers (everything after the first section). Core modules are refused.
pub fn embed(component: &[u8], manifest_toml: &[u8]) -> Result<Vec<u8>, ManifestError> {
    Manifest::parse(manifest_toml)?;
    let sections = sections(component)?;
    if sections
        .iter()
        .any(|s| matches!(s.custom, Some((name, _)) if name == ward_signing::SIGNATURE_SECTION))
    {
        return Err(ManifestError::AlreadySigned);
    }
    let mut out = Vec::with_capacity(component.len() + manifest_toml.len() + 32);
    out.extend_from_slice(&COMPONENT_PREAMBLE);
    for s in &sections {
        if !matches!(s.custom, Some((name, _)) if name == SECTION) {
            out.extend_from_slice(&component[s.range.clone()]);
        }
    }
    let mut name_len = Vec::with_capacity(5);
    put_leb_u32(&mut name_len, SECTION.len());
    out.push(0);
    put_leb_u32(
        &mut out,
        name_len.len() + SECTION.len() + manifest_toml.len(),
    );
    out.extend_from_slice(&name_len);
    out.extend_from_slice(SECTION.as_bytes());
    out.extend_from_slice(manifest_toml);
    Ok(out)
}

/// The manifest section's bytes, if the component has one; two or more are refused.
///
/// For tools and tests: this reads unverified bytes. The host reads the manifest only from
/// a verified component (`ward_signing::Verified::manifest`).
pub fn extract(component: &[u8]) -> Result<Option<&[u8]>, ManifestError> {
    let found: Vec<&[u8]> = sections(component)?
        .into_iter()
        .filter_map(|s| s.custom.filter(|(name, _)| *name == SECTION))
        .map(|(_, data)| data)
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(ManifestError::DuplicateManifest(many.len())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MANIFEST: &[u8] = b"name = \"acme:hello\"\nversion = \"1.0.0\"\n";

    fn custom(name: &str, data: &[u8]) -> Vec<u8> {
        let mut payload = Vec::new();
        put_leb_u32(&mut payload, name.len());
        payload.extend_from_slice(name.as_bytes());
        payload.extend_from_slice(data);
        let mut out = vec![0];
        put_leb_u32(&mut out, payload.len());
        out.extend_from_slice(&payload);
        out
    }

    fn component(sections: &[Vec<u8>]) -> Vec<u8> {
        let mut v = COMPONENT_PREAMBLE.to_vec();
        for s in sections {
            v.extend_from_slice(s);
        }
        v
    }

    #[test]
    fn section_name_matches_ward_signing() {
        assert_eq!(SECTION, ward_signing::MANIFEST_SECTION);
        assert_eq!(COMPONENT_PREAMBLE, ward_signing::COMPONENT_PREAMBLE);
    }

    #[test]
    fn embed_then_extract_round_trips() {
        // A core module section (id 1) with opaque bytes stands in for real code.
        let code = vec![1, 3, 0xaa, 0xbb, 0xcc];
        let c = component(&[code.clone(), custom("producers", b"x")]);
        assert_eq!(extract(&c).unwrap(), None);
        let packed = embed(&c, MANIFEST).unwrap();
        assert_eq!(extract(&packed).unwrap(), Some(MANIFEST));
        // Everything that was there is kept, in order, and the manifest comes last.
        assert!(packed.starts_with(&c));
        assert!(packed.ends_with(MANIFEST));
        let m = Manifest::parse(extract(&packed).unwrap().unwrap()).unwrap();
        assert_eq!(m.id(), "acme:hello@1.0.0");
    }

    #[test]
    fn packed_then_signed_manifest_is_covered_by_the_signature() {
        let manifest: &[u8] =
            b"name = \"acme:hello\"\nversion = \"1.0.0\"\n[capabilities]\nenv = [\"TZ\"]\n";
        let packed = embed(&component(&[vec![1, 1, 0]]), manifest).unwrap();
        let key = ward_signing::SecretKey::generate().unwrap();
        let signed = ward_signing::sign(&packed, &key).unwrap();
        let trusted = |ceiling: Option<std::collections::BTreeSet<ward_signing::Capability>>| {
            ward_signing::TrustPolicy::new(
                vec![ward_signing::TrustedKey {
                    label: "publisher".to_owned(),
                    key: key.public_key(),
                    scope: vec![ward_signing::Pattern::parse("acme:*").unwrap()],
                    ceiling,
                    expires: None,
                    revoked: false,
                }],
                vec![],
            )
            .unwrap()
        };
        let verified = ward_signing::verify(&signed, &trusted(None), "acme:hello").unwrap();
        assert_eq!(verified.manifest(), Some(manifest));
        let m = Manifest::parse(verified.manifest().unwrap()).unwrap();
        verified.check_capabilities(&m.capability_kinds()).unwrap();

        // A key whose ceiling does not include env cannot vouch for this manifest.
        let narrow = [ward_signing::Capability::Http].into_iter().collect();
        let verified = ward_signing::verify(&signed, &trusted(Some(narrow)), "acme:hello").unwrap();
        assert!(verified.check_capabilities(&m.capability_kinds()).is_err());

        // Packing again after signing is refused, and changing the manifest breaks the signature.
        assert_eq!(embed(&signed, MANIFEST), Err(ManifestError::AlreadySigned));
        let mut tampered = signed.clone();
        let at = tampered.len() - 3;
        tampered[at] ^= 1;
        assert!(ward_signing::verify(&tampered, &trusted(None), "acme:hello").is_err());
    }

    #[test]
    fn embed_replaces_an_existing_manifest() {
        let old = b"name = \"acme:hello\"\nversion = \"0.9.0\"\n";
        let c = component(&[custom(SECTION, old), vec![1, 1, 0]]);
        let packed = embed(&c, MANIFEST).unwrap();
        assert_eq!(extract(&packed).unwrap(), Some(MANIFEST));
        assert_eq!(
            packed,
            component(&[vec![1, 1, 0], custom(SECTION, MANIFEST)])
        );
    }

    #[test]
    fn embed_refuses_an_already_signed_component() {
        let c = component(&[custom("signature", b"sig"), vec![1, 1, 0]]);
        assert_eq!(embed(&c, MANIFEST), Err(ManifestError::AlreadySigned));
        assert_eq!(
            ManifestError::AlreadySigned.to_string(),
            "the component is already signed: embed the manifest first (`ward pack`), then sign the result"
        );
    }

    #[test]
    fn embed_refuses_a_core_module() {
        let core = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
        assert_eq!(embed(&core, MANIFEST), Err(ManifestError::CoreModule));
        assert_eq!(extract(&core), Err(ManifestError::CoreModule));
        assert_eq!(
            embed(b"hello world", MANIFEST),
            Err(ManifestError::NotAComponent)
        );
        assert_eq!(embed(b"", MANIFEST), Err(ManifestError::NotAComponent));
    }

    #[test]
    fn embed_refuses_an_invalid_manifest() {
        let c = component(&[]);
        assert_eq!(
            embed(&c, b"name = \"../x\"\nversion = \"1.0.0\"\n")
                .unwrap_err()
                .to_string(),
            "name: '../x' is not of the form <namespace>:<name>: write for example acme:greeter"
        );
    }

    #[test]
    fn extract_refuses_two_manifests() {
        let c = component(&[custom(SECTION, MANIFEST), custom(SECTION, MANIFEST)]);
        assert_eq!(extract(&c), Err(ManifestError::DuplicateManifest(2)));
        // embed replaces both.
        assert_eq!(
            extract(&embed(&c, MANIFEST).unwrap()).unwrap(),
            Some(MANIFEST)
        );
    }

    #[test]
    fn malformed_sections_are_refused() {
        let table: &[(Vec<u8>, ManifestError)] = &[
            (
                component(&[vec![1, 10, 0]]),
                ManifestError::Malformed {
                    offset: 8,
                    reason: "section runs past the end of the file",
                },
            ),
            (
                component(&[vec![1]]),
                ManifestError::Malformed {
                    offset: 9,
                    reason: "truncated length",
                },
            ),
            (
                component(&[vec![1, 0xff, 0xff, 0xff, 0xff, 0x7f]]),
                ManifestError::Malformed {
                    offset: 9,
                    reason: "length does not fit in 32 bits",
                },
            ),
            (
                component(&[vec![0, 2, 5, b'a']]),
                ManifestError::Malformed {
                    offset: 8,
                    reason: "custom section name runs past its section",
                },
            ),
            (
                component(&[vec![0, 2, 1, 0xff]]),
                ManifestError::Malformed {
                    offset: 8,
                    reason: "custom section name is not UTF-8",
                },
            ),
        ];
        for (bytes, want) in table {
            assert_eq!(extract(bytes).as_ref().err(), Some(want), "{bytes:?}");
        }
    }
}
