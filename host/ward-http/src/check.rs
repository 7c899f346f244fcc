//! Checks of a request's and a response's head: the `Host` header, a declared body size and the
//! response header caps.

use http::header::{CONTENT_LENGTH, HOST};
use http::{Request, Response};
use wasmtime_wasi_http::Error;

use crate::grant::HttpLimits;

/// Refuses a `Host` header that names anything but the URL's authority (the guest cannot set
/// `host`, but the check does not rely on that).
pub(crate) fn check_host_header<B>(request: &Request<B>) -> Result<(), String> {
    let authority = request.uri().authority().map_or("", |a| a.as_str());
    let mut values = request.headers().get_all(HOST).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(()),
        (Some(value), None) if value.as_bytes().eq_ignore_ascii_case(authority.as_bytes()) => {
            Ok(())
        }
        (Some(value), None) => Err(format!(
            "the Host header '{}' disagrees with the URL's host '{authority}'",
            String::from_utf8_lossy(value.as_bytes())
                .chars()
                .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
                .take(200)
                .collect::<String>()
        )),
        (Some(_), Some(_)) => Err("the request has more than one Host header".to_owned()),
    }
}

/// The request's `Content-Length`, when it has exactly one that parses.
pub(crate) fn content_length<B>(request: &Request<B>) -> Option<u64> {
    let value = request.headers().get(CONTENT_LENGTH)?;
    value.to_str().ok()?.trim().parse().ok()
}

/// Checks the response head against the header caps and a declared body size against the body
/// cap.
pub(crate) fn check_response_head<B>(
    response: &Response<B>,
    limits: &HttpLimits,
) -> Result<(), (String, Error)> {
    let headers = response.headers();
    if headers.len() > limits.response_headers {
        return Err((
            format!(
                "the response has {} header fields, over the cap of {}",
                headers.len(),
                limits.response_headers
            ),
            Error::HttpResponseHeaderSectionSize(None),
        ));
    }
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if bytes > limits.response_header_bytes {
        return Err((
            format!(
                "the response header section is {bytes} bytes, over the cap of {}",
                limits.response_header_bytes
            ),
            Error::HttpResponseHeaderSectionSize(u32::try_from(bytes).ok()),
        ));
    }
    if let Some(len) = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        && len > limits.response_body_bytes
    {
        return Err((
            format!(
                "the response declares a body of {len} bytes, over the cap of {}",
                limits.response_body_bytes
            ),
            Error::HttpResponseBodySize(Some(len)),
        ));
    }
    Ok(())
}
