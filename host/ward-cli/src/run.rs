//! `ward dev run`.

use std::io::Read;

use anyhow::{Context, anyhow};
use serde_json::{Value, json};

use crate::cli::{CallArgs, LimitArgs, RunArgs};
use crate::output;
use crate::{EXIT_PLUGIN, EXIT_USAGE, Failure};
use ward_home::Home;
use ward_runtime::{CallError, CommandKind, Grants, Limits, Runtime, RuntimeOptions};

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
    let command = plugin.command(&req.command).map_err(Failure::usage)?;
    let cli_program = matches!(command.kind, CommandKind::CliRun { .. });
    let args = req.args.as_deref().map(parse_args_json).transpose()?;
    let request =
        ward_values::call_request(command, args, &req.pairs, &req.argv).map_err(Failure::usage)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = rt.block_on(runtime.call(&plugin, &req.command, &request, limits, grants));
    match outcome {
        Ok(out) => {
            output::guest_streams(&out.stdout, &out.stderr);
            print_finished(
                req.json,
                !out.is_err,
                &out.result,
                json!(out.fuel_consumed),
                json!(out.duration.as_secs_f64() * 1000.0),
                cli_program,
            )
        }
        Err(err) => {
            let code = match err {
                CallError::Args(_) | CallError::CliArgs(_) | CallError::UnknownCommand { .. } => {
                    EXIT_USAGE
                }
                _ => EXIT_PLUGIN,
            };
            if let CallError::Trap { stderr, .. } | CallError::Exit { stderr, .. } = &err
                && !stderr.is_empty()
            {
                eprintln!("{}", output::indent_guest(stderr));
            }
            let limit = err.limit().map(|l| l.name());
            let failure = if req.json {
                output::print_json(&json!({ "ok": false, "error": error_json(&err) }))?;
                eprintln!("error: {err}");
                Failure::reported(code)
            } else {
                Failure {
                    code,
                    error: anyhow!(err),
                    reported: false,
                    limit: None,
                }
            };
            Err(Failure { limit, ..failure })
        }
    }
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

/// The machine-readable form of a call error.
fn error_json(err: &CallError) -> Value {
    let kind = match err {
        CallError::UnknownCommand { .. } => "unknown-command",
        CallError::Unsupported { .. } => "unsupported",
        CallError::Args(_) | CallError::CliArgs(_) => "arguments",
        CallError::Limit(_) => "limit",
        CallError::Trap { .. } => "trap",
        CallError::Exit { .. } => "exit",
        CallError::Instantiate(_) => "instantiate",
        CallError::Grant(_) => "grant",
        CallError::ConfirmPending(_) => "confirmation-pending",
    };
    let mut obj = json!({ "kind": kind, "message": err.to_string() });
    if let CallError::Limit(limit) = err {
        obj["limit"] = json!(limit.limit.name());
        obj["value"] = json!(limit.value);
    }
    if let CallError::Exit { code, .. } = err {
        obj["code"] = json!(code);
    }
    obj
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
