//! The examples file: commands to run with their expected results, and HTTP fixtures.
//!
//! TOML (or the same structure in JSON):
//!
//! ```toml
//! [[example]]
//! command = "send"
//! args = { method = "GET", url = "http://127.0.0.1:8080/status", body = "" }
//! expect = { ok = "200 up" }
//!
//! [[fixture]]
//! method = "GET"
//! url = "http://127.0.0.1:8080/status"
//! status = 200
//! headers = { "content-type" = "text/plain" }
//! body = "up"
//! ```

use serde::{Deserialize, Serialize};

/// Largest examples file, in bytes. Threat: an agent submitting a huge file to make ward parse,
/// store and run without end.
pub const MAX_EXAMPLES_BYTES: usize = 256 * 1024;
/// Most examples in one file. Threat: a proposal whose review runs the sandbox thousands of times.
pub const MAX_EXAMPLES: usize = 64;
/// Most HTTP fixtures in one file. Threat: the same, through the fixture lookup.
pub const MAX_FIXTURES: usize = 64;
/// Most headers in one fixture response. Threat: a fixture making every answer allocate without end.
pub const MAX_FIXTURE_HEADERS: usize = 32;

/// Why an examples file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ExamplesError {
    /// Larger than [`MAX_EXAMPLES_BYTES`].
    #[error("the examples file is larger than {MAX_EXAMPLES_BYTES} bytes")]
    TooLarge,
    /// Not UTF-8.
    #[error("the examples file is not UTF-8 text")]
    NotText,
    /// Neither valid TOML nor valid JSON of the expected shape.
    #[error("the examples file is invalid: {0}")]
    Invalid(String),
    /// A rule the file breaks, with the place.
    #[error("the examples file is invalid: {0}")]
    Rule(String),
}

/// One example: a command, its arguments as JSON and the expected result (as `ward run --json`
/// prints it under `result`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// The command (export name).
    pub command: String,
    /// The arguments, a JSON object keyed by parameter name (`{}` when the command takes none).
    #[serde(default = "empty_args")]
    pub args: serde_json::Value,
    /// The expected result.
    pub expect: serde_json::Value,
}

fn empty_args() -> serde_json::Value {
    serde_json::json!({})
}

/// One HTTP fixture: the answer to one method and URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// The method, upper case (`GET`, `POST`…).
    pub method: String,
    /// The absolute URL, matched exactly (scheme, host, port, path and query).
    pub url: String,
    /// The status code.
    #[serde(default = "ok_status")]
    pub status: u16,
    /// Response headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// The response body (text).
    #[serde(default)]
    pub body: String,
}

fn ok_status() -> u16 {
    200
}

/// A parsed, checked examples file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    /// The examples, run in order.
    #[serde(default, rename = "example")]
    pub examples: Vec<Example>,
    /// The HTTP fixtures.
    #[serde(default, rename = "fixture")]
    pub fixtures: Vec<Fixture>,
}

impl Examples {
    /// Parses TOML or JSON (a document starting with `{` is JSON) and checks every rule.
    pub fn parse(bytes: &[u8]) -> Result<Examples, ExamplesError> {
        if bytes.len() > MAX_EXAMPLES_BYTES {
            return Err(ExamplesError::TooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ExamplesError::NotText)?;
        let parsed: Examples = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| ExamplesError::Invalid(e.to_string()))?
        } else {
            toml::from_str(text).map_err(|e| ExamplesError::Invalid(e.to_string()))?
        };
        parsed.check()?;
        Ok(parsed)
    }

    /// Checks the rules a parsed file must follow (also for one that came as JSON from the API).
    pub fn check(&self) -> Result<(), ExamplesError> {
        let rule = |m: String| Err(ExamplesError::Rule(m));
        if self.examples.is_empty() {
            return rule("it has no [[example]]".into());
        }
        if self.examples.len() > MAX_EXAMPLES {
            return rule(format!("it has more than {MAX_EXAMPLES} examples"));
        }
        if self.fixtures.len() > MAX_FIXTURES {
            return rule(format!("it has more than {MAX_FIXTURES} fixtures"));
        }
        for (i, ex) in self.examples.iter().enumerate() {
            if ex.command.is_empty() || ex.command.len() > 256 {
                return rule(format!(
                    "example {}: the command name is empty or too long",
                    i + 1
                ));
            }
            if !ex.args.is_object() {
                return rule(format!(
                    "example {} ({}): args must be a table (JSON object) keyed by parameter name",
                    i + 1,
                    ex.command
                ));
            }
        }
        for (i, f) in self.fixtures.iter().enumerate() {
            let n = i + 1;
            if http::Method::from_bytes(f.method.as_bytes()).is_err()
                || f.method != f.method.to_ascii_uppercase()
            {
                return rule(format!(
                    "fixture {n}: method {:?} is not an upper-case HTTP method",
                    f.method
                ));
            }
            let uri: http::Uri = f.url.parse().map_err(|_| {
                ExamplesError::Rule(format!("fixture {n}: url {:?} is not a URL", f.url))
            })?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
                return rule(format!(
                    "fixture {n}: url {:?} is not an absolute http or https URL",
                    f.url
                ));
            }
            if http::StatusCode::from_u16(f.status).is_err() || f.status < 200 {
                return rule(format!(
                    "fixture {n}: status {} is not a final HTTP status",
                    f.status
                ));
            }
            if f.headers.len() > MAX_FIXTURE_HEADERS {
                return rule(format!(
                    "fixture {n}: more than {MAX_FIXTURE_HEADERS} headers"
                ));
            }
            for (k, v) in &f.headers {
                if http::HeaderName::from_bytes(k.as_bytes()).is_err()
                    || http::HeaderValue::from_str(v).is_err()
                {
                    return rule(format!("fixture {n}: header {k:?} is not a valid header"));
                }
            }
        }
        Ok(())
    }
}

/// The canonical form of a URL for fixture matching: what `http::Uri` prints.
pub(crate) fn canonical_url(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?;
    let authority = uri.authority()?.as_str().to_ascii_lowercase();
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let path = if path.is_empty() { "/" } else { path };
    Some(format!("{scheme}://{authority}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_and_json_give_the_same_examples() {
        let toml = br#"
[[example]]
command = "greet"
args = { name = "Ada" }
expect = "Hello, Ada!"

[[fixture]]
method = "GET"
url = "http://127.0.0.1:9/x"
body = "hi"
"#;
        let json =
            br#"{"example":[{"command":"greet","args":{"name":"Ada"},"expect":"Hello, Ada!"}],
                       "fixture":[{"method":"GET","url":"http://127.0.0.1:9/x","body":"hi"}]}"#;
        let a = Examples::parse(toml).unwrap();
        let b = Examples::parse(json).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.fixtures[0].status, 200);
    }

    #[test]
    fn malformed_examples_are_refused_with_the_reason() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "the examples file is invalid: it has no [[example]]"),
            (b"[[example]]\ncommand = \"x\"\n", "missing field `expect`"),
            (
                b"[[example]]\ncommand = \"x\"\nargs = [1]\nexpect = 1\n",
                "example 1 (x): args must be a table",
            ),
            (
                b"[[example]]\ncommand = \"x\"\nexpect = 1\nextra = 2\n",
                "unknown field `extra`",
            ),
            (
                b"[[example]]\ncommand = \"x\"\nexpect = 1\n[[fixture]]\nmethod = \"get\"\nurl = \"http://a/\"\n",
                "fixture 1: method \"get\" is not an upper-case HTTP method",
            ),
            (
                b"[[example]]\ncommand = \"x\"\nexpect = 1\n[[fixture]]\nmethod = \"GET\"\nurl = \"/relative\"\n",
                "is not an absolute http or https URL",
            ),
            (b"\xff\xfe", "the examples file is not UTF-8 text"),
        ];
        for (input, want) in cases {
            let err = Examples::parse(input).unwrap_err().to_string();
            assert!(
                err.contains(want),
                "{:?}: {err}",
                String::from_utf8_lossy(input)
            );
        }
        let big = vec![b' '; MAX_EXAMPLES_BYTES + 1];
        assert!(matches!(
            Examples::parse(&big),
            Err(ExamplesError::TooLarge)
        ));
    }

    #[test]
    fn urls_are_matched_in_canonical_form() {
        assert_eq!(
            canonical_url("http://LOCALHOST:80").as_deref(),
            Some("http://localhost:80/")
        );
        assert_eq!(
            canonical_url("https://a.example/p?q=1").as_deref(),
            Some("https://a.example/p?q=1")
        );
    }
}
