//! `example:relay`: send one request with any method through `wasi:http/outgoing-handler`.
//! The host sends it only to destinations the operator granted; in paper mode a request other
//! than GET or HEAD is answered by the host without being sent.

ward_sdk::generate!({
    world: "example:relay/relay@0.1.0",
    path: ["../../wit", "wit"],
});

use wasi::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasi::io::streams::StreamError;

/// Most response body bytes returned.
const BODY_KEEP_BYTES: usize = 64 * 1024;

struct Relay;

impl Guest for Relay {
    fn send(method: String, url: String, body: String) -> Result<String, String> {
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
        let method = match method.as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            other => Method::Other(other.to_string()),
        };

        let request = OutgoingRequest::new(Fields::new());
        request
            .set_method(&method)
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
        let outgoing = request
            .body()
            .map_err(|()| "request body already taken".to_string())?;
        let pending = wasi::http::outgoing_handler::handle(request, None)
            .map_err(|err| format!("request refused: {err}"))?;
        {
            let stream = outgoing
                .write()
                .map_err(|()| "request body stream already taken".to_string())?;
            if !body.is_empty() {
                stream
                    .blocking_write_and_flush(body.as_bytes())
                    .map_err(|err| format!("writing the body failed: {err:?}"))?;
            }
        }
        OutgoingBody::finish(outgoing, None).map_err(|err| format!("request failed: {err}"))?;
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
        let incoming = response
            .consume()
            .map_err(|()| "response body already taken".to_string())?;
        let stream = incoming
            .stream()
            .map_err(|()| "response body stream already taken".to_string())?;
        let mut kept = Vec::new();
        loop {
            match stream.blocking_read(16 * 1024) {
                Ok(chunk) => {
                    let room = BODY_KEEP_BYTES.saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(err)) => {
                    return Err(format!("reading the body failed: {}", err.to_debug_string()));
                }
            }
        }
        drop(stream);
        drop(incoming);
        Ok(format!("{status} {}", String::from_utf8_lossy(&kept)))
    }
}

export!(Relay);
