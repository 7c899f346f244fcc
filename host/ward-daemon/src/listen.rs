//! The sockets: a private directory the daemon owns, two Unix sockets with mode 0600, the peer
//! credential check on every connection, and the connection limits.

use std::os::unix::fs::{
    DirBuilderExt as _, FileTypeExt as _, MetadataExt as _, PermissionsExt as _,
};
use std::path::Path;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, watch};
use ward_store::{AuditAction, AuditEvent, Outcome};

use crate::config::Socket;
use crate::{Ctx, DaemonError};

/// Creates `dir` with mode 0700 if missing, then refuses it unless it is a real directory owned
/// by the daemon's uid with no group or other permission bits.
pub(crate) fn private_run_dir(dir: &Path) -> Result<(), DaemonError> {
    let shown = dir.display().to_string();
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .map_err(|e| DaemonError::io(&shown, e))?;
        }
        Err(e) => return Err(DaemonError::io(&shown, e)),
        Ok(_) => {}
    }
    let m = std::fs::symlink_metadata(dir).map_err(|e| DaemonError::io(&shown, e))?;
    if !m.file_type().is_dir() {
        return Err(DaemonError::RunDirNotDir(shown));
    }
    let uid = rustix::process::geteuid().as_raw();
    if m.uid() != uid {
        return Err(DaemonError::RunDirNotOwned {
            path: shown,
            owner: m.uid(),
            uid,
        });
    }
    let mode = m.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(DaemonError::RunDirTooOpen { path: shown, mode });
    }
    Ok(())
}

/// Binds a socket at `path` with mode 0600, replacing a stale socket (the caller holds the
/// daemon lock, so no other daemon is using it). Anything else at the path is refused.
pub(crate) fn bind(path: &Path) -> Result<UnixListener, DaemonError> {
    let shown = path.display().to_string();
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|e| DaemonError::io(&shown, e))?;
        }
        Ok(_) => return Err(DaemonError::NotASocket(shown)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(DaemonError::io(&shown, e)),
    }
    let listener = UnixListener::bind(path).map_err(|e| DaemonError::io(&shown, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| DaemonError::io(&shown, e))?;
    Ok(listener)
}

/// Accepts connections on `listener` until shutdown.
pub(crate) async fn accept_loop(
    ctx: Arc<Ctx>,
    socket: Socket,
    listener: UnixListener,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!("accept on the {} socket failed: {e}", socket.as_str());
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let uid = match stream.peer_cred() {
            Ok(c) => c.uid(),
            Err(e) => {
                tracing::warn!("connection refused: no peer credentials: {e}");
                continue;
            }
        };
        if !ctx.config.peer_allowed(socket, uid) {
            tracing::warn!(
                uid,
                "connection refused on the {} socket: uid not allowed",
                socket.as_str()
            );
            refuse_peer(&ctx, socket, uid);
            continue;
        }
        let Ok(permit) = ctx.conns.clone().try_acquire_owned() else {
            tracing::warn!(
                "connection refused: {} connections open",
                ctx.config.limits.max_connections
            );
            continue;
        };
        tokio::spawn(serve(
            ctx.clone(),
            socket,
            uid,
            stream,
            permit,
            shutdown.clone(),
        ));
    }
}

/// Audits a refused peer (the connection is closed unanswered).
fn refuse_peer(ctx: &Arc<Ctx>, socket: Socket, uid: u32) {
    let mut ev = AuditEvent::new(AuditAction::Deny);
    ev.actor = Some(format!("{}:uid:{uid}", socket.as_str()));
    ev.outcome = Outcome::Denied;
    ev.detail.reason = Some("peer-uid");
    ev.detail.endpoint = Some("connect");
    let audit = ctx.audit.clone();
    tokio::spawn(async move {
        let _ = audit.record(vec![ev], Vec::new()).await;
    });
}

async fn serve(
    ctx: Arc<Ctx>,
    socket: Socket,
    uid: u32,
    stream: UnixStream,
    _permit: OwnedSemaphorePermit,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = ctx.config.limits.clone();
    let svc_ctx = ctx.clone();
    let service = service_fn(move |req| {
        let ctx = svc_ctx.clone();
        async move { Ok::<_, std::convert::Infallible>(crate::api::handle(ctx, socket, uid, req).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(crate::config::MAX_HEADERS)
        .keep_alive(true)
        // A client may shut down its write side and still read the reply (`curl` does not, raw
        // clients do).
        .half_close(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    if *shutdown.borrow() {
        conn.as_mut().graceful_shutdown();
    }
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            tokio::time::timeout(limits.shutdown_grace, conn)
                .await
                .unwrap_or(Ok(()))
        }
    };
    if let Err(e) = result {
        refuse_http(&ctx, socket, uid, &e).await;
    }
}

/// Audits a request the HTTP layer refused before ward saw it: headers too large or too many
/// (answered `431`), headers not complete within the header timeout (closed), or bytes that are
/// not HTTP (answered `400`). A client that merely went away is not a request and is not audited.
async fn refuse_http(ctx: &Arc<Ctx>, socket: Socket, uid: u32, e: &hyper::Error) {
    let reason = if e.is_parse_too_large() {
        "headers-too-large"
    } else if e.is_timeout() {
        "header-timeout"
    } else if e.is_parse() {
        "malformed-http"
    } else {
        return;
    };
    tracing::info!(
        uid,
        "{} socket: request refused by the HTTP layer: {e}",
        socket.as_str()
    );
    let mut ev = AuditEvent::new(AuditAction::Deny);
    ev.actor = Some(format!("{}:uid:{uid}", socket.as_str()));
    ev.outcome = Outcome::Denied;
    ev.detail.reason = Some(reason);
    ev.detail.endpoint = Some("http");
    if let Err(e) = ctx.audit.record(vec![ev], Vec::new()).await {
        tracing::error!("cannot audit a refused request: {e}");
    }
}
