//! Load: read a component with a size cap, check that it is a component ward can run, compute
//! its digest, and compile it once — from the on-disk artifact cache when an unaltered artifact
//! for the same digest and engine settings exists, otherwise with Cranelift under a time cap.
//!
//! Nothing here runs guest code. A file that is not a component, a truncated component, a core
//! module or a component that imports an interface ward does not provide is refused before
//! anything is compiled or cached.
#![deny(missing_docs)]

mod cache;
mod inspect;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub use cache::{ArtifactCache, CacheError, private_dir};
pub use inspect::{ComponentInfo, ExportKind, inspect, is_known_import};

/// The SHA-256 of a component's exact bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// Hashes `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// Lowercase hex, 64 characters.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The component is larger than ward reads.
    #[error("{what} is larger than the {max} byte limit for components")]
    TooLarge {
        /// The file or source.
        what: String,
        /// The cap, in bytes.
        max: u64,
    },
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly component: the file does not start with the \\0asm header")]
    NotWasm,
    /// The bytes are a core module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component: build the plugin for wasm32-wasip2, or wrap the module with `wasm-tools component new`"
    )]
    CoreModule,
    /// The bytes are not a well-formed component.
    #[error("malformed component (truncated or corrupt) at byte offset {offset}: {message}")]
    Malformed {
        /// Where parsing stopped.
        offset: usize,
        /// The parser's complaint.
        message: String,
    },
    /// The component imports something ward does not provide.
    #[error(
        "the component imports `{name}`, which ward does not provide: a plugin may import the WASI 0.2 interfaces (wasi:cli, wasi:io, wasi:clocks, wasi:random, wasi:filesystem, wasi:sockets, wasi:http) and ward:plugin interfaces only"
    )]
    UnknownImport {
        /// The import's name.
        name: String,
    },
    /// The component exports nothing ward can call.
    #[error(
        "the component exports no commands: a plugin exports top-level functions (its world includes ward:plugin/plugin@0.1.0) or wasi:cli/run"
    )]
    NoCommands,
    /// A static bound on compile work was exceeded.
    #[error("the component has {what} ({value}), more than the limit of {max}")]
    TooComplex {
        /// What was counted.
        what: &'static str,
        /// How many.
        value: u64,
        /// The cap.
        max: u64,
    },
    /// Cranelift refused the component (invalid, or uses features ward's engine disables).
    #[error("the component failed to compile: {0:#}")]
    Compile(wasmtime::Error),
    /// Compilation took longer than allowed.
    #[error("compiling the component took longer than {}s; it is refused", .0.as_secs())]
    CompileTimeout(Duration),
    /// The compiled-artifact cache could not be used.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// Reads a component from `path`, refusing files over `max` bytes without reading them whole.
pub fn read_file(path: &Path, max: u64) -> Result<Vec<u8>, LoadError> {
    let read_err = |source| LoadError::Read {
        path: path.to_owned(),
        source,
    };
    // Non-blocking open: opening a FIFO for reading would otherwise wait for a writer forever.
    // The flag changes nothing for a regular file, and anything else is refused right after.
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        let kind = meta.file_type();
        use std::os::unix::fs::FileTypeExt as _;
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(read_err(std::io::Error::other(format!(
            "{what}: ward reads components only from regular files"
        ))));
    }
    read_bounded(file, max, &path.display().to_string())
}

/// Reads at most `max` bytes from `reader`; more is a [`LoadError::TooLarge`].
pub fn read_bounded(reader: impl Read, max: u64, what: &str) -> Result<Vec<u8>, LoadError> {
    let mut bytes = Vec::new();
    reader
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| LoadError::Read {
            path: PathBuf::from(what),
            source,
        })?;
    if bytes.len() as u64 > max {
        return Err(LoadError::TooLarge {
            what: what.to_owned(),
            max,
        });
    }
    Ok(bytes)
}

/// Where a loaded component's machine code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Compiled now with Cranelift (and stored in the cache, when there is one).
    Compiled,
    /// Deserialized from a verified cached artifact.
    Cache,
}

/// A component that passed every load check and is ready to link.
#[derive(Clone)]
pub struct Loaded {
    /// SHA-256 of the component's bytes.
    pub digest: Digest,
    /// The compiled component.
    pub component: Component,
    /// What the static checks found.
    pub info: Arc<ComponentInfo>,
    /// Where the machine code came from.
    pub origin: Origin,
}

/// Checks `bytes`, then compiles them or takes them from `cache`.
///
/// The checks run first and fail closed: nothing is compiled or cached for a component that is
/// not one, imports something unknown, exports no command, or exceeds a static bound.
pub fn load(
    engine: &Engine,
    cache: Option<&ArtifactCache>,
    bytes: &[u8],
) -> Result<Loaded, LoadError> {
    if bytes.len() as u64 > ward_policy::MAX_COMPONENT_BYTES {
        return Err(LoadError::TooLarge {
            what: "the component".into(),
            max: ward_policy::MAX_COMPONENT_BYTES,
        });
    }
    let info = Arc::new(inspect(bytes)?);
    let digest = Digest::of(bytes);
    if let Some(cache) = cache
        && let Some(component) = cache.get(engine, &digest)
    {
        return Ok(Loaded {
            digest,
            component,
            info,
            origin: Origin::Cache,
        });
    }
    let component = compile(engine, bytes, ward_policy::COMPILE_TIMEOUT)?;
    if let Some(cache) = cache {
        // A cache that cannot be written costs the next load a compile, nothing more.
        if let Err(err) = cache.put(&digest, &component) {
            tracing::warn!(%digest, "not caching compiled component: {err}");
        }
    }
    Ok(Loaded {
        digest,
        component,
        info,
        origin: Origin::Compiled,
    })
}

/// Held while a component compiles.
static COMPILING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Compiles `bytes` on a worker thread and gives up after `timeout`.
///
/// Cranelift cannot be interrupted, so on timeout the worker thread is left to finish on its
/// own and its result is dropped; the static bounds checked by [`inspect`] keep that work finite.
pub fn compile(engine: &Engine, bytes: &[u8], timeout: Duration) -> Result<Component, LoadError> {
    let (tx, rx) = mpsc::sync_channel(1);
    let engine = engine.clone();
    let bytes: Arc<[u8]> = Arc::from(bytes);
    std::thread::Builder::new()
        .name("ward-compile".into())
        .spawn(move || {
            // One compilation at a time in the process: the static bounds cap each one's memory,
            // and this keeps concurrent installs or loads from multiplying it.
            let _one = COMPILING.lock().unwrap_or_else(|p| p.into_inner());
            let result = Component::new(&engine, &*bytes);
            let _ = tx.send(result);
        })
        .map_err(|err| LoadError::Compile(wasmtime::Error::msg(err.to_string())))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(component)) => Ok(component),
        Ok(Err(err)) => Err(LoadError::Compile(err)),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(LoadError::CompileTimeout(timeout)),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(LoadError::Compile(wasmtime::Error::msg(
            "the compiler thread stopped without a result",
        ))),
    }
}
