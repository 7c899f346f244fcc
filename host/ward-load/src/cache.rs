//! The on-disk cache of compiled components.
//!
//! wasmtime's `Component::deserialize` trusts its input: a swapped or altered artifact would be
//! machine code ward runs without checking. So every artifact is written with an HMAC-SHA256
//! tag under a key that only ward's user can read, binding the artifact's bytes to the
//! component digest and the engine settings it was compiled for. A read that does not verify
//! is discarded (and deleted) and the component is compiled again; the bytes that were
//! verified are the bytes that are deserialized, from memory, so the file cannot change in
//! between.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::Digest;

type HmacSha256 = Hmac<Sha256>;

/// First bytes of every cached artifact.
const MAGIC: &[u8; 8] = b"WARDCW01";
/// Domain separation for the artifact tag.
const TAG_CONTEXT: &[u8] = b"ward compiled artifact v1\0";
/// Largest cached artifact ward reads back; compiled code is a few times the component size.
const MAX_ARTIFACT_BYTES: u64 = 1024 * 1024 * 1024;
/// Name of the tag key inside the cache directory.
const KEY_FILE: &str = "artifact.key";

/// Why the artifact cache cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// A filesystem operation failed.
    #[error("artifact cache {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The directory or key file can be read or written by other users, or is not ours.
    #[error(
        "refusing to use {path}: {problem}; compiled code cached there could be swapped by another user (fix with `chmod {fix} {path}` or remove it)"
    )]
    Exposed {
        /// The path involved.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// The mode to set.
        fix: &'static str,
    },
    /// The key file has the wrong size.
    #[error(
        "artifact cache key {0} is corrupt (expected 32 bytes); remove it and the cache is rebuilt"
    )]
    BadKey(PathBuf),
    /// wasmtime could not serialize a component.
    #[error("cannot serialize compiled component: {0:#}")]
    Serialize(wasmtime::Error),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Compiled components on disk, keyed by component digest and engine settings.
pub struct ArtifactCache {
    dir: PathBuf,
    key: [u8; 32],
}

impl std::fmt::Debug for ArtifactCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Creates `dir` (and its parents) as needed, with mode 0700 for what it creates, and refuses a
/// directory that is not owned by this user or that other users can read, write or enter.
pub fn private_dir(dir: &Path) -> Result<(), CacheError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))?;
    let meta = fs::symlink_metadata(dir).map_err(io_err(dir))?;
    if !meta.is_dir() {
        return Err(CacheError::Exposed {
            path: dir.to_owned(),
            problem: "it is not a directory (a symlink?)".into(),
            fix: "700",
        });
    }
    check_private(dir, &meta, "700")
}

fn check_private(path: &Path, meta: &fs::Metadata, fix: &'static str) -> Result<(), CacheError> {
    let uid = rustix::process::geteuid().as_raw();
    if meta.uid() != uid {
        return Err(CacheError::Exposed {
            path: path.to_owned(),
            problem: format!(
                "it is owned by uid {}, not by this user (uid {uid})",
                meta.uid()
            ),
            fix,
        });
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CacheError::Exposed {
            path: path.to_owned(),
            problem: format!("other users have access (mode {mode:04o})"),
            fix,
        });
    }
    Ok(())
}

impl ArtifactCache {
    /// Opens (creating if needed) the cache in `dir`. The directory must be private to this
    /// user; its tag key is created on first use.
    pub fn open(dir: &Path) -> Result<ArtifactCache, CacheError> {
        private_dir(dir)?;
        let key_path = dir.join(KEY_FILE);
        let key = match fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&key_path)
        {
            Ok(mut file) => {
                let meta = file.metadata().map_err(io_err(&key_path))?;
                check_private(&key_path, &meta, "600")?;
                let mut key = [0u8; 32];
                let mut extra = Vec::new();
                file.read_exact(&mut key)
                    .map_err(|_| CacheError::BadKey(key_path.clone()))?;
                file.read_to_end(&mut extra).map_err(io_err(&key_path))?;
                if !extra.is_empty() {
                    return Err(CacheError::BadKey(key_path));
                }
                key
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                let tmp = dir.join(format!(
                    ".{KEY_FILE}.{}",
                    hex::encode(rand::random::<[u8; 8]>())
                ));
                write_private(&tmp, &key)?;
                // Another process may have created the key meanwhile: keep theirs.
                match fs::hard_link(&tmp, &key_path) {
                    Ok(()) => {
                        let _ = fs::remove_file(&tmp);
                        key
                    }
                    Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                        let _ = fs::remove_file(&tmp);
                        return ArtifactCache::open(dir);
                    }
                    Err(err) => {
                        let _ = fs::remove_file(&tmp);
                        return Err(io_err(&key_path)(err));
                    }
                }
            }
            Err(err) => return Err(io_err(&key_path)(err)),
        };
        Ok(ArtifactCache {
            dir: dir.to_owned(),
            key,
        })
    }

    /// The directory the cache lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the artifact for `digest` compiled by `engine` is kept.
    pub fn path_for(&self, engine: &Engine, digest: &Digest) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", digest.hex(), engine_tag(engine)))
    }

    fn tag(&self, engine: &Engine, digest: &Digest, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length");
        let engine = engine_tag(engine);
        mac.update(TAG_CONTEXT);
        mac.update(&digest.0);
        mac.update(&(engine.len() as u64).to_le_bytes());
        mac.update(engine.as_bytes());
        mac.update(body);
        mac
    }

    /// The cached component for `digest`, if an artifact exists and verifies. An artifact that
    /// does not verify, or that wasmtime rejects, is deleted and `None` is returned.
    pub fn get(&self, engine: &Engine, digest: &Digest) -> Option<Component> {
        let path = self.path_for(engine, digest);
        let bytes = match read_artifact(&path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return None,
            Err(reason) => {
                self.discard(&path, &reason);
                return None;
            }
        };
        let verified = bytes.len() >= MAGIC.len() + 32
            && &bytes[..MAGIC.len()] == MAGIC
            && self
                .tag(engine, digest, &bytes[MAGIC.len() + 32..])
                .verify_slice(&bytes[MAGIC.len()..MAGIC.len() + 32])
                .is_ok();
        if !verified {
            self.discard(
                &path,
                "its tag does not verify (altered or not written by ward)",
            );
            return None;
        }
        let body = &bytes[MAGIC.len() + 32..];
        // SAFETY: `body` is exactly the byte string that this cache serialized from a component
        // wasmtime compiled with an engine of the same settings: the HMAC tag, under a key only
        // this user can read, binds it to the digest and engine settings and verified above, and
        // the bytes are deserialized from memory, so the file cannot change after the check.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, body) };
        match component {
            Ok(component) => Some(component),
            Err(err) => {
                self.discard(&path, &format!("wasmtime refused it: {err}"));
                None
            }
        }
    }

    fn discard(&self, path: &Path, reason: &str) {
        tracing::warn!(path = %path.display(), "discarding cached artifact: {reason}; recompiling");
        let _ = fs::remove_file(path);
    }

    /// Stores the compiled `component` for `digest`, atomically.
    pub fn put(&self, digest: &Digest, component: &Component) -> Result<(), CacheError> {
        let engine = component.engine();
        let body = component.serialize().map_err(CacheError::Serialize)?;
        let tag = self.tag(engine, digest, &body).finalize().into_bytes();
        let mut bytes = Vec::with_capacity(MAGIC.len() + tag.len() + body.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&tag);
        bytes.extend_from_slice(&body);
        let path = self.path_for(engine, digest);
        let tmp = self
            .dir
            .join(format!(".tmp-{}", hex::encode(rand::random::<[u8; 8]>())));
        write_private(&tmp, &bytes)?;
        fs::rename(&tmp, &path).map_err(|err| {
            let _ = fs::remove_file(&tmp);
            io_err(&path)(err)
        })
    }
}

/// Reads an artifact; `Ok(None)` when there is none, `Err(reason)` when it must be discarded.
fn read_artifact(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let mut file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("cannot open it: {err}")),
    };
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > MAX_ARTIFACT_BYTES {
        return Err("it is larger than any artifact ward writes".into());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&mut file)
        .take(MAX_ARTIFACT_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    Ok(Some(bytes))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(io_err(path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|err| {
            let _ = fs::remove_file(path);
            io_err(path)(err)
        })
}

/// A short stable name for the engine's compilation settings.
fn engine_tag(engine: &Engine) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}
