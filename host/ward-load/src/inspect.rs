//! Static checks on component bytes, before compilation.

use wasmparser::{ComponentExternalKind, Encoding, Parser, Payload};

use crate::LoadError;
use ward_policy::{MAX_CODE_BYTES, MAX_FUNCTION_BODY_BYTES, MAX_FUNCTIONS, MAX_LOCALS_TIMES_BODY};

/// What a component exports at its top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportKind {
    /// A function: a typed command.
    Func,
    /// An instance, such as `wasi:cli/run@0.2.0`.
    Instance,
    /// Anything else (types, modules, values, components).
    Other,
}

/// What the static pass learned about a component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentInfo {
    /// Top-level import names (instances and functions; type imports are left out), in order.
    pub imports: Vec<String>,
    /// Top-level export names with their kind, in order.
    pub exports: Vec<(String, ExportKind)>,
    /// Functions defined by all core modules inside the component.
    pub functions: u64,
    /// Bytes of code in all core modules.
    pub code_bytes: u64,
}

impl ComponentInfo {
    /// Whether the component exports `wasi:cli/run` (any 0.2 version).
    pub fn exports_cli_run(&self) -> bool {
        self.exports
            .iter()
            .any(|(name, kind)| *kind == ExportKind::Instance && is_cli_run(name))
    }
}

fn is_cli_run(name: &str) -> bool {
    name == "wasi:cli/run" || name.starts_with("wasi:cli/run@0.2.")
}

/// WASI packages ward links (every one denies by default).
const WASI_PACKAGES: &[&str] = &[
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
    "wasi:http/",
];

/// ward's own interfaces.
const WARD_INTERFACES: &[&str] = &[
    "ward:plugin/log@0.1.",
    "ward:plugin/keyvalue@0.1.",
    "ward:plugin/confirm@0.1.",
];

/// Whether ward provides the interface `name` to plugins.
pub fn is_known_import(name: &str) -> bool {
    if WARD_INTERFACES.iter().any(|p| name.starts_with(p)) {
        return true;
    }
    WASI_PACKAGES.iter().any(|pkg| {
        name.strip_prefix(pkg)
            .and_then(|rest| rest.split_once('@'))
            .is_some_and(|(iface, version)| {
                !iface.is_empty() && (version == "0.2.0" || version.starts_with("0.2."))
            })
    })
}

/// Parses `bytes` as a component without compiling it, and applies ward's static rules.
pub fn inspect(bytes: &[u8]) -> Result<ComponentInfo, LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotWasm);
    }
    let mut info = ComponentInfo::default();
    // Nesting depth: 1 inside the outer component, more inside nested modules/components.
    let mut depth = 0usize;
    let malformed = |err: wasmparser::BinaryReaderError| LoadError::Malformed {
        offset: err.offset(),
        message: err.message().to_owned(),
    };
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(malformed)?;
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding == Encoding::Module {
                    return Err(LoadError::CoreModule);
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let import = import.map_err(malformed)?;
                    // A world's own type definitions (records, enums, ...) appear as type
                    // imports; they carry no authority.
                    if matches!(import.ty, wasmparser::ComponentTypeRef::Type(_)) {
                        continue;
                    }
                    let name = import.name.name.to_owned();
                    if !is_known_import(&name) {
                        return Err(LoadError::UnknownImport { name });
                    }
                    info.imports.push(name);
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(malformed)?;
                    let kind = match export.kind {
                        ComponentExternalKind::Func => ExportKind::Func,
                        ComponentExternalKind::Instance => ExportKind::Instance,
                        _ => ExportKind::Other,
                    };
                    info.exports.push((export.name.name.to_owned(), kind));
                }
            }
            Payload::CodeSectionStart { count, .. } => {
                info.functions = info.functions.saturating_add(u64::from(count));
                if info.functions > MAX_FUNCTIONS {
                    return Err(LoadError::TooComplex {
                        what: "functions",
                        value: info.functions,
                        max: MAX_FUNCTIONS,
                    });
                }
            }
            Payload::CodeSectionEntry(body) => {
                let size = body.range().len() as u64;
                info.code_bytes = info.code_bytes.saturating_add(size);
                if size > MAX_FUNCTION_BODY_BYTES {
                    return Err(LoadError::TooComplex {
                        what: "a function body of that many bytes",
                        value: size,
                        max: MAX_FUNCTION_BODY_BYTES,
                    });
                }
                if info.code_bytes > MAX_CODE_BYTES {
                    return Err(LoadError::TooComplex {
                        what: "that many bytes of code",
                        value: info.code_bytes,
                        max: MAX_CODE_BYTES,
                    });
                }
                let mut locals: u64 = 0;
                for group in body.get_locals_reader().map_err(malformed)? {
                    let (count, _) = group.map_err(malformed)?;
                    locals = locals.saturating_add(u64::from(count));
                }
                let weight = locals.saturating_mul(size);
                if weight > MAX_LOCALS_TIMES_BODY {
                    return Err(LoadError::TooComplex {
                        what: "a function whose locals times body bytes come to that",
                        value: weight,
                        max: MAX_LOCALS_TIMES_BODY,
                    });
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(LoadError::Malformed {
            offset: bytes.len(),
            message: "unexpected end of file".into(),
        });
    }
    let has_command = info.exports.iter().any(|(name, kind)| {
        *kind == ExportKind::Func || (*kind == ExportKind::Instance && is_cli_run(name))
    });
    if !has_command {
        return Err(LoadError::NoCommands);
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_imports() {
        let table = [
            ("wasi:cli/environment@0.2.0", true),
            ("wasi:cli/stdout@0.2.6", true),
            ("wasi:io/streams@0.2.3", true),
            ("wasi:http/outgoing-handler@0.2.0", true),
            ("wasi:sockets/tcp@0.2.0", true),
            ("ward:plugin/log@0.1.0", true),
            ("ward:plugin/keyvalue@0.1.0", true),
            ("ward:plugin/confirm@0.1.0", true),
            ("ward:plugin/confirm@0.2.0", false),
            ("wasi:cli/environment@0.3.0", false),
            ("wasi:cli/environment", false),
            ("wasi:cli/@0.2.0", false),
            ("wasi:keyvalue/store@0.2.0-draft", false),
            ("wasi:nn/graph@0.2.0", false),
            ("acme:evil/backdoor@1.0.0", false),
            ("ward:plugin/secrets@0.1.0", false),
            ("wasi:cli.evil/x@0.2.0", false),
        ];
        for (name, want) in table {
            assert_eq!(is_known_import(name), want, "{name}");
        }
    }

    #[test]
    fn not_wasm() {
        assert!(matches!(
            inspect(b"hello world, not wasm"),
            Err(LoadError::NotWasm)
        ));
        assert!(matches!(inspect(b""), Err(LoadError::NotWasm)));
    }

    #[test]
    fn core_module_is_refused() {
        let module = wat::parse_str("(module (func (export \"f\")))").unwrap();
        let err = inspect(&module).unwrap_err();
        assert!(matches!(err, LoadError::CoreModule), "{err}");
    }

    #[test]
    fn truncated_component_is_malformed() {
        let component = wat::parse_str(
            r#"(component
                (core module $m (func (export "f") (result i32) i32.const 7))
                (core instance $i (instantiate $m))
                (func (export "seven") (result u32) (canon lift (core func $i "f"))))"#,
        )
        .unwrap();
        assert!(inspect(&component).is_ok());
        for cut in [9, component.len() / 2, component.len() - 1] {
            let err = inspect(&component[..cut]).unwrap_err();
            assert!(
                matches!(err, LoadError::Malformed { .. }),
                "cut at {cut}: {err}"
            );
        }
    }

    #[test]
    fn unknown_import_is_named() {
        let component = wat::parse_str(
            r#"(component
                (import "acme:evil/backdoor@1.0.0" (instance))
                (core module $m (func (export "f") (result i32) i32.const 7))
                (core instance $i (instantiate $m))
                (func (export "seven") (result u32) (canon lift (core func $i "f"))))"#,
        )
        .unwrap();
        let err = inspect(&component).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the component imports `acme:evil/backdoor@1.0.0`"),
            "{err}"
        );
    }

    #[test]
    fn component_without_commands_is_refused() {
        let component = wat::parse_str("(component)").unwrap();
        assert!(matches!(inspect(&component), Err(LoadError::NoCommands)));
    }
}
