//! ward's data directory.

use std::path::{Path, PathBuf};

/// Why the data directory cannot be found or used.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// `WARD_HOME` (or `--home`) is the empty string.
    #[error("WARD_HOME is set but empty")]
    Empty,
    /// Neither `WARD_HOME`, `XDG_DATA_HOME` nor `HOME` is set.
    #[error("cannot find a data directory: set WARD_HOME or HOME")]
    NotFound,
    /// A relative data directory and no current directory to resolve it against.
    #[error("cannot resolve the data directory")]
    CurrentDir(#[source] std::io::Error),
    /// The directory cannot be created private to this user.
    #[error("cannot use data directory {}", .path.display())]
    Unusable {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: ward_load::CacheError,
    },
}

/// Why a directory may not be granted to a plugin.
#[derive(Debug, thiserror::Error)]
pub enum GrantOverlap {
    /// The directory is, contains or is inside ward's data directory.
    #[error(
        "{} {relation} ward's data directory {} (resolved: {}): a plugin given it could read or change ward's store, keys, secrets, sockets or policy; grant a directory outside it",
        .path.display(), .home.display(), .resolved.display()
    )]
    Ward {
        /// The directory as given.
        path: PathBuf,
        /// It with links resolved.
        resolved: PathBuf,
        /// `is`, `contains` or `is inside`.
        relation: &'static str,
        /// The data directory, resolved.
        home: PathBuf,
    },
}

/// `path` with links resolved; for a path that does not exist yet, its nearest existing ancestor
/// resolved with the rest appended.
fn canonical_or_planned(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut cur = path.to_path_buf();
    loop {
        if let Ok(c) = cur.canonicalize() {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (cur.file_name().map(|n| n.to_owned()), cur.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                cur = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// The data directory and the places inside it.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// `WARD_HOME` (or `--home`), else `$XDG_DATA_HOME/ward`, else `~/.local/share/ward`.
    /// Nothing is created until something needs it.
    pub fn locate(explicit: Option<&Path>) -> Result<Home, HomeError> {
        let root = match explicit {
            Some(dir) if dir.as_os_str().is_empty() => return Err(HomeError::Empty),
            Some(dir) => dir.to_owned(),
            None => match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
                Some(data) => PathBuf::from(data).join("ward"),
                None => {
                    let home = std::env::var_os("HOME")
                        .filter(|v| !v.is_empty())
                        .ok_or(HomeError::NotFound)?;
                    PathBuf::from(home).join(".local/share/ward")
                }
            },
        };
        let root = if root.is_relative() {
            std::env::current_dir()
                .map_err(HomeError::CurrentDir)?
                .join(root)
        } else {
            root
        };
        Ok(Home { root })
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The operator's policy file.
    pub fn policy_file(&self) -> PathBuf {
        self.root.join("policy.toml")
    }

    /// Where compiled components are cached.
    pub fn artifact_cache(&self) -> PathBuf {
        self.root.join("cache").join("compiled")
    }

    /// Refuses a directory that would give a plugin a way into ward itself: one that is, is
    /// inside, or contains the data directory (and so the store, the blobs, the secret store and
    /// its key, the compiled cache, the daemon's sockets and `policy.toml` / `daemon.toml`), with
    /// symbolic links resolved on both sides. Checked when a grant is made and again at every run,
    /// since either side may have moved or been replaced by a link since.
    pub fn check_outside(&self, dir: &Path) -> Result<(), GrantOverlap> {
        // Either side may not exist yet (a fixed path created later, a home nothing was installed
        // in): then its nearest existing ancestor, resolved, with the rest appended, is where it
        // will be.
        let granted = canonical_or_planned(dir);
        let home = canonical_or_planned(&self.root);
        let relation = if granted == home {
            Some("is")
        } else if home.starts_with(&granted) {
            Some("contains")
        } else if granted.starts_with(&home) {
            Some("is inside")
        } else {
            None
        };
        match relation {
            None => Ok(()),
            Some(relation) => Err(GrantOverlap::Ward {
                path: dir.to_owned(),
                resolved: granted,
                relation,
                home,
            }),
        }
    }

    /// Creates the data directory itself, private to this user.
    pub fn ensure(&self) -> Result<(), HomeError> {
        for dir in [self.root.clone(), self.root.join("cache")] {
            ward_load::private_dir(&dir).map_err(|source| HomeError::Unusable {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn grants_that_reach_the_data_directory_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let root = base.join("home/.local/share/ward");
        std::fs::create_dir_all(root.join("run")).unwrap();
        std::fs::create_dir_all(base.join("elsewhere")).unwrap();
        std::fs::create_dir_all(base.join("home/.local/share/wardrobe")).unwrap();
        std::os::unix::fs::symlink(&root, base.join("link-to-home")).unwrap();
        let home = Home::locate(Some(&root)).unwrap();
        let table: &[(&str, Option<&str>)] = &[
            ("home/.local/share/ward", Some("is")),
            ("home/.local/share/ward/run", Some("is inside")),
            ("home", Some("contains")),
            ("", Some("contains")),
            ("link-to-home", Some("is")),
            ("elsewhere", None),
            ("home/.local/share/wardrobe", None),
        ];
        for (dir, want) in table {
            let got = home.check_outside(&base.join(dir));
            match (want, got) {
                (None, Ok(())) => {}
                (Some(rel), Err(GrantOverlap::Ward { relation, .. })) => {
                    assert_eq!(relation, *rel, "{dir}")
                }
                (want, got) => panic!("{dir}: wanted {want:?}, got {got:?}"),
            }
        }
        // A home that does not exist yet is protected where it will be.
        let later = Home::locate(Some(&base.join("elsewhere/ward"))).unwrap();
        assert!(later.check_outside(&base.join("elsewhere")).is_err());
        assert!(home.check_outside(&base.join("missing")).is_ok());
        assert!(home.check_outside(&root.join("not-yet/there")).is_err());
    }
}
