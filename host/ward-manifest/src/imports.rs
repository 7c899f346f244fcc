//! Comparing what a component imports with what its manifest declares.

use std::fmt;

use crate::error::{ManifestError, shown};
use crate::schema::Manifest;

const OUTGOING_HANDLER: &str = "wasi:http/outgoing-handler";
const PREOPENS: &str = "wasi:filesystem/preopens";
const ENVIRONMENT: &str = "wasi:cli/environment";
const KEYVALUE: &str = "ward:plugin/keyvalue";
const CONFIRM: &str = "ward:plugin/confirm";

/// WASI 0.2 packages ward links.
const WASI_PACKAGES: &[&str] = &[
    "wasi:cli",
    "wasi:io",
    "wasi:clocks",
    "wasi:random",
    "wasi:filesystem",
    "wasi:sockets",
    "wasi:http",
];

/// Something the operator should know about a plugin that is nonetheless accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// The component imports `wasi:filesystem/preopens` but the manifest declares no files: it
    /// will see no directories. (Rust's standard library imports it as soon as it touches files.)
    FilesystemWithoutFiles {
        /// The import.
        import: String,
    },
    /// The component imports `wasi:sockets` interfaces; ward denies every socket operation.
    /// (Rust's standard library imports them all as soon as it touches `std::net`.)
    SocketsDenied {
        /// The imports, in import order.
        imports: Vec<String>,
    },
    /// The manifest declares a capability that the component cannot use, because it never
    /// imports the interface that provides it.
    NeverImported {
        /// What the manifest declares, in words ("network access").
        declared: &'static str,
        /// The interface that would use it.
        interface: &'static str,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::FilesystemWithoutFiles { import } => write!(
                f,
                "imports {import} but declares no files: it will see no directories"
            ),
            Warning::SocketsDenied { imports } => write!(
                f,
                "imports {}: sockets are always denied (use wasi:http for the network)",
                imports.join(", ")
            ),
            Warning::NeverImported {
                declared,
                interface,
            } => write!(f, "declares {declared} but never imports {interface}"),
        }
    }
}

/// An import name split into `package/interface` and version.
struct Import<'a> {
    /// `namespace:package/interface`.
    interface: &'a str,
    /// `namespace:package`.
    package: &'a str,
    version: &'a str,
}

fn split(name: &str) -> Option<Import<'_>> {
    let (interface, version) = name.split_once('@')?;
    let (package, iface) = interface.split_once('/')?;
    let (ns, pkg) = package.split_once(':')?;
    let ident = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    (ident(ns) && ident(pkg) && ident(iface)).then_some(Import {
        interface,
        package,
        version,
    })
}

/// `version` is `prefix` followed by one or more digits, optionally with a pre-release or
/// build suffix (`0.2.6`, `0.2.0-rc-2023-11-10`).
fn version_in(version: &str, prefix: &str) -> bool {
    version.strip_prefix(prefix).is_some_and(|rest| {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        digits > 0 && (digits == rest.len() || rest[digits..].starts_with(['-', '+']))
    })
}

/// Checks a component's top-level instance imports (such as `wasi:http/outgoing-handler@0.2.6`)
/// against its manifest.
///
/// Refused: an interface ward does not provide (anything outside `wasi:{cli,io,clocks,random,
/// filesystem,sockets,http}/*@0.2.*` and `ward:plugin/log@0.1.*`), and a capability interface
/// the manifest does not declare: `wasi:http/outgoing-handler` without `capabilities.network`,
/// `ward:plugin/keyvalue@0.1.*` without `capabilities.keyvalue`, `ward:plugin/confirm@0.1.*`
/// without `capabilities.confirm`. The first refusal, in import order, is returned.
///
/// Accepted with a [`Warning`]: `wasi:filesystem/preopens` without `capabilities.files` (no
/// directory is preopened), any `wasi:sockets` interface (always denied), and a declared
/// capability whose interface is never imported.
pub fn check_imports(
    manifest: &Manifest,
    imports: &[String],
) -> Result<Vec<Warning>, ManifestError> {
    let caps = &manifest.capabilities;
    let mut warnings = Vec::new();
    let mut sockets = Vec::new();
    let mut seen = Vec::new();
    for name in imports {
        let unknown = || ManifestError::UnknownImport(shown(name));
        let import = split(name).ok_or_else(unknown)?;
        if WASI_PACKAGES.contains(&import.package) {
            if !version_in(import.version, "0.2.") {
                return Err(unknown());
            }
            match import.interface {
                OUTGOING_HANDLER if caps.network.is_empty() => {
                    return Err(ManifestError::Undeclared {
                        import: shown(name),
                        capability: "capabilities.network",
                        hint: "list the hosts it may call, for example network = [{ url = \"https://api.example.com\" }]",
                    });
                }
                PREOPENS if caps.files.is_empty() => {
                    warnings.push(Warning::FilesystemWithoutFiles {
                        import: name.clone(),
                    });
                }
                _ if import.package == "wasi:sockets" => sockets.push(name.clone()),
                _ => {}
            }
        } else if import.package == "ward:plugin" {
            if !version_in(import.version, "0.1.") {
                return Err(unknown());
            }
            match import.interface {
                "ward:plugin/log" => {}
                KEYVALUE if caps.keyvalue.is_none() => {
                    return Err(ManifestError::Undeclared {
                        import: shown(name),
                        capability: "capabilities.keyvalue",
                        hint: "declare its quota, for example keyvalue = { quota = \"10MiB\" }",
                    });
                }
                CONFIRM if !caps.confirm => {
                    return Err(ManifestError::Undeclared {
                        import: shown(name),
                        capability: "capabilities.confirm",
                        hint: "set confirm = true",
                    });
                }
                KEYVALUE | CONFIRM => {}
                _ => return Err(unknown()),
            }
        } else {
            return Err(unknown());
        }
        seen.push(import.interface);
    }

    if !sockets.is_empty() {
        warnings.push(Warning::SocketsDenied { imports: sockets });
    }
    let imported = |interface: &str| seen.contains(&interface);
    let declared: [(bool, &'static str, &'static str); 6] = [
        (!caps.network.is_empty(), "network access", OUTGOING_HANDLER),
        (!caps.secrets.is_empty(), "secrets", OUTGOING_HANDLER),
        (!caps.files.is_empty(), "files", PREOPENS),
        (!caps.env.is_empty(), "environment variables", ENVIRONMENT),
        (caps.keyvalue.is_some(), "key-value storage", KEYVALUE),
        (caps.confirm, "confirmations", CONFIRM),
    ];
    for (is_declared, what, interface) in declared {
        if is_declared && !imported(interface) {
            warnings.push(Warning::NeverImported {
                declared: what,
                interface,
            });
        }
    }
    Ok(warnings)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const BASE: &str = "name = \"acme:x\"\nversion = \"1.0.0\"\n";
    const ALL: &str = r#"
[capabilities]
network = [{ url = "https://api.example.com" }]
files = [{ host = "/srv", guest = "/srv" }]
env = ["LANG"]
keyvalue = { quota = "1MiB" }
confirm = true
"#;

    fn manifest(extra: &str) -> Manifest {
        Manifest::parse(format!("{BASE}{extra}").as_bytes()).unwrap()
    }

    fn check(extra: &str, imports: &[&str]) -> Result<Vec<String>, String> {
        let imports: Vec<String> = imports.iter().map(|s| s.to_string()).collect();
        check_imports(&manifest(extra), &imports)
            .map(|w| w.iter().map(ToString::to_string).collect())
            .map_err(|e| e.to_string())
    }

    fn unknown(name: &str) -> Result<Vec<String>, String> {
        Err(ManifestError::UnknownImport(name.to_owned()).to_string())
    }

    type Outcome = Result<Vec<String>, String>;

    #[test]
    fn import_table() {
        let ok = |w: &[&str]| Ok(w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let table: Vec<(&str, Vec<&str>, Outcome)> = vec![
            // A plain program: everything fine, nothing declared.
            (
                "",
                vec![
                    "wasi:cli/environment@0.2.6",
                    "wasi:cli/stdout@0.2.6",
                    "wasi:io/streams@0.2.6",
                    "wasi:clocks/monotonic-clock@0.2.6",
                    "wasi:random/random@0.2.6",
                    "wasi:filesystem/types@0.2.6",
                    "ward:plugin/log@0.1.0",
                ],
                ok(&[]),
            ),
            // Network import without network declared: refused, naming the interface.
            (
                "",
                vec!["wasi:http/types@0.2.6", "wasi:http/outgoing-handler@0.2.6"],
                Err("the component imports `wasi:http/outgoing-handler@0.2.6` but the manifest declares no capabilities.network: list the hosts it may call, for example network = [{ url = \"https://api.example.com\" }]".into()),
            ),
            // Filesystem without files: accepted, with a warning.
            (
                "",
                vec!["wasi:filesystem/preopens@0.2.3"],
                ok(&["imports wasi:filesystem/preopens@0.2.3 but declares no files: it will see no directories"]),
            ),
            // Sockets: accepted, always denied.
            (
                "",
                vec!["wasi:sockets/tcp@0.2.0"],
                ok(&["imports wasi:sockets/tcp@0.2.0: sockets are always denied (use wasi:http for the network)"]),
            ),
            // Everything declared and imported: no warnings.
            (
                ALL,
                vec![
                    "wasi:http/outgoing-handler@0.2.6",
                    "wasi:filesystem/preopens@0.2.6",
                    "wasi:cli/environment@0.2.6",
                    "ward:plugin/keyvalue@0.1.0",
                    "ward:plugin/confirm@0.1.0",
                ],
                ok(&[]),
            ),
            // Everything declared, nothing imported: one warning each.
            (
                ALL,
                vec![],
                ok(&[
                    "declares network access but never imports wasi:http/outgoing-handler",
                    "declares files but never imports wasi:filesystem/preopens",
                    "declares environment variables but never imports wasi:cli/environment",
                    "declares key-value storage but never imports ward:plugin/keyvalue",
                    "declares confirmations but never imports ward:plugin/confirm",
                ]),
            ),
            (
                "",
                vec!["ward:plugin/keyvalue@0.1.0"],
                Err("the component imports `ward:plugin/keyvalue@0.1.0` but the manifest declares no capabilities.keyvalue: declare its quota, for example keyvalue = { quota = \"10MiB\" }".into()),
            ),
            (
                "",
                vec!["ward:plugin/confirm@0.1.0"],
                Err("the component imports `ward:plugin/confirm@0.1.0` but the manifest declares no capabilities.confirm: set confirm = true".into()),
            ),
            ("", vec!["ward:plugin/secrets@0.1.0"], unknown("ward:plugin/secrets@0.1.0")),
            ("", vec!["ward:plugin/log@0.2.0"], unknown("ward:plugin/log@0.2.0")),
            ("", vec!["wasi:cli/environment@0.3.0"], unknown("wasi:cli/environment@0.3.0")),
            ("", vec!["wasi:cli/environment@0.2."], unknown("wasi:cli/environment@0.2.")),
            ("", vec!["wasi:cli/environment@0.2.x"], unknown("wasi:cli/environment@0.2.x")),
            ("", vec!["wasi:cli/environment"], unknown("wasi:cli/environment")),
            ("", vec!["wasi:keyvalue/store@0.2.0-draft"], unknown("wasi:keyvalue/store@0.2.0-draft")),
            ("", vec!["wasi:nn/graph@0.2.0"], unknown("wasi:nn/graph@0.2.0")),
            ("", vec!["wasi:cli.evil/x@0.2.0"], unknown("wasi:cli.evil/x@0.2.0")),
            ("", vec!["evil:pkg/x@0.2.0"], unknown("evil:pkg/x@0.2.0")),
            ("", vec!["env"], unknown("env")),
            (
                "",
                vec!["wasi:cli/stdout@0.2.0-rc-2023-11-10"],
                ok(&[]),
            ),
        ];
        for (extra, imports, want) in table {
            assert_eq!(check(extra, &imports), want, "{extra} {imports:?}");
        }
    }

    /// The top-level instance imports of `plugins/hostile` (tests/fixtures HOSTILE), as built
    /// for wasm32-wasip2 by Rust's standard library.
    const HOSTILE_IMPORTS: &[&str] = &[
        "wasi:io/poll@0.2.12",
        "wasi:clocks/monotonic-clock@0.2.12",
        "wasi:clocks/wall-clock@0.2.12",
        "wasi:io/error@0.2.12",
        "wasi:io/streams@0.2.12",
        "wasi:cli/stdout@0.2.12",
        "wasi:cli/stderr@0.2.12",
        "wasi:cli/stdin@0.2.12",
        "wasi:http/types@0.2.12",
        "wasi:http/outgoing-handler@0.2.12",
        "wasi:cli/environment@0.2.12",
        "wasi:cli/exit@0.2.12",
        "wasi:cli/terminal-input@0.2.12",
        "wasi:cli/terminal-output@0.2.12",
        "wasi:cli/terminal-stdin@0.2.12",
        "wasi:cli/terminal-stdout@0.2.12",
        "wasi:cli/terminal-stderr@0.2.12",
        "wasi:filesystem/types@0.2.12",
        "wasi:filesystem/preopens@0.2.12",
        "wasi:sockets/network@0.2.12",
        "wasi:sockets/instance-network@0.2.12",
        "wasi:sockets/udp@0.2.12",
        "wasi:sockets/udp-create-socket@0.2.12",
        "wasi:sockets/tcp@0.2.12",
        "wasi:sockets/tcp-create-socket@0.2.12",
        "wasi:sockets/ip-name-lookup@0.2.12",
    ];

    /// The top-level instance imports of `plugins/hello` (tests/fixtures HELLO).
    const HELLO_IMPORTS: &[&str] = &[
        "ward:plugin/log@0.1.0",
        "wasi:io/poll@0.2.6",
        "wasi:io/error@0.2.6",
        "wasi:io/streams@0.2.6",
        "wasi:cli/environment@0.2.6",
        "wasi:cli/exit@0.2.6",
        "wasi:cli/stdin@0.2.6",
        "wasi:cli/stdout@0.2.6",
        "wasi:cli/stderr@0.2.6",
        "wasi:cli/terminal-input@0.2.6",
        "wasi:cli/terminal-output@0.2.6",
        "wasi:cli/terminal-stdin@0.2.6",
        "wasi:cli/terminal-stdout@0.2.6",
        "wasi:cli/terminal-stderr@0.2.6",
    ];

    #[test]
    fn hello_fixture_needs_nothing() {
        assert_eq!(check("", HELLO_IMPORTS), Ok(vec![]));
    }

    #[test]
    fn hostile_fixture_without_network_is_refused() {
        assert_eq!(
            check("", HOSTILE_IMPORTS).unwrap_err(),
            "the component imports `wasi:http/outgoing-handler@0.2.12` but the manifest declares no capabilities.network: list the hosts it may call, for example network = [{ url = \"https://api.example.com\" }]"
        );
    }

    #[test]
    fn hostile_fixture_with_network_is_warned_about_files_and_sockets() {
        let m = "[capabilities]\nnetwork = [{ url = \"https://example.com\" }]\n";
        assert_eq!(
            check(m, HOSTILE_IMPORTS),
            Ok(vec![
                "imports wasi:filesystem/preopens@0.2.12 but declares no files: it will see no directories".to_owned(),
                "imports wasi:sockets/network@0.2.12, wasi:sockets/instance-network@0.2.12, wasi:sockets/udp@0.2.12, wasi:sockets/udp-create-socket@0.2.12, wasi:sockets/tcp@0.2.12, wasi:sockets/tcp-create-socket@0.2.12, wasi:sockets/ip-name-lookup@0.2.12: sockets are always denied (use wasi:http for the network)".to_owned(),
            ])
        );
    }

    #[test]
    fn secrets_without_http_import_are_noted() {
        let m = r#"
[capabilities]
network = [{ url = "https://api.github.com" }]
secrets = [{ name = "T", hosts = ["https://api.github.com"], header = "Authorization" }]
"#;
        assert_eq!(
            check(m, &[]),
            Ok(vec![
                "declares network access but never imports wasi:http/outgoing-handler".to_owned(),
                "declares secrets but never imports wasi:http/outgoing-handler".to_owned(),
            ])
        );
    }

    #[test]
    fn hostile_import_names_are_quoted_safely() {
        let name = format!("x\u{1b}[2J{}", "a".repeat(10_000));
        let err = check("", &[&name]).unwrap_err();
        assert!(err.contains("x\\u{1b}[2Jaaa"), "{err}");
        assert!(err.len() < 600, "{}", err.len());
    }
}
