//! The encrypted secret store: `secrets.key` and `secrets.enc` in ward's home.
//!
//! `secrets.key` is exactly [`KEY_LEN`] random bytes, mode 0600, owned by ward's user.
//!
//! `secrets.enc` (all integers little-endian):
//!
//! | offset | len | field                                                        |
//! |--------|-----|--------------------------------------------------------------|
//! | 0      | 8   | magic `WARDSEC\0`                                            |
//! | 8      | 1   | format version, 1                                            |
//! | 9      | 1   | algorithm, 1 = ChaCha20-Poly1305                             |
//! | 10     | 2   | reserved, zero                                               |
//! | 12     | 8   | key id: first 8 bytes of SHA-256("ward-secrets-key-id" ‖ key) |
//! | 20     | 12  | nonce, fresh random bytes on every write                     |
//! | 32     | n   | ciphertext + 16-byte tag of a JSON object `{"NAME": "value"}` |
//!
//! The 32-byte header is the AEAD's associated data, so no header byte can change unnoticed.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::name::check_name;
use crate::{SecretError, SecretValue};

/// Name of the key file in ward's home.
pub const KEY_FILE: &str = "secrets.key";
/// Name of the encrypted secrets file in ward's home.
pub const SECRETS_FILE: &str = "secrets.enc";
/// Name of the lock file that serialises writers (two `ward secret set` at once lose nothing).
const LOCK_FILE: &str = "secrets.lock";
/// Length of the key in bytes.
pub const KEY_LEN: usize = 32;
/// Largest `secrets.enc` ward reads or writes. Threat: a planted or runaway file makes ward
/// allocate and decrypt without bound.
pub const MAX_FILE_LEN: u64 = 1 << 20;
/// Largest secret value in bytes. Threat: a huge value makes every scrubbed response slow and
/// every scrubber tail large.
pub const MAX_VALUE_LEN: usize = 64 * 1024;
/// Most secrets the store keeps.
pub const MAX_SECRETS: usize = 1024;

const MAGIC: &[u8; 8] = b"WARDSEC\0";
const VERSION: u8 = 1;
const ALG_CHACHA20POLY1305: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 8 + 1 + 1 + 2 + KEY_ID_LEN + NONCE_LEN;

/// The secret store of one ward home. Values are decrypted when the store is opened and kept in
/// memory that is zeroed on drop; every change rewrites `secrets.enc` atomically with a fresh
/// nonce.
pub struct SecretStore {
    key_path: PathBuf,
    enc_path: PathBuf,
    home: PathBuf,
    key: Option<Zeroizing<[u8; KEY_LEN]>>,
    secrets: BTreeMap<String, SecretValue>,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore")
            .field("home", &self.home)
            .field("names", &self.secrets.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl SecretStore {
    /// Opens the store in `home`. A home with neither file is an empty store (the key is created
    /// by the first [`SecretStore::set`]). Refuses, naming the file and the fix, when the key is
    /// too open, not owned by this user, not a regular file or the wrong length; when
    /// `secrets.enc` exists without a key; and when `secrets.enc` is oversized, truncated,
    /// foreign, of another version, written with another key or fails authentication.
    pub fn open(home: &Path) -> Result<SecretStore, SecretError> {
        let key_path = home.join(KEY_FILE);
        let enc_path = home.join(SECRETS_FILE);
        let key = read_key(&key_path)?;
        let sealed = read_sealed(&enc_path)?;
        let secrets = match (&key, sealed) {
            (None, Some(_)) => {
                return Err(SecretError::KeyMissing {
                    key: key_path,
                    enc: enc_path,
                });
            }
            (_, None) => BTreeMap::new(),
            (Some(key), Some(sealed)) => unseal(key, &sealed, &key_path, &enc_path)?,
        };
        Ok(SecretStore {
            key_path,
            enc_path,
            home: home.to_owned(),
            key,
            secrets,
        })
    }

    /// Stores `value` under `name`, replacing any previous value, and rewrites `secrets.enc`.
    /// Creates `home` (0700) and `secrets.key` (0600, `create_new`) if this is the first secret.
    /// Refuses an invalid name, an empty or oversized value, or a full store; on any error
    /// `secrets.enc` is unchanged. Writers take a lock (`secrets.lock`) and re-read the files
    /// under it, so concurrent changes from other processes are kept.
    pub fn set(&mut self, name: &str, value: Zeroizing<String>) -> Result<(), SecretError> {
        check_name(name)?;
        if value.is_empty() {
            return Err(SecretError::EmptyValue {
                name: name.to_owned(),
            });
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(SecretError::ValueTooLong {
                name: name.to_owned(),
                len: value.len(),
            });
        }
        let _lock = self.lock()?;
        self.reload()?;
        if !self.secrets.contains_key(name) && self.secrets.len() >= MAX_SECRETS {
            return Err(SecretError::TooMany);
        }
        let mut next = self.secrets.clone();
        next.insert(name.to_owned(), SecretValue::new(value));
        let key = match &self.key {
            Some(key) => key.clone(),
            None => create_key(&self.home, &self.key_path)?,
        };
        self.key = Some(key.clone());
        write_sealed(&key, &next, &self.home, &self.enc_path)?;
        self.secrets = next;
        Ok(())
    }

    /// The value of `name`, or `None` if there is no such secret.
    pub fn get(&self, name: &str) -> Result<Option<SecretValue>, SecretError> {
        check_name(name)?;
        Ok(self.secrets.get(name).cloned())
    }

    /// The names of all secrets, sorted. Never values.
    pub fn list(&self) -> Vec<String> {
        self.secrets.keys().cloned().collect()
    }

    /// Removes `name` and rewrites `secrets.enc` (under the writers' lock, like
    /// [`SecretStore::set`]). `Ok(false)` if there was no such secret (the file is not touched).
    pub fn remove(&mut self, name: &str) -> Result<bool, SecretError> {
        check_name(name)?;
        if !self.secrets.contains_key(name) {
            return Ok(false);
        }
        let _lock = self.lock()?;
        self.reload()?;
        if !self.secrets.contains_key(name) {
            return Ok(false);
        }
        let Some(key) = &self.key else {
            // Unreachable in practice: secrets in memory imply a key.
            return Err(SecretError::KeyMissing {
                key: self.key_path.clone(),
                enc: self.enc_path.clone(),
            });
        };
        let mut next = self.secrets.clone();
        next.remove(name);
        write_sealed(key, &next, &self.home, &self.enc_path)?;
        self.secrets = next;
        Ok(true)
    }
}

impl SecretStore {
    /// Takes the writers' lock; released when the returned file is dropped.
    fn lock(&self) -> Result<File, SecretError> {
        ensure_home(&self.home)?;
        let path = self.home.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nofollow())
            .open(&path)
            .map_err(io_err("open", &path))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io_err("lock", &path)(e.into()))?;
        Ok(file)
    }

    /// Re-reads both files under the lock, so a change by another process is not lost.
    fn reload(&mut self) -> Result<(), SecretError> {
        let fresh = SecretStore::open(&self.home)?;
        self.key = fresh.key;
        self.secrets = fresh.secrets;
        Ok(())
    }
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SecretError + 'a {
    move |source| SecretError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

fn nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

/// Opens `path` for reading without following a symlink. `None` if it does not exist.
fn open_existing(path: &Path) -> Result<Option<File>, SecretError> {
    match OpenOptions::new()
        .read(true)
        .custom_flags(nofollow())
        .open(path)
    {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        // ELOOP: the final component is a symlink.
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            Err(SecretError::NotAFile {
                path: path.to_owned(),
            })
        }
        Err(e) => Err(io_err("open", path)(e)),
    }
}

fn read_key(path: &Path) -> Result<Option<Zeroizing<[u8; KEY_LEN]>>, SecretError> {
    let Some(mut file) = open_existing(path)? else {
        return Ok(None);
    };
    let meta = file.metadata().map_err(io_err("inspect", path))?;
    if !meta.is_file() {
        return Err(SecretError::NotAFile {
            path: path.to_owned(),
        });
    }
    let uid = rustix::process::geteuid().as_raw();
    if meta.uid() != uid {
        return Err(SecretError::KeyNotOwned {
            path: path.to_owned(),
            owner: meta.uid(),
            uid,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SecretError::KeyTooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    if meta.len() != KEY_LEN as u64 {
        return Err(SecretError::KeyLength {
            path: path.to_owned(),
            len: meta.len(),
        });
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    file.read_exact(key.as_mut())
        .map_err(io_err("read", path))?;
    Ok(Some(key))
}

fn read_sealed(path: &Path) -> Result<Option<Vec<u8>>, SecretError> {
    let Some(file) = open_existing(path)? else {
        return Ok(None);
    };
    let meta = file.metadata().map_err(io_err("inspect", path))?;
    if !meta.is_file() {
        return Err(SecretError::NotAFile {
            path: path.to_owned(),
        });
    }
    if meta.len() > MAX_FILE_LEN {
        return Err(SecretError::TooLarge {
            path: path.to_owned(),
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err("read", path))?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(SecretError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(Some(bytes))
}

fn key_id(key: &[u8; KEY_LEN]) -> [u8; KEY_ID_LEN] {
    let mut h = Sha256::new();
    h.update(b"ward-secrets-key-id");
    h.update(key);
    let digest = h.finalize();
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    id
}

fn unseal(
    key: &[u8; KEY_LEN],
    sealed: &[u8],
    key_path: &Path,
    enc_path: &Path,
) -> Result<BTreeMap<String, SecretValue>, SecretError> {
    let corrupt = |reason| SecretError::Corrupt {
        path: enc_path.to_owned(),
        reason,
    };
    if sealed.len() < MAGIC.len() || &sealed[..MAGIC.len()] != MAGIC {
        if sealed.len() < MAGIC.len() && MAGIC.starts_with(sealed) {
            return Err(corrupt("truncated"));
        }
        return Err(SecretError::BadMagic {
            path: enc_path.to_owned(),
        });
    }
    if sealed.len() < HEADER_LEN + TAG_LEN {
        return Err(corrupt("truncated"));
    }
    let (header, body) = sealed.split_at(HEADER_LEN);
    if header[8] != VERSION {
        return Err(SecretError::UnsupportedVersion {
            path: enc_path.to_owned(),
            version: header[8],
        });
    }
    if header[9] != ALG_CHACHA20POLY1305 || header[10..12] != [0, 0] {
        return Err(corrupt("unknown algorithm"));
    }
    if header[12..12 + KEY_ID_LEN] != key_id(key) {
        return Err(SecretError::WrongKey {
            key: key_path.to_owned(),
            enc: enc_path.to_owned(),
        });
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&header[12 + KEY_ID_LEN..HEADER_LEN]);
    let cipher = ChaCha20Poly1305::new(&Key::from(*key));
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: header,
                },
            )
            .map_err(|_| corrupt("authentication failed"))?,
    );
    let map: BTreeMap<String, String> =
        serde_json::from_slice(&plain).map_err(|_| corrupt("bad contents"))?;
    if map.len() > MAX_SECRETS {
        return Err(corrupt("too many secrets"));
    }
    let mut out = BTreeMap::new();
    for (name, value) in map {
        let value = SecretValue::new(Zeroizing::new(value));
        if check_name(&name).is_err() || value.is_empty() || value.len() > MAX_VALUE_LEN {
            return Err(corrupt("bad contents"));
        }
        out.insert(name, value);
    }
    Ok(out)
}

fn ensure_home(home: &Path) -> Result<(), SecretError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(home)
        .map_err(io_err("create", home))
}

fn sync_dir(dir: &Path) -> Result<(), SecretError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync", dir))
}

fn create_key(home: &Path, path: &Path) -> Result<Zeroizing<[u8; KEY_LEN]>, SecretError> {
    ensure_home(home)?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(key.as_mut()).map_err(|_| SecretError::Random)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nofollow())
        .open(path)
        .map_err(io_err("create", path))?;
    file.write_all(key.as_ref())
        .and_then(|()| file.sync_all())
        .map_err(io_err("write", path))?;
    sync_dir(home)?;
    Ok(key)
}

fn write_sealed(
    key: &[u8; KEY_LEN],
    secrets: &BTreeMap<String, SecretValue>,
    home: &Path,
    path: &Path,
) -> Result<(), SecretError> {
    let plain: BTreeMap<&str, &str> = secrets
        .iter()
        .map(|(k, v)| (k.as_str(), v.expose()))
        .collect();
    let plain = Zeroizing::new(serde_json::to_vec(&plain).map_err(|_| SecretError::StoreFull)?);
    if (plain.len() + HEADER_LEN + TAG_LEN) as u64 > MAX_FILE_LEN {
        return Err(SecretError::StoreFull);
    }
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| SecretError::Random)?;
    let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(ALG_CHACHA20POLY1305);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&key_id(key));
    out.extend_from_slice(&nonce);
    let cipher = ChaCha20Poly1305::new(&Key::from(*key));
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &plain,
                aad: &out,
            },
        )
        .map_err(|_| SecretError::StoreFull)?;
    out.extend_from_slice(&ct);

    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|_| SecretError::Random)?;
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = home.join(format!(".{SECRETS_FILE}.{suffix}.tmp"));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nofollow())
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        file.write_all(&out)
            .and_then(|()| file.sync_all())
            .map_err(io_err("write", &tmp))?;
        fs::rename(&tmp, path).map_err(io_err("replace", path))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    sync_dir(home)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn z(s: &str) -> Zeroizing<String> {
        Zeroizing::new(s.to_owned())
    }

    fn store_with_one() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let mut s = SecretStore::open(&home).unwrap();
        s.set("API_TOKEN", z("tok-123456789")).unwrap();
        (dir, home)
    }

    fn err(home: &Path) -> SecretError {
        SecretStore::open(home).unwrap_err()
    }

    #[test]
    fn set_get_list_remove_round_trip() {
        let (_d, home) = store_with_one();
        let mut s = SecretStore::open(&home).unwrap();
        assert_eq!(
            s.get("API_TOKEN").unwrap().unwrap().expose(),
            "tok-123456789"
        );
        s.set("B", z("two")).unwrap();
        s.set("API_TOKEN", z("replaced")).unwrap();
        let s2 = SecretStore::open(&home).unwrap();
        assert_eq!(s2.list(), ["API_TOKEN", "B"]);
        assert_eq!(s2.get("API_TOKEN").unwrap().unwrap().expose(), "replaced");
        assert!(s2.get("MISSING").unwrap().is_none());
        assert!(s.remove("B").unwrap());
        assert!(!s.remove("B").unwrap());
        assert_eq!(SecretStore::open(&home).unwrap().list(), ["API_TOKEN"]);
    }

    #[test]
    fn files_are_private_and_ciphertext_holds_no_plaintext() {
        let (_d, home) = store_with_one();
        for f in [KEY_FILE, SECRETS_FILE] {
            let mode = fs::metadata(home.join(f)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
        let enc = fs::read(home.join(SECRETS_FILE)).unwrap();
        assert!(!enc.windows(13).any(|w| w == b"tok-123456789"));
        assert!(!enc.windows(9).any(|w| w == b"API_TOKEN"));
        assert_eq!(fs::read(home.join(KEY_FILE)).unwrap().len(), KEY_LEN);
        // No temporary file left behind: the key, the secrets and the writers' lock.
        let mut names: Vec<_> = fs::read_dir(&home)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["secrets.enc", "secrets.key", "secrets.lock"]);
    }

    #[test]
    fn nonce_is_fresh_on_every_write() {
        let (_d, home) = store_with_one();
        let a = fs::read(home.join(SECRETS_FILE)).unwrap();
        let mut s = SecretStore::open(&home).unwrap();
        s.set("API_TOKEN", z("tok-123456789")).unwrap();
        let b = fs::read(home.join(SECRETS_FILE)).unwrap();
        assert_ne!(a[20..32], b[20..32]);
        assert_ne!(a[32..], b[32..]);
    }

    #[test]
    fn two_writers_lose_no_update() {
        let (_d, home) = store_with_one();
        let mut a = SecretStore::open(&home).unwrap();
        let mut b = SecretStore::open(&home).unwrap();
        a.set("FROM_A", z("value-a")).unwrap();
        b.set("FROM_B", z("value-b")).unwrap();
        assert!(b.remove("FROM_A").unwrap());
        assert_eq!(
            SecretStore::open(&home).unwrap().list(),
            ["API_TOKEN", "FROM_B"]
        );
        assert_eq!(b.list(), ["API_TOKEN", "FROM_B"]);
    }

    #[test]
    fn empty_home_is_an_empty_store_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = SecretStore::open(dir.path()).unwrap();
        assert!(s.list().is_empty());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn missing_key_with_secrets_file_fails_closed() {
        let (_d, home) = store_with_one();
        fs::remove_file(home.join(KEY_FILE)).unwrap();
        let e = err(&home);
        assert!(matches!(e, SecretError::KeyMissing { .. }));
        assert!(
            e.to_string()
                .starts_with("secrets.key is missing: the secrets in secrets.enc cannot be read")
        );
    }

    #[test]
    fn wrong_key_fails_closed() {
        let (_d, home) = store_with_one();
        fs::write(home.join(KEY_FILE), [7u8; KEY_LEN]).unwrap();
        let e = err(&home);
        assert!(matches!(e, SecretError::WrongKey { .. }), "{e}");
        assert!(!e.to_string().contains("tok-123456789"));
    }

    #[test]
    fn wrong_key_with_forged_key_id_fails_closed() {
        let (_d, home) = store_with_one();
        let other = [7u8; KEY_LEN];
        fs::write(home.join(KEY_FILE), other).unwrap();
        let enc_path = home.join(SECRETS_FILE);
        let mut enc = fs::read(&enc_path).unwrap();
        enc[12..20].copy_from_slice(&key_id(&other));
        fs::write(&enc_path, enc).unwrap();
        let e = err(&home);
        assert!(
            matches!(
                e,
                SecretError::Corrupt {
                    reason: "authentication failed",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn flipped_ciphertext_byte_fails_closed() {
        let (_d, home) = store_with_one();
        let enc_path = home.join(SECRETS_FILE);
        let orig = fs::read(&enc_path).unwrap();
        // Every byte of the ciphertext, the tag and the header (AAD).
        for i in 0..orig.len() {
            let mut enc = orig.clone();
            enc[i] ^= 0x01;
            fs::write(&enc_path, &enc).unwrap();
            assert!(SecretStore::open(&home).is_err(), "flip at {i} accepted");
        }
        let mut enc = orig.clone();
        enc[HEADER_LEN + 2] ^= 0x80;
        fs::write(&enc_path, &enc).unwrap();
        let e = err(&home);
        assert_eq!(
            e.to_string(),
            format!(
                "{} is damaged or was tampered with (authentication failed): secrets are unavailable; restore it from a backup",
                enc_path.display()
            )
        );
    }

    #[test]
    fn truncated_file_fails_closed() {
        let (_d, home) = store_with_one();
        let enc_path = home.join(SECRETS_FILE);
        let orig = fs::read(&enc_path).unwrap();
        for len in 0..orig.len() {
            fs::write(&enc_path, &orig[..len]).unwrap();
            let e = err(&home);
            assert!(
                matches!(e, SecretError::Corrupt { .. }),
                "truncated to {len}: {e}"
            );
        }
    }

    #[test]
    fn bad_magic_fails_closed() {
        let (_d, home) = store_with_one();
        let enc_path = home.join(SECRETS_FILE);
        let mut enc = fs::read(&enc_path).unwrap();
        enc[0] = b'X';
        fs::write(&enc_path, &enc).unwrap();
        assert!(matches!(err(&home), SecretError::BadMagic { .. }));
        fs::write(&enc_path, b"{\"API_TOKEN\":\"plaintext\"}").unwrap();
        assert!(matches!(err(&home), SecretError::BadMagic { .. }));
    }

    #[test]
    fn unknown_version_fails_closed() {
        let (_d, home) = store_with_one();
        let enc_path = home.join(SECRETS_FILE);
        let mut enc = fs::read(&enc_path).unwrap();
        enc[8] = 2;
        fs::write(&enc_path, &enc).unwrap();
        let e = err(&home);
        assert!(
            matches!(e, SecretError::UnsupportedVersion { version: 2, .. }),
            "{e}"
        );
    }

    #[test]
    fn oversized_file_fails_closed() {
        let (_d, home) = store_with_one();
        let enc_path = home.join(SECRETS_FILE);
        let mut enc = fs::read(&enc_path).unwrap();
        enc.resize(MAX_FILE_LEN as usize + 1, 0);
        fs::write(&enc_path, &enc).unwrap();
        assert!(matches!(err(&home), SecretError::TooLarge { .. }));
    }

    #[test]
    fn key_readable_by_group_or_others_is_refused() {
        let (_d, home) = store_with_one();
        let key = home.join(KEY_FILE);
        for mode in [0o640, 0o604, 0o660, 0o644, 0o610] {
            fs::set_permissions(&key, fs::Permissions::from_mode(mode)).unwrap();
            let e = err(&home);
            assert!(matches!(e, SecretError::KeyTooOpen { .. }), "{mode:o}");
            let msg = e.to_string();
            assert!(msg.contains(&format!("{mode:04o}")), "{msg}");
            assert!(
                msg.contains(&format!("chmod 600 {}", key.display())),
                "{msg}"
            );
        }
        fs::set_permissions(&key, fs::Permissions::from_mode(0o400)).unwrap();
        assert!(SecretStore::open(&home).is_ok());
    }

    #[test]
    fn key_too_open_refused_even_without_secrets_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join(KEY_FILE);
        fs::write(&key, [1u8; KEY_LEN]).unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            err(dir.path()),
            SecretError::KeyTooOpen { mode: 0o644, .. }
        ));
    }

    #[test]
    fn key_symlink_is_refused() {
        let (d, home) = store_with_one();
        let key = home.join(KEY_FILE);
        let elsewhere = d.path().join("real.key");
        fs::rename(&key, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &key).unwrap();
        assert!(matches!(err(&home), SecretError::NotAFile { .. }));
    }

    #[test]
    fn key_of_wrong_length_is_refused() {
        let (_d, home) = store_with_one();
        let key = home.join(KEY_FILE);
        fs::write(&key, [1u8; 16]).unwrap();
        assert!(matches!(err(&home), SecretError::KeyLength { len: 16, .. }));
    }

    #[test]
    fn invalid_names_and_values_are_refused_and_nothing_changes() {
        let (_d, home) = store_with_one();
        let mut s = SecretStore::open(&home).unwrap();
        let before = fs::read(home.join(SECRETS_FILE)).unwrap();
        assert!(matches!(
            s.set("bad-name", z("v")),
            Err(SecretError::InvalidName { .. })
        ));
        assert!(matches!(
            s.set("EMPTY", z("")),
            Err(SecretError::EmptyValue { .. })
        ));
        let big = "x".repeat(MAX_VALUE_LEN + 1);
        let e = s.set("BIG", z(&big)).unwrap_err();
        assert!(matches!(e, SecretError::ValueTooLong { .. }));
        assert!(!e.to_string().contains("xxxx"));
        assert_eq!(fs::read(home.join(SECRETS_FILE)).unwrap(), before);
        assert_eq!(s.list(), ["API_TOKEN"]);
    }

    #[test]
    fn debug_shows_names_not_values() {
        let (_d, home) = store_with_one();
        let s = SecretStore::open(&home).unwrap();
        let dbg = format!("{s:?}");
        assert!(dbg.contains("API_TOKEN"));
        assert!(!dbg.contains("tok-123456789"));
    }

    #[test]
    fn errors_never_contain_the_value() {
        let (_d, home) = store_with_one();
        let enc_path = home.join(SECRETS_FILE);
        let orig = fs::read(&enc_path).unwrap();
        let mut msgs = Vec::new();
        fs::write(&enc_path, &orig[..40]).unwrap();
        msgs.push(err(&home).to_string());
        fs::write(home.join(KEY_FILE), [9u8; KEY_LEN]).unwrap();
        fs::write(&enc_path, &orig).unwrap();
        msgs.push(format!("{:?}", err(&home)));
        for m in msgs {
            assert!(!m.contains("tok-123456789"), "{m}");
        }
    }
}
