//! The plugin registry, grants, trust store and plugin-private data.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;

use crate::audit::{AuditAction, AuditDetail, AuditEvent};
use crate::names::{MAX_DOC_BYTES, MAX_TEXT_BYTES, check_ident, check_text};
use crate::{BlobDigest, Store, StoreError, blob, finish};

/// What the install flow commits: a verified plugin version and the operator's grants for its digest.
#[derive(Clone, Debug, PartialEq)]
pub struct InstallRecord {
    /// Plugin name, `namespace:name`.
    pub name: String,
    /// Semver version.
    pub version: String,
    /// The plugin digest as computed by the signing crate (opaque here), e.g. `sha256:…`.
    pub digest: String,
    /// Digest of the exact stored bytes; the blob must already be stored with [`Store::put_blob`].
    pub blob: BlobDigest,
    /// The signed manifest, as text.
    pub manifest_toml: String,
    /// JSON array of the signers (key ids, or objects with a `key_id` field).
    pub signers: serde_json::Value,
    /// JSON array of granted capabilities, bound to `digest`.
    pub grants: serde_json::Value,
    /// Capability summary shown to the operator.
    pub summary: String,
    /// Accept a version lower than the highest ever installed (the CLI asks for typed confirmation).
    pub allow_downgrade: bool,
}

/// What [`Store::install`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstallOutcome {
    /// `install`, `upgrade`, `downgrade` or `reinstate` (a kept version made current again).
    pub action: &'static str,
    /// The version that was current before, if any.
    pub previous_version: Option<String>,
    /// Versions removed from the kept history.
    pub pruned: Vec<String>,
}

/// What `ward run` needs about the current version of a plugin.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstalledVersion {
    /// Plugin name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Plugin digest.
    pub digest: String,
    /// Blob digest of the stored bytes.
    pub blob: BlobDigest,
    /// Signed manifest text.
    pub manifest_toml: String,
    /// Signers (JSON array).
    pub signers: serde_json::Value,
    /// Grants bound to `digest` (an empty array when none).
    pub grants: serde_json::Value,
    /// Capability summary.
    pub summary: String,
    /// Whether the plugin may run.
    pub enabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// When this version was installed.
    pub installed_at: String,
}

/// One line of `ward list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PluginRow {
    /// Plugin name.
    pub name: String,
    /// Current version.
    pub version: String,
    /// Current plugin digest.
    pub digest: String,
    /// Whether the plugin may run.
    pub enabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// Capability summary of the current version.
    pub summary: String,
    /// Number of kept previous versions.
    pub kept_versions: usize,
}

/// One installed or kept version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersionRow {
    /// Version.
    pub version: String,
    /// Plugin digest.
    pub digest: String,
    /// Blob digest.
    pub blob: BlobDigest,
    /// Signers.
    pub signers: serde_json::Value,
    /// Summary.
    pub summary: String,
    /// When installed.
    pub installed_at: String,
    /// Whether this is the current version.
    pub current: bool,
}

/// What `ward inspect` shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PluginDetail {
    /// The current version, its grants and signers.
    pub current: InstalledVersion,
    /// All kept versions including the current one, newest install first.
    pub versions: Vec<VersionRow>,
    /// The version floor: the highest version ever installed from a key that is still trusted
    /// (downgrades below it need `--allow-downgrade`); see [`Store::version_floor`].
    pub highest_version: String,
    /// When the plugin was first installed.
    pub first_installed_at: String,
    /// When its current version or state last changed.
    pub updated_at: String,
}

/// A key of the trust store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrustedKey {
    /// Key id.
    pub key_id: String,
    /// Public key text.
    pub public_key: String,
    /// Operator's label.
    pub label: String,
    /// Namespace patterns it may sign for.
    pub scopes: Vec<String>,
    /// Capabilities it may vouch for (`None`: no ceiling).
    pub ceiling: Option<Vec<String>>,
    /// Expiry, RFC 3339 UTC.
    pub expires: Option<String>,
    /// When added.
    pub added_at: String,
    /// When revoked.
    pub revoked_at: Option<String>,
}

/// Size of a plugin's private data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KvUsage {
    /// Number of keys.
    pub keys: u64,
    /// Total bytes of keys and values.
    pub bytes: u64,
}

fn to_json(field: &'static str, v: &serde_json::Value) -> Result<String, StoreError> {
    let s = serde_json::to_string(v).map_err(|e| StoreError::InvalidJson {
        field,
        reason: e.to_string(),
    })?;
    if s.len() > MAX_DOC_BYTES {
        return Err(StoreError::InvalidJson {
            field,
            reason: "larger than 1 MiB".into(),
        });
    }
    Ok(s)
}

fn from_json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or(serde_json::Value::Null)
}

fn parse_version(v: &str) -> Result<semver::Version, StoreError> {
    semver::Version::parse(v).map_err(|e| StoreError::InvalidVersion {
        version: crate::names::shown(v),
        reason: e.to_string(),
    })
}

/// Key ids named by a signers document: strings, or objects' `key_id` fields.
fn signer_ids(signers: &serde_json::Value) -> Vec<String> {
    let Some(items) = signers.as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|s| match s {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(o) => {
                o.get("key_id").and_then(|k| k.as_str()).map(str::to_string)
            }
            _ => None,
        })
        .collect()
}

const VERSION_COLS: &str = "v.name, v.version, v.digest, v.blob, v.manifest_toml, v.signers, v.summary, v.installed_at, \
     p.enabled, p.disabled_reason, g.grants";

fn installed_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<InstalledVersion> {
    let blob: String = r.get(3)?;
    let grants: Option<String> = r.get(10)?;
    Ok(InstalledVersion {
        name: r.get(0)?,
        version: r.get(1)?,
        digest: r.get(2)?,
        blob: blob.parse().map_err(|e: StoreError| {
            rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e))
        })?,
        manifest_toml: r.get(4)?,
        signers: from_json(&r.get::<_, String>(5)?),
        summary: r.get(6)?,
        installed_at: r.get(7)?,
        enabled: r.get::<_, i64>(8)? != 0,
        disabled_reason: r.get(9)?,
        grants: grants.map_or_else(|| serde_json::Value::Array(Vec::new()), |g| from_json(&g)),
    })
}

struct Current {
    id: i64,
    version: String,
    digest: String,
    enabled: bool,
}

fn current_of(tx: &Transaction<'_>, name: &str) -> Result<Option<Current>, StoreError> {
    Ok(tx
        .query_row(
            "SELECT v.id, v.version, v.digest, p.enabled FROM plugins p JOIN versions v ON v.id = p.current
             WHERE p.name = ?1",
            [name],
            |r| {
                Ok(Current {
                    id: r.get(0)?,
                    version: r.get(1)?,
                    digest: r.get(2)?,
                    enabled: r.get::<_, i64>(3)? != 0,
                })
            },
        )
        .optional()?)
}

/// See [`Store::version_floor`]. A version counts unless every key that signed it is revoked now
/// (rows whose signers were not recorded count).
fn floor_in(tx: &Transaction<'_>, name: &str) -> Result<Option<semver::Version>, StoreError> {
    let revoked: std::collections::HashSet<String> = {
        let mut stmt =
            tx.prepare_cached("SELECT key_id FROM trusted_keys WHERE revoked_at IS NOT NULL")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut stmt = tx.prepare_cached("SELECT version, signers FROM released WHERE name = ?1")?;
    let rows = stmt.query_map([name], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    let mut floor: Option<semver::Version> = None;
    for row in rows {
        let (version, signers) = row?;
        let counts = match signers {
            None => true,
            Some(text) => {
                let ids = signer_ids(&from_json(&text));
                ids.is_empty() || ids.iter().any(|id| !revoked.contains(id))
            }
        };
        if !counts {
            continue;
        }
        let Ok(v) = parse_version(&version) else {
            continue;
        };
        if floor.as_ref().is_none_or(|f| v > *f) {
            floor = Some(v);
        }
    }
    Ok(floor)
}

impl Store {
    /// Installs a new plugin or a new version of an installed one, with its grants, in one
    /// transaction together with its audit row.
    ///
    /// Refuses: a version lower than the highest ever installed for the name (unless
    /// `allow_downgrade`), the current version again with the same digest ("already installed"), a
    /// known version with a different digest, a blob that is missing or altered. A known kept version
    /// with the same digest is made current again. The enabled/disabled state of an installed plugin
    /// is kept. Previous versions beyond `keep_versions` are pruned; their blobs are removed after
    /// the commit.
    pub fn install(&mut self, rec: &InstallRecord) -> Result<InstallOutcome, StoreError> {
        self.check_audit_ok()?;
        check_ident("plugin name", &rec.name)?;
        check_ident("version", &rec.version)?;
        check_ident("digest", &rec.digest)?;
        check_text("manifest", &rec.manifest_toml, MAX_DOC_BYTES)?;
        check_text("summary", &rec.summary, MAX_TEXT_BYTES)?;
        let version = parse_version(&rec.version)?;
        for (field, v) in [("signers", &rec.signers), ("grants", &rec.grants)] {
            if !v.is_array() {
                return Err(StoreError::InvalidJson {
                    field,
                    reason: "expected a JSON array".into(),
                });
            }
        }
        let signers = to_json("signers", &rec.signers)?;
        let grants = to_json("grants", &rec.grants)?;
        let blob_hex = rec.blob.to_hex();
        let now = crate::time::now_rfc3339();
        let keep = self.keep_versions;

        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Checked under the write lock: recovery and pruning remove blobs only while holding it.
        blob::read(&self.blobs, &rec.blob)?;

        let current = current_of(&tx, &rec.name)?;
        let highest_v = floor_in(&tx, &rec.name)?;
        let existing: Option<(i64, String)> = tx
            .query_row(
                "SELECT id, digest FROM versions WHERE name = ?1 AND version = ?2",
                params![rec.name, rec.version],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((id, digest)) = &existing {
            if *digest != rec.digest {
                return Err(StoreError::VersionDigestConflict {
                    name: rec.name.clone(),
                    version: rec.version.clone(),
                });
            }
            if current.as_ref().is_some_and(|c| c.id == *id) {
                return Err(StoreError::AlreadyInstalled {
                    name: rec.name.clone(),
                    version: rec.version.clone(),
                });
            }
        }
        if let Some(h) = &highest_v
            && version < *h
            && !rec.allow_downgrade
        {
            return Err(StoreError::Downgrade {
                name: rec.name.clone(),
                version: rec.version.clone(),
                highest: h.to_string(),
            });
        }

        let id = match existing {
            Some((id, _)) => id,
            None => {
                tx.execute(
                    "INSERT INTO versions (name, version, digest, blob, manifest_toml, signers, summary, installed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![rec.name, rec.version, rec.digest, blob_hex, rec.manifest_toml, signers, rec.summary, now],
                )?;
                tx.last_insert_rowid()
            }
        };
        tx.execute(
            "INSERT INTO grants (digest, grants, granted_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (digest) DO UPDATE SET grants = excluded.grants, granted_at = excluded.granted_at",
            params![rec.digest, grants, now],
        )?;
        tx.execute(
            "INSERT INTO plugins (name, current, enabled, disabled_reason, installed_at, updated_at)
             VALUES (?1, ?2, 1, NULL, ?3, ?3)
             ON CONFLICT (name) DO UPDATE SET current = excluded.current, updated_at = excluded.updated_at",
            params![rec.name, id, now],
        )?;
        // The release history outlives uninstall and pruning; only a purge forgets it.
        tx.execute(
            "INSERT INTO released (name, version, digest, signers, installed_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name, version, digest) DO NOTHING",
            params![rec.name, rec.version, rec.digest, signers, now],
        )?;

        let action = match (&current, existing.is_some()) {
            (None, _) => AuditAction::Install,
            (Some(_), true) => AuditAction::Reinstate,
            (Some(c), false) => match parse_version(&c.version) {
                Ok(cv) if version < cv => AuditAction::Downgrade,
                _ => AuditAction::Upgrade,
            },
        };

        // Prune the oldest kept versions beyond `keep`.
        let old: Vec<(i64, String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT id, version, blob FROM versions WHERE name = ?1 AND id != ?2 ORDER BY id DESC",
            )?;
            let rows = stmt.query_map(params![rec.name, id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        let mut pruned = Vec::new();
        let mut gc = Vec::new();
        for (vid, v, b) in old.into_iter().skip(keep) {
            tx.execute("DELETE FROM versions WHERE id = ?1", [vid])?;
            pruned.push(v);
            gc.push(b);
        }
        tx.execute(
            "DELETE FROM grants WHERE digest NOT IN (SELECT digest FROM versions)",
            [],
        )?;

        let mut ev = AuditEvent::new(action);
        ev.plugin = Some(rec.name.clone());
        ev.digest = Some(rec.digest.clone());
        ev.detail = AuditDetail {
            version: Some(rec.version.clone()),
            from_version: current.as_ref().map(|c| c.version.clone()),
            capabilities: capability_names(&rec.grants),
            pruned: pruned.clone(),
            ..AuditDetail::default()
        };
        finish(tx, &self.actor, self.fail_point, &self.home_dir, &[ev])?;
        self.gc_blobs(&gc)?;
        Ok(InstallOutcome {
            action: action.as_str(),
            previous_version: current.map(|c| c.version),
            pruned,
        })
    }

    /// Removes a plugin and all its kept versions and their grants; with `purge`, also its private
    /// data and the record of its highest version. Blobs are removed after the commit.
    pub fn uninstall(&mut self, name: &str, purge: bool) -> Result<(), StoreError> {
        self.check_audit_ok()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = current_of(&tx, name)?;
        let has_data: bool = tx
            .prepare("SELECT 1 FROM data WHERE plugin = ?1 LIMIT 1")?
            .exists([name])?;
        if current.is_none() && !(purge && has_data) {
            return Err(StoreError::NotInstalled(crate::names::shown(name)));
        }
        let gc: Vec<String> = {
            let mut stmt = tx.prepare("SELECT blob FROM versions WHERE name = ?1")?;
            let rows = stmt.query_map([name], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        tx.execute("DELETE FROM plugins WHERE name = ?1", [name])?;
        tx.execute("DELETE FROM versions WHERE name = ?1", [name])?;
        tx.execute(
            "DELETE FROM grants WHERE digest NOT IN (SELECT digest FROM versions)",
            [],
        )?;
        if purge {
            tx.execute("DELETE FROM data WHERE plugin = ?1", [name])?;
            tx.execute("DELETE FROM highest WHERE name = ?1", [name])?;
            tx.execute("DELETE FROM released WHERE name = ?1", [name])?;
        }
        let mut ev = AuditEvent::new(AuditAction::Uninstall);
        ev.plugin = Some(name.to_string());
        ev.digest = current.as_ref().map(|c| c.digest.clone());
        ev.detail.version = current.map(|c| c.version);
        ev.detail.purge = Some(purge);
        finish(tx, &self.actor, self.fail_point, &self.home_dir, &[ev])?;
        self.gc_blobs(&gc)
    }

    /// Enables a plugin. Enabling an enabled plugin changes nothing and is not audited.
    pub fn enable(&mut self, name: &str) -> Result<(), StoreError> {
        self.set_enabled(name, true, None, "operator")
    }

    /// Disables a plugin; `reason` (operator text) is shown by `list` and `inspect` but not audited.
    pub fn disable(&mut self, name: &str, reason: &str) -> Result<(), StoreError> {
        check_text("disable reason", reason, MAX_TEXT_BYTES)?;
        self.set_enabled(name, false, Some(reason), "operator")
    }

    /// Disables a plugin for a reason of ward's own (for example `unauthorized`: its current
    /// version no longer satisfies the trust policy). `reason` is shown by `list` and `inspect`;
    /// the audit row records only `code`. Non-printable characters in `reason` are replaced.
    pub fn disable_with(
        &mut self,
        name: &str,
        reason: &str,
        code: &'static str,
    ) -> Result<(), StoreError> {
        let mut text: String = reason
            .chars()
            .map(|c| {
                if c.is_control() || crate::names::is_invisible(c) {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        if text.len() > MAX_TEXT_BYTES {
            let mut end = MAX_TEXT_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        self.set_enabled(name, false, Some(&text), code)
    }

    fn set_enabled(
        &mut self,
        name: &str,
        enabled: bool,
        reason: Option<&str>,
        code: &'static str,
    ) -> Result<(), StoreError> {
        self.check_audit_ok()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(cur) = current_of(&tx, name)? else {
            return Err(StoreError::NotInstalled(crate::names::shown(name)));
        };
        if cur.enabled == enabled && enabled {
            return Ok(());
        }
        tx.execute(
            "UPDATE plugins SET enabled = ?2, disabled_reason = ?3, updated_at = ?4 WHERE name = ?1",
            params![name, enabled as i64, reason, crate::time::now_rfc3339()],
        )?;
        let mut ev = AuditEvent::new(if enabled {
            AuditAction::Enable
        } else {
            AuditAction::Disable
        });
        ev.plugin = Some(name.to_string());
        ev.digest = Some(cur.digest);
        ev.detail.version = Some(cur.version);
        if !enabled {
            ev.detail.reason = Some(code);
        }
        finish(tx, &self.actor, self.fail_point, &self.home_dir, &[ev])
    }

    /// The kept version `rollback(name, to)` would make current, with its blob, without changing
    /// anything (so that the caller can authorize it first).
    pub fn rollback_target(&self, name: &str, to: Option<&str>) -> Result<VersionRow, StoreError> {
        let detail = self.inspect(name)?;
        let current = parse_version(&detail.current.version)?;
        let kept = detail.versions.into_iter().filter(|v| !v.current);
        match to {
            Some(want) => kept.into_iter().find(|v| v.version == want).ok_or_else(|| {
                StoreError::VersionNotKept {
                    name: crate::names::shown(name),
                    version: crate::names::shown(want),
                }
            }),
            None => kept
                .filter_map(|v| {
                    parse_version(&v.version)
                        .ok()
                        .filter(|p| *p < current)
                        .map(|p| (p, v))
                })
                .max_by(|a, b| a.0.cmp(&b.0))
                .map(|(_, v)| v)
                .ok_or_else(|| StoreError::NoEarlierVersion {
                    name: crate::names::shown(name),
                    current: detail.current.version.clone(),
                }),
        }
    }

    /// Makes a kept version current again: `to`, or else the highest kept version lower than the
    /// current one. Its grants come with it (they are bound to its digest). The blob is verified first.
    pub fn rollback(
        &mut self,
        name: &str,
        to: Option<&str>,
    ) -> Result<InstalledVersion, StoreError> {
        self.check_audit_ok()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(cur) = current_of(&tx, name)? else {
            return Err(StoreError::NotInstalled(crate::names::shown(name)));
        };
        let kept: Vec<(i64, String, String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT id, version, digest, blob FROM versions WHERE name = ?1 AND id != ?2",
            )?;
            let rows = stmt.query_map(params![name, cur.id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let target = match to {
            Some(v) => {
                kept.into_iter()
                    .find(|k| k.1 == v)
                    .ok_or_else(|| StoreError::VersionNotKept {
                        name: crate::names::shown(name),
                        version: crate::names::shown(v),
                    })?
            }
            None => {
                let cv = parse_version(&cur.version)?;
                kept.into_iter()
                    .filter_map(|k| parse_version(&k.1).ok().filter(|v| *v < cv).map(|v| (v, k)))
                    .max_by(|a, b| a.0.cmp(&b.0))
                    .map(|(_, k)| k)
                    .ok_or_else(|| StoreError::NoEarlierVersion {
                        name: crate::names::shown(name),
                        current: cur.version.clone(),
                    })?
            }
        };
        let (id, version, digest, blob_hex) = target;
        let digest_b: BlobDigest = blob_hex.parse()?;
        blob::read(&self.blobs, &digest_b)?;
        tx.execute(
            "UPDATE plugins SET current = ?2, updated_at = ?3 WHERE name = ?1",
            params![name, id, crate::time::now_rfc3339()],
        )?;
        let mut ev = AuditEvent::new(AuditAction::Rollback);
        ev.plugin = Some(name.to_string());
        ev.digest = Some(digest);
        ev.detail.from_version = Some(cur.version);
        ev.detail.to_version = Some(version);
        finish(tx, &self.actor, self.fail_point, &self.home_dir, &[ev])?;
        self.current(name)?
            .ok_or_else(|| StoreError::NotInstalled(crate::names::shown(name)))
    }

    /// The version floor of `name`: the highest version ever installed (kept across `uninstall`;
    /// only `uninstall --purge` forgets it) among those signed by at least one key the trust store
    /// has not revoked. A version signed only by keys revoked since does not count, so after a
    /// compromised key is revoked the publisher's next real release installs normally. `None`
    /// when nothing counts.
    pub fn version_floor(&self, name: &str) -> Result<Option<semver::Version>, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        floor_in(&tx, name)
    }

    /// A number that changes whenever anything that decides what a plugin runs changes: its
    /// current version, enablement, versions or grants (SQLite triggers bump it in the same
    /// transaction, whoever writes). Reading it touches one row, so a long-running reader can ask
    /// on every request whether what it prepared is still what the registry says, without
    /// re-reading the registry while the audit log grows.
    pub fn registry_generation(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT n FROM registry_gen WHERE id = 1")?
            .query_row([], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The current version of `name`, with its grants; `None` when not installed.
    pub fn current(&self, name: &str) -> Result<Option<InstalledVersion>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLS} FROM plugins p JOIN versions v ON v.id = p.current
             LEFT JOIN grants g ON g.digest = v.digest WHERE p.name = ?1"
        );
        // Cached: the daemon asks on every request.
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([name], installed_from_row)
            .optional()?)
    }

    /// The grants bound to a plugin digest; `None` when that digest was never granted anything.
    pub fn grants_for(&self, digest: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let g: Option<String> = self
            .conn
            .prepare_cached("SELECT grants FROM grants WHERE digest = ?1")?
            .query_row([digest], |r| r.get(0))
            .optional()?;
        Ok(g.map(|g| from_json(&g)))
    }

    /// Installed plugins, by name.
    pub fn list(&self) -> Result<Vec<PluginRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT p.name, v.version, v.digest, p.enabled, p.disabled_reason, v.summary,
                    (SELECT COUNT(*) FROM versions k WHERE k.name = p.name) - 1
             FROM plugins p JOIN versions v ON v.id = p.current ORDER BY p.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PluginRow {
                name: r.get(0)?,
                version: r.get(1)?,
                digest: r.get(2)?,
                enabled: r.get::<_, i64>(3)? != 0,
                disabled_reason: r.get(4)?,
                summary: r.get(5)?,
                kept_versions: usize::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Everything about one plugin.
    pub fn inspect(&self, name: &str) -> Result<PluginDetail, StoreError> {
        let current = self
            .current(name)?
            .ok_or_else(|| StoreError::NotInstalled(crate::names::shown(name)))?;
        let (first, updated): (String, String) = self.conn.query_row(
            "SELECT installed_at, updated_at FROM plugins WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let tx = self.conn.unchecked_transaction()?;
        let highest = floor_in(&tx, name)?
            .map(|v| v.to_string())
            .unwrap_or_else(|| current.version.clone());
        drop(tx);
        let mut stmt = self.conn.prepare(
            "SELECT v.version, v.digest, v.blob, v.signers, v.summary, v.installed_at, v.id = p.current
             FROM versions v JOIN plugins p ON p.name = v.name WHERE v.name = ?1 ORDER BY v.id DESC",
        )?;
        let rows = stmt.query_map([name], |r| {
            let blob: String = r.get(2)?;
            Ok(VersionRow {
                version: r.get(0)?,
                digest: r.get(1)?,
                blob: blob.parse().map_err(|e: StoreError| {
                    rusqlite::Error::FromSqlConversionFailure(
                        2,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?,
                signers: from_json(&r.get::<_, String>(3)?),
                summary: r.get(4)?,
                installed_at: r.get(5)?,
                current: r.get(6)?,
            })
        })?;
        let versions = rows.collect::<Result<_, _>>()?;
        Ok(PluginDetail {
            current,
            versions,
            highest_version: highest,
            first_installed_at: first,
            updated_at: updated,
        })
    }

    /// Adds a key to the trust store (audited). A revoked key id may be added again.
    pub fn trust_add(
        &mut self,
        key_id: &str,
        public_key: &str,
        label: &str,
        scopes: Vec<String>,
        ceiling: Option<Vec<String>>,
        expires: Option<String>,
    ) -> Result<(), StoreError> {
        self.check_audit_ok()?;
        check_ident("key id", key_id)?;
        check_text("public key", public_key, MAX_TEXT_BYTES)?;
        check_text("label", label, crate::MAX_NAME_BYTES)?;
        for s in scopes.iter().chain(ceiling.iter().flatten()) {
            check_ident("scope or capability", s)?;
        }
        if let Some(e) = &expires
            && !crate::time::is_rfc3339_utc(e)
        {
            return Err(StoreError::InvalidExpiry(crate::names::shown(e)));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let active: bool = tx
            .prepare("SELECT 1 FROM trusted_keys WHERE key_id = ?1 AND revoked_at IS NULL")?
            .exists([key_id])?;
        if active {
            return Err(StoreError::KeyExists(crate::names::shown(key_id)));
        }
        let scopes_json = to_json("scopes", &serde_json::json!(scopes))?;
        let ceiling_json = ceiling
            .as_ref()
            .map(|c| to_json("ceiling", &serde_json::json!(c)))
            .transpose()?;
        tx.execute(
            "INSERT OR REPLACE INTO trusted_keys (key_id, public_key, label, scopes, ceiling, expires, added_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)",
            params![key_id, public_key, label, scopes_json, ceiling_json, expires, crate::time::now_rfc3339()],
        )?;
        let mut ev = AuditEvent::new(AuditAction::TrustAdd);
        ev.detail.key_id = Some(key_id.to_string());
        ev.detail.scopes = scopes;
        ev.detail.capabilities = ceiling.unwrap_or_default();
        finish(tx, &self.actor, self.fail_point, &self.home_dir, &[ev])
    }

    /// All keys, revoked ones included, by key id.
    pub fn trust_list(&self) -> Result<Vec<TrustedKey>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT key_id, public_key, label, scopes, ceiling, expires, added_at, revoked_at
             FROM trusted_keys ORDER BY key_id",
        )?;
        let rows = stmt.query_map([], |r| {
            let scopes: String = r.get(3)?;
            let ceiling: Option<String> = r.get(4)?;
            Ok(TrustedKey {
                key_id: r.get(0)?,
                public_key: r.get(1)?,
                label: r.get(2)?,
                scopes: serde_json::from_str(&scopes).unwrap_or_default(),
                ceiling: ceiling.map(|c| serde_json::from_str(&c).unwrap_or_default()),
                expires: r.get(5)?,
                added_at: r.get(6)?,
                revoked_at: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes a key and, in the same transaction, disables every enabled plugin whose current
    /// version it signed and that has no other active (trusted, unrevoked, unexpired) signer.
    /// Returns the names of the plugins disabled. Audited: one `trust-revoke` row plus one `disable`
    /// row per plugin.
    pub fn trust_revoke(&mut self, key_id: &str) -> Result<Vec<String>, StoreError> {
        self.check_audit_ok()?;
        let now = crate::time::now_rfc3339();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE trusted_keys SET revoked_at = ?2 WHERE key_id = ?1 AND revoked_at IS NULL",
            params![key_id, now],
        )?;
        if n == 0 {
            return Err(StoreError::UnknownKey(crate::names::shown(key_id)));
        }
        let active: std::collections::HashSet<String> = {
            let mut stmt = tx.prepare(
                "SELECT key_id FROM trusted_keys WHERE revoked_at IS NULL AND (expires IS NULL OR expires > ?1)",
            )?;
            let rows = stmt.query_map([&now], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let plugins: Vec<(String, String, String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT p.name, v.digest, v.version, v.signers FROM plugins p JOIN versions v ON v.id = p.current
                 WHERE p.enabled = 1 ORDER BY p.name",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let reason = format!("signing key {key_id} revoked");
        let mut disabled = Vec::new();
        let mut events = Vec::new();
        for (name, digest, version, signers) in plugins {
            let ids = signer_ids(&from_json(&signers));
            if !ids.iter().any(|i| i == key_id) || ids.iter().any(|i| active.contains(i)) {
                continue;
            }
            tx.execute(
                "UPDATE plugins SET enabled = 0, disabled_reason = ?2, updated_at = ?3 WHERE name = ?1",
                params![name, reason, now],
            )?;
            let mut ev = AuditEvent::new(AuditAction::Disable);
            ev.plugin = Some(name.clone());
            ev.digest = Some(digest);
            ev.detail.version = Some(version);
            ev.detail.reason = Some("signing-key-revoked");
            ev.detail.key_id = Some(key_id.to_string());
            events.push(ev);
            disabled.push(name);
        }
        let mut ev = AuditEvent::new(AuditAction::TrustRevoke);
        ev.detail.key_id = Some(key_id.to_string());
        ev.detail.plugins = disabled.clone();
        events.insert(0, ev);
        finish(tx, &self.actor, self.fail_point, &self.home_dir, &events)?;
        Ok(disabled)
    }

    /// Stores a value in `plugin`'s private data.
    pub fn kv_put(&mut self, plugin: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO data (plugin, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value",
            params![plugin, key, value],
        )?;
        Ok(())
    }

    /// Reads a value of `plugin`'s private data.
    pub fn kv_get(&self, plugin: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM data WHERE plugin = ?1 AND key = ?2",
                params![plugin, key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Deletes a value; returns whether it existed.
    pub fn kv_delete(&mut self, plugin: &str, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM data WHERE plugin = ?1 AND key = ?2",
            params![plugin, key],
        )? > 0)
    }

    /// Number of keys and bytes `plugin` stores.
    pub fn kv_usage(&self, plugin: &str) -> Result<KvUsage, StoreError> {
        let (keys, bytes): (i64, i64) = self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(key) + LENGTH(value)), 0) FROM data WHERE plugin = ?1",
            [plugin],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(KvUsage {
            keys: u64::try_from(keys).unwrap_or(0),
            bytes: u64::try_from(bytes).unwrap_or(0),
        })
    }
}

/// The capability kinds a grant list consents to, for the audit (`{"kind": "capability",
/// "capability": "http"}` entries); values (hosts, paths, environment values) are left out.
fn capability_names(grants: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = grants
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["kind"] == "capability")
        .filter_map(|g| g["capability"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Schema v4: the registry generation (see [`Store::registry_generation`]).
pub(crate) const SCHEMA_V4: &str = "
CREATE TABLE registry_gen (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO registry_gen (id, n) VALUES (1, 0);
CREATE TRIGGER registry_gen_plugins_ins AFTER INSERT ON plugins
    BEGIN UPDATE registry_gen SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER registry_gen_plugins_upd AFTER UPDATE ON plugins
    BEGIN UPDATE registry_gen SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER registry_gen_plugins_del AFTER DELETE ON plugins
    BEGIN UPDATE registry_gen SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER registry_gen_versions_ins AFTER INSERT ON versions
    BEGIN UPDATE registry_gen SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER registry_gen_versions_upd AFTER UPDATE ON versions
    BEGIN UPDATE registry_gen SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER registry_gen_versions_del AFTER DELETE ON versions
    BEGIN UPDATE registry_gen SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER registry_gen_grants_ins AFTER INSERT ON grants
    BEGIN UPDATE registry_gen SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER registry_gen_grants_upd AFTER UPDATE ON grants
    BEGIN UPDATE registry_gen SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER registry_gen_grants_del AFTER DELETE ON grants
    BEGIN UPDATE registry_gen SET n = n + 1 WHERE id = 1; END;
";

/// Schema v5: the release history behind the version floor (see [`Store::version_floor`]), kept
/// across uninstall, and the registry generation also moving with the trust store, so that a
/// cached authorization is re-derived after any key is added, revoked or changed.
pub(crate) const SCHEMA_V5: &str = "
CREATE TABLE released (
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,
    digest       TEXT NOT NULL,
    signers      TEXT,
    installed_at TEXT NOT NULL,
    PRIMARY KEY (name, version, digest)
);
INSERT OR IGNORE INTO released (name, version, digest, signers, installed_at)
    SELECT name, version, digest, signers, installed_at FROM versions;
INSERT OR IGNORE INTO released (name, version, digest, signers, installed_at)
    SELECT h.name, h.version, '', NULL, '' FROM highest h
    WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.name = h.name AND v.version = h.version);
CREATE TRIGGER registry_gen_keys_ins AFTER INSERT ON trusted_keys
    BEGIN UPDATE registry_gen SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER registry_gen_keys_upd AFTER UPDATE ON trusted_keys
    BEGIN UPDATE registry_gen SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER registry_gen_keys_del AFTER DELETE ON trusted_keys
    BEGIN UPDATE registry_gen SET n = n + 1 WHERE id = 1; END;
";
