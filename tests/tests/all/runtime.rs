//! The runtime against real plugins: typed calls, every hostile fixture, every limit, and the
//! compiled-artifact cache. Each attack is its own test, named after it, and each checks that
//! the same runtime then serves a normal call.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use ward_runtime::{CallError, Grants, Limit, Limits, Origin, Plugin, Runtime, RuntimeOptions};

/// One runtime for the whole test binary, as in a long-running host.
fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(RuntimeOptions::default()).unwrap())
}

fn hello() -> Arc<Plugin> {
    runtime()
        .load_file(std::path::Path::new(ward_fixtures::HELLO))
        .unwrap()
}

fn hostile() -> Arc<Plugin> {
    runtime()
        .load_file(std::path::Path::new(ward_fixtures::HOSTILE))
        .unwrap()
}

fn quick() -> Limits {
    Limits {
        timeout: Duration::from_secs(2),
        ..Limits::default()
    }
}

async fn call(
    plugin: &Plugin,
    command: &str,
    args: Value,
    limits: &Limits,
) -> Result<Value, CallError> {
    runtime()
        .call(plugin, command, &args, limits, &Grants::default())
        .await
        .map(|out| out.result)
}

/// After any refusal the same runtime still serves a normal call.
async fn still_serves() {
    let out = call(
        &hello(),
        "greet",
        json!({"name": "after"}),
        &Limits::default(),
    )
    .await
    .unwrap();
    assert!(out.as_str().unwrap().contains("after"), "{out}");
}

async fn expect_limit(command: &str, limits: &Limits, limit: Limit) -> CallError {
    let err = call(&hostile(), command, json!({}), limits)
        .await
        .unwrap_err();
    assert_eq!(err.limit(), Some(limit), "{command}: {err}");
    still_serves().await;
    err
}

#[tokio::test]
async fn greet_returns_the_name() {
    let out = call(
        &hello(),
        "greet",
        json!({"name": "Ada"}),
        &Limits::default(),
    )
    .await
    .unwrap();
    assert!(out.as_str().unwrap().contains("Ada"), "{out}");
}

#[tokio::test]
async fn infinite_loop_stops_at_the_time_limit() {
    let limits = Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let err = expect_limit("spin", &limits, Limit::Time).await;
    assert_eq!(err.to_string(), "time limit of 300ms reached");
}

#[tokio::test]
async fn sleeping_in_the_host_stops_at_the_time_limit() {
    let limits = Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let started = std::time::Instant::now();
    expect_limit("sleepy", &limits, Limit::Time).await;
    // Generous bound: the fixture sleeps 60 s.
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn infinite_loop_stops_when_fuel_runs_out() {
    let limits = Limits {
        fuel: Some(1_000_000),
        ..quick()
    };
    let err = expect_limit("spin", &limits, Limit::Fuel).await;
    assert_eq!(err.to_string(), "fuel limit of 1000000 fuel reached");
}

#[tokio::test]
async fn memory_bomb_stops_at_the_memory_limit() {
    let limits = Limits {
        memory_bytes: 16 * 1024 * 1024,
        ..quick()
    };
    let err = expect_limit("memory-bomb", &limits, Limit::Memory).await;
    assert_eq!(err.to_string(), "memory limit of 16 MiB reached");
}

#[tokio::test]
async fn deep_recursion_stops_at_the_stack_limit() {
    let err = expect_limit("deep-recursion", &quick(), Limit::Stack).await;
    assert_eq!(err.to_string(), "stack limit of 512 KiB reached");
}

#[tokio::test]
async fn huge_stdout_stops_at_the_output_limit() {
    let limits = Limits {
        output_bytes: 64 * 1024,
        ..quick()
    };
    let err = expect_limit("flood-stdout", &limits, Limit::Output).await;
    assert_eq!(err.to_string(), "output limit of 64 KiB reached");
}

#[tokio::test]
async fn huge_return_value_stops_at_the_result_limit() {
    let limits = Limits {
        memory_bytes: 128 * 1024 * 1024,
        result_bytes: 1024 * 1024,
        ..quick()
    };
    let err = expect_limit("huge-result", &limits, Limit::Result).await;
    assert_eq!(err.to_string(), "result limit of 1 MiB reached");
}

#[tokio::test]
async fn table_growth_stops_at_the_table_elements_limit() {
    // Every Rust component has a function table; one element is too few for it.
    let limits = Limits {
        table_elements: 1,
        ..quick()
    };
    let err = call(&hello(), "greet", json!({"name": "x"}), &limits)
        .await
        .unwrap_err();
    assert_eq!(err.limit(), Some(Limit::TableElements), "{err}");
    assert_eq!(err.to_string(), "table-elements limit of 1 element reached");
    still_serves().await;
}

#[tokio::test]
async fn too_many_instances_is_refused() {
    let limits = Limits {
        instances: 1,
        ..quick()
    };
    let err = call(&hello(), "greet", json!({"name": "x"}), &limits)
        .await
        .unwrap_err();
    assert_eq!(err.limit(), Some(Limit::Instances), "{err}");
    still_serves().await;
}

/// A refusal the guest sees as an error value: the call completes, the error names the denial.
async fn expect_denied(command: &str) -> String {
    let out = runtime()
        .call(
            &hostile(),
            command,
            &json!({}),
            &quick(),
            &Grants::default(),
        )
        .await
        .unwrap();
    assert!(out.is_err, "{command} should be refused: {}", out.result);
    let message = out.result["err"].as_str().unwrap().to_owned();
    still_serves().await;
    message
}

#[tokio::test]
async fn reading_etc_passwd_is_denied() {
    let message = expect_denied("read-passwd").await;
    assert!(!message.contains("root:"), "{message}");
}

#[tokio::test]
async fn opening_a_tcp_socket_is_denied() {
    let message = expect_denied("open-socket").await;
    assert!(!message.is_empty());
}

#[tokio::test]
async fn resolving_a_dns_name_is_denied() {
    let message = expect_denied("resolve-dns").await;
    assert!(!message.is_empty());
}

#[tokio::test]
async fn making_an_http_request_is_denied() {
    let message = expect_denied("http-get").await;
    assert!(message.to_lowercase().contains("denied"), "{message}");
}

#[tokio::test]
async fn reading_environment_variables_sees_none() {
    // SAFETY-free check: the host process has variables; the guest must see none of them.
    assert!(std::env::vars().next().is_some());
    let out = call(&hostile(), "read-env", json!({}), &quick())
        .await
        .unwrap();
    assert_eq!(out, json!([]));
    still_serves().await;
}

#[tokio::test]
async fn a_panic_is_a_trap_with_its_message() {
    let err = call(&hostile(), "panic", json!({}), &quick())
        .await
        .unwrap_err();
    match &err {
        CallError::Trap { stderr, .. } => assert!(stderr.contains("panicked"), "{stderr}"),
        other => panic!("expected a trap, got {other}"),
    }
    still_serves().await;
}

#[tokio::test]
async fn a_trap_is_reported() {
    let err = call(&hostile(), "trap", json!({}), &quick())
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Trap { .. }), "{err}");
    assert!(err.to_string().contains("unreachable"), "{err}");
    still_serves().await;
}

#[tokio::test]
async fn arguments_are_checked_before_guest_code_runs() {
    // `spin` never returns, so reaching it would hit the time limit instead.
    let err = call(&hostile(), "spin", json!({"unexpected": 1}), &quick())
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Args(_)), "{err}");
    let err = call(&hello(), "greet", json!({"name": 5}), &quick())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("name"), "{err}");
    assert!(err.to_string().contains("string"), "{err}");
}

#[tokio::test]
async fn unknown_command_lists_the_commands() {
    let err = call(&hello(), "gret", json!({}), &quick())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("the plugin has no command 'gret'"),
        "{text}"
    );
    assert!(text.contains("greet"), "{text}");
}

#[tokio::test]
async fn cli_program_gets_argv_and_its_stdout_is_the_result() {
    let echo = runtime()
        .load_file(std::path::Path::new(ward_fixtures::CLI_ECHO))
        .unwrap();
    let out = call(&echo, "run", json!({"argv": ["hello", "there"]}), &quick())
        .await
        .unwrap();
    assert_eq!(out, json!("hello there\n"));
    let err = call(&echo, "run", json!({"argv": [1]}), &quick())
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::CliArgs(_)), "{err}");
}

#[test]
fn altered_cached_artifact_is_recompiled_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("compiled");
    let bytes = std::fs::read(ward_fixtures::HELLO).unwrap();
    let engine_rt = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir.clone()),
    })
    .unwrap();
    let first = engine_rt.load("hello", &bytes).unwrap();
    assert_eq!(first.origin(), Origin::Compiled);
    let cache = engine_rt.cache().unwrap();
    let artifact = cache.path_for(engine_rt.engine(), &first.digest());
    assert!(artifact.exists());

    // A second runtime (a new process, in effect) finds the verified artifact.
    let rt2 = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir.clone()),
    })
    .unwrap();
    assert_eq!(rt2.load("hello", &bytes).unwrap().origin(), Origin::Cache);

    // Flip one byte in the machine code: the artifact is discarded and recompiled.
    let mut altered = std::fs::read(&artifact).unwrap();
    let mid = altered.len() / 2;
    altered[mid] ^= 0x40;
    std::fs::write(&artifact, &altered).unwrap();
    let rt3 = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir.clone()),
    })
    .unwrap();
    let again = rt3.load("hello", &bytes).unwrap();
    assert_eq!(again.origin(), Origin::Compiled);
    assert_ne!(
        std::fs::read(&artifact).unwrap(),
        altered,
        "the altered file was replaced"
    );

    // An artifact copied from another component's name does not verify either.
    let echo = std::fs::read(ward_fixtures::CLI_ECHO).unwrap();
    let echo_plugin = rt3.load("cli-echo", &echo).unwrap();
    let echo_artifact = cache.path_for(rt3.engine(), &echo_plugin.digest());
    std::fs::copy(&echo_artifact, &artifact).unwrap();
    let rt4 = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir),
    })
    .unwrap();
    assert_eq!(
        rt4.load("hello", &bytes).unwrap().origin(),
        Origin::Compiled
    );
}

#[test]
fn cache_directory_open_to_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("compiled");
    std::fs::create_dir(&cache_dir).unwrap();
    std::fs::set_permissions(&cache_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir),
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("other users have access (mode 0777)"),
        "{err}"
    );
}

#[test]
fn invalid_components_are_refused_and_nothing_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("compiled");
    let rt = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir.clone()),
    })
    .unwrap();
    let hello = std::fs::read(ward_fixtures::HELLO).unwrap();
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not wasm",
            b"#!/bin/sh\necho hi\n".to_vec(),
            "not a WebAssembly component",
        ),
        (
            "truncated",
            hello[..hello.len() / 2].to_vec(),
            "malformed component",
        ),
        ("core module", core_module, "core WebAssembly module"),
    ];
    for (what, bytes, needle) in cases {
        let err = rt.load(what, &bytes).unwrap_err();
        assert!(err.to_string().contains(needle), "{what}: {err}");
    }
    let cached: Vec<_> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".cwasm"))
        .collect();
    assert!(cached.is_empty(), "{cached:?}");
}

/// A component holding one core module with `bodies` functions, each declaring `locals` i32
/// locals and a body of about `body_bytes` bytes (`nop`s).
fn heavy_component(bodies: u32, locals: u32, body_bytes: usize) -> Vec<u8> {
    use wasm_encoder::{CodeSection, Function, FunctionSection, Module, TypeSection, ValType};
    let mut m = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], []);
    m.section(&types);
    let mut funcs = FunctionSection::new();
    for _ in 0..bodies {
        funcs.function(0);
    }
    m.section(&funcs);
    let mut code = CodeSection::new();
    for _ in 0..bodies {
        let mut f = Function::new([(locals, ValType::I32)]);
        for _ in 0..body_bytes {
            f.instructions().nop();
        }
        f.instructions().end();
        code.function(&f);
    }
    m.section(&code);
    let mut c = wasm_encoder::Component::new();
    c.section(&wasm_encoder::ModuleSection(&m));
    c.finish()
}

#[test]
fn components_over_the_compile_budget_are_refused_and_nothing_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("compiled");
    let rt = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir.clone()),
    })
    .unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "too many functions",
            heavy_component(50_001, 0, 0),
            "the component has functions (50001), more than the limit of 50000",
        ),
        (
            "one giant body",
            heavy_component(1, 0, 1_100_000),
            "a function body of that many bytes",
        ),
        (
            "too much code",
            heavy_component(17, 0, 1_000_000),
            "that many bytes of code",
        ),
        (
            "many locals in a long body",
            heavy_component(1, 50_000, 1_000),
            "locals times body bytes",
        ),
    ];
    for (what, bytes, needle) in cases {
        let err = rt.load(what, &bytes).unwrap_err();
        assert!(err.to_string().contains(needle), "{what}: {err}");
    }
    let cached = std::fs::read_dir(&cache_dir)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "cwasm")
            })
            .count()
        })
        .unwrap_or(0);
    assert_eq!(cached, 0);
}

/// Every WIT type kind through a real component and back: JSON -> component value -> guest ->
/// component value -> JSON.
#[tokio::test]
async fn json_round_trips_through_the_guest_for_every_type() {
    let hello = hello();
    let limits = Limits::default();
    let all = json!({
        "all": {
            "a-bool": true, "a-u8": 255, "a-u16": 65535, "a-u32": 4294967295u64,
            "a-u64": "18446744073709551615", "a-s8": -128, "a-s16": -32768,
            "a-s32": -2147483648i64, "a-s64": "-9223372036854775808",
            "a-f32": "NaN", "a-f64": "-Infinity", "a-char": "🦀", "a-string": "wörld \u{0}"
        }
    });
    let out = call(&hello, "echo-all", all.clone(), &limits)
        .await
        .unwrap();
    assert_eq!(out, all["all"]);

    let cases = [
        (
            "translate",
            json!({"p": {"x": 1, "y": -2}, "dx": 10, "dy": 20}),
            json!({"x": 11, "y": 18}),
        ),
        ("origin", json!({}), json!({"x": 0, "y": 0})),
        ("next-color", json!({"c": "blue"}), json!("red")),
        ("area", json!({"s": {"rect": [2.0, 3.5]}}), json!(7.0)),
        ("area", json!({"s": "none"}), json!(0.0)),
        ("sum", json!({"values": [1, 2, 3]}), json!(6)),
        ("divide", json!({"a": 7, "b": 2}), json!({"ok": 3})),
        (
            "divide",
            json!({"a": 7, "b": 0}),
            json!({"err": "division by zero"}),
        ),
        ("check-name", json!({"name": "ok"}), json!({"ok": null})),
        ("maybe-double", json!({"n": 21}), json!(42)),
        ("maybe-double", json!({"n": null}), json!(null)),
        (
            "merge-permissions",
            json!({"a": ["read"], "b": ["exec"]}),
            json!(["read", "exec"]),
        ),
        ("swap", json!({"pair": ["x", 7]}), json!([7, "x"])),
        ("upper", json!({"c": "a"}), json!("A")),
        ("negate", json!({"b": false}), json!(true)),
        ("noop", json!({}), json!(null)),
    ];
    for (command, args, want) in cases {
        let got = call(&hello, command, args.clone(), &limits).await.unwrap();
        assert_eq!(got, want, "{command} {args}");
    }
}

#[tokio::test]
async fn malformed_arguments_are_refused_with_bounded_errors() {
    let hello = hello();
    let limits = Limits::default();
    let cases = [
        ("greet", json!({}), "missing argument 'name'"),
        (
            "greet",
            json!({"name": "a", "extra": 1}),
            "unknown argument 'extra'",
        ),
        (
            "translate",
            json!({"p": {"x": "1", "y": 0}, "dx": 0, "dy": 0}),
            "'p.x'",
        ),
        ("sum", json!({"values": [1, -1]}), "out of range for u32"),
        ("upper", json!({"c": "ab"}), "'c'"),
        ("next-color", json!({"c": "purple"}), "purple"),
        ("sum", json!({"values": vec![0; (1 << 20) + 1]}), "values"),
    ];
    for (command, args, needle) in cases {
        let err = call(&hello, command, args, &limits).await.unwrap_err();
        assert!(matches!(err, CallError::Args(_)), "{command}: {err}");
        assert!(err.to_string().contains(needle), "{command}: {err}");
        assert!(err.to_string().len() < 1024, "{command}: error not bounded");
    }
    let mut deep = json!(1);
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let err = call(&hello, "sum", json!({"values": deep}), &limits)
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Args(_)), "{err}");
}

/// Instances reuse memory slots of the pooling allocator; the part kept resident is reset with
/// `memset`, the rest returned to the kernel. Either way a call never sees what an earlier call
/// left in memory: its static data, or pages it grew below and above the resident part.
#[tokio::test]
async fn memory_left_by_a_call_is_never_seen_by_the_next() {
    let plugin = hostile();
    for i in 0..8 {
        let out = call(
            &plugin,
            "leave-and-peek",
            json!({ "text": format!("secret-{i}") }),
            &quick(),
        )
        .await
        .unwrap();
        assert_eq!(out, json!("||"), "call {i}");
    }
    // Calls at the same time get other slots; none sees another's marks either.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..8 {
        let plugin = plugin.clone();
        set.spawn(async move {
            call(
                &plugin,
                "leave-and-peek",
                json!({ "text": format!("parallel-{i}") }),
                &quick(),
            )
            .await
        });
    }
    while let Some(out) = set.join_next().await {
        assert_eq!(out.unwrap().unwrap(), json!("||"));
    }
}
