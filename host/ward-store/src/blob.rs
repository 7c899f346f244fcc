//! Content-addressed blobs in `WARD_HOME/blobs`, reached only through a cap-std directory handle.

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use sha2::{Digest, Sha256};

use crate::StoreError;

/// Prefix of temporary files in store directories; recovery removes them.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// The SHA-256 of a blob's exact bytes; also its file name under `blobs/`.
///
/// Displays as 64 lowercase hex characters; parses from that or from `sha256:<hex>`. Nothing else is
/// accepted, so a digest can never name a path outside `blobs/`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobDigest([u8; 32]);

impl BlobDigest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        BlobDigest(Sha256::digest(bytes).into())
    }

    /// The digest as 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for BlobDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BlobDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobDigest({})", self.to_hex())
    }
}

impl FromStr for BlobDigest {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        let h = s.strip_prefix("sha256:").unwrap_or(s);
        let ok = h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ok {
            return Err(StoreError::InvalidDigest(crate::names::shown(s)));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(h, &mut out)
            .map_err(|_| StoreError::InvalidDigest(crate::names::shown(s)))?;
        Ok(BlobDigest(out))
    }
}

impl serde::Serialize for BlobDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for BlobDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// True when `name` is a blob file name (64 lowercase hex characters).
pub(crate) fn is_blob_name(name: &str) -> bool {
    name.parse::<BlobDigest>().is_ok() && !name.starts_with("sha256:")
}

/// A random temporary file name, unique enough that `create_new` does not collide.
pub(crate) fn temp_name() -> String {
    let r: [u8; 12] = rand::random();
    format!("{TEMP_PREFIX}{}", hex::encode(r))
}

/// Opens `name` in `dir` for reading without following a symbolic link.
pub(crate) fn open_nofollow(dir: &Dir, name: &str) -> std::io::Result<cap_std::fs::File> {
    let mut opts = OpenOptions::new();
    opts.read(true).follow(FollowSymlinks::No);
    let f = dir.open_with(name, &opts)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(f)
}

/// Reads a blob and checks its hash; an altered blob is an error, never returned.
pub(crate) fn read(dir: &Dir, digest: &BlobDigest) -> Result<Vec<u8>, StoreError> {
    let name = digest.to_hex();
    let mut f = match open_nofollow(dir, &name) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::BlobMissing(name));
        }
        // A symbolic link (ELOOP) or a non-file is never read.
        Err(_) => return Err(StoreError::BlobCorrupt(name)),
    };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| StoreError::io(format!("blobs/{name}"), e))?;
    if BlobDigest::of(&bytes) != *digest {
        return Err(StoreError::BlobCorrupt(name));
    }
    Ok(bytes)
}

/// Writes `bytes` to `dir` under a temporary name, fsyncs it and returns the name.
pub(crate) fn write_temp(dir: &Dir, bytes: &[u8], where_: &str) -> Result<String, StoreError> {
    let tmp = temp_name();
    let mut opts = OpenOptions::new();
    opts.write(true)
        .create_new(true)
        .mode(0o600)
        .follow(FollowSymlinks::No);
    let io = |e| StoreError::io(format!("{where_}{tmp}"), e);
    let mut f = dir.open_with(&tmp, &opts).map_err(io)?;
    let res = f.write_all(bytes).and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = res {
        let _ = dir.remove_file(&tmp);
        return Err(io(e));
    }
    Ok(tmp)
}

/// Renames `tmp` to `name` in `dir` (replacing a file or a planted link, never writing through it)
/// and fsyncs the directory.
pub(crate) fn commit_temp(
    dir: &Dir,
    tmp: &str,
    name: &str,
    where_: &str,
) -> Result<(), StoreError> {
    if let Err(e) = dir.rename(tmp, dir, name) {
        let _ = dir.remove_file(tmp);
        return Err(StoreError::io(format!("{where_}{name}"), e));
    }
    sync_dir(dir, where_)
}

/// Fsyncs a directory so that renames and removals in it are durable.
pub(crate) fn sync_dir(dir: &Dir, where_: &str) -> Result<(), StoreError> {
    // cap-std directory handles may be `O_PATH`, which cannot be fsynced: open the directory itself
    // (relative to the handle, so no path is resolved outside it) for reading.
    use rustix::fs::{Mode, OFlags};
    let io = |e: rustix::io::Errno| StoreError::io(where_.to_string(), e.into());
    let fd = rustix::fs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io)?;
    rustix::fs::fsync(&fd).map_err(io)
}
