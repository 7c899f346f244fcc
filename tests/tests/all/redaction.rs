//! Redaction: whatever a guest can make ward show — its result (an error result included),
//! stdout, stderr, log lines and the text inside a call error — passes the call's redactor
//! before it leaves the host. Each leak is its own test, named after what it protects.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use ward_redact::{ExtraPattern, Kind, RedactConfig, RedactError};
use ward_runtime::{
    CallError, CallOutput, Grants, Limits, Plugin, Redactor, Runtime, RuntimeOptions,
};

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(RuntimeOptions::default()).unwrap())
}

fn hostile() -> Arc<Plugin> {
    runtime()
        .load_file(Path::new(ward_fixtures::HOSTILE))
        .unwrap()
}

fn cli_echo() -> Arc<Plugin> {
    runtime()
        .load_file(Path::new(ward_fixtures::CLI_ECHO))
        .unwrap()
}

fn quick() -> Limits {
    Limits {
        timeout: Duration::from_secs(5),
        ..Limits::default()
    }
}

// Fake credentials are assembled from pieces so that no scanner mistakes this file for a leak.
fn aws_key() -> String {
    format!("AKIA{}", "IOSFODNN7EXAMPLE")
}

fn github_token() -> String {
    format!("ghp_{}", "a1B2".repeat(9))
}

fn gitlab_token() -> String {
    format!("glpat-{}", "x9Y8z7".repeat(4))
}

fn anthropic_key() -> String {
    format!("sk-ant-api03-{}AA", "Ab9_-".repeat(19))
}

fn openai_key() -> String {
    format!("sk-proj-{}", "Qw3rTy".repeat(8))
}

fn private_key() -> String {
    format!(
        "-----BEGIN {kind}-----\n{}\n{}\n-----END {kind}-----",
        "MIIEowIBAAKCAQEA".repeat(4),
        "q83vEjRWeJ".repeat(6),
        kind = "RSA PRIVATE KEY"
    )
}

fn jwt() -> String {
    [
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0",
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ]
    .join(".")
}

/// A secret value the operator stored, with no recognisable shape.
const KNOWN_SECRET: &str = "correct horse battery staple 42";

fn grants_with(redactor: Redactor) -> Grants {
    Grants {
        redactor: Arc::new(redactor),
        ..Grants::default()
    }
}

fn grants_knowing_the_secret() -> Grants {
    let mut redactor = Redactor::builtin();
    redactor.add_secret(KNOWN_SECRET).unwrap();
    grants_with(redactor)
}

async fn call(plugin: &Plugin, command: &str, args: Value, grants: &Grants) -> CallOutput {
    runtime()
        .call(plugin, command, &args, &quick(), grants)
        .await
        .unwrap()
}

async fn echo(text: &str, grants: &Grants) -> CallOutput {
    call(
        &hostile(),
        "echo-everywhere",
        json!({ "text": text }),
        grants,
    )
    .await
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

thread_local! {
    /// Log output of the events emitted on this thread while [`logged`] runs.
    static CAPTURED: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// Writes into this thread's [`CAPTURED`] buffer, if [`logged`] opened one.
struct ThreadWriter;

impl std::io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with(|c| {
            if let Some(v) = c.borrow_mut().as_mut() {
                v.extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `fut` with every log event on this thread written to a buffer; returns its output and
/// the log text. One global subscriber (installed once) writes each event into the buffer of the
/// thread that emitted it: a per-test scoped subscriber raced with the other tests' over
/// tracing's global interest cache and sometimes missed events.
async fn logged<F: Future>(fut: F) -> (F::Output, String) {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ThreadWriter)
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let out = fut.await;
    let log = CAPTURED.with(|c| c.borrow_mut().take().unwrap_or_default());
    (out, text(&log))
}

/// Asserts that a call echoing `credential` everywhere shows it nowhere and shows
/// `[redacted:KIND]` instead.
async fn assert_redacted_everywhere(credential: &str, kind: &str, grants: &Grants) {
    let marker = format!("[redacted:{kind}]");
    let input = format!("value: {credential} end");
    let (out, log) = logged(echo(&input, grants)).await;
    let want = format!("value: {marker} end");
    assert_eq!(out.result, json!(want));
    assert_eq!(text(&out.stdout), format!("{want}\n"));
    assert_eq!(text(&out.stderr), format!("{want}\n"));
    assert!(log.contains(&want), "{log}");
    assert!(!log.contains(credential), "{log}");
}

#[tokio::test]
async fn aws_access_key_in_a_result_is_redacted() {
    assert_redacted_everywhere(&aws_key(), "aws-key", &Grants::default()).await;
}

#[tokio::test]
async fn github_token_in_a_result_is_redacted() {
    assert_redacted_everywhere(&github_token(), "github-token", &Grants::default()).await;
}

#[tokio::test]
async fn gitlab_token_in_a_result_is_redacted() {
    assert_redacted_everywhere(&gitlab_token(), "gitlab-token", &Grants::default()).await;
}

#[tokio::test]
async fn anthropic_api_key_in_a_result_is_redacted() {
    assert_redacted_everywhere(&anthropic_key(), "anthropic-key", &Grants::default()).await;
}

#[tokio::test]
async fn openai_api_key_in_a_result_is_redacted() {
    assert_redacted_everywhere(&openai_key(), "openai-key", &Grants::default()).await;
}

#[tokio::test]
async fn jwt_in_a_result_is_redacted() {
    assert_redacted_everywhere(&jwt(), "jwt", &Grants::default()).await;
}

#[tokio::test]
async fn pem_private_key_in_a_result_is_redacted() {
    let key = private_key();
    let out = echo(&format!("key:\n{key}\ndone"), &Grants::default()).await;
    assert_eq!(out.result, json!("key:\n[redacted:private-key]\ndone"));
    assert_eq!(text(&out.stdout), "key:\n[redacted:private-key]\ndone\n");
    assert!(!text(&out.stderr).contains("MIIEow"));
}

#[tokio::test]
async fn pem_private_key_in_a_guest_log_line_is_redacted_despite_its_line_breaks() {
    let (_, log) = logged(echo(&private_key(), &Grants::default())).await;
    assert!(log.contains("[redacted:private-key]"), "{log}");
    assert!(!log.contains("MIIEow"), "{log}");
    assert!(!log.contains("PRIVATE KEY"), "{log}");
}

#[tokio::test]
async fn github_token_in_a_typed_error_result_is_redacted() {
    let token = github_token();
    let out = call(
        &hostile(),
        "echo-err",
        json!({ "text": format!("auth failed for {token}") }),
        &Grants::default(),
    )
    .await;
    assert!(out.is_err);
    assert_eq!(
        out.result,
        json!({ "err": "auth failed for [redacted:github-token]" })
    );
}

#[tokio::test]
async fn github_token_in_a_cli_programs_output_is_redacted() {
    let token = github_token();
    let out = call(
        &cli_echo(),
        "run",
        json!({ "argv": ["token", token] }),
        &Grants::default(),
    )
    .await;
    assert_eq!(out.result, json!("token [redacted:github-token]\n"));
}

#[tokio::test]
async fn known_secret_in_a_result_is_redacted() {
    let out = echo(&format!("pw={KNOWN_SECRET};"), &grants_knowing_the_secret()).await;
    assert_eq!(out.result, json!("pw=[redacted:secret];"));
}

#[tokio::test]
async fn known_secret_base64_encoded_in_a_result_is_redacted() {
    // base64 of KNOWN_SECRET, as a guest would send it to hide it.
    let encoded = "Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZSA0Mg==";
    let out = echo(&format!("b64 {encoded}"), &grants_knowing_the_secret()).await;
    assert_eq!(out.result, json!("b64 [redacted:secret]"));
}

#[tokio::test]
async fn known_secret_in_stdout_and_stderr_is_redacted() {
    let out = echo(&format!("[{KNOWN_SECRET}]"), &grants_knowing_the_secret()).await;
    assert_eq!(text(&out.stdout), "[[redacted:secret]]\n");
    assert_eq!(text(&out.stderr), "[[redacted:secret]]\n");
}

#[tokio::test]
async fn known_secret_in_a_guest_log_line_is_redacted() {
    let (_, log) = logged(echo(
        &format!("using {KNOWN_SECRET} now"),
        &grants_knowing_the_secret(),
    ))
    .await;
    assert!(log.contains("using [redacted:secret] now"), "{log}");
    assert!(!log.contains("horse battery"), "{log}");
}

#[tokio::test]
async fn known_secret_in_a_trap_message_is_redacted() {
    let err = runtime()
        .call(
            &hostile(),
            "panic-with",
            &json!({ "text": format!("cannot log in with {KNOWN_SECRET}") }),
            &quick(),
            &grants_knowing_the_secret(),
        )
        .await
        .unwrap_err();
    let CallError::Trap { message, stderr } = &err else {
        panic!("expected a trap, got {err}");
    };
    assert!(
        stderr.contains("cannot log in with [redacted:secret]"),
        "{stderr}"
    );
    assert!(!stderr.contains("horse battery"), "{stderr}");
    assert!(!message.contains("horse battery"), "{message}");
    assert!(!format!("{err:?}").contains("horse battery"));
}

#[tokio::test]
async fn github_token_at_the_start_of_a_trap_stderr_tail_is_not_shown_in_part() {
    // The error keeps the last 2 KiB of stderr. Sweep the padding after the token so that the
    // tail starts at every position around the token; no part of it may show, and at some
    // padding the tail starts inside the marker that replaced it.
    let token = github_token();
    let marker = "[redacted:github-token]";
    let mut cut_inside_marker = false;
    for pad in (1600..2048).step_by(2) {
        let err = runtime()
            .call(
                &hostile(),
                "panic-with",
                &json!({ "text": format!("{token} {}", "p".repeat(pad)) }),
                &quick(),
                &Grants::default(),
            )
            .await
            .unwrap_err();
        let CallError::Trap { stderr, .. } = &err else {
            panic!("expected a trap, got {err}");
        };
        assert!(!stderr.contains("B2a1"), "padding {pad}: {stderr}");
        assert!(!stderr.contains("ghp_"), "padding {pad}: {stderr}");
        cut_inside_marker |= (2..marker.len()).any(|i| stderr.starts_with(&marker[i..]));
    }
    assert!(
        cut_inside_marker,
        "no padding put the tail's start inside the token"
    );
}

#[tokio::test]
async fn github_token_at_the_log_line_cut_is_not_shown_in_part() {
    // Log lines are cut at 4096 bytes; the token starts just before the cut.
    let token = github_token();
    let line = format!("{} {token}", "q".repeat(4090));
    let (_, log) = logged(echo(&line, &Grants::default())).await;
    assert!(log.contains("qqqq"), "{log}");
    assert!(!log.contains("ghp_"), "{log}");
    assert!(!log.contains("a1B2"), "{log}");
}

#[tokio::test]
async fn non_utf8_output_keeps_its_bytes_around_a_redacted_token() {
    let token = github_token();
    let mut data = b"\xff\xfe bin ".to_vec();
    data.extend_from_slice(token.as_bytes());
    data.extend_from_slice(b" \xc3(\x80");
    let out = call(
        &hostile(),
        "write-bytes",
        json!({ "data": data }),
        &Grants::default(),
    )
    .await;
    let want: &[u8] = b"\xff\xfe bin [redacted:github-token] \xc3(\x80";
    assert_eq!(out.stdout.as_ref(), want);
    assert_eq!(out.stderr.as_ref(), want);
}

#[tokio::test]
async fn output_without_credentials_is_unchanged() {
    let plain = "sk-learn and ghp_short and eyJ-not-a-jwt, naïve ✓";
    let (out, log) = logged(echo(plain, &Grants::default())).await;
    assert_eq!(out.result, json!(plain));
    assert_eq!(text(&out.stdout), format!("{plain}\n"));
    assert!(log.contains(plain), "{log}");
    let out = call(
        &hostile(),
        "write-bytes",
        json!({ "data": [0xff, 0, 0x80] }),
        &Grants::default(),
    )
    .await;
    assert_eq!(out.stdout.as_ref(), b"\xff\x00\x80");
}

#[tokio::test]
async fn a_kind_the_operator_disabled_passes() {
    let config: RedactConfig = toml::from_str("disable = [\"jwt\"]").unwrap();
    let grants = grants_with(Redactor::new(&config).unwrap());
    let token = jwt();
    let out = echo(&format!("{token} {}", github_token()), &grants).await;
    assert_eq!(
        out.result,
        json!(format!("{token} [redacted:github-token]"))
    );
}

#[tokio::test]
async fn the_secret_kind_cannot_be_disabled_by_the_operator() {
    let config: RedactConfig = toml::from_str("disable = [\"secret\"]").unwrap();
    assert_eq!(config.disable, vec![Kind::Secret]);
    let err = Redactor::new(&config).unwrap_err();
    assert!(matches!(err, RedactError::CannotDisableSecret), "{err}");
    // With every other kind disabled, a known secret is still redacted.
    let config: RedactConfig = toml::from_str(
        "disable = [\"aws-key\", \"gcp-key\", \"github-token\", \"gitlab-token\", \"slack-token\", \
         \"openai-key\", \"anthropic-key\", \"private-key\", \"jwt\"]",
    )
    .unwrap();
    let mut redactor = Redactor::new(&config).unwrap();
    redactor.add_secret(KNOWN_SECRET).unwrap();
    let out = echo(
        &format!("{KNOWN_SECRET} {}", github_token()),
        &grants_with(redactor),
    )
    .await;
    assert_eq!(
        out.result,
        json!(format!("[redacted:secret] {}", github_token()))
    );
}

#[tokio::test]
async fn an_operator_pattern_is_redacted() {
    let config = RedactConfig {
        disable: Vec::new(),
        extra_patterns: vec![ExtraPattern {
            name: "acme-token".into(),
            regex: "acme_(?P<secret>[a-z0-9]{16})".into(),
        }],
    };
    let grants = grants_with(Redactor::new(&config).unwrap());
    let (out, log) = logged(echo("id acme_0123456789abcdef ok", &grants)).await;
    assert_eq!(out.result, json!("id acme_[redacted:acme-token] ok"));
    assert_eq!(text(&out.stdout), "id acme_[redacted:acme-token] ok\n");
    assert!(log.contains("id acme_[redacted:acme-token] ok"), "{log}");
    // The built-in detectors still apply next to the operator's.
    let out = echo(&github_token(), &grants).await;
    assert_eq!(out.result, json!("[redacted:github-token]"));
}

#[tokio::test]
async fn grants_debug_shows_no_known_secret() {
    let grants = grants_knowing_the_secret();
    let debug = format!("{grants:?}");
    assert!(debug.contains("redactor"), "{debug}");
    assert!(!debug.contains("horse battery"), "{debug}");
}
