//! `example:fetch`: GET a URL through `wasi:http/outgoing-handler`. The host sends the request
//! only to destinations the operator granted from the manifest's `network` list.

ward_sdk::generate!({
    world: "example:fetch/fetch@0.1.0",
    path: ["../../wit", "wit"],
});

use wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};
use wasi::io::streams::StreamError;

/// Most body bytes returned (the whole body is still read, within the host's cap).
const BODY_KEEP_BYTES: usize = 256 * 1024;

struct Fetch;

impl Guest for Fetch {
    fn get(url: String) -> Result<String, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url:?} is not an absolute http or https URL"))?;
        let scheme = match scheme {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            other => return Err(format!("the scheme {other:?} is not http or https")),
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let path = if path.is_empty() { "/" } else { path };

        let request = OutgoingRequest::new(Fields::new());
        request
            .set_method(&Method::Get)
            .map_err(|()| "invalid method".to_string())?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| "invalid scheme".to_string())?;
        request
            .set_authority(Some(authority))
            .map_err(|()| format!("invalid authority {authority:?}"))?;
        request
            .set_path_with_query(Some(path))
            .map_err(|()| format!("invalid path {path:?}"))?;
        let pending = wasi::http::outgoing_handler::handle(request, None)
            .map_err(|err| format!("request refused: {err}"))?;
        let response = loop {
            match pending.get() {
                Some(response) => break response,
                None => pending.subscribe().block(),
            }
        };
        let response = response
            .map_err(|()| "response already taken".to_string())?
            .map_err(|err| format!("request failed: {err}"))?;
        let status = response.status();
        let body = response
            .consume()
            .map_err(|()| "response body already taken".to_string())?;
        let stream = body
            .stream()
            .map_err(|()| "response body stream already taken".to_string())?;
        let mut kept = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    let room = BODY_KEEP_BYTES.saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(err)) => {
                    return Err(format!(
                        "reading the body failed: {}",
                        err.to_debug_string()
                    ));
                }
            }
        }
        drop(stream);
        drop(body);
        Ok(format!("{status} {}", String::from_utf8_lossy(&kept)))
    }
}

export!(Fetch);
