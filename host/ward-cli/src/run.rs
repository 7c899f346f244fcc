//! `ward dev run`.

use std::io::Read;

use anyhow::{Context, anyhow};
use serde_json::{Value, json};

use crate::cli::{CallArgs, LimitArgs, RunArgs};
use crate::output;
use crate::{EXIT_PLUGIN, EXIT_USAGE, Failure};
use ward_home::Home;
use ward_runtime::{CommandKind, Grants, Limits, Runtime, RuntimeOptions};

/// Largest `--args` document read from stdin.
const MAX_ARGS_BYTES: u64 = 16 * 1024 * 1024;

pub(crate) fn limits_from(args: &LimitArgs) -> anyhow::Result<Limits> {
    let mut limits = Limits::default();
    if let Some(v) = &args.memory {
        limits.memory_bytes = ward_policy::parse_size(v).context("--memory")?;
    }
    if let Some(v) = &args.timeout {
        limits.timeout = ward_policy::parse_duration(v).context("--timeout")?;
    }
    if let Some(v) = &args.fuel {
        limits.fuel = Some(ward_policy::parse_count(v).context("--fuel")?);
    }
    if let Some(v) = &args.output {
        limits.output_bytes = ward_policy::parse_size(v).context("--output")?;
    }
    if let Some(v) = &args.result {
        limits.result_bytes = ward_policy::parse_size(v).context("--result")?;
    }
    limits.validate()?;
    Ok(limits)
}

pub(crate) fn runtime(home: &Home) -> anyhow::Result<Runtime> {
    home.ensure()?;
    Ok(Runtime::new(RuntimeOptions {
        cache_dir: Some(home.artifact_cache()),
    })?)
}

pub(crate) fn dev_run(home: &Home, args: RunArgs) -> Result<(), Failure> {
    let limits = limits_from(&args.limits).map_err(Failure::usage)?;
    let runtime = runtime(home)?;
    let bytes =
        ward_load::read_file(&args.path, ward_policy::MAX_COMPONENT_BYTES).map_err(|e| {
            Failure::usage(anyhow!(e).context(format!("cannot load {}", args.path.display())))
        })?;
    let name = args
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    call(
        &runtime,
        &name,
        &bytes,
        args.call,
        &limits,
        &Grants::default(),
    )
}

/// Loads `bytes`, converts the request for the command's types, calls it with exactly `grants`
/// and prints the outcome.
pub(crate) fn call(
    runtime: &Runtime,
    name: &str,
    bytes: &[u8],
    req: CallArgs,
    limits: &Limits,
    grants: &Grants,
) -> Result<(), Failure> {
    let plugin = runtime
        .load(name, bytes)
        .map_err(|e| Failure::usage(anyhow!(e).context(format!("cannot load {name}"))))?;
    let command = match plugin.command(&req.command) {
        Ok(c) => c,
        Err(e) => return print_outcome(req.json, &Err(ward_call::Failure::Request(e))),
    };
    let cli_program = matches!(command.kind, CommandKind::CliRun { .. });
    let args = req.args.as_deref().map(parse_args_json).transpose()?;
    let request = match ward_values::call_request(command, args, &req.pairs, &req.argv) {
        Ok(r) => r,
        Err(e) => {
            let failure =
                ward_call::Failure::Request(ward_runtime::CallError::CliArgs(e.to_string()));
            return print_outcome(req.json, &Err(failure));
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = rt.block_on(runtime.call(&plugin, &req.command, &request, limits, grants));
    let outcome = match outcome {
        Ok(call) => Ok(ward_call::Output {
            call,
            program: cli_program,
        }),
        Err(e) => Err(ward_call::Failure::Call(e)),
    };
    print_outcome(req.json, &outcome)
}

/// Kinds of failure that mean the request or ward itself was at fault (exit status 2) rather
/// than the plugin being refused or failing (1). The same table decides for a call run here and
/// one whose reply came from wardd.
const USAGE_KINDS: &[&str] = &[
    "invalid-arguments",
    "unknown-command",
    "not-installed",
    "invalid-request",
    "invalid-json",
    "prepare-failed",
    "load-failed",
    "audit-unavailable",
    "store-error",
];

/// The exit status of a failure of `kind`.
pub(crate) fn exit_code(kind: &str) -> u8 {
    if USAGE_KINDS.contains(&kind) {
        EXIT_USAGE
    } else {
        EXIT_PLUGIN
    }
}

/// Prints a call's outcome, standalone and through wardd alike: the result (as JSON with
/// `--json`; a wasi:cli program's as it is), or the error (as `{"ok": false, "error": ...}` on
/// stdout with `--json`, and always its message on stderr), with the exit status it implies.
pub(crate) fn print_outcome(
    json_out: bool,
    outcome: &Result<ward_call::Output, ward_call::Failure>,
) -> Result<(), Failure> {
    match outcome {
        Ok(out) => {
            output::guest_streams(&out.call.stdout, &out.call.stderr);
            print_finished(
                json_out,
                !out.call.is_err,
                &out.call.result,
                json!(out.call.fuel_consumed),
                json!(out.call.duration.as_secs_f64() * 1000.0),
                out.program,
            )
        }
        Err(failure) => print_error(json_out, failure.error_object(), failure.guest_stderr()),
    }
}

/// Prints a failure's error object (`kind`, `message`, and `limit`/`value`/`code`/`confirmation`
/// where they apply) and returns the exit status it implies.
pub(crate) fn print_error(
    json_out: bool,
    error: Value,
    guest_stderr: Option<&str>,
) -> Result<(), Failure> {
    let kind = error["kind"].as_str().unwrap_or("error").to_owned();
    let message = ward_policy::text::sanitize(error["message"].as_str().unwrap_or("failed"), false);
    if let Some(stderr) = guest_stderr.filter(|s| !s.is_empty()) {
        eprintln!("{}", output::indent_guest(stderr));
    }
    let code = exit_code(&kind);
    if json_out {
        output::print_json(&json!({ "ok": false, "error": error }))?;
    }
    eprintln!("error: {message}");
    Err(Failure::reported(code))
}

/// Prints a finished call's result (as JSON with `--json`; a wasi:cli program's as it is) and
/// turns an error result into the plugin-failure exit status. Standalone and through wardd alike.
pub(crate) fn print_finished(
    json_out: bool,
    ok: bool,
    result: &Value,
    fuel: Value,
    duration_ms: Value,
    program: bool,
) -> Result<(), Failure> {
    if json_out {
        output::print_json(&json!({
            "ok": ok,
            "result": result,
            "fuel": fuel,
            "duration_ms": duration_ms,
        }))?;
    } else {
        output::print_result(result, program)?;
    }
    if ok {
        Ok(())
    } else {
        Err(Failure::reported(EXIT_PLUGIN))
    }
}

pub(crate) fn parse_args_json(text: &str) -> Result<Value, Failure> {
    let owned;
    let text = if text == "-" {
        let mut buf = String::new();
        std::io::stdin()
            .take(MAX_ARGS_BYTES + 1)
            .read_to_string(&mut buf)
            .context("cannot read --args from stdin")?;
        if buf.len() as u64 > MAX_ARGS_BYTES {
            return Err(Failure::usage(anyhow!(
                "--args from stdin is larger than {}",
                ward_policy::format_bytes(MAX_ARGS_BYTES)
            )));
        }
        owned = buf;
        owned.as_str()
    } else {
        text
    };
    ward_values::parse_args(text).map_err(|e| Failure::usage(anyhow!(e).context("--args")))
}
