//! Step 1, read: the component's bytes from where the operator named them, size-capped.
//!
//! A path is opened only as a regular file (a FIFO, a device or a directory is refused at once,
//! without blocking); a URL is downloaded over https (plain http only to loopback) with a size cap
//! and timeouts (see [`crate::download`]).

use std::path::Path;

/// Where the bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file.
    File(std::path::PathBuf),
    /// An `https://` (or loopback `http://`) URL.
    Url(String),
}

impl Source {
    /// A URL when `text` looks like one, else a path.
    pub fn parse(text: &str) -> Source {
        if crate::is_url(text) {
            Source::Url(text.to_owned())
        } else {
            Source::File(text.into())
        }
    }
}

/// Why the bytes could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file cannot be read (missing, not a regular file, too large).
    #[error(transparent)]
    File(#[from] ward_load::LoadError),
    /// The download failed or was refused.
    #[error(transparent)]
    Download(#[from] crate::DownloadError),
    /// No async runtime for the download.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
}

impl ReadError {
    /// A file that cannot be read is the operator's mistake; a refused download is the source's.
    pub fn is_usage(&self) -> bool {
        !matches!(self, ReadError::Download(_))
    }
}

/// Reads the component named by `source`, at most `max` bytes.
pub fn read_source(source: &Source, max: u64) -> Result<Vec<u8>, ReadError> {
    match source {
        Source::File(path) => Ok(read_regular_file(path, max)?),
        Source::Url(url) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(ReadError::Runtime)?;
            Ok(rt.block_on(crate::download(url, max))?)
        }
    }
}

/// Reads a regular file of at most `max` bytes (see [`ward_load::read_file`]).
fn read_regular_file(path: &Path, max: u64) -> Result<Vec<u8>, ward_load::LoadError> {
    ward_load::read_file(path, max)
}
