//! What the compile budget allows at most: compiles components just under each of ward's static
//! bounds with ward's engine configuration and prints the wall time and the peak memory of each,
//! every case in a fresh child process so that one's peak does not hide another's.
//!
//! `cargo run -p ward-runtime --example compile_budget`

use std::process::Command;
use std::time::Instant;

use ward_policy::{MAX_CODE_BYTES, MAX_FUNCTION_BODY_BYTES, MAX_FUNCTIONS, MAX_LOCALS_TIMES_BODY};
use wasm_encoder::{CodeSection, Function, FunctionSection, Module, TypeSection, ValType};

/// A component with `count` functions of `locals` i32 locals, each body about `body_bytes`
/// long: `local.get a; local.get b; i32.add; local.set c` over and over, so that register
/// allocation has every local to juggle.
fn component(count: u64, locals: u32, body_bytes: u64) -> Vec<u8> {
    let mut m = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], [ValType::I32]);
    m.section(&types);
    let mut funcs = FunctionSection::new();
    for _ in 0..count {
        funcs.function(0);
    }
    m.section(&funcs);
    let mut code = CodeSection::new();
    let n = locals.max(1);
    for _ in 0..count {
        let mut f = Function::new([(locals, ValType::I32)]);
        let mut i: u32 = 0;
        // A step is 1 byte (`nop`) without locals, 7 while local indices stay below 128 and
        // up to 10 beyond.
        let steps = match locals {
            0 => body_bytes,
            1..128 => body_bytes / 7,
            _ => body_bytes / 10,
        };
        for _ in 0..steps {
            if locals == 0 {
                f.instructions().nop();
            } else {
                f.instructions()
                    .local_get(i % n)
                    .local_get((i + 1) % n)
                    .i32_add()
                    .local_set((i + 2) % n);
            }
            i = i.wrapping_add(7);
        }
        // The result depends on the whole chain of adds, so none of it is dead code.
        if locals == 0 {
            f.instructions().i32_const(0).end();
        } else {
            f.instructions().local_get(0).end();
        }
        code.function(&f);
    }
    m.section(&code);
    let mut c = wasm_encoder::Component::new();
    c.section(&wasm_encoder::ModuleSection(&m));
    c.finish()
}

const CASES: usize = 4;

/// Case `i`, built only when asked for: its peak memory is the compile's alone.
fn case(i: usize) -> (&'static str, Vec<u8>) {
    let body = MAX_FUNCTION_BODY_BYTES - 1024;
    match i {
        0 => ("functions: 50,000 small", component(MAX_FUNCTIONS, 4, 64)),
        1 => (
            "code: 16 bodies of 1 MiB",
            component(MAX_CODE_BYTES / MAX_FUNCTION_BODY_BYTES, 0, body),
        ),
        2 => (
            "locals x body: one 1 MiB body, 31 locals",
            component(
                1,
                (MAX_LOCALS_TIMES_BODY / MAX_FUNCTION_BODY_BYTES) as u32 - 1,
                body,
            ),
        ),
        _ => (
            "locals x body: 30 KiB body, 1,000 locals",
            component(1, 1000, 30 * 1024),
        ),
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    let engine = wasmtime::Engine::new(&ward_runtime::engine_config())
        .map_err(|e| anyhow::anyhow!("engine: {e:#}"))?;
    if let Some(index) = std::env::args().nth(1) {
        let index: usize = index.parse()?;
        let (name, bytes) = case(index);
        let before = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| {
                s.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .map_or(0, |pages| pages * 4);
        let started = Instant::now();
        // The static bounds first, as every load does; the export check that follows them is
        // left out (these components export nothing).
        let result = match ward_load::inspect(&bytes) {
            Err(ward_load::LoadError::NoCommands) | Ok(_) => {
                ward_load::compile(&engine, &bytes, ward_policy::COMPILE_TIMEOUT).map(drop)
            }
            Err(e) => Err(e),
        };
        let took = started.elapsed();
        let outcome = match result {
            Ok(_) => "compiled".to_owned(),
            Err(e) => format!("refused: {e}"),
        };
        println!(
            "| {name} | {} KiB | {:.1} s | {} MiB | {outcome} |",
            bytes.len() / 1024,
            took.as_secs_f64(),
            peak_rss_kib().saturating_sub(before) / 1024,
        );
        return Ok(());
    }
    println!("| case | size | compile | peak memory added | outcome |\n|---|---|---|---|---|");
    let me = std::env::current_exe()?;
    for i in 0..CASES {
        let status = Command::new(&me).arg(i.to_string()).status()?;
        anyhow::ensure!(status.success(), "case {i} failed: {status}");
    }
    Ok(())
}
