//! Why a manifest, or the component carrying it, was refused.

/// A manifest or component that ward refuses. Messages name the bad input (cut and with control
/// characters escaped) and, where it helps, what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The manifest is larger than [`crate::MAX_MANIFEST_BYTES`]; it was not parsed.
    #[error("the manifest is {size} bytes; the limit is {max} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The manifest is not UTF-8.
    #[error("the manifest is not UTF-8 text")]
    NotUtf8,
    /// The manifest is not TOML, or has a field of the wrong type, a missing field or an unknown
    /// one.
    #[error("invalid manifest: {0}")]
    Toml(String),
    /// A field has a value ward refuses.
    #[error("{field}: {message}")]
    Invalid {
        /// Where, as a path such as `capabilities.network[1].url`.
        field: String,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// The bytes are not a WebAssembly component.
    #[error("not a WebAssembly component (it does not start with the component preamble)")]
    NotAComponent,
    /// The bytes are a core module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component: build the plugin for wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    /// A section runs past the end of the file or has a malformed length or name.
    #[error("malformed component: {reason} at byte {offset}")]
    Malformed {
        /// Where the bad section starts.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The component has more top-level sections than ward reads.
    #[error("the component has more than {max} top-level sections")]
    TooManySections {
        /// The limit.
        max: usize,
    },
    /// The component is larger than [`ward_policy::MAX_COMPONENT_BYTES`].
    #[error("the component is {size} bytes; the limit is {max} bytes")]
    ComponentTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: u64,
    },
    /// The component already carries a signature: the manifest must be embedded before signing,
    /// so that the signature covers it.
    #[error(
        "the component is already signed: embed the manifest first (`ward pack`), then sign the result"
    )]
    AlreadySigned,
    /// The component carries more than one manifest section.
    #[error("the component has {0} ward-manifest sections; a plugin carries at most one")]
    DuplicateManifest(usize),
    /// The component imports a capability interface the manifest does not declare.
    #[error("the component imports `{import}` but the manifest declares no {capability}: {hint}")]
    Undeclared {
        /// The import, as the component names it.
        import: String,
        /// The manifest field it needs.
        capability: &'static str,
        /// What to add to the manifest.
        hint: &'static str,
    },
    /// The component imports an interface ward does not provide.
    #[error(
        "the component imports `{0}`, which ward does not provide: a plugin may import the WASI 0.2 interfaces (wasi:cli, wasi:io, wasi:clocks, wasi:random, wasi:filesystem, wasi:sockets, wasi:http) and ward:plugin/log@0.1 (ward:plugin/keyvalue and ward:plugin/confirm when declared)"
    )]
    UnknownImport(String),
}

impl ManifestError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ManifestError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Most characters of a refused value quoted back in an error. Threat: a 10 KB hostile name
/// copied into every log line and terminal that shows the error.
const MAX_SHOWN_CHARS: usize = 80;

/// A value as quoted in an error: control, bidi and other invisible characters escaped, cut to
/// [`MAX_SHOWN_CHARS`] characters with `…`.
pub(crate) fn shown(value: &str) -> String {
    shown_max(value, MAX_SHOWN_CHARS)
}

/// Like [`shown`], cut at `max` characters.
pub(crate) fn shown_max(value: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() || ward_policy::text::is_bidi_control(c) || is_invisible(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Zero-width and other invisible format characters that make two texts look the same.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}
