//! A minimal HTTP/1.1 client over a Unix socket, for `ward daemon status`, the tests and the
//! load generator.

use std::path::Path;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

/// Largest reply body read. Threat: a hostile process listening on the socket path.
pub const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket cannot be reached.
    #[error("cannot connect to {path}: {source}")]
    Connect {
        /// The socket.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// HTTP failed.
    #[error("the daemon's reply could not be read")]
    Http(#[from] hyper::Error),
    /// The request could not be built.
    #[error("invalid request")]
    Request(#[from] hyper::http::Error),
    /// The reply is too large.
    #[error("the daemon's reply is larger than {MAX_REPLY_BYTES} bytes")]
    TooLarge,
    /// The reply is not JSON.
    #[error("the daemon's reply is not JSON")]
    Json(#[from] serde_json::Error),
}

/// One connection to a socket; requests on it are sent one after the other (keep-alive).
pub struct Connection {
    sender: http1::SendRequest<Full<Bytes>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Connection {
    /// Connects to the socket at `path`.
    pub async fn open(path: &Path) -> Result<Connection, ClientError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|source| ClientError::Connect {
                path: path.display().to_string(),
                source,
            })?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        let task = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection { sender, task })
    }

    /// Sends a request; `token` goes in `Authorization: Bearer`, `body` as JSON.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> Result<(StatusCode, serde_json::Value), ClientError> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "ward");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        self.sender.ready().await?;
        let resp = self.sender.send_request(req.body(Full::new(body))?).await?;
        let status = resp.status();
        let bytes = http_body_util::Limited::new(resp.into_body(), MAX_REPLY_BYTES)
            .collect()
            .await
            .map_err(|_| ClientError::TooLarge)?
            .to_bytes();
        Ok((status, serde_json::from_slice(&bytes)?))
    }
}

/// Opens a connection, sends one request and returns the status and JSON reply.
pub async fn request(
    socket: &Path,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> Result<(StatusCode, serde_json::Value), ClientError> {
    Connection::open(socket)
        .await?
        .request(method, path, token, body)
        .await
}
