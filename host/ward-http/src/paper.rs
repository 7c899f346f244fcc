//! Paper mode: a request other than `GET` or `HEAD` is recorded (method and origin) and answered
//! with a synthetic `202`, never sent.

use std::sync::Arc;

use http::{HeaderValue, Response, Uri};
use http_body_util::BodyExt;
use wasmtime_wasi_http::WasiBody;

use crate::egress::logged_origin;
use crate::hooks::IoFuture;

/// The synthetic body a request held back in paper mode gets.
pub const PAPER_BODY: &str = "{\"paper\":true,\"sent\":false,\"message\":\"ward paper mode: this request was recorded, not sent\"}";

/// Most held-back requests one call records. Threat: a guest looping on POSTs to make the host
/// grow the record (and the audit log) without end; later ones are still held back, uncounted.
pub const MAX_PAPER_RECORDS: usize = 256;

/// One request held back in paper mode: its method and origin only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBack {
    /// The method, e.g. `POST`.
    pub method: String,
    /// `scheme://host[:port]`, without path or query.
    pub origin: String,
}

/// The record of the requests a call held back in paper mode. Clones share the record.
#[derive(Debug, Clone, Default)]
pub struct PaperLog {
    held: Arc<std::sync::Mutex<Vec<HeldBack>>>,
}

impl PaperLog {
    /// An empty record.
    pub fn new() -> PaperLog {
        PaperLog::default()
    }

    fn push(&self, entry: HeldBack) {
        if let Ok(mut held) = self.held.lock()
            && held.len() < MAX_PAPER_RECORDS
        {
            held.push(entry);
        }
    }

    /// Takes the requests recorded so far.
    pub fn take(&self) -> Vec<HeldBack> {
        self.held
            .lock()
            .map(|mut held| std::mem::take(&mut *held))
            .unwrap_or_default()
    }
}

/// Records a held-back request and builds the synthetic answer; nothing is sent. The request
/// body is read and dropped (up to `body_cap` bytes), so that a guest still writing it is not
/// cut off.
pub(crate) fn paper_response(
    log: &PaperLog,
    method: &str,
    uri: &Uri,
    mut request_body: WasiBody,
    body_cap: u64,
) -> (Response<WasiBody>, IoFuture) {
    let origin = logged_origin(uri);
    tracing::info!(url = %origin, method, "paper mode: outgoing request recorded, not sent");
    log.push(HeldBack {
        method: method.chars().take(32).collect(),
        origin,
    });
    let body = http_body_util::Full::new(bytes::Bytes::from_static(PAPER_BODY.as_bytes()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = http::StatusCode::ACCEPTED;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert("x-ward-paper", HeaderValue::from_static("held-back"));
    let drain: IoFuture = Box::new(async move {
        let mut read = 0u64;
        while let Some(frame) = request_body.frame().await {
            let Ok(frame) = frame else { break };
            if let Some(data) = frame.data_ref() {
                read = read.saturating_add(data.len() as u64);
                if read > body_cap {
                    break;
                }
            }
        }
        Ok(())
    });
    (response, drain)
}
