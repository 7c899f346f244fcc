//! Secrets by reference: `{{secret:NAME}}` placeholders in an outgoing request are replaced with
//! the secret's value host-side, only where the signed manifest binds the secret, and responses
//! are scrubbed of the value before the guest reads a byte.
//!
//! The rule: a guest writes the placeholder `{{secret:NAME}}` as (part of) the value of the header
//! or query parameter the manifest declares for `NAME`; the host replaces the placeholder with the
//! secret's `format` (for example `Bearer {}`), `{}` standing for the value. It substitutes only
//! when **all** hold:
//!
//! 1. the request's scheme is `https`;
//! 2. the request's host and port match one of the secret's bound hosts;
//! 3. the placeholder is in the declared header's value, or in the declared query parameter's
//!    value (where the substituted text is percent-encoded);
//! 4. the secret is bound to the call: declared in the manifest, granted by the operator and
//!    present in the secret store.
//!
//! Anything else — a placeholder in the path, the host, the user information, a query parameter
//! name, another header or another query parameter; a malformed `{{secret:`; a name that is not
//! bound; plain `http`; another host — refuses the whole request, unsent. A substituted header
//! value with CR, LF, NUL or any byte a header value may not hold is refused too.

use std::fmt;

use http::header::{
    ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, HeaderMap, TRANSFER_ENCODING,
};
use http::{HeaderValue, Request, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use ward_manifest::{Inject, NetworkRule};
use ward_net::NetPolicy;
use ward_secrets::{
    PLACEHOLDER_OPEN, PlaceholderError, Scrubber, SecretValue, find_placeholders, substitute,
};
use zeroize::Zeroizing;

/// Everything but the RFC 3986 unreserved characters is percent-encoded in a substituted query
/// value, so a value cannot add parameters or end the query.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One secret bound to a call: its name, the hosts it may be sent to, where in the request it
/// goes, its format and its value. `Debug` shows the name, hosts and place, never the value.
#[derive(Clone)]
pub struct BoundSecret {
    name: String,
    hosts: NetPolicy,
    inject: Inject,
    format: String,
    value: SecretValue,
}

impl fmt::Debug for BoundSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundSecret")
            .field("name", &self.name)
            .field(
                "hosts",
                &self
                    .hosts
                    .rules()
                    .iter()
                    .map(|r| r.url.to_string())
                    .collect::<Vec<_>>(),
            )
            .field("inject", &self.inject)
            .finish_non_exhaustive()
    }
}

impl BoundSecret {
    /// The manifest's declaration `secret` with the value from the operator's secret store.
    pub fn new(secret: &ward_manifest::Secret, value: SecretValue) -> BoundSecret {
        let rules: Vec<NetworkRule> = secret
            .hosts
            .iter()
            .map(|url| NetworkRule::any_method(url.clone()))
            .collect();
        BoundSecret {
            name: secret.name.clone(),
            hosts: NetPolicy::new(&rules),
            inject: secret.inject.clone(),
            format: secret.format.clone(),
            value,
        }
    }

    /// The secret's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The text that replaces the placeholder: the format with `{}` replaced by the value.
    fn formatted(&self) -> SecretValue {
        let mut out = Zeroizing::new(String::with_capacity(self.format.len() + self.value.len()));
        match self.format.split_once("{}") {
            Some((before, after)) => {
                out.push_str(before);
                out.push_str(self.value.expose());
                out.push_str(after);
            }
            // The manifest guarantees exactly one `{}`; without one the value alone is sent.
            None => out.push_str(self.value.expose()),
        }
        SecretValue::new(out)
    }
}

/// Why a request carrying a placeholder was refused. Holds secret names, never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal(pub(crate) String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where in the request a placeholder was found.
enum Place<'a> {
    Header(&'a str),
    Query(&'a str),
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Header(h) => write!(f, "the {h} header"),
            Place::Query(q) => write!(f, "the {q} query parameter"),
        }
    }
}

fn contains_marker(bytes: &[u8]) -> bool {
    bytes
        .windows(PLACEHOLDER_OPEN.len())
        .any(|w| w == PLACEHOLDER_OPEN.as_bytes())
}

/// Cuts and sanitizes a guest-chosen name for a log line.
fn shown(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .take(100)
        .collect()
}

/// Checks every placeholder in `request` against `secrets` and substitutes them, or refuses the
/// whole request. A request without any `{{secret:` is left as it is.
pub(crate) fn apply<B>(request: &mut Request<B>, secrets: &[BoundSecret]) -> Result<(), Refusal> {
    let uri = request.uri().clone();
    let method = request.method().as_str().to_owned();
    if let Some(authority) = uri.authority()
        && contains_marker(authority.as_str().as_bytes())
    {
        return Err(Refusal(
            "a secret placeholder in the URL's host or user information".into(),
        ));
    }
    if contains_marker(uri.path().as_bytes()) {
        return Err(Refusal(
            "a secret placeholder in the URL path (secrets go only in their declared header or query parameter)"
                .into(),
        ));
    }

    let resolve = |text: &str, place: &Place<'_>| -> Result<Zeroizing<String>, Refusal> {
        for name in find_placeholders(text) {
            check(name, place, &uri, &method, secrets)?;
        }
        let query = matches!(place, Place::Query(_));
        substitute(text, |name| {
            let secret = secrets.iter().find(|s| s.name == name)?;
            let formatted = secret.formatted();
            if query {
                let encoded: Zeroizing<String> =
                    Zeroizing::new(utf8_percent_encode(formatted.expose(), QUERY_VALUE).collect());
                Some(SecretValue::new(encoded))
            } else {
                Some(formatted)
            }
        })
        .map_err(|err| match err {
            PlaceholderError::NotAvailable { name } => {
                Refusal(format!("secret {name} is not bound to this call"))
            }
            other => Refusal(format!("{other} (in {place})")),
        })
    };

    // The query: only a declared parameter's value may hold a placeholder.
    let mut new_query: Option<Zeroizing<String>> = None;
    if let Some(query) = uri.query()
        && contains_marker(query.as_bytes())
    {
        let mut out = Zeroizing::new(String::with_capacity(query.len() * 2));
        for (i, param) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            let (key, value) = match param.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (param, None),
            };
            if contains_marker(key.as_bytes()) {
                return Err(Refusal(
                    "a secret placeholder in a query parameter name".into(),
                ));
            }
            out.push_str(key);
            if let Some(value) = value {
                out.push('=');
                if contains_marker(value.as_bytes()) {
                    let replaced = resolve(value, &Place::Query(key))?;
                    out.push_str(&replaced);
                } else {
                    out.push_str(value);
                }
            }
        }
        new_query = Some(out);
    }

    // Every header value.
    for (name, value) in request.headers_mut().iter_mut() {
        if !contains_marker(value.as_bytes()) {
            continue;
        }
        let place = Place::Header(name.as_str());
        let text = std::str::from_utf8(value.as_bytes()).map_err(|_| {
            Refusal(format!(
                "a secret placeholder in {place}, whose value is not UTF-8"
            ))
        })?;
        let replaced = resolve(text, &place)?;
        let names = find_placeholders(text).join(", ");
        if replaced.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(Refusal(format!(
                "secret {names} would put CR, LF or NUL into {place}"
            )));
        }
        let mut header = HeaderValue::from_str(&replaced).map_err(|_| {
            Refusal(format!(
                "secret {names} would put a byte a header value may not hold into {place}"
            ))
        })?;
        header.set_sensitive(true);
        *value = header;
    }

    if let Some(query) = new_query {
        let mut path_and_query =
            Zeroizing::new(String::with_capacity(uri.path().len() + query.len() + 1));
        path_and_query.push_str(uri.path());
        path_and_query.push('?');
        path_and_query.push_str(&query);
        let mut parts = uri.into_parts();
        parts.path_and_query = Some(
            path_and_query
                .as_str()
                .parse()
                .map_err(|_| Refusal("the URL with the secret substituted is invalid".into()))?,
        );
        *request.uri_mut() = Uri::from_parts(parts)
            .map_err(|_| Refusal("the URL with the secret substituted is invalid".into()))?;
    }
    Ok(())
}

/// Whether secret `name` may be substituted at `place` in a request to `uri`.
fn check(
    name: &str,
    place: &Place<'_>,
    uri: &Uri,
    method: &str,
    secrets: &[BoundSecret],
) -> Result<(), Refusal> {
    let Some(secret) = secrets.iter().find(|s| s.name == name) else {
        return Err(Refusal(format!(
            "secret {name} is not bound to this call (not declared, not granted, or not set)"
        )));
    };
    if !uri
        .scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("https"))
    {
        return Err(Refusal(format!("secret {name} is sent only over https")));
    }
    if secret.hosts.check_request(method, uri).is_err() {
        let bound: Vec<String> = secret
            .hosts
            .rules()
            .iter()
            .map(|r| r.url.to_string())
            .collect();
        return Err(Refusal(format!(
            "secret {name} is bound only to {}",
            bound.join(", ")
        )));
    }
    let declared = match (&secret.inject, place) {
        (Inject::Header(h), Place::Header(p)) => h.eq_ignore_ascii_case(p),
        (Inject::Query(q), Place::Query(p)) => q == p,
        _ => false,
    };
    if !declared {
        return Err(Refusal(format!(
            "secret {name} goes only in {}, not in {}",
            secret.inject,
            shown(&place.to_string())
        )));
    }
    Ok(())
}

/// Asks the server for an unencoded body: a compressed body could hide a secret from the
/// scrubber.
pub(crate) fn ask_identity<B>(request: &mut Request<B>) {
    request
        .headers_mut()
        .insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
}

/// What a response is scrubbed with when the call has secrets bound.
pub(crate) struct ResponseScrub {
    /// Every bound value, raw and formatted, in every form the scrubber knows.
    pub(crate) body: Scrubber,
    /// The raw values in lowercase, for header names (which HTTP lowercases).
    lowered: Vec<Zeroizing<String>>,
}

impl ResponseScrub {
    /// The scrubber for `secrets`: each value raw and in its formatted form (`Bearer …`).
    pub(crate) fn new(secrets: &[BoundSecret]) -> Result<ResponseScrub, ward_secrets::ScrubError> {
        let mut values: Vec<SecretValue> = Vec::with_capacity(secrets.len() * 2);
        for s in secrets {
            values.push(s.value.clone());
            values.push(s.formatted());
        }
        let body = Scrubber::new(values.iter().map(|v| v.expose().as_bytes()))?;
        let lowered = secrets
            .iter()
            .filter(|s| !s.value.is_empty())
            .map(|s| Zeroizing::new(s.value.expose().to_ascii_lowercase()))
            .collect();
        Ok(ResponseScrub { body, lowered })
    }

    /// Whether a header name holds a bound value (in any form the scrubber knows, or the raw
    /// value in any case).
    fn name_holds_secret(&self, name: &str) -> bool {
        self.body.scrub_all(name.as_bytes()) != name.as_bytes()
            || self.lowered.iter().any(|v| name.contains(v.as_str()))
    }

    /// Scrubs every header value; drops a header whose name holds a secret, and
    /// `Content-Length` (scrubbing changes the body's length).
    pub(crate) fn headers(&self, headers: &mut HeaderMap) {
        let old = std::mem::take(headers);
        let mut name = None;
        for (next, value) in old {
            if let Some(next) = next {
                name = Some(next);
            }
            let Some(name) = name.clone() else {
                continue;
            };
            if name == CONTENT_LENGTH || self.name_holds_secret(name.as_str()) {
                continue;
            }
            let scrubbed = self.body.scrub_all(value.as_bytes());
            let value = if scrubbed == value.as_bytes() {
                value
            } else {
                match HeaderValue::from_bytes(&scrubbed) {
                    Ok(v) => v,
                    Err(_) => continue,
                }
            };
            headers.append(name, value);
        }
    }
}

/// The response's content coding, or a transfer coding other than `chunked`, when there is one
/// besides identity: the body would reach the scrubber encoded.
pub(crate) fn encoded(headers: &HeaderMap) -> Option<String> {
    let content = headers.get_all(CONTENT_ENCODING).iter().map(|v| (v, false));
    let transfer = headers.get_all(TRANSFER_ENCODING).iter().map(|v| (v, true));
    for (value, is_transfer) in content.chain(transfer) {
        let Ok(text) = value.to_str() else {
            return Some("(not ASCII)".into());
        };
        for coding in text.split(',') {
            let coding = coding.trim();
            let plain = coding.is_empty()
                || coding.eq_ignore_ascii_case("identity")
                || (is_transfer && coding.eq_ignore_ascii_case("chunked"));
            if !plain {
                return Some(shown(coding));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_manifest::Manifest;

    fn bound(decl: &str, value: &str) -> Vec<BoundSecret> {
        let toml = format!(
            "name = \"acme:s\"\nversion = \"0.1.0\"\n[capabilities]\nnetwork = [{{ url = \"https://api.test\" }}, {{ url = \"https://other.test\" }}, {{ url = \"http://plain.test\" }}]\nsecrets = [{decl}]\n"
        );
        let manifest = Manifest::parse(toml.as_bytes()).unwrap();
        manifest
            .capabilities
            .secrets
            .iter()
            .map(|s| BoundSecret::new(s, SecretValue::new(Zeroizing::new(value.to_owned()))))
            .collect()
    }

    fn header_secret() -> Vec<BoundSecret> {
        bound(
            r#"{ name = "TOKEN", hosts = ["https://api.test"], header = "Authorization", format = "Bearer {}" }"#,
            "s3cr3t",
        )
    }

    fn query_secret() -> Vec<BoundSecret> {
        bound(
            r#"{ name = "KEY", hosts = ["https://api.test"], query = "key" }"#,
            "a b&c=d",
        )
    }

    fn req(url: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::get(url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn header_placeholder_is_substituted_with_the_format() {
        let mut r = req(
            "https://api.test/x",
            &[("authorization", "{{secret:TOKEN}}")],
        );
        apply(&mut r, &header_secret()).unwrap();
        assert_eq!(r.headers()["authorization"], "Bearer s3cr3t");
        assert!(r.headers()["authorization"].is_sensitive());
    }

    #[test]
    fn query_placeholder_is_substituted_percent_encoded() {
        let mut r = req("https://api.test/x?a=1&key={{secret:KEY}}&b=2", &[]);
        apply(&mut r, &query_secret()).unwrap();
        assert_eq!(r.uri().query(), Some("a=1&key=a%20b%26c%3Dd&b=2"));
    }

    #[test]
    fn refusals_name_the_secret_and_never_the_value() {
        let h = header_secret();
        let q = query_secret();
        let none = Vec::new();
        let cases: Vec<(Request<()>, &Vec<BoundSecret>, &str)> = vec![
            (
                req(
                    "https://other.test/",
                    &[("authorization", "{{secret:TOKEN}}")],
                ),
                &h,
                "secret TOKEN is bound only to https://api.test",
            ),
            (
                req(
                    "http://plain.test/",
                    &[("authorization", "{{secret:TOKEN}}")],
                ),
                &h,
                "secret TOKEN is sent only over https",
            ),
            (
                req("https://api.test/", &[("x-other", "{{secret:TOKEN}}")]),
                &h,
                "secret TOKEN goes only in the Authorization header, not in the x-other header",
            ),
            (
                req("https://api.test/", &[("authorization", "{{secret:NOPE}}")]),
                &h,
                "secret NOPE is not bound to this call (not declared, not granted, or not set)",
            ),
            (
                req(
                    "https://api.test/",
                    &[("authorization", "{{secret:token}}")],
                ),
                &h,
                "malformed secret placeholder at byte 0: write {{secret:NAME}} with NAME in A-Z, 0-9 and '_', not starting with a digit (in the authorization header)",
            ),
            (
                req("https://api.test/{{secret:TOKEN}}", &[]),
                &h,
                "a secret placeholder in the URL path (secrets go only in their declared header or query parameter)",
            ),
            (
                req("https://api.test/?other={{secret:KEY}}", &[]),
                &q,
                "secret KEY goes only in the key query parameter, not in the other query parameter",
            ),
            (
                req("https://api.test/?{{secret:KEY}}=1", &[]),
                &q,
                "a secret placeholder in a query parameter name",
            ),
            (
                req("https://api.test/", &[("key", "{{secret:KEY}}")]),
                &q,
                "secret KEY goes only in the key query parameter, not in the key header",
            ),
            (
                req(
                    "https://api.test/",
                    &[("authorization", "{{secret:TOKEN}}")],
                ),
                &none,
                "secret TOKEN is not bound to this call (not declared, not granted, or not set)",
            ),
        ];
        for (mut r, secrets, want) in cases {
            let before = r.uri().to_string();
            let err = apply(&mut r, secrets).unwrap_err();
            assert_eq!(err.0, want, "{before}");
            assert!(!err.0.contains("s3cr3t") && !err.0.contains("a b&c"));
        }
    }

    #[test]
    fn value_with_crlf_or_nul_is_refused() {
        for value in ["a\r\nx-injected: 1", "a\nb", "a\0b", "a\u{7f}b"] {
            let s = bound(
                r#"{ name = "TOKEN", hosts = ["https://api.test"], header = "Authorization" }"#,
                value,
            );
            let mut r = req(
                "https://api.test/",
                &[("authorization", "{{secret:TOKEN}}")],
            );
            let err = apply(&mut r, &s).unwrap_err();
            assert!(
                err.0.starts_with("secret TOKEN would put"),
                "{value:?}: {err}"
            );
            assert!(!err.0.contains(value));
        }
    }

    #[test]
    fn request_without_marker_is_untouched() {
        let mut r = req(
            "https://other.test/a?b=c",
            &[("authorization", "Bearer mine")],
        );
        apply(&mut r, &header_secret()).unwrap();
        assert_eq!(r.uri().to_string(), "https://other.test/a?b=c");
        assert_eq!(r.headers()["authorization"], "Bearer mine");
    }

    #[test]
    fn content_coding_other_than_identity_is_found() {
        let mut h = HeaderMap::new();
        assert_eq!(encoded(&h), None);
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("identity"));
        assert_eq!(encoded(&h), None);
        h.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        assert_eq!(encoded(&h), None);
        h.insert(TRANSFER_ENCODING, HeaderValue::from_static("br, chunked"));
        assert_eq!(encoded(&h).as_deref(), Some("br"));
        h.remove(TRANSFER_ENCODING);
        h.append(CONTENT_ENCODING, HeaderValue::from_static("identity, gzip"));
        assert_eq!(encoded(&h).as_deref(), Some("gzip"));
    }

    #[test]
    fn headers_are_scrubbed_and_length_dropped() {
        let s = header_secret();
        let scrub = ResponseScrub::new(&s).unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-echo", HeaderValue::from_static("Bearer s3cr3t"));
        h.insert("content-length", HeaderValue::from_static("10"));
        h.append("x-s3cr3t", HeaderValue::from_static("1"));
        h.append("x-bearer-s3cr3t-x", HeaderValue::from_static("1"));
        h.insert("x-plain", HeaderValue::from_static("ok"));
        scrub.headers(&mut h);
        assert_eq!(h["x-echo"], "[redacted:secret]");
        assert!(h.get("content-length").is_none());
        assert!(h.get("x-s3cr3t").is_none());
        assert!(h.get("x-bearer-s3cr3t-x").is_none());
        assert_eq!(h["x-plain"], "ok");
    }
}
