//! Raw bytes on wardd's sockets: a real daemon (in a fresh data directory, started once per
//! process) gets each input on a new connection, exactly as a client's bytes arrive: hyper's
//! HTTP/1.1 parser with the daemon's limits, then the router, token checks, JSON bodies and
//! every refusal path with its audit row.
//!
//! Input: the first byte picks the socket (`o` the operator socket, anything else the agent
//! socket); the rest is sent as is, then the write side is shut down and the reply read. `@TOKEN@`
//! is replaced by a real agent token (for `fuzz:seed`, created at start-up) so that inputs get
//! past authentication. A reply must be HTTP; a panic anywhere in the daemon aborts the process
//! (libFuzzer's panic hook), which is a crash.
#![no_main]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;

/// How long one exchange may take; a reply slower than this is a hang, reported as a crash.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

struct Daemon {
    operator: PathBuf,
    agent: PathBuf,
    token: String,
    // Kept alive for the process' lifetime.
    _running: ward_daemon::Running,
    _runtime: tokio::runtime::Runtime,
}

/// The data directory: under `WARD_FUZZ_TMP` (set by `cargo xtask fuzz`, which removes it), else
/// the system temporary directory.
fn home() -> PathBuf {
    let base = std::env::var_os("WARD_FUZZ_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    base.join(format!("daemon-home-{}", std::process::id()))
}

fn exchange(socket: &PathBuf, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(EXCHANGE_TIMEOUT))?;
    stream.set_write_timeout(Some(EXCHANGE_TIMEOUT))?;
    // The daemon may answer (431, 413) and close before reading everything: not an error here.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut reply = Vec::new();
    match stream.read_to_end(&mut reply) {
        Ok(_) => Ok(reply),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(reply),
        Err(e) => Err(e),
    }
}

static DAEMON: LazyLock<Daemon> = LazyLock::new(|| {
    ignore_sigpipe();
    // Harness set-up: any failure here is a broken harness, not a finding.
    let home = home();
    let _ = std::fs::remove_dir_all(&home);
    // wardd creates the data directory itself, private to this user.
    if let Some(parent) = home.parent()
        && let Err(e) = std::fs::create_dir_all(parent)
    {
        panic!("cannot create {}: {e}", parent.display());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => panic!("tokio runtime: {e}"),
    };
    let config = ward_daemon::DaemonConfig::new(&home);
    let running = match runtime.block_on(ward_daemon::start(config)) {
        Ok(r) => r,
        Err(e) => panic!("wardd does not start in {}: {}", home.display(), chain(&e)),
    };
    let operator = running.operator_socket().to_path_buf();
    let agent = running.agent_socket().to_path_buf();
    let body = r#"{"plugin": "fuzz:seed"}"#;
    let request = format!(
        "POST /v1/tokens HTTP/1.1\r\nHost: ward\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let reply = match exchange(&operator, request.as_bytes()) {
        Ok(r) => String::from_utf8_lossy(&r).into_owned(),
        Err(e) => panic!("cannot create an agent token: {e}"),
    };
    let json = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
    let token = serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_owned));
    let Some(token) = token else {
        panic!("no token in the daemon's reply: {reply}");
    };
    Daemon {
        operator,
        agent,
        token,
        _running: running,
        _runtime: runtime,
    }
});

/// A client that goes away makes the daemon's (and this harness') writes fail with EPIPE, which
/// must not kill the process: Rust binaries ignore SIGPIPE in `main`, but libFuzzer owns `main`.
fn ignore_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler code and is done
    // once, before the daemon starts any thread.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// An error with its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

fn with_token(bytes: &[u8], token: &str) -> Vec<u8> {
    const MARK: &[u8] = b"@TOKEN@";
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut rest = bytes;
    while let Some(at) = rest.windows(MARK.len()).position(|w| w == MARK) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(token.as_bytes());
        rest = &rest[at + MARK.len()..];
    }
    out.extend_from_slice(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    let daemon = &*DAEMON;
    let Some((&which, request)) = data.split_first() else {
        return;
    };
    let socket = if which == b'o' {
        &daemon.operator
    } else {
        &daemon.agent
    };
    let request = with_token(request, &daemon.token);
    match exchange(socket, &request) {
        Ok(reply) => assert!(
            reply.is_empty() || reply.starts_with(b"HTTP/1.1 ") || reply.starts_with(b"HTTP/1.0 "),
            "the daemon answered something that is not HTTP: {:?}",
            String::from_utf8_lossy(&reply[..reply.len().min(200)])
        ),
        Err(e) => panic!("exchange with the daemon failed: {e}"),
    }
});
