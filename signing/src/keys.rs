//! Ed25519 keys: public keys in the formats ward reads, secret keys encrypted at rest.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use curve25519_dalek::edwards::EdwardsPoint;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use zeroize::Zeroizing;

use crate::error::KeyError;

/// Length in bytes of a key id (the wasmsign2 convention).
pub const KEY_ID_LEN: usize = 12;

/// Largest key file read. Threat: a key path pointing at a huge file or a device.
pub const MAX_KEY_FILE_SIZE: usize = 16 * 1024;

const OPENSSH_TYPE: &str = "ssh-ed25519";
const WASMSIGN2_PK_PREFIX: u8 = 0x01;
const SECRET_BEGIN: &str = "-----BEGIN WARD SECRET KEY-----";
const SECRET_END: &str = "-----END WARD SECRET KEY-----";
const SECRET_MAGIC: &[u8; 6] = b"wardsk";
const SECRET_VERSION: u8 = 1;
const KDF_NONE: u8 = 0;
const KDF_ARGON2ID: u8 = 1;
const SECRET_HEADER_LEN: usize = 6 + 1 + 1 + 12 + 16 + 12 + 32;

/// Key-derivation cost of new secret key files: argon2id, 64 MiB, 3 passes, 1 lane.
const DEFAULT_KDF: KdfParams = KdfParams {
    m_kib: 64 * 1024,
    t: 3,
    p: 1,
};
/// Highest costs accepted from a key file. Threat: a planted key file whose parameters make
/// `ward-sign` allocate gigabytes or spin for minutes.
const MAX_KDF: KdfParams = KdfParams {
    m_kib: 1024 * 1024,
    t: 16,
    p: 4,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KdfParams {
    pub(crate) m_kib: u32,
    pub(crate) t: u32,
    pub(crate) p: u32,
}

/// A key id: the first 12 bytes of HMAC-SHA256 keyed by the raw public key over `"key_id"`
/// (the id wasmsign2 attaches). ward always computes it from a public key it holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// An ed25519 public key that ward accepts: canonically encoded and not of small order.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl PublicKey {
    /// Accepts the 32 raw bytes of an ed25519 public key; refuses non-canonical encodings and
    /// small-order points.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidPoint)?;
        if key.is_weak() {
            return Err(KeyError::WeakPublicKey);
        }
        // Decompression accepts a few non-canonical y encodings; recompressing exposes them.
        let point: EdwardsPoint = key.into();
        if point.compress().to_bytes() != *bytes {
            return Err(KeyError::NonCanonicalPublicKey);
        }
        Ok(Self { key })
    }

    /// Reads a public key in any format ward accepts: an OpenSSH line (`ssh-ed25519 AAAA…`,
    /// ward's `.pub` format), `ed25519:<64 hex digits>`, or a wasmsign2 public key file
    /// (33 bytes: `0x01` then the raw key).
    pub fn parse(data: &[u8]) -> Result<Self, KeyError> {
        if data.len() == 33 && data[0] == WASMSIGN2_PK_PREFIX {
            let mut raw = [0u8; 32];
            raw.copy_from_slice(&data[1..]);
            return Self::from_bytes(&raw);
        }
        let text = std::str::from_utf8(data)
            .map_err(|_| KeyError::BadPublicKey("not text and not a 33-byte wasmsign2 key"))?
            .trim();
        if let Some(hex) = text.strip_prefix("ed25519:") {
            let raw: [u8; 32] = hex::decode(hex)
                .map_err(|_| KeyError::BadPublicKey("bad hex"))?
                .try_into()
                .map_err(|_| KeyError::BadPublicKey("ed25519 keys are 32 bytes"))?;
            return Self::from_bytes(&raw);
        }
        Self::from_openssh(text)
    }

    /// Reads one OpenSSH `ssh-ed25519` public key line (the comment is ignored).
    pub fn from_openssh(line: &str) -> Result<Self, KeyError> {
        let mut parts = line.split_whitespace();
        if parts.next() != Some(OPENSSH_TYPE) {
            return Err(KeyError::BadPublicKey("not an ssh-ed25519 key"));
        }
        let blob = B64
            .decode(parts.next().unwrap_or_default())
            .map_err(|_| KeyError::BadPublicKey("bad base64"))?;
        let mut pos = 0;
        let mut field = |len_expected: usize| -> Result<&[u8], KeyError> {
            let len_bytes: [u8; 4] = blob
                .get(pos..pos + 4)
                .and_then(|b| b.try_into().ok())
                .ok_or(KeyError::BadPublicKey("truncated ssh key"))?;
            let len = u32::from_be_bytes(len_bytes) as usize;
            if len != len_expected {
                return Err(KeyError::BadPublicKey("unexpected field length in ssh key"));
            }
            let f = blob
                .get(pos + 4..pos + 4 + len)
                .ok_or(KeyError::BadPublicKey("truncated ssh key"))?;
            pos += 4 + len;
            Ok(f)
        };
        if field(OPENSSH_TYPE.len())? != OPENSSH_TYPE.as_bytes() {
            return Err(KeyError::BadPublicKey("ssh key blob is not ssh-ed25519"));
        }
        let mut raw = [0u8; 32];
        raw.copy_from_slice(field(32)?);
        if pos != blob.len() {
            return Err(KeyError::BadPublicKey("trailing bytes in ssh key"));
        }
        Self::from_bytes(&raw)
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The OpenSSH line ward writes to `.pub` files (readable by `wasmsign2 --ssh` too).
    pub fn to_openssh(&self) -> String {
        let mut blob = Vec::with_capacity(51);
        blob.extend_from_slice(&(OPENSSH_TYPE.len() as u32).to_be_bytes());
        blob.extend_from_slice(OPENSSH_TYPE.as_bytes());
        blob.extend_from_slice(&32u32.to_be_bytes());
        blob.extend_from_slice(self.key.as_bytes());
        format!("{OPENSSH_TYPE} {} ward:{}", B64.encode(blob), self.key_id())
    }

    /// The 33-byte form `wasmsign2 keygen` writes and `wasmsign2 verify -K` reads.
    pub fn to_wasmsign2_bytes(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = WASMSIGN2_PK_PREFIX;
        out[1..].copy_from_slice(self.key.as_bytes());
        out
    }

    /// The key id, computed from this key.
    pub fn key_id(&self) -> KeyId {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for HMAC-SHA256.
        let mut id = [0u8; KEY_ID_LEN];
        if let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(self.key.as_bytes()) {
            mac.update(b"key_id");
            id.copy_from_slice(&mac.finalize().into_bytes()[..KEY_ID_LEN]);
        }
        KeyId(id)
    }

    /// Strict ed25519 verification (`verify_strict`: small-order R and A, and non-canonical S,
    /// are refused).
    pub(crate) fn verify_strict(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let sig = Signature::from_bytes(signature);
        self.key.verify_strict(message, &sig).is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{}", hex::encode(self.key.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

/// An ed25519 secret key. Zeroized on drop; `Debug` shows only the key id.
pub struct SecretKey {
    signing: SigningKey,
}

impl SecretKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|_| KeyError::Random)?;
        Ok(Self {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.signing.verifying_key(),
        }
    }

    pub(crate) fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// Whether key file contents are passphrase-protected.
    pub fn is_encrypted(contents: &[u8]) -> Result<bool, KeyError> {
        let blob = decode_armor(contents)?;
        Ok(parse_header(&blob)?.kdf == KDF_ARGON2ID)
    }

    /// Serializes the key as a ward secret key file: encrypted with argon2id + ChaCha20-Poly1305
    /// when a passphrase is given, in clear otherwise (tests only).
    pub fn to_file_contents(
        &self,
        passphrase: Option<&str>,
    ) -> Result<Zeroizing<String>, KeyError> {
        self.to_file_contents_with(passphrase, DEFAULT_KDF)
    }

    pub(crate) fn to_file_contents_with(
        &self,
        passphrase: Option<&str>,
        kdf: KdfParams,
    ) -> Result<Zeroizing<String>, KeyError> {
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 12];
        let mut blob = Zeroizing::new(Vec::with_capacity(SECRET_HEADER_LEN + 48));
        blob.extend_from_slice(SECRET_MAGIC);
        blob.push(SECRET_VERSION);
        match passphrase {
            Some(pass) => {
                getrandom::fill(&mut salt).map_err(|_| KeyError::Random)?;
                getrandom::fill(&mut nonce).map_err(|_| KeyError::Random)?;
                blob.push(KDF_ARGON2ID);
                blob.extend_from_slice(&kdf.m_kib.to_le_bytes());
                blob.extend_from_slice(&kdf.t.to_le_bytes());
                blob.extend_from_slice(&kdf.p.to_le_bytes());
                blob.extend_from_slice(&salt);
                blob.extend_from_slice(&nonce);
                blob.extend_from_slice(self.public_key().key.as_bytes());
                let key = derive(pass, &salt, kdf)?;
                let cipher = ChaCha20Poly1305::new(&Key::from(*key));
                let ct = cipher
                    .encrypt(
                        &Nonce::from(nonce),
                        Payload {
                            msg: self.signing.as_bytes(),
                            aad: &blob,
                        },
                    )
                    .map_err(|_| KeyError::Kdf)?;
                blob.extend_from_slice(&ct);
            }
            None => {
                blob.push(KDF_NONE);
                blob.extend_from_slice(&[0u8; 12 + 16 + 12]);
                blob.extend_from_slice(self.public_key().key.as_bytes());
                blob.extend_from_slice(self.signing.as_bytes());
            }
        }
        let body = Zeroizing::new(B64.encode(blob.as_slice()));
        let mut out = Zeroizing::new(String::with_capacity(body.len() + 80));
        out.push_str(SECRET_BEGIN);
        out.push('\n');
        for chunk in body.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str(SECRET_END);
        out.push('\n');
        Ok(out)
    }

    /// Reads ward secret key file contents (for example from `WARD_SIGNING_KEY`).
    pub fn from_file_contents(contents: &[u8], passphrase: Option<&str>) -> Result<Self, KeyError> {
        let blob = decode_armor(contents)?;
        let header = parse_header(&blob)?;
        let body = &blob[SECRET_HEADER_LEN..];
        let seed: Zeroizing<[u8; 32]> = match header.kdf {
            KDF_NONE => {
                let seed: [u8; 32] = body
                    .try_into()
                    .map_err(|_| KeyError::BadSecretKey("wrong length"))?;
                Zeroizing::new(seed)
            }
            _ => {
                let pass = passphrase.ok_or(KeyError::PassphraseRequired)?;
                if body.len() != 48 {
                    return Err(KeyError::BadSecretKey("wrong length"));
                }
                let key = derive(pass, &header.salt, header.params)?;
                let cipher = ChaCha20Poly1305::new(&Key::from(*key));
                let plain = Zeroizing::new(
                    cipher
                        .decrypt(
                            &Nonce::from(header.nonce),
                            Payload {
                                msg: body,
                                aad: &blob[..SECRET_HEADER_LEN],
                            },
                        )
                        .map_err(|_| KeyError::WrongPassphrase)?,
                );
                let mut seed = Zeroizing::new([0u8; 32]);
                if plain.len() != 32 {
                    return Err(KeyError::BadSecretKey("wrong length"));
                }
                seed.copy_from_slice(&plain);
                seed
            }
        };
        let key = Self {
            signing: SigningKey::from_bytes(&seed),
        };
        if key.public_key().key.as_bytes() != &header.public_key {
            return Err(KeyError::BadSecretKey(
                "public key does not match the secret key",
            ));
        }
        Ok(key)
    }

    /// Reads a secret key file, refusing it when group or others may read it.
    pub fn read_file(path: &Path, passphrase: Option<&str>) -> Result<Self, KeyError> {
        let contents = read_secret_file(path)?;
        Self::from_file_contents(&contents, passphrase)
    }

    /// Writes a new secret key file with mode 0600; refuses to overwrite an existing file.
    pub fn write_file(&self, path: &Path, passphrase: Option<&str>) -> Result<(), KeyError> {
        let contents = self.to_file_contents(passphrase)?;
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(io)?;
        f.write_all(contents.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(())
    }
}

/// Reads a secret key file's contents, refusing files that group or others may read.
pub fn read_secret_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = f.metadata().map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::InsecurePermissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    let mut contents = Zeroizing::new(Vec::new());
    f.take(MAX_KEY_FILE_SIZE as u64 + 1)
        .read_to_end(&mut contents)
        .map_err(io)?;
    if contents.len() > MAX_KEY_FILE_SIZE {
        return Err(KeyError::BadSecretKey("file too large"));
    }
    Ok(contents)
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("key_id", &self.public_key().key_id())
            .finish_non_exhaustive()
    }
}

struct Header {
    kdf: u8,
    params: KdfParams,
    salt: [u8; 16],
    nonce: [u8; 12],
    public_key: [u8; 32],
}

fn decode_armor(contents: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let text = std::str::from_utf8(contents)
        .map_err(|_| KeyError::BadSecretKey("not a ward secret key"))?;
    let text = text.trim();
    let body = text
        .strip_prefix(SECRET_BEGIN)
        .and_then(|t| t.strip_suffix(SECRET_END))
        .ok_or(KeyError::BadSecretKey("not a ward secret key"))?;
    let body: Zeroizing<String> = Zeroizing::new(body.split_whitespace().collect());
    B64.decode(body.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| KeyError::BadSecretKey("bad base64"))
}

fn parse_header(blob: &[u8]) -> Result<Header, KeyError> {
    if blob.len() < SECRET_HEADER_LEN || &blob[..6] != SECRET_MAGIC {
        return Err(KeyError::BadSecretKey("not a ward secret key"));
    }
    if blob[6] != SECRET_VERSION {
        return Err(KeyError::BadSecretKey("unsupported version"));
    }
    let u32_at = |i: usize| u32::from_le_bytes([blob[i], blob[i + 1], blob[i + 2], blob[i + 3]]);
    let params = KdfParams {
        m_kib: u32_at(8),
        t: u32_at(12),
        p: u32_at(16),
    };
    let kdf = blob[7];
    match kdf {
        KDF_NONE => {}
        KDF_ARGON2ID => {
            if params.m_kib > MAX_KDF.m_kib
                || params.t > MAX_KDF.t
                || params.p > MAX_KDF.p
                || params.t == 0
                || params.p == 0
                || params.m_kib < 8 * params.p
            {
                return Err(KeyError::KdfOutOfBounds);
            }
        }
        _ => return Err(KeyError::BadSecretKey("unknown key derivation function")),
    }
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&blob[20..36]);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&blob[36..48]);
    let mut public_key = [0u8; 32];
    public_key.copy_from_slice(&blob[48..80]);
    Ok(Header {
        kdf,
        params,
        salt,
        nonce,
        public_key,
    })
}

fn derive(pass: &str, salt: &[u8; 16], p: KdfParams) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let params = argon2::Params::new(p.m_kib, p.t, p.p, Some(32)).map_err(|_| KeyError::Kdf)?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(pass.as_bytes(), salt, out.as_mut())
        .map_err(|_| KeyError::Kdf)?;
    Ok(out)
}

#[cfg(test)]
pub(crate) const TEST_KDF: KdfParams = KdfParams {
    m_kib: 64,
    t: 1,
    p: 1,
};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn openssh_round_trip_and_key_id() {
        let sk = SecretKey::generate().unwrap();
        let pk = sk.public_key();
        let line = pk.to_openssh();
        assert!(line.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"));
        assert_eq!(PublicKey::parse(line.as_bytes()).unwrap(), pk);
        assert_eq!(PublicKey::parse(&pk.to_wasmsign2_bytes()).unwrap(), pk);
        assert_eq!(PublicKey::parse(pk.to_string().as_bytes()).unwrap(), pk);
        assert_eq!(pk.key_id().as_bytes().len(), KEY_ID_LEN);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let sk = SecretKey::generate().unwrap();
        let seed_hex = hex::encode(sk.signing.as_bytes());
        let dbg = format!("{sk:?}");
        assert!(!dbg.contains(&seed_hex));
        assert!(dbg.starts_with("SecretKey { key_id: KeyId("), "{dbg}");
    }

    #[test]
    fn encrypted_key_round_trip_and_wrong_passphrase() {
        let sk = SecretKey::generate().unwrap();
        let file = sk.to_file_contents_with(Some("hunter2"), TEST_KDF).unwrap();
        assert!(SecretKey::is_encrypted(file.as_bytes()).unwrap());
        let back = SecretKey::from_file_contents(file.as_bytes(), Some("hunter2")).unwrap();
        assert_eq!(back.public_key(), sk.public_key());
        assert!(matches!(
            SecretKey::from_file_contents(file.as_bytes(), Some("hunter3")),
            Err(KeyError::WrongPassphrase)
        ));
        assert!(matches!(
            SecretKey::from_file_contents(file.as_bytes(), None),
            Err(KeyError::PassphraseRequired)
        ));
        let seed_b64 = B64.encode(sk.signing.as_bytes());
        assert!(!file.contains(&seed_b64));
    }

    #[test]
    fn tampered_kdf_parameters_are_refused() {
        let sk = SecretKey::generate().unwrap();
        let file = sk.to_file_contents_with(Some("pw"), TEST_KDF).unwrap();
        let mut blob = decode_armor(file.as_bytes()).unwrap();
        blob[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        let forged = format!(
            "{SECRET_BEGIN}\n{}\n{SECRET_END}\n",
            B64.encode(blob.as_slice())
        );
        assert!(matches!(
            SecretKey::from_file_contents(forged.as_bytes(), Some("pw")),
            Err(KeyError::KdfOutOfBounds)
        ));
    }

    #[test]
    fn small_order_public_keys_are_refused() {
        // the identity point, and a point of order 8
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            PublicKey::from_bytes(&identity),
            Err(KeyError::WeakPublicKey)
        ));
        let order8 =
            hex::decode("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
                .unwrap();
        assert!(matches!(
            PublicKey::from_bytes(&order8.try_into().unwrap()),
            Err(KeyError::WeakPublicKey)
        ));
    }

    #[test]
    fn non_canonical_public_key_encoding_is_refused() {
        // y = p + 1 encodes y = 1 (the identity) non-canonically; y = p + 2 … decode as other
        // points; every non-canonical encoding must be refused one way or another.
        for k in 0u8..19 {
            let mut y =
                hex::decode("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
                    .unwrap();
            y[0] = y[0].wrapping_add(k);
            let y: [u8; 32] = y.try_into().unwrap();
            if y[0] < 0xed {
                continue; // wrapped: not above p
            }
            assert!(
                PublicKey::from_bytes(&y).is_err(),
                "non-canonical y=p+{k} accepted"
            );
        }
    }
}
