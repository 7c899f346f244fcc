//! ward's data directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The data directory and the places inside it.
#[derive(Debug, Clone)]
pub(crate) struct Home {
    root: PathBuf,
}

impl Home {
    /// `WARD_HOME` (or `--home`), else `$XDG_DATA_HOME/ward`, else `~/.local/share/ward`.
    /// Nothing is created until something needs it.
    pub(crate) fn locate(explicit: Option<&Path>) -> anyhow::Result<Home> {
        let root = match explicit {
            Some(dir) if dir.as_os_str().is_empty() => bail!("WARD_HOME is set but empty"),
            Some(dir) => dir.to_owned(),
            None => match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
                Some(data) => PathBuf::from(data).join("ward"),
                None => {
                    let home = std::env::var_os("HOME")
                        .filter(|v| !v.is_empty())
                        .context("cannot find a data directory: set WARD_HOME or HOME")?;
                    PathBuf::from(home).join(".local/share/ward")
                }
            },
        };
        let root = if root.is_relative() {
            std::env::current_dir()
                .context("cannot resolve the data directory")?
                .join(root)
        } else {
            root
        };
        Ok(Home { root })
    }

    /// The data directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The operator's policy file.
    pub(crate) fn policy_file(&self) -> PathBuf {
        self.root.join("policy.toml")
    }

    /// Where compiled components are cached.
    pub(crate) fn artifact_cache(&self) -> PathBuf {
        self.root.join("cache").join("compiled")
    }

    /// Creates the data directory itself, private to this user.
    pub(crate) fn ensure(&self) -> anyhow::Result<()> {
        ward_load::private_dir(&self.root)
            .with_context(|| format!("cannot use data directory {}", self.root.display()))?;
        ward_load::private_dir(&self.root.join("cache"))?;
        Ok(())
    }
}
