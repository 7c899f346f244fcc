//! Audit checkpoints and proofs: what lets anyone check the audit log without trusting the host's
//! files. A checkpoint is the size and Merkle root of the log (`ward_store::merkle`) at a time,
//! signed with the host's audit key; kept somewhere else, it catches any later rewrite of the
//! rows it covers, even one that rewrites the log and its head together. Inclusion and
//! consistency proofs are checked against a checkpoint alone, without the log.
//!
//! The formats (JSON) are described in `docs/store.md`.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use ward_signing::{PublicKey, Purpose, SecretKey};
use ward_store::merkle::{self, Hash};
use ward_store::{Store, StoreError};

use crate::Home;

/// The name every checkpoint carries, so a signature over it is not taken for something else.
pub const LOG_NAME: &str = "ward-audit";

/// Why a checkpoint or proof is refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The host's audit key cannot be read or created.
    #[error("the audit key {path}: {message}")]
    Key {
        /// Its path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A checkpoint or proof file is not what ward writes.
    #[error("{what} is not a ward {kind}: {message}")]
    Format {
        /// The file.
        what: String,
        /// `checkpoint` or `proof`.
        kind: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The checkpoint's signature does not verify with the key.
    #[error("the checkpoint's signature does not verify with key {key}")]
    BadSignature {
        /// The key's id.
        key: String,
    },
    /// The log holds fewer rows than the checkpoint covers.
    #[error(
        "the audit log has {rows} rows but the checkpoint covers {size}: rows the checkpoint saw were removed"
    )]
    Truncated {
        /// Rows now.
        rows: u64,
        /// Rows in the checkpoint.
        size: u64,
    },
    /// The first rows of the log no longer give the checkpoint's root.
    #[error(
        "the first {size} rows of the audit log no longer match the checkpoint of {time}: rows it covers were rewritten"
    )]
    Rewritten {
        /// Rows in the checkpoint.
        size: u64,
        /// The checkpoint's time.
        time: String,
    },
    /// A proof does not verify against the checkpoint.
    #[error("the proof does not verify against the checkpoint: {0}")]
    BadProof(String),
    /// A row or range outside the log.
    #[error("{0}")]
    Range(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A signed statement of the audit log's size and Merkle root at a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Always [`LOG_NAME`].
    pub log: String,
    /// Rows covered: the first `size` rows of the log.
    pub size: u64,
    /// The Merkle root of those rows, hex.
    pub root: String,
    /// When it was made, RFC 3339 UTC.
    pub time: String,
    /// The signing key, `ed25519:<hex>`.
    pub key: String,
    /// The ed25519 signature over [`Checkpoint::message`], hex.
    pub signature: String,
}

impl Checkpoint {
    /// The signed text: one field a line.
    pub fn message(log: &str, size: u64, root: &str, time: &str, key: &str) -> Vec<u8> {
        format!("{log}\n{size}\n{root}\n{time}\n{key}\n").into_bytes()
    }

    /// A checkpoint of the log as it is now, signed with `key`.
    pub fn make(store: &Store, key: &SecretKey) -> Result<Checkpoint, CheckpointError> {
        let size = store.audit_last_seq()?;
        let leaves = store.audit_leaves(size)?;
        let root = hex::encode(merkle::root(&leaves));
        let time = ward_store::format_unix(now_unix());
        let public = key_text(&key.public_key());
        let message = Checkpoint::message(LOG_NAME, size, &root, &time, &public);
        let signature = ward_signing::sign_message(Purpose::AuditCheckpoint, &message, key);
        Ok(Checkpoint {
            log: LOG_NAME.to_owned(),
            size,
            root,
            time,
            key: public,
            signature: hex::encode(signature),
        })
    }

    /// Reads a checkpoint file as written by `ward audit checkpoint`.
    pub fn parse(what: &str, text: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let format = |message: String| CheckpointError::Format {
            what: what.to_owned(),
            kind: "checkpoint",
            message,
        };
        let c: Checkpoint = serde_json::from_slice(text).map_err(|e| format(e.to_string()))?;
        if c.log != LOG_NAME {
            return Err(format(format!("its log is {:?}, not {LOG_NAME:?}", c.log)));
        }
        hash_of(&c.root).ok_or_else(|| format("its root is not 32 bytes of hex".into()))?;
        Ok(c)
    }

    /// The root as bytes (checked by [`Checkpoint::parse`]).
    fn root_hash(&self) -> Result<Hash, CheckpointError> {
        hash_of(&self.root).ok_or_else(|| {
            CheckpointError::BadProof("the checkpoint's root is not 32 bytes of hex".into())
        })
    }

    /// Checks the signature with `key`, which must also be the key the checkpoint names.
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), CheckpointError> {
        let bad = || CheckpointError::BadSignature {
            key: key.key_id().to_string(),
        };
        if self.key != key_text(key) {
            return Err(bad());
        }
        let mut sig = [0u8; 64];
        hex::decode_to_slice(&self.signature, &mut sig).map_err(|_| bad())?;
        let message = Checkpoint::message(&self.log, self.size, &self.root, &self.time, &self.key);
        ward_signing::verify_message(Purpose::AuditCheckpoint, &message, &sig, key)
            .map_err(|_| bad())
    }

    /// Checks that the log in `store` still holds, as its first rows, exactly the rows this
    /// checkpoint covers.
    pub fn check_log(&self, store: &Store) -> Result<(), CheckpointError> {
        let leaves = store.audit_leaves(self.size)?;
        let rows = leaves.len() as u64;
        if rows < self.size {
            return Err(CheckpointError::Truncated {
                rows,
                size: self.size,
            });
        }
        if merkle::root(&leaves) != self.root_hash()? {
            return Err(CheckpointError::Rewritten {
                size: self.size,
                time: self.time.clone(),
            });
        }
        Ok(())
    }
}

/// A proof, as `ward audit prove` writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "proof", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Proof {
    /// Row `seq` (whose hash is `row_hash`) is in the log of `size` rows.
    Inclusion {
        /// The row.
        seq: u64,
        /// Its hash (the `hash` field of the row), hex.
        row_hash: String,
        /// The size of the tree the proof is for.
        size: u64,
        /// The audit path, hex, leaf to root.
        path: Vec<String>,
    },
    /// The log of `from` rows is a prefix of the log of `to` rows.
    Consistency {
        /// The smaller size.
        from: u64,
        /// The larger size.
        to: u64,
        /// The root of the first `from` rows, hex.
        from_root: String,
        /// The consistency path, hex.
        path: Vec<String>,
    },
}

impl Proof {
    /// The inclusion proof of row `seq` in the first `size` rows of the log.
    pub fn inclusion(store: &Store, seq: u64, size: u64) -> Result<Proof, CheckpointError> {
        let leaves = store.audit_leaves(size)?;
        if seq == 0 || seq > leaves.len() as u64 || seq > size {
            return Err(CheckpointError::Range(format!(
                "row {seq} is not among the first {size} rows of the audit log ({} rows)",
                leaves.len()
            )));
        }
        let index = usize::try_from(seq - 1).unwrap_or(usize::MAX);
        let path = merkle::inclusion_proof(&leaves, index)
            .ok_or_else(|| CheckpointError::Range(format!("row {seq} is not in the log")))?;
        let row = store.audit_list(ward_store::AuditQuery {
            since: Some(seq - 1),
            limit: Some(1),
        })?;
        let row_hash = row
            .first()
            .map(|r| r.hash.clone())
            .ok_or_else(|| CheckpointError::Range(format!("row {seq} is not in the log")))?;
        Ok(Proof::Inclusion {
            seq,
            row_hash,
            size: leaves.len() as u64,
            path: path.iter().map(hex::encode).collect(),
        })
    }

    /// The consistency proof from the first `from` rows to the first `to` rows of the log.
    pub fn consistency(store: &Store, from: u64, to: u64) -> Result<Proof, CheckpointError> {
        let leaves = store.audit_leaves(to)?;
        if from == 0 || from > to || (leaves.len() as u64) < to {
            return Err(CheckpointError::Range(format!(
                "cannot prove rows 1..{from} inside rows 1..{to}: the log has {} rows and the first size must be 1 to the second",
                leaves.len()
            )));
        }
        let m = usize::try_from(from).unwrap_or(usize::MAX);
        let path = merkle::consistency_proof(&leaves, m)
            .ok_or_else(|| CheckpointError::Range(format!("no proof from {from} to {to}")))?;
        Ok(Proof::Consistency {
            from,
            to,
            from_root: hex::encode(merkle::root(&leaves[..m])),
            path: path.iter().map(hex::encode).collect(),
        })
    }

    /// Reads a proof file as written by `ward audit prove`.
    pub fn parse(what: &str, text: &[u8]) -> Result<Proof, CheckpointError> {
        serde_json::from_slice(text).map_err(|e| CheckpointError::Format {
            what: what.to_owned(),
            kind: "proof",
            message: e.to_string(),
        })
    }

    /// Checks the proof against `checkpoint` (whose signature the caller checked): an inclusion
    /// proof must be for the checkpoint's size, a consistency proof must end at it.
    pub fn verify(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let root = checkpoint.root_hash()?;
        let bad = |m: &str| CheckpointError::BadProof(m.to_owned());
        let path = |p: &[String]| -> Result<Vec<Hash>, CheckpointError> {
            p.iter()
                .map(|h| hash_of(h).ok_or_else(|| bad("a path entry is not 32 bytes of hex")))
                .collect()
        };
        match self {
            Proof::Inclusion {
                seq,
                row_hash,
                size,
                path: p,
            } => {
                if *size != checkpoint.size {
                    return Err(bad(&format!(
                        "it is for a log of {size} rows, the checkpoint covers {}",
                        checkpoint.size
                    )));
                }
                let row =
                    hash_of(row_hash).ok_or_else(|| bad("the row hash is not 32 bytes of hex"))?;
                let p = path(p)?;
                let ok = seq.checked_sub(1).is_some_and(|index| {
                    merkle::verify_inclusion(index, *size, &merkle::leaf_hash(&row), &p, &root)
                });
                if ok {
                    Ok(())
                } else {
                    Err(bad(&format!(
                        "row {seq} with hash {row_hash} is not in the tree the checkpoint signs"
                    )))
                }
            }
            Proof::Consistency {
                from,
                to,
                from_root,
                path: p,
            } => {
                if *to != checkpoint.size {
                    return Err(bad(&format!(
                        "it ends at {to} rows, the checkpoint covers {}",
                        checkpoint.size
                    )));
                }
                let first = hash_of(from_root)
                    .ok_or_else(|| bad("the first root is not 32 bytes of hex"))?;
                if merkle::verify_consistency(*from, *to, &first, &root, &path(p)?) {
                    Ok(())
                } else {
                    Err(bad(&format!(
                        "the log of {from} rows is not a prefix of the one the checkpoint signs"
                    )))
                }
            }
        }
    }
}

fn hash_of(text: &str) -> Option<Hash> {
    let mut h = [0u8; 32];
    hex::decode_to_slice(text, &mut h).ok().map(|()| h)
}

/// `ed25519:<hex>`, the key as a checkpoint names it.
pub fn key_text(key: &PublicKey) -> String {
    format!("ed25519:{}", hex::encode(key.to_bytes()))
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Home {
    /// The host's audit key, `WARD_HOME/audit.key` (0600, created on first use, unencrypted like
    /// an SSH host key so that the daemon can sign checkpoints unattended); its public half is
    /// written beside it as `audit.key.pub`.
    pub fn audit_key(&self) -> Result<SecretKey, CheckpointError> {
        let path = self.root().join("audit.key");
        let shown = path.display().to_string();
        let err = |message: String| CheckpointError::Key {
            path: shown.clone(),
            message,
        };
        match ward_signing::read_secret_file(&path) {
            Ok(bytes) => {
                return SecretKey::from_file_contents(&bytes, None).map_err(|e| err(e.to_string()));
            }
            Err(ward_signing::KeyError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e.to_string())),
        }
        let key = SecretKey::generate().map_err(|e| err(e.to_string()))?;
        let text = key.to_file_contents(None).map_err(|e| err(e.to_string()))?;
        write_new(&path, text.as_bytes(), 0o600).map_err(|e| err(e.to_string()))?;
        let public = format!("{}\n", key.public_key().to_openssh());
        write_new(&self.root().join("audit.key.pub"), public.as_bytes(), 0o644)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(|e| err(e.to_string()))?;
        Ok(key)
    }
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
