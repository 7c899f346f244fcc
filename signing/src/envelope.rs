//! The signature envelope of the WebAssembly module-signatures convention (as implemented by
//! `wasmsign2`), read with hard bounds.
//!
//! ```text
//! envelope      = spec_version:u8(=1) content_type:u8(=1) hash_fn:u8(=1 sha256)
//!                 count:varu32 (len:varu32 signed_hashes)*
//! signed_hashes = count:varu32 hash:[u8;32]* count:varu32 (len:varu32 signature)*
//! signature     = key_id_len:varu32 key_id alg:u8(=1 ed25519) len:varu32 sig:[u8;64]
//! signed message = "wasmsig" 0x01 0x01 0x01 hash*          (ed25519 over these bytes)
//! ```
//! Embedded, the envelope is the payload of a custom section named `signature` that must be the
//! first section; detached (`.sig`), it is the same bytes in a file of their own.

use crate::error::EnvelopeError;
use crate::wasm::{get_leb_u32, put_leb_u32};

/// Name of the custom section that holds the envelope.
pub const SIGNATURE_SECTION: &str = "signature";
/// Domain-separation prefix of the module-signatures convention; every component signature signs
/// bytes that start with it, and nothing else ward signs does.
pub(crate) const COMPONENT_DOMAIN: &[u8] = b"wasmsig";
pub(crate) const SPEC_VERSION: u8 = 0x01;
pub(crate) const CONTENT_TYPE_WASM: u8 = 0x01;
pub(crate) const HASH_SHA256: u8 = 0x01;
pub(crate) const ALG_ED25519: u8 = 0x01;

/// Largest envelope read. Threat: a multi-megabyte `signature` section parsed record by record.
pub const MAX_ENVELOPE_SIZE: usize = 64 * 1024;
/// Most signature records in one envelope, all hash sets together. Threat: thousands of records,
/// each costing a signature verification per trusted key.
pub const MAX_SIGNATURES: usize = 32;
/// Most sets of signed hashes in one envelope. Threat: as for `MAX_SIGNATURES`.
pub const MAX_HASH_SETS: usize = 16;
/// Most hashes in one set. Threat: a huge allocation from a forged count.
pub const MAX_HASHES_PER_SET: usize = 64;
/// Longest key id kept from an envelope (wasmsign2 writes 12 bytes). Threat: forged lengths.
pub const MAX_KEY_ID_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Envelope {
    pub(crate) sets: Vec<SignedHashes>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedHashes {
    pub(crate) hashes: Vec<[u8; 32]>,
    pub(crate) signatures: Vec<Record>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// The key id the envelope claims; a hint only, never trusted.
    pub(crate) key_id: Option<Vec<u8>>,
    pub(crate) signature: [u8; 64],
}

/// The exact bytes an ed25519 signature over a set of hashes signs.
pub(crate) fn signed_message(hashes: &[[u8; 32]]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(COMPONENT_DOMAIN.len() + 3 + 32 * hashes.len());
    msg.extend_from_slice(COMPONENT_DOMAIN);
    msg.extend_from_slice(&[SPEC_VERSION, CONTENT_TYPE_WASM, HASH_SHA256]);
    for h in hashes {
        msg.extend_from_slice(h);
    }
    msg
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, EnvelopeError> {
        let b = *self.bytes.get(self.pos).ok_or(EnvelopeError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn small(&mut self) -> Result<u8, EnvelopeError> {
        let b = self.byte()?;
        if b & 0x80 != 0 {
            return Err(EnvelopeError::Malformed(
                "version byte is not a one-byte varint",
            ));
        }
        Ok(b)
    }

    fn count(&mut self) -> Result<usize, EnvelopeError> {
        get_leb_u32(self.bytes, &mut self.pos).map_err(|_| EnvelopeError::Truncated)
    }

    fn slice(&mut self) -> Result<&'a [u8], EnvelopeError> {
        let len = self.count()?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(EnvelopeError::Truncated)?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EnvelopeError> {
        let end = self.pos.checked_add(N).ok_or(EnvelopeError::Truncated)?;
        let s = self
            .bytes
            .get(self.pos..end)
            .ok_or(EnvelopeError::Truncated)?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    fn finish(&self) -> Result<(), EnvelopeError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(EnvelopeError::Malformed("trailing bytes"))
        }
    }
}

impl Envelope {
    /// Reads an envelope, refusing anything outside the bounds above or the one supported
    /// version, content type, hash function and algorithm.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() > MAX_ENVELOPE_SIZE {
            return Err(EnvelopeError::TooLarge {
                size: bytes.len(),
                max: MAX_ENVELOPE_SIZE,
            });
        }
        let mut r = Reader { bytes, pos: 0 };
        let version = r.small()?;
        if version != SPEC_VERSION {
            return Err(EnvelopeError::UnsupportedVersion(version));
        }
        let content_type = r.small()?;
        if content_type != CONTENT_TYPE_WASM {
            return Err(EnvelopeError::UnsupportedContentType(content_type));
        }
        let hash_fn = r.small()?;
        if hash_fn != HASH_SHA256 {
            return Err(EnvelopeError::UnsupportedHash(hash_fn));
        }
        let set_count = r.count()?;
        if set_count > MAX_HASH_SETS {
            return Err(EnvelopeError::TooManyHashSets {
                count: set_count,
                max: MAX_HASH_SETS,
            });
        }
        let mut sets = Vec::with_capacity(set_count);
        let mut total_signatures = 0usize;
        for _ in 0..set_count {
            let mut s = Reader {
                bytes: r.slice()?,
                pos: 0,
            };
            let hash_count = s.count()?;
            if hash_count > MAX_HASHES_PER_SET {
                return Err(EnvelopeError::TooManyHashes {
                    count: hash_count,
                    max: MAX_HASHES_PER_SET,
                });
            }
            let mut hashes = Vec::with_capacity(hash_count);
            for _ in 0..hash_count {
                hashes.push(s.array::<32>()?);
            }
            let sig_count = s.count()?;
            total_signatures = total_signatures.saturating_add(sig_count);
            if total_signatures > MAX_SIGNATURES {
                return Err(EnvelopeError::TooManySignatures {
                    count: total_signatures,
                    max: MAX_SIGNATURES,
                });
            }
            let mut signatures = Vec::with_capacity(sig_count);
            for _ in 0..sig_count {
                let index = signatures.len();
                let mut g = Reader {
                    bytes: s.slice()?,
                    pos: 0,
                };
                let key_id = g.slice()?;
                if key_id.len() > MAX_KEY_ID_LEN {
                    return Err(EnvelopeError::Malformed("key id longer than 64 bytes"));
                }
                let alg = g.byte()?;
                if alg != ALG_ED25519 {
                    return Err(EnvelopeError::UnsupportedAlgorithm { alg, index });
                }
                let sig = g.slice()?;
                let signature: [u8; 64] = sig
                    .try_into()
                    .map_err(|_| EnvelopeError::Malformed("ed25519 signature is not 64 bytes"))?;
                g.finish()?;
                signatures.push(Record {
                    key_id: (!key_id.is_empty()).then(|| key_id.to_vec()),
                    signature,
                });
            }
            s.finish()?;
            sets.push(SignedHashes { hashes, signatures });
        }
        r.finish()?;
        Ok(Envelope { sets })
    }

    /// Writes the envelope in the canonical encoding.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![SPEC_VERSION, CONTENT_TYPE_WASM, HASH_SHA256];
        put_leb_u32(&mut out, self.sets.len());
        for set in &self.sets {
            let mut s = Vec::new();
            put_leb_u32(&mut s, set.hashes.len());
            for h in &set.hashes {
                s.extend_from_slice(h);
            }
            put_leb_u32(&mut s, set.signatures.len());
            for rec in &set.signatures {
                let mut g = Vec::new();
                let key_id = rec.key_id.as_deref().unwrap_or_default();
                put_leb_u32(&mut g, key_id.len());
                g.extend_from_slice(key_id);
                g.push(ALG_ED25519);
                put_leb_u32(&mut g, rec.signature.len());
                g.extend_from_slice(&rec.signature);
                put_leb_u32(&mut s, g.len());
                s.extend(g);
            }
            put_leb_u32(&mut out, s.len());
            out.extend(s);
        }
        out
    }

    pub(crate) fn signature_count(&self) -> usize {
        self.sets.iter().map(|s| s.signatures.len()).sum()
    }

    /// Adds a signature over exactly `[hash]`, in the set that already signs `[hash]` if any.
    /// Returns false when the same record is already there.
    pub(crate) fn add(&mut self, hash: [u8; 32], record: Record) -> Result<bool, EnvelopeError> {
        if let Some(set) = self.sets.iter_mut().find(|s| s.hashes == [hash]) {
            if set.signatures.contains(&record) {
                return Ok(false);
            }
            set.signatures.push(record);
        } else {
            self.sets.push(SignedHashes {
                hashes: vec![hash],
                signatures: vec![record],
            });
        }
        if self.sets.len() > MAX_HASH_SETS {
            return Err(EnvelopeError::TooManyHashSets {
                count: self.sets.len(),
                max: MAX_HASH_SETS,
            });
        }
        if self.signature_count() > MAX_SIGNATURES {
            return Err(EnvelopeError::TooManySignatures {
                count: self.signature_count(),
                max: MAX_SIGNATURES,
            });
        }
        Ok(true)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Envelope {
        Envelope {
            sets: vec![SignedHashes {
                hashes: vec![[7u8; 32]],
                signatures: vec![
                    Record {
                        key_id: Some(vec![1; 12]),
                        signature: [9u8; 64],
                    },
                    Record {
                        key_id: None,
                        signature: [8u8; 64],
                    },
                ],
            }],
        }
    }

    #[test]
    fn round_trips() {
        let e = sample();
        assert_eq!(Envelope::parse(&e.to_bytes()).unwrap(), e);
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = sample().to_bytes();
        for n in 0..bytes.len() {
            assert!(Envelope::parse(&bytes[..n]).is_err(), "prefix {n} accepted");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            Envelope::parse(&longer),
            Err(EnvelopeError::Malformed("trailing bytes"))
        );
    }

    #[test]
    fn huge_envelope_is_refused_before_parsing() {
        let bytes = vec![0u8; MAX_ENVELOPE_SIZE + 1];
        assert_eq!(
            Envelope::parse(&bytes),
            Err(EnvelopeError::TooLarge {
                size: MAX_ENVELOPE_SIZE + 1,
                max: MAX_ENVELOPE_SIZE
            })
        );
    }

    #[test]
    fn forged_counts_are_refused_without_allocating() {
        // one set, declaring 2^32-1 hashes
        let mut bytes = vec![1, 1, 1, 1];
        let inner = [0xff, 0xff, 0xff, 0xff, 0x0f];
        bytes.push(inner.len() as u8);
        bytes.extend_from_slice(&inner);
        assert_eq!(
            Envelope::parse(&bytes),
            Err(EnvelopeError::TooManyHashes {
                count: u32::MAX as usize,
                max: MAX_HASHES_PER_SET
            })
        );
        let bytes = [1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(matches!(
            Envelope::parse(&bytes),
            Err(EnvelopeError::TooManyHashSets { .. })
        ));
    }

    #[test]
    fn unknown_versions_are_refused() {
        let mut b = sample().to_bytes();
        b[0] = 2;
        assert_eq!(
            Envelope::parse(&b),
            Err(EnvelopeError::UnsupportedVersion(2))
        );
        let mut b = sample().to_bytes();
        b[1] = 2;
        assert_eq!(
            Envelope::parse(&b),
            Err(EnvelopeError::UnsupportedContentType(2))
        );
        let mut b = sample().to_bytes();
        b[2] = 2;
        assert_eq!(Envelope::parse(&b), Err(EnvelopeError::UnsupportedHash(2)));
    }
}
