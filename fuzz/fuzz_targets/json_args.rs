//! Call arguments as agents and operators send them: the JSON text of a request (`parse_args`)
//! converted for typed commands (`args_from_json`), and `NAME=VALUE` command-line pairs
//! (`args_from_cli`, `call_request`), one pair per input line.
//!
//! The commands come from a real component (compiled once, never instantiated) whose exports
//! take every WIT type kind with a JSON form: one command per type, taking `v` (plus optional
//! padding parameters that only make the core signature the same for every type), and `all`,
//! which takes them all at once.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use ward_values::{Command, args_from_cli, args_from_json, call_request, parse_args};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// The WIT types each get a command of their own (`t0`, `t1`, ...).
const TYPES: &[&str] = &[
    "bool",
    "s8",
    "u8",
    "s16",
    "u16",
    "s32",
    "u32",
    "s64",
    "u64",
    "f32",
    "f64",
    "char",
    "string",
    "(list u8)",
    "(tuple u8 string)",
    "$point",
    "$shape",
    "$color",
    "(option u32)",
    "(option (option u32))",
    "(result u32 (error string))",
    "(result (error string))",
    "(result)",
    "$perm",
    "(list $point)",
    "$opts",
    "(map string u32)",
    "(list u8 3)",
    "(list (list (list $shape)))",
];

/// Nine `option<u32>` parameters flatten to 18 core values, more than the 16 passed directly, so
/// every command's core function takes one pointer whatever `v` is.
const PADDING: &str = r#"(param "p1" (option u32)) (param "p2" (option u32)) (param "p3" (option u32))
 (param "p4" (option u32)) (param "p5" (option u32)) (param "p6" (option u32))
 (param "p7" (option u32)) (param "p8" (option u32)) (param "p9" (option u32))"#;

fn wat() -> String {
    let mut funcs = String::new();
    for (i, ty) in TYPES.iter().enumerate() {
        funcs.push_str(&format!(
            "(func $t{i} (param \"v\" {ty}) {PADDING}\n\
               (canon lift (core func $i \"f\") (memory $i \"mem\") (realloc (func $i \"realloc\"))))\n\
             (export \"t{i}\" (func $t{i}))\n"
        ));
    }
    let all: String = TYPES
        .iter()
        .enumerate()
        .map(|(i, ty)| format!("(param \"a{i}\" {ty}) "))
        .collect();
    format!(
        r#"(component
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
  (core module $m
    (memory (export "mem") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
    (func (export "f") (param i32))
    (func (export "all") (param i32) (result i32) i32.const 0))
  (core instance $i (instantiate $m))
  {funcs}
  (func $all {all} (result string)
    (canon lift (core func $i "all") (memory $i "mem") (realloc (func $i "realloc"))))
  (export "all" (func $all))
)"#
    )
}

static COMMANDS: LazyLock<Vec<Command>> = LazyLock::new(|| {
    let mut config = Config::new();
    config
        .wasm_component_model_map(true)
        .wasm_component_model_fixed_length_lists(true);
    // Harness set-up, not a finding: the component is fixed.
    let engine = match Engine::new(&config) {
        Ok(e) => e,
        Err(e) => panic!("engine: {e:#}"),
    };
    let bytes = match wat::parse_str(wat()) {
        Ok(b) => b,
        Err(e) => panic!("the harness component's wat: {e}"),
    };
    match Component::from_binary(&engine, &bytes) {
        Ok(c) => ward_values::commands(&engine, &c),
        Err(e) => panic!("the harness component: {e:#}"),
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(args) = parse_args(text) {
        for cmd in COMMANDS.iter() {
            let _ = args_from_json(cmd, &args);
        }
    }
    let pairs: Vec<String> = text.lines().map(str::to_owned).collect();
    for cmd in COMMANDS.iter() {
        if let Ok(obj) = args_from_cli(cmd, &pairs) {
            let _ = args_from_json(cmd, &obj);
        }
        if let Ok(req) = call_request(cmd, None, &pairs, &[]) {
            let _ = args_from_json(cmd, &req);
        }
    }
});
