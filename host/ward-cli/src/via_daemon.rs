//! `ward run` through a running wardd, on its operator socket: the daemon runs the installed
//! plugin with exactly its grants (compiled once, kept warm) and writes the audit row; this process
//! only prints the outcome. When no daemon answers, `ward run` works standalone.

use anyhow::{Context, anyhow};
use base64::Engine as _;
use serde_json::{Value, json};
use ward_home::Home;

use crate::cli::RunInstalledArgs;
use crate::{Failure, output, run};

/// Runs `args` through the daemon. `Ok(None)` means no daemon took the call (none is listening,
/// or the plugin needs this terminal): nothing ran, and the caller runs it standalone.
pub(crate) fn run(home: &Home, args: &mut RunInstalledArgs) -> Result<Option<()>, Failure> {
    let socket = ward_daemon::DaemonConfig::new(home.root()).operator_socket();
    if !socket.exists() {
        return Ok(None);
    }
    let mut body = json!({
        "command": args.call.command,
        "pairs": args.call.pairs,
        "argv": args.call.argv,
    });
    if let Some(text) = &args.call.args {
        let value = run::parse_args_json(text)?;
        // `--args -` consumed stdin: a standalone fallback gets the document itself.
        args.call.args = Some(value.to_string());
        body["args"] = value;
    }
    let call = &args.call;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let reply = rt.block_on(async {
        let mut conn = match ward_daemon::client::Connection::open(&socket).await {
            Ok(c) => c,
            // A socket left by a daemon that is gone: nothing ran.
            Err(e) => return Ok(Err(e)),
        };
        conn.request(
            hyper::Method::POST,
            &format!("/v1/plugins/{}/run", args.name),
            None,
            Some(&body),
        )
        .await
        .map(Ok)
    });
    let (status, reply) = match reply {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::debug!("wardd is not reachable ({e}); running standalone");
            return Ok(None);
        }
        // The request reached the daemon: it may have run, so it is not repeated here.
        Err(e) => {
            return Err(Failure::plugin(
                anyhow!(e).context("wardd took the call but its reply could not be read"),
            ));
        }
    };
    if reply["error"]["kind"] == "needs-terminal" {
        tracing::debug!("the plugin may ask for confirmation: running standalone");
        return Ok(None);
    }
    tracing::debug!("ran through wardd ({status})");
    print(call.json, status, &reply).map(Some)
}

/// Prints the daemon's reply like a standalone run prints its outcome, with the same exit status.
fn print(json_out: bool, status: hyper::StatusCode, reply: &Value) -> Result<(), Failure> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let stream = |name: &str| -> Vec<u8> {
        reply[name]
            .as_str()
            .and_then(|s| b64.decode(s).ok())
            .unwrap_or_default()
    };
    if status.is_success() && reply.get("result").is_some() {
        output::guest_streams(&stream("stdout_base64"), &stream("stderr_base64"));
        return run::print_finished(
            json_out,
            reply["ok"] == true,
            &reply["result"],
            reply["fuel"].clone(),
            reply["duration_ms"].clone(),
            reply["program"] == true,
        );
    }
    let error = reply["error"].clone();
    let error = if error.is_object() {
        error
    } else {
        json!({ "kind": "error", "message": format!("wardd answered {status} without a reason") })
    };
    let stderr = error["stderr"].as_str().map(str::to_owned);
    let mut shown = error;
    if let Some(obj) = shown.as_object_mut() {
        // The guest's stderr is shown on stderr, as a standalone run shows it; the error object
        // is the one a standalone run prints.
        obj.remove("stderr");
    }
    run::print_error(json_out, shown, stderr.as_deref())
}
