//! `ward describe`.

use anyhow::anyhow;
use serde_json::json;

use crate::Failure;
use crate::cli::DescribeArgs;
use crate::output;
use crate::run::runtime;
use ward_home::Home;
use ward_runtime::CommandKind;

pub(crate) fn describe(home: &Home, args: DescribeArgs) -> Result<(), Failure> {
    let runtime = runtime(home)?;
    let plugin = runtime.load_file(&args.path).map_err(|e| {
        Failure::usage(anyhow!(e).context(format!("cannot load {}", args.path.display())))
    })?;
    let bytes = ward_load::read_file(&args.path, ward_policy::MAX_COMPONENT_BYTES)
        .map_err(Failure::usage)?;
    let named = ward_values::describe_wit(&bytes).ok();
    let commands: Vec<_> = plugin
        .commands()
        .iter()
        .map(|cmd| {
            let kind = match cmd.kind {
                CommandKind::Func => "func",
                CommandKind::CliRun { .. } => "wasi:cli/run",
            };
            json!({
                "name": cmd.name,
                "kind": kind,
                "wit": named
                    .as_ref()
                    .and_then(|d| d.functions.iter().find(|f| f.name == cmd.name))
                    .map(|f| f.signature.clone())
                    .unwrap_or_else(|| ward_values::wit_signature(cmd)),
                "schema": ward_values::json_schema(cmd),
                "unsupported": cmd.unsupported,
            })
        })
        .collect();
    if args.json {
        output::print_json(&json!({
            "path": args.path.display().to_string(),
            "digest": plugin.digest().to_string(),
            "size": plugin.size(),
            "commands": commands,
        }))?;
        return Ok(());
    }
    let mut text = format!(
        "{}\n  digest {}\n  size   {}\n\ncommands:\n",
        args.path.display(),
        plugin.digest(),
        ward_policy::format_bytes(plugin.size() as u64),
    );
    for cmd in plugin.commands() {
        let signature = named
            .as_ref()
            .and_then(|d| d.functions.iter().find(|f| f.name == cmd.name))
            .map(|f| f.signature.clone())
            .unwrap_or_else(|| ward_values::wit_signature(cmd));
        text.push_str(&format!("  {signature}\n"));
        if let Some(docs) = named
            .as_ref()
            .and_then(|d| d.functions.iter().find(|f| f.name == cmd.name))
            .and_then(|f| f.docs.as_deref())
        {
            for line in docs.lines() {
                text.push_str(&format!("    {line}\n"));
            }
        }
        if matches!(cmd.kind, CommandKind::CliRun { .. }) {
            text.push_str("    a wasi:cli program: arguments after --, stdout is the result\n");
        }
        if let Some(reason) = &cmd.unsupported {
            text.push_str(&format!("    cannot be called: {reason}\n"));
        }
    }
    if let Some(named) = &named
        && !named.types.is_empty()
    {
        text.push_str("\ntypes:\n");
        for ty in &named.types {
            for line in ty.wit.lines() {
                text.push_str(&format!("  {line}\n"));
            }
        }
    }
    text.push_str("\nJSON Schemas of the arguments: ward describe --json\n");
    output::print_result(&serde_json::Value::String(text), true)?;
    Ok(())
}
