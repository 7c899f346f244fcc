//! Reading a proposal's source directory, bounded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Most files read from a source directory. Threat: a directory of millions of files making
/// the proposal (and its stored record) grow without end.
pub const MAX_SOURCE_FILES: usize = 256;
/// Most bytes read from a source directory in total. Threat: the same, in bytes.
pub const MAX_SOURCE_BYTES: u64 = 512 * 1024;
/// Deepest directory nesting followed. Threat: a deep tree making the walk recurse without end.
const MAX_DEPTH: usize = 16;

/// Why a source directory was refused.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A file or directory cannot be read.
    #[error("cannot read {}", .path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Too many files or bytes.
    #[error(
        "the source directory holds more than {MAX_SOURCE_FILES} files or {MAX_SOURCE_BYTES} bytes (build outputs such as target/ are skipped)"
    )]
    TooLarge,
    /// Nested deeper than the walk follows.
    #[error("the source directory is nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// The text files under `dir` (relative path → text). Skips `target`, `.git` and
/// `node_modules`, symbolic links and files that are not UTF-8.
pub fn read_source_dir(dir: &Path) -> Result<BTreeMap<String, String>, SourceError> {
    let mut out = BTreeMap::new();
    let mut total = 0u64;
    walk(dir, dir, 0, &mut out, &mut total)?;
    Ok(out)
}

fn walk(
    root: &Path,
    dir: &Path,
    depth: usize,
    out: &mut BTreeMap<String, String>,
    total: &mut u64,
) -> Result<(), SourceError> {
    if depth > MAX_DEPTH {
        return Err(SourceError::TooDeep);
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| SourceError::Io { path, source }
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path))?;
        let name = entry.file_name();
        if kind.is_dir() {
            if matches!(name.to_str(), Some("target" | ".git" | "node_modules")) {
                continue;
            }
            walk(root, &path, depth + 1, out, total)?;
        } else if kind.is_file() {
            let len = entry.metadata().map_err(io(&path))?.len();
            *total = total.saturating_add(len);
            if out.len() >= MAX_SOURCE_FILES || *total > MAX_SOURCE_BYTES {
                return Err(SourceError::TooLarge);
            }
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.insert(rel, text);
        }
    }
    Ok(())
}
