//! The agent token `ward mcp` presents to the daemon: from `WARD_TOKEN` or a private file, never
//! from a command-line argument (which any user on the machine can read in `ps`).

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// Largest token file read, in bytes.
///
/// Threat: `--token-file` pointed at a huge or endless file (`/dev/zero`) exhausting memory.
pub const MAX_TOKEN_FILE_BYTES: u64 = 4096;

/// Longest token accepted, in bytes. A `wk_` token is 55 bytes; anything much longer is not one.
const MAX_TOKEN_BYTES: usize = 256;

/// Why no usable token was found.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Neither source was given.
    #[error(
        "no agent token: set WARD_TOKEN or pass --token-file PATH (create one with `ward token create --plugin NAME`)"
    )]
    Missing,
    /// Both sources were given; which one was meant is unclear.
    #[error("the agent token is given both in WARD_TOKEN and with --token-file; give only one")]
    Both,
    /// The token file cannot be read.
    #[error("cannot read the token file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token file is not a regular file.
    #[error("the token file {path} is not a regular file")]
    NotAFile {
        /// The file.
        path: PathBuf,
    },
    /// Other users may read the token file.
    #[error(
        "the token file {path} can be read or written by other users (mode {mode:o}); run chmod 600 {path}"
    )]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The token file is larger than [`MAX_TOKEN_FILE_BYTES`].
    #[error(
        "the token file {path} is larger than {MAX_TOKEN_FILE_BYTES} bytes; it holds no agent token"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The text is not shaped like an agent token.
    #[error(
        "{source_name} does not hold an agent token (expected wk_ followed by letters and digits)"
    )]
    Malformed {
        /// Where the text came from: `WARD_TOKEN` or the file's path.
        source_name: String,
    },
}

/// An agent token. Its value never appears in `Debug` output or logs.
#[derive(Clone)]
pub struct AgentToken(String);

impl std::fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AgentToken").field(&"wk_…").finish()
    }
}

impl AgentToken {
    /// Checks the shape of `text` (surrounding whitespace removed): `wk_` then ASCII letters and
    /// digits. The daemon decides whether it is valid.
    pub fn parse(text: &str, source_name: &str) -> Result<AgentToken, TokenError> {
        let t = text.trim();
        let well_formed = t.len() <= MAX_TOKEN_BYTES
            && t.strip_prefix("wk_").is_some_and(|rest| {
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if !well_formed {
            return Err(TokenError::Malformed {
                source_name: source_name.to_owned(),
            });
        }
        Ok(AgentToken(t.to_owned()))
    }

    /// The token, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Finds the token: `env` is the value of `WARD_TOKEN` (if set), `file` the `--token-file`
    /// path. Exactly one must be given; the file must be a regular file no other user can read
    /// or write.
    pub fn from_sources(env: Option<&str>, file: Option<&Path>) -> Result<AgentToken, TokenError> {
        match (env.filter(|e| !e.is_empty()), file) {
            (None, None) => Err(TokenError::Missing),
            (Some(_), Some(_)) => Err(TokenError::Both),
            (Some(e), None) => AgentToken::parse(e, "WARD_TOKEN"),
            (None, Some(path)) => AgentToken::read_file(path),
        }
    }

    fn read_file(path: &Path) -> Result<AgentToken, TokenError> {
        let read_err = |source| TokenError::Read {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let meta = file.metadata().map_err(read_err)?;
        if !meta.is_file() {
            return Err(TokenError::NotAFile {
                path: path.to_owned(),
            });
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(TokenError::Exposed {
                path: path.to_owned(),
                mode,
            });
        }
        let mut text = String::new();
        file.take(MAX_TOKEN_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(read_err)?;
        if text.len() as u64 > MAX_TOKEN_FILE_BYTES {
            return Err(TokenError::TooLarge {
                path: path.to_owned(),
            });
        }
        AgentToken::parse(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn token_sources_table() {
        let dir = tempfile::tempdir().unwrap();
        let good = write(dir.path(), "good", "wk_ABC234\n", 0o600);
        let open = write(dir.path(), "open", "wk_ABC234\n", 0o644);
        let junk = write(dir.path(), "junk", "hello world", 0o600);
        let big = write(dir.path(), "big", &"a".repeat(5000), 0o600);

        let t = AgentToken::from_sources(None, Some(&good)).unwrap();
        assert_eq!(t.expose(), "wk_ABC234");
        assert_eq!(format!("{t:?}"), "AgentToken(\"wk_…\")");
        let t = AgentToken::from_sources(Some(" wk_XYZ "), None).unwrap();
        assert_eq!(t.expose(), "wk_XYZ");

        let err = |env: Option<&str>, file: Option<&Path>| {
            AgentToken::from_sources(env, file).unwrap_err().to_string()
        };
        assert!(err(None, None).starts_with("no agent token: set WARD_TOKEN"));
        assert!(err(Some(""), None).starts_with("no agent token"));
        assert_eq!(
            err(Some("wk_A"), Some(&good)),
            "the agent token is given both in WARD_TOKEN and with --token-file; give only one"
        );
        assert_eq!(
            err(None, Some(&open)),
            format!(
                "the token file {p} can be read or written by other users (mode 644); run chmod 600 {p}",
                p = open.display()
            )
        );
        assert_eq!(
            err(None, Some(&junk)),
            format!(
                "{} does not hold an agent token (expected wk_ followed by letters and digits)",
                junk.display()
            )
        );
        assert!(err(None, Some(&big)).contains("is larger than 4096 bytes"));
        assert!(err(None, Some(dir.path())).contains("is not a regular file"));
        assert!(
            err(None, Some(&dir.path().join("missing"))).starts_with("cannot read the token file")
        );
        for bad in ["wk_", "wk_a b", "tk_abc", "wk_abc\u{202e}", "Bearer wk_abc"] {
            assert!(AgentToken::parse(bad, "WARD_TOKEN").is_err(), "{bad:?}");
        }
        assert!(AgentToken::parse(&format!("wk_{}", "a".repeat(300)), "x").is_err());
    }
}
