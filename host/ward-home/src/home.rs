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
