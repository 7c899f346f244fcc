//! Signing, stripping, digesting and inspecting components.

use std::fmt;
use std::ops::Range;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::envelope::{Envelope, Record, SIGNATURE_SECTION, signed_message};
use crate::error::{FormatError, SignError, VerifyError};
use crate::keys::SecretKey;
use crate::wasm::{self, COMPONENT_PREAMBLE, Section};

/// Name of the custom section that carries the plugin manifest. It is covered by the signature like
/// every other section; read it only from a [`crate::Verified`].
pub const MANIFEST_SECTION: &str = "ward-manifest";

/// SHA-256 of a component's content: every byte after the 8-byte preamble, except the
/// `signature` section (which, when present, must be the first section). This is exactly the hash
/// that component signatures sign, and it is the same before and after signing.
///
/// For an unsigned component it is `tail -c +9 plugin.wasm | sha256sum`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The 32 hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, without the `sha256:` prefix.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A component split at its signature section.
pub(crate) struct Split {
    pub(crate) sections: Vec<Section>,
    /// Index into `sections` of the content's first section.
    pub(crate) first_content: usize,
    /// Byte range of the envelope (the `signature` section's data), if embedded.
    pub(crate) envelope: Option<Range<usize>>,
    /// Bytes covered by signatures: from the end of the signature section (or of the preamble)
    /// to the end of the component.
    pub(crate) content: Range<usize>,
}

pub(crate) fn split(bytes: &[u8]) -> Result<Split, FormatError> {
    let sections = wasm::sections(bytes)?;
    let mut sig = sections
        .iter()
        .enumerate()
        .filter(|(_, s)| s.custom_name() == Some(SIGNATURE_SECTION));
    let (first_content, envelope, start) = match (sig.next(), sig.next()) {
        (None, _) => (0, None, COMPONENT_PREAMBLE.len()),
        (Some((0, s)), None) => (
            1,
            s.custom.as_ref().map(|(_, data)| data.clone()),
            s.range.end,
        ),
        _ => return Err(FormatError::MisplacedSignatureSection),
    };
    Ok(Split {
        sections,
        first_content,
        envelope,
        content: start..bytes.len(),
    })
}

pub(crate) fn hash(bytes: &[u8]) -> Digest {
    Digest(Sha256::digest(bytes).into())
}

/// The component's [`Digest`].
pub fn digest(component: &[u8]) -> Result<Digest, FormatError> {
    let s = split(component)?;
    Ok(hash(&component[s.content]))
}

fn record(key: &SecretKey, h: &Digest) -> Record {
    Record {
        key_id: Some(key.public_key().key_id().as_bytes().to_vec()),
        signature: key.sign_raw(&signed_message(&[h.0])),
    }
}

/// Signs a component and returns it with the signature embedded as its first section. Signatures
/// already there are kept (publisher, CI and operator may each sign); signing twice with the same
/// key changes nothing. The signed content is every byte after the signature section.
pub fn sign(component: &[u8], key: &SecretKey) -> Result<Vec<u8>, SignError> {
    let s = split(component)?;
    let mut envelope = match &s.envelope {
        Some(r) => Envelope::parse(&component[r.clone()])?,
        None => Envelope::default(),
    };
    let content = &component[s.content.clone()];
    let h = hash(content);
    envelope.add(h.0, record(key, &h))?;
    let section = wasm::custom_section(SIGNATURE_SECTION, &envelope.to_bytes());
    let mut out = Vec::with_capacity(8 + section.len() + content.len());
    out.extend_from_slice(&COMPONENT_PREAMBLE);
    out.extend_from_slice(&section);
    out.extend_from_slice(content);
    Ok(out)
}

/// Signs an unsigned component and returns the detached signature (`.sig` contents: the same
/// envelope an embedded signature holds). With `existing`, the new signature is added to it.
pub fn sign_detached(
    component: &[u8],
    existing: Option<&[u8]>,
    key: &SecretKey,
) -> Result<Vec<u8>, SignError> {
    let s = split(component)?;
    if s.envelope.is_some() {
        return Err(SignError::EmbeddedAndDetached);
    }
    let mut envelope = match existing {
        Some(bytes) => Envelope::parse(bytes)?,
        None => Envelope::default(),
    };
    let h = hash(&component[s.content]);
    envelope.add(h.0, record(key, &h))?;
    Ok(envelope.to_bytes())
}

/// Returns the component without its signature section (unchanged when unsigned).
pub fn strip(component: &[u8]) -> Result<Vec<u8>, FormatError> {
    let s = split(component)?;
    let mut out = Vec::with_capacity(8 + s.content.len());
    out.extend_from_slice(&COMPONENT_PREAMBLE);
    out.extend_from_slice(&component[s.content]);
    Ok(out)
}

/// What `inspect` tells about a component. Key ids here are the ones the envelope claims; only
/// verification establishes who signed.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The component's digest.
    pub digest: Digest,
    /// File size in bytes.
    pub size: usize,
    /// Number of top-level sections, the signature section included.
    pub sections: usize,
    /// Byte range that signatures cover.
    pub signed_range: Range<usize>,
    /// Whether the content holds a `ward-manifest` section.
    pub has_manifest: bool,
    /// The sets of signed hashes, in envelope order.
    pub hash_sets: Vec<HashSetInfo>,
}

/// One set of hashes and the signatures over it.
#[derive(Debug, Clone, Serialize)]
pub struct HashSetInfo {
    /// The signed hashes, hex.
    pub hashes: Vec<String>,
    /// Whether one of them is this component's digest (if not, these signatures grant nothing).
    pub covers_content: bool,
    /// Key ids claimed by the signatures (hex; `None` when a signature names no key).
    pub claimed_key_ids: Vec<Option<String>>,
}

/// Describes a component and its (embedded or detached) signatures without verifying them.
pub fn inspect(component: &[u8], detached: Option<&[u8]>) -> Result<Inspection, VerifyError> {
    let s = split(component)?;
    let envelope = match (&s.envelope, detached) {
        (Some(_), Some(_)) => return Err(VerifyError::EmbeddedAndDetached),
        (Some(r), None) => Some(Envelope::parse(&component[r.clone()])?),
        (None, Some(d)) => Some(Envelope::parse(d)?),
        (None, None) => None,
    };
    let digest = hash(&component[s.content.clone()]);
    let hash_sets = envelope
        .map(|e| {
            e.sets
                .iter()
                .map(|set| HashSetInfo {
                    hashes: set.hashes.iter().map(hex::encode).collect(),
                    covers_content: set.hashes.contains(&digest.0),
                    claimed_key_ids: set
                        .signatures
                        .iter()
                        .map(|r| r.key_id.as_ref().map(hex::encode))
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Inspection {
        digest,
        size: component.len(),
        sections: s.sections.len(),
        signed_range: s.content,
        has_manifest: s.sections[s.first_content..]
            .iter()
            .any(|sec| sec.custom_name() == Some(MANIFEST_SECTION)),
        hash_sets,
    })
}
