//! The sockets: a private directory the daemon owns, two Unix sockets with mode 0600, the peer
//! credential check on every connection, and the connection limits.

use std::os::unix::fs::{
    DirBuilderExt as _, FileTypeExt as _, MetadataExt as _, PermissionsExt as _,
};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, watch};

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

/// A connection's share of the budgets: its socket's slot and, on the agent socket, its peer
/// uid's. Both are given back when the connection ends.
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    uid: Option<(Arc<Ctx>, u32)>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((ctx, uid)) = self.uid.take() {
            let mut per_uid = ctx.per_uid.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = per_uid.get_mut(&uid) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    per_uid.remove(&uid);
                }
            }
        }
    }
}

/// Takes a slot for a connection from `uid` on `socket`, or the reason it is refused.
fn take_slot(ctx: &Arc<Ctx>, socket: Socket, uid: u32) -> Result<Slot, &'static str> {
    let sem = match socket {
        Socket::Operator => &ctx.op_conns,
        Socket::Agent => &ctx.conns,
    };
    let permit = sem
        .clone()
        .try_acquire_owned()
        .map_err(|_| "connection-limit")?;
    if socket == Socket::Operator {
        return Ok(Slot {
            _permit: permit,
            uid: None,
        });
    }
    let mut per_uid = ctx.per_uid.lock().unwrap_or_else(|p| p.into_inner());
    let n = per_uid.entry(uid).or_insert(0);
    if *n >= ctx.config.limits.max_connections_per_uid {
        return Err("uid-connection-limit");
    }
    *n += 1;
    Ok(Slot {
        _permit: permit,
        uid: Some((ctx.clone(), uid)),
    })
}

/// Accepts connections on `listener` until shutdown. A refused connection is closed unanswered
/// and counted ([`crate::refusals`]).
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
            ctx.refusals.note(socket, uid, "peer-uid", "connect");
            continue;
        }
        let slot = match take_slot(&ctx, socket, uid) {
            Ok(slot) => slot,
            Err(reason) => {
                ctx.refusals.note(socket, uid, reason, "connect");
                continue;
            }
        };
        tokio::spawn(serve(
            ctx.clone(),
            socket,
            uid,
            stream,
            slot,
            shutdown.clone(),
        ));
    }
}

async fn serve(
    ctx: Arc<Ctx>,
    socket: Socket,
    uid: u32,
    stream: UnixStream,
    _slot: Slot,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = ctx.config.limits.clone();
    // A connection that sends nothing is closed quickly: idle connections renewed one after
    // another cannot hold the budget.
    let mut stream = stream;
    let mut first = vec![0u8; 4096];
    let read = tokio::select! {
        r = tokio::time::timeout(limits.first_byte_timeout, stream.read(&mut first)) => r,
        _ = shutdown.changed() => return,
    };
    match read {
        Ok(Ok(0)) | Ok(Err(_)) => return,
        Ok(Ok(n)) => first.truncate(n),
        Err(_) => {
            ctx.refusals.note(socket, uid, "no-bytes", "connect");
            return;
        }
    }
    let stream = Prefixed {
        first: bytes::Bytes::from(first),
        inner: stream,
    };
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
        refuse_http(&ctx, socket, uid, &e);
    }
}

/// Counts a request the HTTP layer refused before ward saw it: headers too large or too many
/// (answered `431`), headers not complete within the header timeout (closed), or bytes that are
/// not HTTP (answered `400`). A client that merely went away is not a request and is not counted.
fn refuse_http(ctx: &Arc<Ctx>, socket: Socket, uid: u32, e: &hyper::Error) {
    let reason = if e.is_parse_too_large() {
        "headers-too-large"
    } else if e.is_timeout() {
        "header-timeout"
    } else if e.is_parse() {
        "malformed-http"
    } else {
        return;
    };
    ctx.refusals.note(socket, uid, reason, "http");
}

/// A connection whose first bytes were already read: they are read again first.
struct Prefixed {
    first: bytes::Bytes,
    inner: UnixStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.first.is_empty() {
            let n = self.first.len().min(buf.remaining());
            let head = self.first.split_to(n);
            buf.put_slice(&head);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
