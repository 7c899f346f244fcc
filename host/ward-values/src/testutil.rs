//! Real component types for tests: components written in WAT that re-export imported functions
//! (no core code, nothing is ever called).

use std::sync::LazyLock;

use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use crate::command::commands_from;
use crate::{Command, commands};

/// A component whose exports cover every WIT type kind that has a JSON form, plus a command that
/// takes a resource and a `wasi:cli/run` export.
pub(crate) const KITCHEN_SINK: &str = r#"
(component
  (type $point' (record (field "x" s32) (field "y" s32)))
  (import "point" (type $point (eq $point')))
  (type $shape' (variant (case "circle" f64) (case "at" $point) (case "empty")))
  (import "shape" (type $shape (eq $shape')))
  (type $color' (enum "red" "green" "blue"))
  (import "color" (type $color (eq $color')))
  (type $perm' (flags "read" "write" "exec"))
  (import "perm" (type $perm (eq $perm')))
  (type $opts' (record (field "name" string) (field "nick" (option string))))
  (import "opts" (type $opts (eq $opts')))
  (import "res" (type $res (sub resource)))

  (import "all" (func $all
    (param "b" bool)
    (param "s8" s8) (param "u8" u8) (param "s16" s16) (param "u16" u16)
    (param "s32" s32) (param "u32" u32) (param "s64" s64) (param "u64" u64)
    (param "f32" f32) (param "f64" f64) (param "c" char) (param "s" string)
    (param "bytes" (list u8))
    (param "pair" (tuple u8 string))
    (param "point" $point)
    (param "shape" $shape)
    (param "color" $color)
    (param "opt" (option u32))
    (param "opt2" (option (option u32)))
    (param "res" (result u32 (error string)))
    (param "res-unit" (result (error string)))
    (param "res-none" (result))
    (param "perm" $perm)
    (param "points" (list $point))
    (param "opts" $opts)
    (param "map" (map string u32))
    (param "fixed" (list u8 3))
    (result string)))
  (export "all" (func $all))

  (import "greet" (func $greet (param "name" string) (result string)))
  (export "greet" (func $greet))
  (import "nothing" (func $nothing))
  (export "nothing" (func $nothing))
  (import "takes-res" (func $takes-res (param "r" (own $res))))
  (export "takes-res" (func $takes-res))
  (import "wasi:cli/run@0.2.3" (instance $run (export "run" (func (result (result))))))
  (export "wasi:cli/run@0.2.3" (instance $run))
)
"#;

pub(crate) fn engine() -> Engine {
    let mut config = Config::new();
    config
        .wasm_component_model_map(true)
        .wasm_component_model_fixed_length_lists(true);
    Engine::new(&config).expect("engine")
}

/// The commands a component written in WAT *imports* (wasmtime cannot load a component that
/// re-exports an imported function, so the `(export ...)` lines are dropped and the imports,
/// which carry the same types, are read instead).
pub(crate) fn commands_of(wat: &str) -> Vec<Command> {
    let engine = engine();
    let imports_only: String = wat
        .lines()
        .filter(|l| !l.trim_start().starts_with("(export"))
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = wat::parse_str(imports_only).expect("valid wat");
    let component = Component::from_binary(&engine, &bytes).expect("valid component");
    let ty = component.component_type();
    commands_from(
        &engine,
        ty.imports(&engine).map(|(name, ext)| (name, ext.ty)),
    )
}

/// A component that really exports (lifts) functions, for [`crate::commands`] itself.
pub(crate) const LIFTED: &str = r#"
(component
  (import "res" (type $res (sub resource)))
  (core module $m
    (memory (export "mem") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
    (func (export "greet") (param i32 i32) (result i32) i32.const 0)
    (func (export "nothing"))
    (func (export "takes-res") (param i32))
    (func (export "run") (result i32) i32.const 0))
  (core instance $i (instantiate $m))
  (func $greet (param "name" string) (result string)
    (canon lift (core func $i "greet") (memory $i "mem") (realloc (func $i "realloc"))))
  (export "greet" (func $greet))
  (func $nothing (canon lift (core func $i "nothing")))
  (export "nothing" (func $nothing))
  (func $takes-res (param "r" (own $res)) (canon lift (core func $i "takes-res")))
  (export "takes-res" (func $takes-res))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $run-instance (export "run" (func $run)))
  (export "wasi:cli/run@0.2.3" (instance $run-instance))
)
"#;

pub(crate) fn lifted_commands() -> Vec<Command> {
    let engine = engine();
    let bytes = wat::parse_str(LIFTED).expect("valid wat");
    let component = Component::from_binary(&engine, &bytes).expect("valid component");
    commands(&engine, &component)
}

static SINK: LazyLock<Vec<Command>> = LazyLock::new(|| commands_of(KITCHEN_SINK));

/// A command of [`KITCHEN_SINK`] by name.
pub(crate) fn sink(name: &str) -> Command {
    SINK.iter()
        .find(|c| c.name == name)
        .cloned()
        .unwrap_or_else(|| panic!("no command {name}"))
}

/// A command with one parameter `p` of the given WAT type (with the named types of
/// [`KITCHEN_SINK`] available as `$point`, `$shape`, ...).
pub(crate) fn one_param(ty: &str) -> Command {
    let wat = KITCHEN_SINK.replace(
        "(export \"nothing\" (func $nothing))",
        &format!(
            "(export \"nothing\" (func $nothing))\n(import \"one\" (func $one (param \"p\" {ty})))"
        ),
    );
    commands_of(&wat)
        .into_iter()
        .find(|c| c.name == "one")
        .expect("one")
}
