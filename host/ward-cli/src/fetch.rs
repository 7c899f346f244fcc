//! Downloading a plugin for `ward install URL`.
//!
//! https only (plain http only to a loopback address, for tests and local mirrors), a size cap
//! enforced while streaming, connect, idle and total timeouts, and no redirect to another host
//! or to a weaker scheme.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};

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
pub(crate) fn is_url(text: &str) -> bool {
    text.starts_with("https://") || text.starts_with("http://")
}

fn check_url(url: &reqwest::Url) -> anyhow::Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => bail!(
            "refusing plain http for {url}: use https (plain http is allowed only to a loopback address)"
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
pub(crate) async fn download(url: &str, max: u64) -> anyhow::Result<Vec<u8>> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("invalid URL {url}"))?;
    check_url(&parsed)?;
    let origin_host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    let origin_port = parsed.port_or_known_default();
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(anyhow!("more than {MAX_REDIRECTS} redirects"));
        }
        let next = attempt.url();
        let same_host = next
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(&origin_host))
            && next.port_or_known_default() == origin_port;
        if !same_host {
            let to = next.to_string();
            return attempt.error(anyhow!("refusing redirect to another host: {to}"));
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
        .context("cannot create the HTTP client")?;
    let mut response = client
        .get(parsed.clone())
        .send()
        .await
        .map_err(|e| anyhow!("cannot download {parsed}: {}", describe(&e)))?;
    if !response.status().is_success() {
        bail!(
            "cannot download {parsed}: the server answered {}",
            response.status()
        );
    }
    if let Some(len) = response.content_length()
        && len > max
    {
        bail!(
            "refusing {parsed}: it is {} and the limit for components is {}",
            ward_policy::format_bytes(len),
            ward_policy::format_bytes(max)
        );
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| anyhow!("download of {parsed} failed: {}", describe(&e)))?
    {
        if body.len() as u64 + chunk.len() as u64 > max {
            bail!(
                "refusing {parsed}: the body is larger than the {} limit for components",
                ward_policy::format_bytes(max)
            );
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".into();
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
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
        ];
        for url in bad {
            assert!(
                check_url(&reqwest::Url::parse(url).unwrap()).is_err(),
                "{url}"
            );
        }
    }
}
