//! The read step for a URL: downloading a plugin for `ward install URL`.
//!
//! https only (plain http only to a loopback address, for tests and local mirrors), a size cap
//! enforced while streaming, connect, idle and total timeouts, and no redirect to another host
//! or to a weaker scheme.

use std::net::IpAddr;
use std::time::Duration;

/// Why a download failed. The message never holds credentials from the URL.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DownloadError(String);

macro_rules! bail {
    ($($t:tt)*) => { return Err(DownloadError(format!($($t)*))) };
}

/// Longest ward waits for a TCP/TLS connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest ward waits between two reads of the body: a server that drips bytes is cut off.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a whole download may take.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(120);
/// Most redirects followed (each to the same host).
const MAX_REDIRECTS: usize = 5;

/// The idle timeout: [`READ_TIMEOUT`], or shorter when `WARD_FETCH_READ_TIMEOUT_MS` asks for
/// it (tests use it; it can never make the timeout longer).
fn read_timeout() -> Duration {
    std::env::var("WARD_FETCH_READ_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .map_or(READ_TIMEOUT, |d| d.min(READ_TIMEOUT))
}

/// Whether `text` looks like a URL rather than a path.
pub fn is_url(text: &str) -> bool {
    text.starts_with("https://") || text.starts_with("http://")
}

fn check_url(url: &reqwest::Url) -> Result<(), DownloadError> {
    if !url.username().is_empty() || url.password().is_some() {
        bail!(
            "refusing {}: credentials in a URL would be shown and logged; give them another way",
            shown(url)
        );
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => bail!(
            "refusing plain http for {}: use https (plain http is allowed only to a loopback address)",
            shown(url)
        ),
        other => bail!("refusing URL scheme '{other}': use https"),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Downloads `url`, refusing more than `max` bytes.
pub async fn download(url: &str, max: u64) -> Result<Vec<u8>, DownloadError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| DownloadError(format!("invalid URL {}: {e}", shown_text(url))))?;
    check_url(&parsed)?;
    let parsed_shown = shown(&parsed);
    let origin_host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    let origin_port = parsed.port_or_known_default();
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(DownloadError(format!(
                "more than {MAX_REDIRECTS} redirects"
            )));
        }
        let next = attempt.url();
        let same_host = next
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(&origin_host))
            && next.port_or_known_default() == origin_port;
        if !same_host {
            let to = shown(next);
            return attempt.error(DownloadError(format!(
                "refusing redirect to another host: {to}"
            )));
        }
        if let Err(err) = check_url(next) {
            return attempt.error(err);
        }
        attempt.follow()
    });
    let client = reqwest::Client::builder()
        .redirect(policy)
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(read_timeout())
        .timeout(TOTAL_TIMEOUT)
        .https_only(false)
        .user_agent(concat!("ward/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DownloadError(format!("cannot create the HTTP client: {e}")))?;
    let mut response =
        client.get(parsed.clone()).send().await.map_err(|e| {
            DownloadError(format!("cannot download {parsed_shown}: {}", describe(e)))
        })?;
    if !response.status().is_success() {
        bail!(
            "cannot download {parsed_shown}: the server answered {}",
            response.status()
        );
    }
    if let Some(len) = response.content_length()
        && len > max
    {
        bail!(
            "refusing {parsed_shown}: it is {} and the limit for components is {}",
            ward_policy::format_bytes(len),
            ward_policy::format_bytes(max)
        );
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        DownloadError(format!(
            "download of {parsed_shown} failed: {}",
            describe(e)
        ))
    })? {
        if body.len() as u64 + chunk.len() as u64 > max {
            bail!(
                "refusing {parsed_shown}: the body is larger than the {} limit for components",
                ward_policy::format_bytes(max)
            );
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `url` as shown in messages: without user name or password, query or fragment.
fn shown(url: &reqwest::Url) -> String {
    let mut clean = url.clone();
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.set_query(None);
    clean.set_fragment(None);
    clean.to_string()
}

/// Text that failed to parse as a URL, as shown in messages: everything up to an `@` in its
/// authority is dropped.
fn shown_text(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

fn describe(err: reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".into();
    }
    // reqwest's messages name the URL; the caller already names it without credentials.
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        let ok = [
            "https://example.com/p.wasm",
            "http://127.0.0.1:8080/p.wasm",
            "http://[::1]/x",
            "http://localhost/x",
        ];
        for url in ok {
            assert!(
                check_url(&reqwest::Url::parse(url).unwrap()).is_ok(),
                "{url}"
            );
        }
        let bad = [
            "http://example.com/p.wasm",
            "ftp://example.com/p.wasm",
            "file:///etc/passwd",
            "http://10.0.0.1/x",
            "https://user:hunter2@example.com/p.wasm",
        ];
        for url in bad {
            assert!(
                check_url(&reqwest::Url::parse(url).unwrap()).is_err(),
                "{url}"
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod credential_tests {
    use super::*;

    #[test]
    fn url_credentials_never_appear_in_errors() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for url in [
            "https://user:hunter2@example.com/p.wasm",
            "http://hunter2@example.com/p.wasm",
            "https://user:hunter2@exa mple.com/p.wasm",
        ] {
            let err = rt.block_on(download(url, 1024)).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
        }
        assert_eq!(
            shown(&reqwest::Url::parse("https://u:p@h.test/x?token=1#f").unwrap()),
            "https://h.test/x"
        );
    }
}
