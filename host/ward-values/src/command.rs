//! The commands a component offers: its root-level exported functions, or `wasi:cli/run`.

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};

use crate::MAX_TYPE_NODES;
use crate::text::wit_type;

/// One command a component offers, with the parameter names and types the component declares.
#[derive(Clone, Debug)]
pub struct Command {
    /// The name the command is called by: the exported function's name, or `run` for a
    /// `wasi:cli/run` program.
    pub name: String,
    /// How the host calls it.
    pub kind: CommandKind,
    /// Parameter names (kebab-case, as in WIT) and types, in declaration order.
    pub params: Vec<(String, Type)>,
    /// The result type, if the function returns anything.
    pub result: Option<Type>,
    /// Whether the function is a component-model `async` function.
    pub is_async: bool,
    /// Why the command cannot be called with JSON arguments, if it cannot (for example a
    /// parameter that is a resource handle); [`crate::args_from_json`] refuses such commands.
    pub unsupported: Option<String>,
}

/// How the host calls a [`Command`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandKind {
    /// A root-level exported function, called with typed arguments converted from JSON.
    Func,
    /// The `run` function of an exported `wasi:cli/run@0.2.x` instance: a program that takes
    /// command-line arguments and writes to stdout; it takes no named arguments.
    CliRun {
        /// The full name of the exported instance, for example `wasi:cli/run@0.2.3`.
        export: String,
    },
}

/// The commands `component` offers, in export order: every root-level exported function, then
/// `run` if the component exports `wasi:cli/run` at any 0.2 version.
///
/// Functions exported inside other instances (interfaces) are not commands. A component may export
/// both a root-level function named `run` and `wasi:cli/run`; both are listed, the function first.
/// Commands whose types have no JSON form are listed with [`Command::unsupported`] set.
pub fn commands(engine: &Engine, component: &Component) -> Vec<Command> {
    let ty = component.component_type();
    commands_from(engine, ty.exports(engine).map(|(name, ext)| (name, ext.ty)))
}

/// The commands among `items` (a component's exports; its imports in tests).
pub(crate) fn commands_from<'a>(
    engine: &Engine,
    items: impl Iterator<Item = (&'a str, ComponentItem)>,
) -> Vec<Command> {
    let mut out = Vec::new();
    let mut cli = Vec::new();
    for (name, item) in items {
        match &item {
            ComponentItem::ComponentFunc(func) => {
                let params: Vec<&str> = func.params().map(|(p, _)| p).collect();
                if !is_toolchain_export(name, &params) {
                    out.push(from_func(name, func, CommandKind::Func));
                }
            }
            ComponentItem::ComponentInstance(inst) if is_cli_run(name) => {
                let kind = CommandKind::CliRun {
                    export: name.to_string(),
                };
                match inst.get_export(engine, "run").map(|e| e.ty) {
                    Some(ComponentItem::ComponentFunc(func)) => {
                        let mut cmd = from_func("run", &func, kind);
                        if cmd.unsupported.is_none() && !cmd.params.is_empty() {
                            cmd.unsupported =
                                Some(format!("{name} exports a 'run' that takes parameters"));
                        }
                        cli.push(cmd);
                    }
                    _ => cli.push(Command {
                        name: "run".to_string(),
                        kind,
                        params: Vec::new(),
                        result: None,
                        is_async: false,
                        unsupported: Some(format!("{name} does not export a 'run' function")),
                    }),
                }
            }
            _ => {}
        }
    }
    out.extend(cli);
    out
}

/// Exports a language toolchain adds to every component it builds, which are not the plugin's
/// commands: they are never listed, described, offered to agents or called. componentize-qjs's
/// `init(shim, script, entry-path, disable-gc)` evaluates JavaScript source given to it.
const TOOLCHAIN_EXPORTS: &[(&str, &[&str])] =
    &[("init", &["shim", "script", "entry-path", "disable-gc"])];

/// Whether the root-level function `name` taking `params` is a toolchain's own export.
pub(crate) fn is_toolchain_export(name: &str, params: &[&str]) -> bool {
    TOOLCHAIN_EXPORTS
        .iter()
        .any(|(n, p)| *n == name && *p == params)
}

/// Whether an export name is `wasi:cli/run` at some 0.2 version.
fn is_cli_run(name: &str) -> bool {
    name.strip_prefix("wasi:cli/run@0.2.")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

fn from_func(name: &str, func: &ComponentFunc, kind: CommandKind) -> Command {
    let params: Vec<(String, Type)> = func
        .params()
        .map(|(name, ty)| (name.to_string(), ty))
        .collect();
    let results: Vec<Type> = func.results().collect();
    let mut unsupported = None;
    for (pname, ty) in &params {
        if let Some(reason) = no_json_form(ty) {
            unsupported = Some(format!("parameter '{pname}' has {reason}"));
            break;
        }
    }
    if unsupported.is_none() {
        if results.len() > 1 {
            unsupported = Some(format!("it has {} results", results.len()));
        } else if let Some(reason) = results.first().and_then(no_json_form) {
            unsupported = Some(format!("its result has {reason}"));
        }
    }
    Command {
        name: name.to_string(),
        kind,
        params,
        result: results.into_iter().next(),
        is_async: func.async_(),
        unsupported,
    }
}

/// Why values of `ty` cannot be written as JSON, if they cannot: it contains a resource handle,
/// a future, a stream or an error context, or it is too large to inspect.
fn no_json_form(ty: &Type) -> Option<String> {
    let mut budget = MAX_TYPE_NODES;
    let mut stack = vec![ty.clone()];
    while let Some(ty) = stack.pop() {
        if budget == 0 {
            return Some(format!(
                "a type larger than {MAX_TYPE_NODES} nodes when expanded"
            ));
        }
        budget -= 1;
        match &ty {
            Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) => {
                return Some(format!(
                    "type {}, which cannot be passed as json",
                    wit_type(&ty)
                ));
            }
            Type::ErrorContext => {
                return Some("type error-context, which cannot be passed as json".to_string());
            }
            Type::List(l) => stack.push(l.ty()),
            Type::FixedLengthList(l) => stack.push(l.ty()),
            Type::Map(m) => {
                stack.push(m.key());
                stack.push(m.value());
            }
            Type::Option(o) => stack.push(o.ty()),
            Type::Result(r) => stack.extend(r.ok().into_iter().chain(r.err())),
            Type::Tuple(t) => stack.extend(t.types()),
            Type::Record(r) => stack.extend(r.fields().map(|f| f.ty)),
            Type::Variant(v) => stack.extend(v.cases().filter_map(|c| c.ty)),
            Type::Bool
            | Type::S8
            | Type::U8
            | Type::S16
            | Type::U16
            | Type::S32
            | Type::U32
            | Type::S64
            | Type::U64
            | Type::Float32
            | Type::Float64
            | Type::Char
            | Type::String
            | Type::Enum(_)
            | Type::Flags(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{KITCHEN_SINK, commands_of, lifted_commands, sink};
    use crate::wit_signature;

    #[test]
    fn lists_root_functions_then_cli_run() {
        let cmds = lifted_commands();
        let summary: Vec<(String, CommandKind, Option<String>)> = cmds
            .iter()
            .map(|c| (c.name.clone(), c.kind.clone(), c.unsupported.clone()))
            .collect();
        let cli = CommandKind::CliRun {
            export: "wasi:cli/run@0.2.3".to_string(),
        };
        assert_eq!(
            summary,
            vec![
                ("greet".to_string(), CommandKind::Func, None),
                ("nothing".to_string(), CommandKind::Func, None),
                (
                    "takes-res".to_string(),
                    CommandKind::Func,
                    Some(
                        "parameter 'r' has type own<resource>, which cannot be passed as json"
                            .to_string()
                    )
                ),
                ("run".to_string(), cli, None),
            ]
        );
        let sigs: Vec<String> = cmds.iter().map(wit_signature).collect();
        assert_eq!(
            sigs,
            [
                "greet: func(name: string) -> string",
                "nothing: func()",
                "takes-res: func(r: own<resource>)",
                "run: func() -> result (from wasi:cli/run@0.2.3)",
            ]
        );
    }

    #[test]
    fn kitchen_sink_commands() {
        let cmds = commands_of(KITCHEN_SINK);
        let summary: Vec<(String, CommandKind, Option<String>)> = cmds
            .iter()
            .map(|c| (c.name.clone(), c.kind.clone(), c.unsupported.clone()))
            .collect();
        let cli = CommandKind::CliRun {
            export: "wasi:cli/run@0.2.3".to_string(),
        };
        assert_eq!(
            summary,
            vec![
                ("all".to_string(), CommandKind::Func, None),
                ("greet".to_string(), CommandKind::Func, None),
                ("nothing".to_string(), CommandKind::Func, None),
                (
                    "takes-res".to_string(),
                    CommandKind::Func,
                    Some(
                        "parameter 'r' has type own<resource>, which cannot be passed as json"
                            .to_string()
                    )
                ),
                ("run".to_string(), cli, None),
            ]
        );
    }

    #[test]
    fn signatures() {
        for (name, want) in [
            ("greet", "greet: func(name: string) -> string"),
            ("nothing", "nothing: func()"),
            ("takes-res", "takes-res: func(r: own<resource>)"),
            ("run", "run: func() -> result (from wasi:cli/run@0.2.3)"),
        ] {
            assert_eq!(wit_signature(&sink(name)), want);
        }
        let all = wit_signature(&sink("all"));
        assert!(
            all.starts_with("all: func(b: bool, s8: s8, u8: u8, "),
            "{all}"
        );
        assert!(
            all.contains("point: record { x: s32, y: s32 }, shape: variant { circle(f64), at(record { x: s32, y: s32 }), empty }, color: enum { red, green, blue }, opt: option<u32>, opt2: option<option<u32>>, res: result<u32, string>, res-unit: result<_, string>, res-none: result, perm: flags { read, write, exec }"),
            "{all}"
        );
        assert!(
            all.ends_with("map: map<string, u32>, fixed: list<u8, 3>) -> string"),
            "{all}"
        );
    }

    #[test]
    fn cli_run_versions() {
        for (name, want) in [
            ("wasi:cli/run@0.2.0", true),
            ("wasi:cli/run@0.2.3", true),
            ("wasi:cli/run@0.2.10-rc", true),
            ("wasi:cli/run@0.3.0", false),
            ("wasi:cli/run@0.2.", false),
            ("wasi:cli/run", false),
            ("wasi:cli/runner@0.2.0", false),
        ] {
            assert_eq!(is_cli_run(name), want, "{name}");
        }
    }
}
