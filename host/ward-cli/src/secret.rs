//! `ward secret`: the operator's encrypted secret store. Values are read without echo and never
//! printed, logged or audited.

use std::io::{IsTerminal, Read};

use anyhow::{Context, anyhow};
use serde_json::json;
use ward_secrets::SecretStore;
use zeroize::Zeroizing;

use crate::cli::SecretCommand;
use crate::{Failure, output};
use ward_home::Home;

/// Largest value read from stdin; the store refuses larger values anyway.
const MAX_SECRET_INPUT: u64 = 64 * 1024;

fn read_value(name: &str) -> anyhow::Result<Zeroizing<String>> {
    if std::io::stdin().is_terminal() {
        let value = rpassword::prompt_password(format!("value for {name} (not shown): "))
            .context("cannot read the value from the terminal")?;
        return Ok(Zeroizing::new(value));
    }
    let mut value = Zeroizing::new(String::new());
    std::io::stdin()
        .take(MAX_SECRET_INPUT + 1)
        .read_to_string(&mut value)
        .context("cannot read the value from stdin")?;
    if value.len() as u64 > MAX_SECRET_INPUT {
        return Err(anyhow!(
            "the value on stdin is larger than {MAX_SECRET_INPUT} bytes"
        ));
    }
    // One trailing newline (from `echo` or a heredoc) is not part of the value.
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    Ok(value)
}

pub(crate) fn secret(home: &Home, command: SecretCommand) -> Result<(), Failure> {
    home.ensure()?;
    let mut store = SecretStore::open(home.root()).map_err(Failure::usage)?;
    match command {
        SecretCommand::Set { name } => {
            ward_secrets::check_name(&name).map_err(Failure::usage)?;
            let value = read_value(&name)?;
            store.set(&name, value).map_err(Failure::usage)?;
            eprintln!("stored secret {name}");
        }
        SecretCommand::List { json } => {
            let names = store.list();
            if json {
                output::print_json(&json!(names))?;
            } else {
                let text: String = names.iter().map(|n| format!("{n}\n")).collect();
                output::print_result(&json!(text), true)?;
            }
        }
        SecretCommand::Rm { name } => {
            if !store.remove(&name).map_err(Failure::usage)? {
                return Err(Failure::usage(anyhow!("no secret called {name}")));
            }
            eprintln!("removed secret {name}");
        }
    }
    Ok(())
}
