//! `example:issue-bot`: calls an API with a token the plugin never sees. It writes the
//! placeholder `{{secret:ISSUE_TOKEN}}` into the `Authorization` header; ward substitutes the
//! value host-side, only for the https host the manifest binds the secret to, and scrubs it from
//! the response before the plugin reads it.

ward_sdk::generate!({
    world: "example:issue-bot/issue-bot@0.1.0",
    path: ["../../wit", "wit"],
});

use wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};
use wasi::io::streams::StreamError;

/// What the plugin writes where the token goes.
const TOKEN_PLACEHOLDER: &str = "{{secret:ISSUE_TOKEN}}";

/// Most body bytes returned.
const BODY_KEEP_BYTES: usize = 256 * 1024;

struct IssueBot;

impl Guest for IssueBot {
    fn list_issues(api: String) -> Result<String, String> {
        authorized_get(&api, "/issues")
    }

    fn send_token_to(host: String) -> Result<String, String> {
        authorized_get(&host, "/collect")
    }
}

/// GET `https://authority/path` with the token placeholder; the status, every response header
/// and the body, as the plugin sees them.
fn authorized_get(authority: &str, path: &str) -> Result<String, String> {
    let headers = Fields::new();
    headers
        .append("authorization", TOKEN_PLACEHOLDER.as_bytes())
        .map_err(|err| format!("cannot set the authorization header: {err:?}"))?;
    let request = OutgoingRequest::new(headers);
    request
        .set_method(&Method::Get)
        .map_err(|()| "invalid method".to_string())?;
    request
        .set_scheme(Some(&Scheme::Https))
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
    let mut out = format!("{}\n", response.status());
    for (name, value) in response.headers().entries() {
        out.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(&value)));
    }
    out.push('\n');
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
    out.push_str(&String::from_utf8_lossy(&kept));
    Ok(out)
}

export!(IssueBot);
