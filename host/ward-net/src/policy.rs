//! Matching requests against granted `scheme://host[:port]` rules.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use http::Uri;
use thiserror::Error;
use ward_manifest::{HostUrl, NetworkRule, Scheme};
use ward_policy::text::sanitize_line;

use crate::addr::{AddrKind, canonical, classify};

/// Longest piece of a request URL quoted back in a refusal.
const MAX_SHOWN: usize = 200;

/// The outbound HTTP destinations one plugin was granted. Built from the operator-approved
/// `capabilities.network` rules of its signed manifest; an empty policy refuses every request.
///
/// A request is allowed only if its scheme, host and port match a rule exactly (a `*.domain`
/// rule matches hosts under `domain` at any depth, never `domain` itself), its method is one the
/// rule lists, and its URL has no user information, no trailing dot and nothing but plain ASCII
/// letters, digits, `-` and `.` in the host.
#[derive(Debug, Clone, Default)]
pub struct NetPolicy {
    rules: Vec<NetworkRule>,
    exempt: BTreeSet<IpAddr>,
}

/// A request [`NetPolicy::check_request`] allowed, with the rule that allowed it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Allowed {
    /// The request's scheme.
    pub scheme: Scheme,
    /// The request's host, lowercase, as a name or a dotted-quad IPv4 address.
    pub host: String,
    /// The port the request goes to (the scheme's default when the URL has none).
    pub port: u16,
    /// The rule that allowed it.
    pub rule: HostUrl,
}

impl Allowed {
    /// The host as an IP address, when the URL names an address rather than a name (no
    /// resolution needed).
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// Whether the rule that allowed the request names `ip` explicitly: the rule's host is that
    /// address, or the rule's host is `localhost` and `ip` is a loopback address.
    pub fn rule_names(&self, ip: IpAddr) -> bool {
        if self.rule.wildcard {
            return false;
        }
        let ip = canonical(ip);
        if self.rule.host == "localhost" {
            return ip.is_loopback();
        }
        self.rule
            .host
            .parse::<IpAddr>()
            .is_ok_and(|named| canonical(named) == ip)
    }

    /// `scheme://host[:port]`, with the port only when it is not the scheme's default.
    pub fn origin(&self) -> String {
        origin(self.scheme, &self.host, self.port)
    }
}

/// Why a request or an address is refused. Each message names the destination and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Denied {
    /// The URL is not an absolute `http` or `https` URL with a host.
    #[error("'{url}' is not an absolute http or https URL with a host")]
    Malformed {
        /// The URL as given (cut and sanitized).
        url: String,
    },
    /// The scheme is neither `http` nor `https`.
    #[error("the scheme '{scheme}' of '{url}' is not http or https")]
    Scheme {
        /// The scheme.
        scheme: String,
        /// The URL as given (cut and sanitized).
        url: String,
    },
    /// The URL has user information (`user@host`), a classic way to make `allowed.com@evil.com`
    /// look like `allowed.com`.
    #[error(
        "'{url}' has user information before '@': refused (its host is {host}, not what comes before the '@')"
    )]
    UserInfo {
        /// The URL as given (cut and sanitized).
        url: String,
        /// The host the URL really names.
        host: String,
    },
    /// The host ends with a dot (`api.github.com.`): a fully-qualified spelling grants never
    /// match.
    #[error("the host '{host}' ends with a dot: request {suggestion} instead")]
    TrailingDot {
        /// The host as given (cut and sanitized).
        host: String,
        /// The same URL origin without the dot.
        suggestion: String,
    },
    /// The host is not plain ASCII letters, digits, `-` and `.` (percent-encoding, IPv6 literals,
    /// Unicode): look-alikes of granted names.
    #[error(
        "the host '{host}' is not a plain ASCII host name (letters, digits, '-' and '.'); an international name is reached only through its IDNA (xn--) form named in a grant"
    )]
    NotPlainHost {
        /// The host as given (cut and sanitized).
        host: String,
    },
    /// No rule grants this scheme, host and port.
    #[error("{origin} is not granted; the plugin may reach: {granted}")]
    NotGranted {
        /// `scheme://host[:port]` of the request.
        origin: String,
        /// The granted rules, or `nothing`.
        granted: String,
    },
    /// The destination is granted, but not for this method.
    #[error("{method} {origin} is not granted; {origin} is granted for: {allowed}")]
    Method {
        /// The request's method (cut and sanitized).
        method: String,
        /// `scheme://host[:port]` of the request.
        origin: String,
        /// The methods the matching rules allow.
        allowed: String,
    },
    /// An address outside the public internet that no grant names.
    #[error("{ip} is {kind}, reached only when a grant names that address")]
    Address {
        /// The address.
        ip: IpAddr,
        /// Why it is special.
        kind: AddrKind,
    },
    /// A granted name resolved to an address outside the public internet that no grant names.
    #[error("{origin} resolves to {ip}, {kind}, reached only when a grant names that address")]
    ResolvedAddress {
        /// `scheme://host[:port]` of the request.
        origin: String,
        /// The address it resolved to.
        ip: IpAddr,
        /// Why it is special.
        kind: AddrKind,
    },
}

impl NetPolicy {
    /// The policy of `rules` (a manifest's `capabilities.network`, as consented to).
    pub fn new(rules: &[NetworkRule]) -> NetPolicy {
        NetPolicy {
            rules: rules.to_vec(),
            exempt: BTreeSet::new(),
        }
    }

    /// Adds addresses the operator allows every granted destination to resolve to even though
    /// they are loopback, private, link-local or otherwise special (for example an internal API
    /// whose name resolves to `10.0.0.5`). IPv4-mapped and other embedded forms count as the
    /// IPv4 address.
    pub fn with_exempt_addresses(mut self, addrs: impl IntoIterator<Item = IpAddr>) -> NetPolicy {
        self.exempt.extend(addrs.into_iter().map(canonical));
        self
    }

    /// Whether no destination is granted at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The granted rules.
    pub fn rules(&self) -> &[NetworkRule] {
        &self.rules
    }

    /// Parses `url` and checks it as [`NetPolicy::check_request`] does; a URL that does not
    /// parse is [`Denied::Malformed`].
    pub fn check_url(&self, method: &str, url: &str) -> Result<Allowed, Denied> {
        let uri: Uri = url
            .parse()
            .map_err(|_| Denied::Malformed { url: shown(url) })?;
        self.check_request(method, &uri)
    }

    /// Decides a request from its method and URL alone. The addresses its host resolves to must
    /// then pass [`NetPolicy::check_resolved`].
    pub fn check_request(&self, method: &str, uri: &Uri) -> Result<Allowed, Denied> {
        let url = || shown(&uri.to_string());
        let scheme_text = uri
            .scheme_str()
            .ok_or_else(|| Denied::Malformed { url: url() })?;
        let scheme = if scheme_text.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else if scheme_text.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else {
            return Err(Denied::Scheme {
                scheme: shown(scheme_text),
                url: url(),
            });
        };
        let authority = uri
            .authority()
            .ok_or_else(|| Denied::Malformed { url: url() })?;
        let raw_host = authority.host();
        if authority.as_str().contains('@') {
            return Err(Denied::UserInfo {
                url: url(),
                host: shown(raw_host),
            });
        }
        if raw_host.is_empty() {
            return Err(Denied::Malformed { url: url() });
        }
        let port = match (authority.port(), authority.port_u16()) {
            (Some(_), None) => return Err(Denied::Malformed { url: url() }),
            (_, Some(port)) => port,
            (None, None) => scheme.default_port(),
        };
        if let Some(stripped) = raw_host.strip_suffix('.')
            && is_plain_host(stripped)
        {
            return Err(Denied::TrailingDot {
                host: shown(raw_host),
                suggestion: shown(&origin(scheme, &stripped.to_ascii_lowercase(), port)),
            });
        }
        if raw_host.starts_with('[') {
            // An IPv6 literal: grants cannot name one.
            return Err(self.not_granted(format!(
                "{}://{}",
                scheme.as_str(),
                shown(authority.as_str())
            )));
        }
        if !is_plain_host(raw_host) {
            return Err(Denied::NotPlainHost {
                host: shown(raw_host),
            });
        }
        let host = raw_host.to_ascii_lowercase();
        let matching: Vec<&NetworkRule> = self
            .rules
            .iter()
            .filter(|r| {
                r.url.scheme == scheme
                    && r.url.effective_port() == port
                    && host_matches(&r.url, &host)
            })
            .collect();
        if matching.is_empty() {
            return Err(self.not_granted(origin(scheme, &host, port)));
        }
        let rule = matching
            .iter()
            .find(|r| r.method_set().iter().any(|m| m.as_str() == method))
            .ok_or_else(|| {
                let allowed: BTreeSet<_> = matching.iter().flat_map(|r| r.method_set()).collect();
                Denied::Method {
                    method: shown(method),
                    origin: origin(scheme, &host, port),
                    allowed: allowed
                        .iter()
                        .map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            })?;
        Ok(Allowed {
            scheme,
            host,
            port,
            rule: rule.url.clone(),
        })
    }

    /// Decides one address a request would connect to. Loopback, unspecified, link-local,
    /// private, shared (CGNAT), cloud metadata, broadcast, multicast and reserved addresses, and
    /// the IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6 forms of them, are refused unless
    /// `rule_named_it` (the grant names this address explicitly) or the operator exempted it.
    pub fn check_addr(&self, ip: IpAddr, rule_named_it: bool) -> Result<(), Denied> {
        match self.special(ip, rule_named_it) {
            None => Ok(()),
            Some(kind) => Err(Denied::Address { ip, kind }),
        }
    }

    /// [`NetPolicy::check_addr`] for an address the host of an allowed request resolved to
    /// (or named literally); the refusal names the request's origin.
    pub fn check_resolved(&self, allowed: &Allowed, ip: IpAddr) -> Result<(), Denied> {
        match self.special(ip, allowed.rule_names(ip)) {
            None => Ok(()),
            Some(kind) => Err(Denied::ResolvedAddress {
                origin: allowed.origin(),
                ip,
                kind,
            }),
        }
    }

    fn special(&self, ip: IpAddr, rule_named_it: bool) -> Option<AddrKind> {
        if rule_named_it || self.exempt.contains(&canonical(ip)) {
            return None;
        }
        classify(ip)
    }

    fn not_granted(&self, origin: String) -> Denied {
        Denied::NotGranted {
            origin,
            granted: self.granted_text(),
        }
    }

    /// The rules as a person reads them: `https://api.github.com (GET, POST), https://*.x.com`.
    fn granted_text(&self) -> String {
        if self.rules.is_empty() {
            return "nothing".to_owned();
        }
        let mut out = String::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}", rule.url);
            if let Some(methods) = &rule.methods {
                let list: Vec<_> = methods.iter().map(|m| m.as_str()).collect();
                let _ = write!(out, " ({})", list.join(", "));
            }
        }
        out
    }
}

/// `scheme://host[:port]`, with the port only when it is not the scheme's default.
fn origin(scheme: Scheme, host: &str, port: u16) -> String {
    if port == scheme.default_port() {
        format!("{}://{host}", scheme.as_str())
    } else {
        format!("{}://{host}:{port}", scheme.as_str())
    }
}

/// Labels of ASCII letters, digits and `-`, separated by single dots.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Whether `host` (lowercase) is the rule's host, or under it for a wildcard rule.
fn host_matches(rule: &HostUrl, host: &str) -> bool {
    if !rule.wildcard {
        return host == rule.host;
    }
    host.strip_suffix(rule.host.as_str())
        .and_then(|prefix| prefix.strip_suffix('.'))
        .is_some_and(|sub| !sub.is_empty())
}

fn shown(text: &str) -> String {
    sanitize_line(text, MAX_SHOWN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_manifest::Manifest;

    /// A policy from the `network = [...]` entries, written as in a manifest.
    fn policy(network: &str) -> NetPolicy {
        let toml = format!(
            "name = \"acme:net\"\nversion = \"0.1.0\"\n[capabilities]\nnetwork = [{network}]\n"
        );
        let manifest = Manifest::parse(toml.as_bytes()).unwrap();
        NetPolicy::new(&manifest.capabilities.network)
    }

    fn github() -> NetPolicy {
        policy(
            r#"{ url = "https://api.github.com", methods = ["GET"] }, { url = "https://*.example.com:8443" }"#,
        )
    }

    /// (method, url, expected: Ok(host) or Err(message)).
    type Case<'a> = (&'a str, &'a str, Result<&'a str, &'a str>);

    fn run(policy: &NetPolicy, table: &[Case<'_>]) {
        for (method, url, want) in table {
            let got = policy
                .check_url(method, url)
                .map(|a| a.host)
                .map_err(|e| e.to_string());
            match want {
                Ok(host) => assert_eq!(got, Ok((*host).to_owned()), "{method} {url}"),
                Err(msg) => assert_eq!(got, Err((*msg).to_owned()), "{method} {url}"),
            }
        }
    }

    const GRANTED: &str =
        "the plugin may reach: https://api.github.com (GET), https://*.example.com:8443";

    #[test]
    fn granted_requests_are_allowed() {
        run(
            &github(),
            &[
                ("GET", "https://api.github.com/repos", Ok("api.github.com")),
                ("GET", "https://api.github.com:443/", Ok("api.github.com")),
                ("GET", "https://api.github.com", Ok("api.github.com")),
                ("POST", "https://a.example.com:8443/x", Ok("a.example.com")),
                (
                    "DELETE",
                    "https://a.b.c.example.com:8443/",
                    Ok("a.b.c.example.com"),
                ),
            ],
        );
    }

    #[test]
    fn unlisted_host_is_refused() {
        run(
            &github(),
            &[
                (
                    "GET",
                    "https://evil.com/",
                    Err(&format!("https://evil.com is not granted; {GRANTED}")),
                ),
                (
                    "GET",
                    "https://github.com/",
                    Err(&format!("https://github.com is not granted; {GRANTED}")),
                ),
                (
                    "GET",
                    "https://api.github.com.evil.com/",
                    Err(&format!(
                        "https://api.github.com.evil.com is not granted; {GRANTED}"
                    )),
                ),
                (
                    "GET",
                    "https://evilapi.github.com/",
                    Err(&format!(
                        "https://evilapi.github.com is not granted; {GRANTED}"
                    )),
                ),
            ],
        );
        assert_eq!(
            NetPolicy::default()
                .check_url("GET", "https://a.com/")
                .unwrap_err()
                .to_string(),
            "https://a.com is not granted; the plugin may reach: nothing"
        );
    }

    #[test]
    fn http_when_only_https_is_granted_is_refused() {
        run(
            &github(),
            &[
                (
                    "GET",
                    "http://api.github.com/",
                    Err(&format!("http://api.github.com is not granted; {GRANTED}")),
                ),
                (
                    "GET",
                    "http://api.github.com:443/",
                    Err(&format!(
                        "http://api.github.com:443 is not granted; {GRANTED}"
                    )),
                ),
                (
                    "GET",
                    "http://a.example.com:8443/",
                    Err(&format!(
                        "http://a.example.com:8443 is not granted; {GRANTED}"
                    )),
                ),
            ],
        );
    }

    #[test]
    fn other_port() {
        run(
            &github(),
            &[
                (
                    "GET",
                    "https://api.github.com:8443/",
                    Err(&format!(
                        "https://api.github.com:8443 is not granted; {GRANTED}"
                    )),
                ),
                (
                    "GET",
                    "https://a.example.com/",
                    Err(&format!("https://a.example.com is not granted; {GRANTED}")),
                ),
            ],
        );
    }

    #[test]
    fn other_scheme() {
        run(
            &github(),
            &[(
                "GET",
                "ftp://api.github.com/",
                Err("the scheme 'ftp' of 'ftp://api.github.com/' is not http or https"),
            )],
        );
    }

    #[test]
    fn userinfo_trick_is_refused() {
        run(
            &policy(r#"{ url = "http://allowed.com" }"#),
            &[
                (
                    "GET",
                    "http://allowed.com@evil.com/",
                    Err(
                        "'http://allowed.com@evil.com/' has user information before '@': refused (its host is evil.com, not what comes before the '@')",
                    ),
                ),
                (
                    "GET",
                    "http://user:pw@allowed.com/",
                    Err(
                        "'http://user:pw@allowed.com/' has user information before '@': refused (its host is allowed.com, not what comes before the '@')",
                    ),
                ),
            ],
        );
    }

    #[test]
    fn trailing_dot_is_refused() {
        run(
            &github(),
            &[
                (
                    "GET",
                    "https://api.github.com./",
                    Err(
                        "the host 'api.github.com.' ends with a dot: request https://api.github.com instead",
                    ),
                ),
                (
                    "GET",
                    "https://a.example.com.:8443/",
                    Err(
                        "the host 'a.example.com.' ends with a dot: request https://a.example.com:8443 instead",
                    ),
                ),
            ],
        );
    }

    #[test]
    fn case_insensitive_host_matches() {
        run(
            &github(),
            &[
                ("GET", "https://API.GitHub.COM/", Ok("api.github.com")),
                ("GET", "HTTPS://api.github.com/", Ok("api.github.com")),
                ("GET", "https://A.Example.Com:8443/", Ok("a.example.com")),
            ],
        );
    }

    #[test]
    fn unicode_lookalike_is_refused() {
        let not_plain = |h: &str| {
            format!(
                "the host '{h}' is not a plain ASCII host name (letters, digits, '-' and '.'); an international name is reached only through its IDNA (xn--) form named in a grant"
            )
        };
        run(
            &github(),
            &[
                // Cyrillic 'а' (U+0430): not even a valid URL.
                (
                    "GET",
                    "https://\u{430}pi.github.com/",
                    Err(
                        "'https://\u{430}pi.github.com/' is not an absolute http or https URL with a host",
                    ),
                ),
                // Its IDNA form is a different host.
                (
                    "GET",
                    "https://xn--pi-6kc.github.com/",
                    Err(&format!(
                        "https://xn--pi-6kc.github.com is not granted; {GRANTED}"
                    )),
                ),
                // Percent-encoding of 'a'.
                (
                    "GET",
                    "https://%61pi.github.com/",
                    Err(
                        "'https://%61pi.github.com/' is not an absolute http or https URL with a host",
                    ),
                ),
                (
                    "GET",
                    "https://api_.github.com/",
                    Err(&not_plain("api_.github.com")),
                ),
                (
                    "GET",
                    "https://api..github.com/",
                    Err(&not_plain("api..github.com")),
                ),
            ],
        );
        // The exact xn-- form is reachable when a grant names it.
        run(
            &policy(r#"{ url = "https://xn--bcher-kva.de" }"#),
            &[
                ("GET", "https://xn--bcher-kva.de/", Ok("xn--bcher-kva.de")),
                ("GET", "https://XN--BCHER-KVA.DE/", Ok("xn--bcher-kva.de")),
                (
                    "GET",
                    "https://b\u{fc}cher.de/",
                    Err(
                        "'https://b\u{fc}cher.de/' is not an absolute http or https URL with a host",
                    ),
                ),
            ],
        );
    }

    #[test]
    fn ipv6_literal_is_never_granted() {
        run(
            &policy(r#"{ url = "http://localhost" }"#),
            &[(
                "GET",
                "http://[::1]/",
                Err("http://[::1] is not granted; the plugin may reach: http://localhost"),
            )],
        );
    }

    #[test]
    fn wildcard_covers_subdomains_not_the_apex() {
        run(
            &github(),
            &[
                ("GET", "https://x.example.com:8443/", Ok("x.example.com")),
                (
                    "GET",
                    "https://x.y.example.com:8443/",
                    Ok("x.y.example.com"),
                ),
                (
                    "GET",
                    "https://example.com:8443/",
                    Err(&format!(
                        "https://example.com:8443 is not granted; {GRANTED}"
                    )),
                ),
                (
                    "GET",
                    "https://badexample.com:8443/",
                    Err(&format!(
                        "https://badexample.com:8443 is not granted; {GRANTED}"
                    )),
                ),
                (
                    "GET",
                    "https://example.com.evil.com:8443/",
                    Err(&format!(
                        "https://example.com.evil.com:8443 is not granted; {GRANTED}"
                    )),
                ),
            ],
        );
    }

    #[test]
    fn methods_when_declared() {
        run(
            &github(),
            &[
                (
                    "POST",
                    "https://api.github.com/",
                    Err(
                        "POST https://api.github.com is not granted; https://api.github.com is granted for: GET",
                    ),
                ),
                (
                    "get",
                    "https://api.github.com/",
                    Err(
                        "get https://api.github.com is not granted; https://api.github.com is granted for: GET",
                    ),
                ),
                // Without `methods`, any of ward's methods, but never CONNECT or TRACE.
                (
                    "CONNECT",
                    "https://a.example.com:8443/",
                    Err(
                        "CONNECT https://a.example.com:8443 is not granted; https://a.example.com:8443 is granted for: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
                    ),
                ),
                (
                    "TRACE",
                    "https://a.example.com:8443/",
                    Err(
                        "TRACE https://a.example.com:8443 is not granted; https://a.example.com:8443 is granted for: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
                    ),
                ),
            ],
        );
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_name_that_resolves_to_loopback_or_metadata_is_denied() {
        let p = github();
        let allowed = p.check_url("GET", "https://api.github.com/").unwrap();
        let table: &[(&str, &str)] = &[
            (
                "127.0.0.1",
                "https://api.github.com resolves to 127.0.0.1, a loopback address, reached only when a grant names that address",
            ),
            (
                "::1",
                "https://api.github.com resolves to ::1, a loopback address, reached only when a grant names that address",
            ),
            (
                "::ffff:127.0.0.1",
                "https://api.github.com resolves to ::ffff:127.0.0.1, a loopback address, reached only when a grant names that address",
            ),
            (
                "169.254.169.254",
                "https://api.github.com resolves to 169.254.169.254, the cloud metadata address, reached only when a grant names that address",
            ),
            (
                "::ffff:169.254.169.254",
                "https://api.github.com resolves to ::ffff:169.254.169.254, the cloud metadata address, reached only when a grant names that address",
            ),
            (
                "fd00:ec2::254",
                "https://api.github.com resolves to fd00:ec2::254, the cloud metadata address, reached only when a grant names that address",
            ),
            (
                "10.0.0.1",
                "https://api.github.com resolves to 10.0.0.1, a private address, reached only when a grant names that address",
            ),
            (
                "100.64.1.1",
                "https://api.github.com resolves to 100.64.1.1, a shared (carrier-grade NAT) address, reached only when a grant names that address",
            ),
            (
                "0.0.0.0",
                "https://api.github.com resolves to 0.0.0.0, an unspecified address, reached only when a grant names that address",
            ),
            (
                "fe80::1",
                "https://api.github.com resolves to fe80::1, a link-local address, reached only when a grant names that address",
            ),
        ];
        for (addr, want) in table {
            assert_eq!(
                p.check_resolved(&allowed, ip(addr))
                    .unwrap_err()
                    .to_string(),
                *want,
                "{addr}"
            );
        }
        p.check_resolved(&allowed, ip("140.82.112.5")).unwrap();
    }

    #[test]
    fn address_named_in_the_grant_is_allowed() {
        let p = policy(
            r#"{ url = "http://127.0.0.1:8080" }, { url = "http://localhost:9000" }, { url = "http://169.254.169.254" }"#,
        );
        let literal = p.check_url("GET", "http://127.0.0.1:8080/").unwrap();
        assert_eq!(literal.ip(), Some(ip("127.0.0.1")));
        p.check_resolved(&literal, ip("127.0.0.1")).unwrap();
        p.check_resolved(&literal, ip("::ffff:127.0.0.1")).unwrap();
        // The grant names 127.0.0.1, not the rest of 127/8.
        assert!(p.check_resolved(&literal, ip("127.0.0.2")).is_err());
        let local = p.check_url("GET", "http://localhost:9000/").unwrap();
        p.check_resolved(&local, ip("127.0.0.1")).unwrap();
        p.check_resolved(&local, ip("::1")).unwrap();
        // localhost names loopback, not the operator's network.
        assert!(p.check_resolved(&local, ip("10.0.0.1")).is_err());
        let meta = p.check_url("GET", "http://169.254.169.254/").unwrap();
        p.check_resolved(&meta, ip("169.254.169.254")).unwrap();
    }

    #[test]
    fn wildcard_never_names_an_address() {
        let p = policy(r#"{ url = "http://*.evil.test" }"#);
        let allowed = p.check_url("GET", "http://a.evil.test/").unwrap();
        assert!(!allowed.rule_names(ip("127.0.0.1")));
        assert!(p.check_resolved(&allowed, ip("127.0.0.1")).is_err());
    }

    #[test]
    fn check_addr_and_operator_exemptions() {
        let p = NetPolicy::default();
        assert_eq!(
            p.check_addr(ip("::ffff:127.0.0.1"), false)
                .unwrap_err()
                .to_string(),
            "::ffff:127.0.0.1 is a loopback address, reached only when a grant names that address"
        );
        p.check_addr(ip("127.0.0.1"), true).unwrap();
        p.check_addr(ip("1.1.1.1"), false).unwrap();
        let p = p.with_exempt_addresses([ip("10.0.0.5")]);
        p.check_addr(ip("10.0.0.5"), false).unwrap();
        p.check_addr(ip("::ffff:10.0.0.5"), false).unwrap();
        assert!(p.check_addr(ip("10.0.0.6"), false).is_err());
    }
}
