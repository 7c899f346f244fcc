//! Why an install did not happen: one typed value per refusal, with its audit reason.

use ward_signing::Capability;

/// Why an install did not happen. [`Refusal::reason`] is the audit reason of the `deny` row the
/// pipeline wrote (none for errors that are not a policy decision, like an unreadable file);
/// [`Refusal::is_usage`] tells a mistake in the request from a refusal of the plugin.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The source could not be read.
    #[error(transparent)]
    Read(#[from] crate::read::ReadError),
    /// The data directory, the store or the trust store cannot be used.
    #[error(transparent)]
    Home(Problem),
    /// The signatures, the signed manifest or the trust policy refuse the component.
    #[error("refusing {shown}: {source}")]
    Unauthorized {
        /// The source or plugin name.
        shown: String,
        /// Why.
        #[source]
        source: ward_trust::Unauthorized,
    },
    /// The bytes are not a component ward can link.
    #[error("refusing {name}")]
    NotAComponent {
        /// The plugin.
        name: String,
        /// Why.
        #[source]
        source: ward_load::LoadError,
    },
    /// The component imports a capability its manifest does not declare, or an interface ward
    /// does not provide.
    #[error("refusing {name}")]
    UndeclaredImport {
        /// The plugin.
        name: String,
        /// Why.
        #[source]
        source: ward_manifest::ManifestError,
    },
    /// An operator value (`--env`, `--dir`) is missing, undeclared or not allowed.
    #[error("cannot install {name}: {message}")]
    OperatorValue {
        /// The plugin.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A directory grant reaches ward's own data directory.
    #[error("cannot install {name}: --dir {guest}")]
    GrantReachesWard {
        /// The plugin.
        name: String,
        /// The directory as the plugin sees it.
        guest: String,
        /// The overlap.
        #[source]
        source: Box<ward_home::GrantOverlap>,
    },
    /// The version is below the floor and the downgrade was not confirmed.
    #[error(
        "refusing to install {name} {version}: version {floor} has been installed; a downgrade needs --allow-downgrade and the typed confirmation '{phrase}'"
    )]
    Downgrade {
        /// The plugin.
        name: String,
        /// The refused version.
        version: String,
        /// The version floor.
        floor: String,
        /// What to type.
        phrase: String,
    },
    /// `--yes` was given for capabilities `policy.toml` does not pre-approve.
    #[error(
        "refusing {name}: --yes accepts only capabilities pre-approved in {policy_file} and these are not: {}",
        .missing.iter().map(|c| capability_name(*c)).collect::<Vec<_>>().join(", ")
    )]
    NotPreapproved {
        /// The plugin.
        name: String,
        /// The capabilities missing from the pre-approval.
        missing: Vec<Capability>,
        /// The policy file.
        policy_file: String,
    },
    /// The upgrade asks for more authority and the phrase was not typed.
    #[error(
        "refusing to install {name} {version}: it asks for more authority than the installed version ({}); type the exact phrase '{phrase}' on a terminal, or pass --confirm '{phrase}' (pre-approval in policy.toml does not cover more authority)",
        .escalations.join("; ")
    )]
    PhraseMissing {
        /// The plugin.
        name: String,
        /// The version.
        version: String,
        /// What it adds.
        escalations: Vec<String>,
        /// What to type.
        phrase: String,
    },
    /// Nobody could be asked.
    #[error(
        "stdin is not a terminal: run interactively, or pass --yes (which accepts only pre-approved capabilities)"
    )]
    NotInteractive,
    /// The operator said no.
    #[error("not installed: the operator declined")]
    Declined,
    /// The operator's terminal failed while asking.
    #[error("cannot ask the operator")]
    Ask(#[source] std::io::Error),
    /// wasmtime refused the component.
    #[error("refusing {name}")]
    Compile {
        /// The plugin.
        name: String,
        /// Why.
        #[source]
        source: ward_load::LoadError,
    },
    /// The store refused or failed the commit (nothing was installed).
    #[error("cannot install {name}")]
    Commit {
        /// The plugin.
        name: String,
        /// Why.
        #[source]
        source: ward_store::StoreError,
    },
}

impl Refusal {
    /// The audit reason of the `deny` row written for this refusal, if it is a policy decision.
    pub fn reason(&self) -> Option<&'static str> {
        Some(match self {
            Refusal::Unauthorized { source, .. } => source.reason(),
            Refusal::NotAComponent { .. } => "not-a-component",
            Refusal::UndeclaredImport { .. } => "undeclared-import",
            Refusal::GrantReachesWard { .. } => "grant-reaches-ward",
            Refusal::Downgrade { .. } => "downgrade",
            Refusal::NotPreapproved { .. } => "not-preapproved",
            Refusal::PhraseMissing { .. } => "phrase-missing",
            Refusal::Declined => "operator-declined",
            Refusal::Compile { .. } => "compile-failed",
            Refusal::Read(_)
            | Refusal::Home(_)
            | Refusal::OperatorValue { .. }
            | Refusal::NotInteractive
            | Refusal::Ask(_)
            | Refusal::Commit { .. } => return None,
        })
    }

    /// Whether the request itself was wrong (exit status 2), rather than the plugin refused
    /// (exit status 1).
    pub fn is_usage(&self) -> bool {
        match self {
            Refusal::Read(e) => e.is_usage(),
            Refusal::Home(_)
            | Refusal::OperatorValue { .. }
            | Refusal::GrantReachesWard { .. }
            | Refusal::NotInteractive
            | Refusal::Ask(_) => true,
            _ => false,
        }
    }

    pub(crate) fn open(err: ward_home::OpenError) -> Refusal {
        Refusal::Home(Problem::new(err))
    }

    pub(crate) fn home(err: impl std::error::Error + Send + Sync + 'static) -> Refusal {
        Refusal::Home(Problem::new(err))
    }
}

/// The name of a capability kind as written in `policy.toml`.
pub(crate) fn capability_name(c: Capability) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{c:?}"))
}

/// The data directory, store or trust store problem behind [`Refusal::Home`], with its chain of
/// sources.
#[derive(Debug)]
pub struct Problem(Box<dyn std::error::Error + Send + Sync>);

impl Problem {
    pub(crate) fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Problem(Box::new(e))
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Problem {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
