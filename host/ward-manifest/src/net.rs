//! Network destinations: `scheme://host[:port]` with an optional leading `*.` wildcard, and HTTP
//! methods.

use std::fmt;

use crate::error::shown;

/// The form every network destination takes, quoted in errors.
const FORM: &str = "hosts must be in the form <scheme>://<host>[:<port>], for example https://api.github.com or https://*.example.com:8443";

/// Longest host name (RFC 1035).
const MAX_HOST_LEN: usize = 253;
/// Longest label of a host name (RFC 1035).
const MAX_LABEL_LEN: usize = 63;

/// `https` or `http`; nothing else reaches the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// TLS.
    Https,
    /// Plain text.
    Http,
}

impl Scheme {
    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }

    /// 443 or 80.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            Scheme::Http => 80,
        }
    }
}

/// A network destination: scheme, host (or every host under a domain) and port. It has no path,
/// query, fragment or user information, and its host is lowercase ASCII (IDNA `xn--` form for
/// international names) without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct HostUrl {
    /// `https` or `http`.
    pub scheme: Scheme,
    /// The host name or IPv4 address; for a wildcard, the domain after `*.`.
    pub host: String,
    /// Whether this is `*.host`: every host under `host` (at any depth), not `host` itself.
    pub wildcard: bool,
    /// The port as written; `None` means the scheme's default.
    pub port: Option<u16>,
}

impl HostUrl {
    /// Parses `scheme://host[:port]`, refusing everything else with a message saying what to
    /// write.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad_form = || format!("{FORM}; got '{}'", shown(text));
        let (scheme, rest) = text.split_once("://").ok_or_else(bad_form)?;
        let scheme = match scheme {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            s if s.eq_ignore_ascii_case("https") => {
                return Err(format!(
                    "write the scheme in lowercase: https, not '{}'",
                    shown(s)
                ));
            }
            s if s.eq_ignore_ascii_case("http") => {
                return Err(format!(
                    "write the scheme in lowercase: http, not '{}'",
                    shown(s)
                ));
            }
            s => {
                return Err(format!(
                    "the scheme must be https or http, not '{}'; {FORM}",
                    shown(s)
                ));
            }
        };
        if let Some(i) = rest.find(['/', '?', '#']) {
            return Err(format!(
                "'{}' has a path, query or fragment; {FORM}: write {}://{}",
                shown(text),
                scheme.as_str(),
                shown(&rest[..i])
            ));
        }
        if rest.contains('@') {
            return Err(format!(
                "'{}' has user information ('@'); {FORM}",
                shown(text)
            ));
        }
        if rest.starts_with('[') {
            return Err(format!(
                "'{}': IPv6 addresses are not supported; write a host name or an IPv4 address",
                shown(text)
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(parse_port(port)?)),
            None => (rest, None),
        };
        let (wildcard, domain) = match host.strip_prefix("*.") {
            Some(domain) => (true, domain),
            None => (false, host),
        };
        check_host(host, domain)?;
        if wildcard && !domain.contains('.') {
            return Err(format!(
                "the wildcard '{}' covers a whole top-level domain: name at least two labels after '*.', for example *.example.com",
                shown(host)
            ));
        }
        Ok(HostUrl {
            scheme,
            host: domain.to_owned(),
            wildcard,
            port,
        })
    }

    /// The port requests go to: the one written, or the scheme's default.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(self.scheme.default_port())
    }

    /// The destination with the port made explicit, so that `https://a.com` and
    /// `https://a.com:443` compare equal.
    pub(crate) fn key(&self) -> (Scheme, &str, bool, u16) {
        (
            self.scheme,
            &self.host,
            self.wildcard,
            self.effective_port(),
        )
    }

    /// The host (and port, when not the scheme's default) as a person reads it:
    /// `api.github.com`, `any host under example.com`, `localhost:8080`.
    pub fn host_text(&self) -> String {
        let mut out = if self.wildcard {
            format!("any host under {}", self.host)
        } else {
            self.host.clone()
        };
        if let Some(port) = self.port.filter(|p| *p != self.scheme.default_port()) {
            if self.wildcard {
                out.push_str(&format!(" on port {port}"));
            } else {
                out.push_str(&format!(":{port}"));
            }
        }
        out
    }
}

impl fmt::Display for HostUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

fn parse_port(port: &str) -> Result<u16, String> {
    let bad = || format!("the port '{}' is not a number from 1 to 65535", shown(port));
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(p) => Ok(p),
    }
}

/// Checks a host name (`domain` is `host` without a leading `*.`).
fn check_host(host: &str, domain: &str) -> Result<(), String> {
    if domain.is_empty() {
        return Err(format!("the host is empty; {FORM}"));
    }
    if domain.contains('*') {
        return Err(format!(
            "'{}': a wildcard is allowed only as the whole first label, for example *.example.com",
            shown(host)
        ));
    }
    if !domain.is_ascii() {
        let hint = match idna::domain_to_ascii(domain) {
            Ok(ascii) if ascii != domain && ascii.is_ascii() && !ascii.is_empty() => {
                let star = if host.len() != domain.len() { "*." } else { "" };
                format!("write its IDNA form: {star}{ascii}")
            }
            _ => "write its IDNA (xn--) form".to_owned(),
        };
        return Err(format!(
            "the host '{}' has non-ASCII characters: {hint}",
            shown(host)
        ));
    }
    if domain.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "the host '{}' has uppercase letters: write {}",
            shown(host),
            shown(&host.to_ascii_lowercase())
        ));
    }
    if let Some(stripped) = domain.strip_suffix('.') {
        let star = if host.len() != domain.len() { "*." } else { "" };
        return Err(format!(
            "the host '{}' ends with a dot: write {star}{}",
            shown(host),
            shown(stripped)
        ));
    }
    let labels_ok = domain.len() <= MAX_HOST_LEN
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL_LEN
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if !labels_ok {
        return Err(format!(
            "'{}' is not a valid host name: write labels of 1 to 63 characters from a-z, 0-9 and '-' (not first or last), separated by dots, at most 253 characters in all",
            shown(host)
        ));
    }
    let numeric_tld = domain
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if numeric_tld {
        // A name ending in a number is an IPv4 address or nothing: no top-level domain is numeric.
        if host.len() != domain.len() || domain.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(format!(
                "'{}' is neither a host name nor an IPv4 address (a wildcard cannot cover addresses)",
                shown(host)
            ));
        }
    }
    if domain.split('.').any(|l| l.starts_with("xn--")) {
        // A label that claims to be IDNA must be the canonical ASCII form of a valid name.
        match idna::domain_to_ascii_strict(domain) {
            Ok(ascii) if ascii == domain => {}
            _ => {
                return Err(format!(
                    "the host '{}' has an 'xn--' label that is not valid IDNA",
                    shown(host)
                ));
            }
        }
    }
    Ok(())
}

/// An HTTP method a plugin may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// OPTIONS
    Options,
}

impl Method {
    /// Every method, in display order.
    pub const ALL: [Method; 7] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Options,
    ];

    /// The method as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }

    /// Parses an uppercase method name.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(m) = Method::ALL.iter().find(|m| m.as_str() == text) {
            return Ok(*m);
        }
        if let Some(m) = Method::ALL
            .iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(text))
        {
            return Err(format!(
                "write the method in uppercase: {}, not '{}'",
                m.as_str(),
                shown(text)
            ));
        }
        Err(format!(
            "unknown method '{}': write one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
            shown(text)
        ))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn good_urls() {
        let table: &[(&str, Scheme, &str, bool, Option<u16>)] = &[
            (
                "https://api.github.com",
                Scheme::Https,
                "api.github.com",
                false,
                None,
            ),
            (
                "http://localhost:8080",
                Scheme::Http,
                "localhost",
                false,
                Some(8080),
            ),
            (
                "https://*.example.com:8443",
                Scheme::Https,
                "example.com",
                true,
                Some(8443),
            ),
            ("https://127.0.0.1", Scheme::Https, "127.0.0.1", false, None),
            (
                "https://xn--bcher-kva.de",
                Scheme::Https,
                "xn--bcher-kva.de",
                false,
                None,
            ),
        ];
        for (text, scheme, host, wildcard, port) in table {
            let url = HostUrl::parse(text).unwrap();
            assert_eq!(
                (url.scheme, url.host.as_str(), url.wildcard, url.port),
                (*scheme, *host, *wildcard, *port),
                "{text}"
            );
            assert_eq!(url.to_string(), *text);
        }
    }

    #[test]
    fn bad_urls() {
        let table: &[(&str, &str)] = &[
            (
                "api.github.com",
                "hosts must be in the form <scheme>://<host>[:<port>], for example https://api.github.com or https://*.example.com:8443; got 'api.github.com'",
            ),
            (
                "ftp://x.com",
                "the scheme must be https or http, not 'ftp'; hosts must be in the form <scheme>://<host>[:<port>], for example https://api.github.com or https://*.example.com:8443",
            ),
            (
                "HTTPS://x.com",
                "write the scheme in lowercase: https, not 'HTTPS'",
            ),
            (
                "https://x.com/path",
                "'https://x.com/path' has a path, query or fragment; hosts must be in the form <scheme>://<host>[:<port>], for example https://api.github.com or https://*.example.com:8443: write https://x.com",
            ),
            (
                "https://x.com?q=1",
                "'https://x.com?q=1' has a path, query or fragment; hosts must be in the form <scheme>://<host>[:<port>], for example https://api.github.com or https://*.example.com:8443: write https://x.com",
            ),
            (
                "https://user:pw@x.com",
                "'https://user:pw@x.com' has user information ('@'); hosts must be in the form <scheme>://<host>[:<port>], for example https://api.github.com or https://*.example.com:8443",
            ),
            (
                "https://[::1]:80",
                "'https://[::1]:80': IPv6 addresses are not supported; write a host name or an IPv4 address",
            ),
            (
                "https://x.com:0",
                "the port '0' is not a number from 1 to 65535",
            ),
            (
                "https://x.com:65536",
                "the port '65536' is not a number from 1 to 65535",
            ),
            (
                "https://x.com:",
                "the port '' is not a number from 1 to 65535",
            ),
            (
                "https://x.com:+80",
                "the port '+80' is not a number from 1 to 65535",
            ),
            (
                "https://API.GitHub.com",
                "the host 'API.GitHub.com' has uppercase letters: write api.github.com",
            ),
            (
                "https://bücher.de",
                "the host 'bücher.de' has non-ASCII characters: write its IDNA form: xn--bcher-kva.de",
            ),
            (
                // Cyrillic 'а' in "аpi": a confusable of api.github.com.
                "https://\u{430}pi.github.com",
                "the host '\u{430}pi.github.com' has non-ASCII characters: write its IDNA form: xn--pi-6kc.github.com",
            ),
            (
                "https://x.com.",
                "the host 'x.com.' ends with a dot: write x.com",
            ),
            (
                "https://*.x.com.",
                "the host '*.x.com.' ends with a dot: write *.x.com",
            ),
            (
                "https://*.com",
                "the wildcard '*.com' covers a whole top-level domain: name at least two labels after '*.', for example *.example.com",
            ),
            (
                "https://*",
                "'*': a wildcard is allowed only as the whole first label, for example *.example.com",
            ),
            (
                "https://a.*.com",
                "'a.*.com': a wildcard is allowed only as the whole first label, for example *.example.com",
            ),
            (
                "https://*x.com",
                "'*x.com': a wildcard is allowed only as the whole first label, for example *.example.com",
            ),
            (
                "https://a..b",
                "'a..b' is not a valid host name: write labels of 1 to 63 characters from a-z, 0-9 and '-' (not first or last), separated by dots, at most 253 characters in all",
            ),
            (
                "https://-a.com",
                "'-a.com' is not a valid host name: write labels of 1 to 63 characters from a-z, 0-9 and '-' (not first or last), separated by dots, at most 253 characters in all",
            ),
            (
                "https://a_b.com",
                "'a_b.com' is not a valid host name: write labels of 1 to 63 characters from a-z, 0-9 and '-' (not first or last), separated by dots, at most 253 characters in all",
            ),
            (
                "https://",
                "the host is empty; hosts must be in the form <scheme>://<host>[:<port>], for example https://api.github.com or https://*.example.com:8443",
            ),
            (
                "https://999.1.1.1",
                "'999.1.1.1' is neither a host name nor an IPv4 address (a wildcard cannot cover addresses)",
            ),
            (
                "https://*.10.0.0",
                "'*.10.0.0' is neither a host name nor an IPv4 address (a wildcard cannot cover addresses)",
            ),
            (
                "https://1.2.3",
                "'1.2.3' is neither a host name nor an IPv4 address (a wildcard cannot cover addresses)",
            ),
            (
                "https://xn--zz.com",
                "the host 'xn--zz.com' has an 'xn--' label that is not valid IDNA",
            ),
        ];
        for (text, want) in table {
            assert_eq!(HostUrl::parse(text).unwrap_err(), *want, "{text}");
        }
    }

    #[test]
    fn methods() {
        assert_eq!(Method::parse("GET"), Ok(Method::Get));
        assert_eq!(
            Method::parse("get").unwrap_err(),
            "write the method in uppercase: GET, not 'get'"
        );
        assert_eq!(
            Method::parse("CONNECT").unwrap_err(),
            "unknown method 'CONNECT': write one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
        );
    }

    #[test]
    fn default_port_is_the_same_destination() {
        let a = HostUrl::parse("https://a.com").unwrap();
        let b = HostUrl::parse("https://a.com:443").unwrap();
        assert_eq!(a.key(), b.key());
        assert_eq!(b.host_text(), "a.com");
        assert_eq!(
            HostUrl::parse("https://*.a.com:8443").unwrap().host_text(),
            "any host under a.com on port 8443"
        );
    }
}
