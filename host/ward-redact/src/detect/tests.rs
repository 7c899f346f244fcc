use super::*;
use crate::ExtraPattern;

// Fake tokens are assembled from pieces so that no scanner mistakes this file for a leak.
fn rep(unit: &str, n: usize) -> String {
    unit.repeat(n)
}

fn r(text: &str) -> String {
    Redactor::builtin().redact(text).into_owned()
}

const JWT: &str = concat!(
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    ".",
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0",
    ".",
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
);

fn positives() -> Vec<(String, &'static str)> {
    vec![
        (format!("AKIA{}", "IOSFODNN7EXAMPLE"), "aws-key"),
        (format!("ASIA{}", "Y34FZKBOKMUTVV7A"), "aws-key"),
        (
            format!("AIza{}", rep("Sy0_a-B9c", 3) + "Xy1Zw2Q3"),
            "gcp-key",
        ),
        (format!("ghp_{}", rep("a1B2", 9)), "github-token"),
        (format!("gho_{}", rep("Zz09", 9)), "github-token"),
        (format!("ghu_{}", rep("Qw3r", 9)), "github-token"),
        (format!("ghs_{}", rep("T5y6", 9)), "github-token"),
        (format!("ghr_{}", rep("U7i8", 9)), "github-token"),
        (
            format!(
                "github_pat_{}_{}",
                rep("11ABCD", 4) + "EF",
                rep("aB3", 19) + "cD"
            ),
            "github-token",
        ),
        (format!("glpat-{}", rep("x9Y_", 5)), "gitlab-token"),
        (
            format!("xoxb-{}-{}-{}", "1234567890", "9876543210", rep("aBcD", 6)),
            "slack-token",
        ),
        (format!("xoxp-{}", rep("12345-", 4) + "abc"), "slack-token"),
        (
            format!(
                "sk-{}T3BlbkFJ{}",
                rep("Ab1", 7).split_at(20).0,
                rep("Zz9", 7).split_at(20).0
            ),
            "openai-key",
        ),
        (format!("sk-proj-{}", rep("aB3_dE-", 12)), "openai-key"),
        (format!("sk-{}", rep("q1W2e3", 8)), "openai-key"),
        (
            format!("sk-ant-api03-{}", rep("Ab9_-", 19) + "AA"),
            "anthropic-key",
        ),
        (
            format!("sk-ant-admin01-{}", rep("Zy8", 10)),
            "anthropic-key",
        ),
        (
            format!(
                "-----BEGIN RSA PRIVATE KEY-----\n{}\n{}\n-----END RSA PRIVATE KEY-----",
                rep("MIIEow", 10),
                rep("AbCd", 12)
            ),
            "private-key",
        ),
        (
            format!(
                "-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----",
                rep("MC4CAQ", 8)
            ),
            "private-key",
        ),
        (
            format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{}", rep("b3Blbn", 8)),
            "private-key",
        ),
        (JWT.to_owned(), "jwt"),
    ]
}

#[test]
fn every_kind_is_detected_alone_and_in_context() {
    for (token, kind) in positives() {
        let want = format!("[redacted:{kind}]");
        assert_eq!(r(&token), want, "{token}");
        for (before, after) in [
            ("token=", "&x=1"),
            ("Authorization: Bearer ", "\n"),
            ("{\"key\":\"", "\"}"),
            ("'", "'"),
            ("(", ")."),
        ] {
            // An unterminated private key block is redacted to the end of the text.
            let unterminated = token.starts_with("-----BEGIN") && !token.contains("-----END");
            let after_kept = if unterminated { "" } else { after };
            assert_eq!(
                r(&format!("{before}{token}{after}")),
                format!("{before}{want}{after_kept}"),
                "{before}{token}{after}"
            );
        }
    }
}

#[test]
fn aws_secret_key_is_detected_in_context_only() {
    let key = format!("wJalrXUtnFEMI/K7MDENG/{}", "bPxRfiCYEXAMPLEKEY");
    for (text, want) in [
        (
            format!("aws_secret_access_key={key}"),
            "aws_secret_access_key=[redacted:aws-key]".to_owned(),
        ),
        (
            format!("AWS_SECRET_ACCESS_KEY = \"{key}\""),
            "AWS_SECRET_ACCESS_KEY = \"[redacted:aws-key]\"".to_owned(),
        ),
        (
            format!("{{\"aws_secret_access_key\": \"{key}\"}}"),
            "{\"aws_secret_access_key\": \"[redacted:aws-key]\"}".to_owned(),
        ),
        // Without the context a 40-character base64 string is not a credential shape.
        (format!("sha={key}"), format!("sha={key}")),
    ] {
        assert_eq!(r(&text), want);
    }
}

#[test]
fn two_tokens_separated_by_one_character_are_both_redacted() {
    let a = format!("ghp_{}", rep("a1B2", 9));
    let b = format!("AKIA{}", "IOSFODNN7EXAMPLE");
    assert_eq!(
        r(&format!("{a} {b},{a}")),
        "[redacted:github-token] [redacted:aws-key],[redacted:github-token]"
    );
}

#[test]
fn near_misses_are_not_redacted() {
    let near = [
        "AKIA".to_owned() + "IOSFODNN7EXAMPL",   // 15 after the prefix
        "AKIA".to_owned() + "IOSFODNN7EXAMPLEX", // 17
        "akia".to_owned() + "iosfodnn7example",  // lowercase
        "XAKIA".to_owned() + "IOSFODNN7EXAMPLE", // glued to a word
        "AIza".to_owned() + &rep("Sy0_a-B9c", 3) + "Xy1Zw2Q", // 34 after the prefix
        "ghp_".to_owned() + &rep("a1B2", 8) + "a1B", // 35
        "ghx_".to_owned() + &rep("a1B2", 9),     // unknown prefix
        "xghp_".to_owned() + &rep("a1B2", 9),    // glued
        "glpat-".to_owned() + "short",
        "xoxz-".to_owned() + "1234567890-abc",
        "xoxb-".to_owned() + "short",
        "sk-".to_owned() + "this-is-a-long-hyphenated-word-in-some-text",
        "task-".to_owned() + &rep("q1W2e3", 8),
        "sk-".to_owned() + &rep("ab", 10),
        "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----".to_owned(),
        "-----BEGIN CERTIFICATE-----".to_owned(),
        "eyJhbGciOiJIUzI1NiJ9".to_owned(), // one segment
        "eyJhbGciOiJIUzI1NiJ9.payload-not-json.sig".to_owned(),
        "abc.def.ghi".to_owned(),
        "The risk-management team asked for sk-learn docs.".to_owned(),
        "Version 1.2.3, see https://example.com/a/b?c=d".to_owned(),
        "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2".to_owned(), // a git sha
    ];
    for text in near {
        assert_eq!(r(&text), text, "{text}");
        assert!(matches!(
            Redactor::builtin().redact(&text),
            Cow::Borrowed(_)
        ));
    }
}

#[test]
fn known_secret_values_are_redacted_in_every_form() {
    let mut red = Redactor::builtin();
    red.add_secret("my-db-password!").unwrap();
    red.add_secret("").unwrap();
    assert_eq!(
        red.redact("pw my-db-password! ok"),
        "pw [redacted:secret] ok"
    );
    assert_eq!(red.redact("pw=my-db-password%21"), "pw=[redacted:secret]");
    assert_eq!(red.redact("bXktZGItcGFzc3dvcmQh"), "[redacted:secret]");
    assert_eq!(
        red.redact("ünïcödé my-db-password! ✓"),
        "ünïcödé [redacted:secret] ✓"
    );
    assert_eq!(red.redact("nothing here"), "nothing here");
    assert!(!format!("{red:?}").contains("my-db-password"));
}

#[test]
fn redact_json_walks_string_values_not_keys() {
    let mut red = Redactor::builtin();
    red.add_secret("hunter2hunter2").unwrap();
    let token = format!("ghp_{}", rep("a1B2", 9));
    let mut v = serde_json::json!({
        "ok": true,
        "n": 3,
        "token": token,
        "nested": [{"deep": ["x", "pw: hunter2hunter2"]}, null],
        "hunter2hunter2": "key is left alone",
    });
    red.redact_json(&mut v);
    assert_eq!(
        v,
        serde_json::json!({
            "ok": true,
            "n": 3,
            "token": "[redacted:github-token]",
            "nested": [{"deep": ["x", "pw: [redacted:secret]"]}, null],
            "hunter2hunter2": "key is left alone",
        })
    );
}

#[test]
fn redact_json_survives_deep_nesting() {
    let mut v = serde_json::Value::String(format!("AKIA{}", "IOSFODNN7EXAMPLE"));
    for _ in 0..10_000 {
        v = serde_json::Value::Array(vec![v]);
    }
    Redactor::builtin().redact_json(&mut v);
    let mut cur = &v;
    while let serde_json::Value::Array(a) = cur {
        cur = &a[0];
    }
    assert_eq!(cur, "[redacted:aws-key]");
    // Dropping 10 000 nested arrays recursively could overflow a small test stack.
    while let serde_json::Value::Array(mut a) = v {
        v = a.pop().unwrap_or_default();
    }
}

#[test]
fn config_from_toml_disables_and_adds() {
    let cfg: RedactConfig = toml::from_str(
        r#"
        disable = ["jwt", "aws-key"]

        [[extra_patterns]]
        name = "acme-token"
        regex = "acme_[a-z0-9]{8}"

        [[extra_patterns]]
        name = "internal-pw"
        regex = "password=(?P<secret>[^&\\s]+)"
        "#,
    )
    .unwrap();
    assert_eq!(cfg.disable, [Kind::Jwt, Kind::AwsKey]);
    let red = Redactor::new(&cfg).unwrap();
    assert_eq!(red.redact(JWT), JWT);
    let aws = format!("AKIA{}", "IOSFODNN7EXAMPLE");
    assert_eq!(red.redact(&aws), aws);
    assert_eq!(
        red.redact("id acme_abc12345 x"),
        "id [redacted:acme-token] x"
    );
    assert_eq!(
        red.redact("user=a&password=s3cr3t&x=1"),
        "user=a&password=[redacted:internal-pw]&x=1"
    );
    assert_eq!(
        red.redact(&format!("ghp_{}", rep("a1B2", 9))),
        "[redacted:github-token]"
    );
}

#[test]
fn config_refuses_unknown_fields_and_kinds() {
    for bad in [
        "disabled = [\"jwt\"]",
        "disable = [\"jwt-token\"]",
        "[[extra_patterns]]\nname = \"a\"\nregex = \"b\"\nkind = \"c\"",
    ] {
        assert!(toml::from_str::<RedactConfig>(bad).is_err(), "{bad}");
    }
}

fn extra(name: &str, regex: &str) -> RedactConfig {
    RedactConfig {
        disable: vec![],
        extra_patterns: vec![ExtraPattern {
            name: name.to_owned(),
            regex: regex.to_owned(),
        }],
    }
}

#[test]
fn config_is_bounded_and_fails_closed() {
    let e = |cfg: &RedactConfig| Redactor::new(cfg).unwrap_err().to_string();
    assert_eq!(
        e(&RedactConfig {
            disable: vec![Kind::Secret],
            extra_patterns: vec![]
        }),
        "the secret detector cannot be disabled: known secret values are always redacted; remove \"secret\" from disable"
    );
    assert_eq!(
        e(&extra("Bad_Name", "x")),
        "extra pattern name \"Bad_Name\" is not valid: write a lowercase kebab-case name of at most 32 characters, like \"acme-token\""
    );
    assert_eq!(
        e(&extra("empty", "a*")),
        "extra pattern empty matches the empty string, so it would redact everywhere: make it match at least one character"
    );
    assert!(e(&extra("broken", "(")).starts_with("extra pattern broken is not a valid regex: "));
    assert!(
        e(&extra("huge", r"\w{1000}{1000}"))
            .starts_with("extra pattern huge is not a valid regex: ")
    );
    assert_eq!(
        e(&extra("long", &"a".repeat(MAX_PATTERN_LEN + 1))),
        format!(
            "extra pattern long is {} bytes long; at most 4096 are allowed",
            MAX_PATTERN_LEN + 1
        )
    );
    let many = RedactConfig {
        disable: vec![],
        extra_patterns: (0..=MAX_EXTRA_PATTERNS)
            .map(|i| ExtraPattern {
                name: format!("p{i}"),
                regex: format!("x{i}y"),
            })
            .collect(),
    };
    assert_eq!(
        e(&many),
        "65 extra patterns are configured; at most 64 are allowed"
    );
}

#[test]
fn empty_matches_at_positions_do_not_loop() {
    let red = Redactor::new(&extra("word-edge", r"\b")).unwrap();
    assert_eq!(red.redact("a b c"), "a b c");
}

#[test]
fn overlapping_matches_are_merged() {
    // An anthropic key also has the shape of an openai key: it is redacted once, as anthropic.
    let k = format!("sk-ant-api03-{}", rep("Ab9_-", 19) + "AA");
    assert_eq!(r(&k), "[redacted:anthropic-key]");
    let red = Redactor::new(&extra("wide", "token: [a-z_]+ghp_[A-Za-z0-9]+")).unwrap();
    let t = format!("token: x_ghp_{}", rep("a1B2", 9));
    assert_eq!(red.redact(&t), "[redacted:wide]");
}

#[test]
fn kind_names_round_trip() {
    for k in [
        Kind::AwsKey,
        Kind::GcpKey,
        Kind::GithubToken,
        Kind::GitlabToken,
        Kind::SlackToken,
        Kind::OpenaiKey,
        Kind::AnthropicKey,
        Kind::PrivateKey,
        Kind::Jwt,
        Kind::Secret,
    ] {
        let parsed: Kind = serde_json::from_value(serde_json::json!(k.as_str())).unwrap();
        assert_eq!(parsed, k);
        assert_eq!(k.to_string(), k.as_str());
    }
}

#[test]
fn bytes_keep_invalid_utf8_outside_matches() {
    let red = Redactor::builtin();
    let token = format!("ghp_{}", rep("a1B2", 9));
    let mut input = b"\xff\xfeout ".to_vec();
    input.extend_from_slice(token.as_bytes());
    input.extend_from_slice(b" \xc3(tail\x80");
    assert_eq!(
        red.redact_bytes(&input).as_ref(),
        b"\xff\xfeout [redacted:github-token] \xc3(tail\x80"
    );
    // Valid bytes with nothing to redact are borrowed, invalid ones included.
    assert!(matches!(
        red.redact_bytes(b"plain \xff text"),
        Cow::Borrowed(b"plain \xff text")
    ));
    // A token right next to an invalid byte is found.
    let mut glued = b"\xff".to_vec();
    glued.extend_from_slice(token.as_bytes());
    glued.push(0x80);
    assert_eq!(
        red.redact_bytes(&glued).as_ref(),
        b"\xff[redacted:github-token]\x80"
    );
}

#[test]
fn operator_pattern_splitting_a_character_still_yields_utf8() {
    let red = Redactor::new(&extra("lead-byte", r"(?-u:\xC3)")).unwrap();
    assert_eq!(red.redact("caf\u{e9}!"), "caf[redacted:lead-byte]\u{FFFD}!");
}

#[test]
fn private_key_with_invalid_bytes_inside_is_redacted_whole() {
    let red = Redactor::builtin();
    let begin = format!("-----BEGIN {}-----\n", "RSA PRIVATE KEY");
    let end = format!("\n-----END {}-----", "RSA PRIVATE KEY");
    let mut input = b"before ".to_vec();
    input.extend_from_slice(begin.as_bytes());
    input.extend_from_slice(b"MIIEow\xffIBAAKCAQEA\n\x80abc");
    input.extend_from_slice(end.as_bytes());
    input.extend_from_slice(b" after");
    assert_eq!(
        red.redact_bytes(&input).as_ref(),
        b"before [redacted:private-key] after"
    );
}

#[test]
fn known_secret_in_non_utf8_bytes_is_redacted() {
    let mut red = Redactor::builtin();
    red.add_secret("hunter2-hunter2").unwrap();
    assert_eq!(
        red.redact_bytes(b"\xffpw=hunter2-hunter2\xfe").as_ref(),
        b"\xffpw=[redacted:secret]\xfe"
    );
}

#[test]
fn lookahead_covers_tokens_and_encoded_secrets() {
    let mut red = Redactor::builtin();
    assert_eq!(red.lookahead(), TOKEN_LOOKAHEAD);
    let long = "x".repeat(1000);
    red.add_secret(&long).unwrap();
    assert_eq!(red.lookahead(), 6000);
    red.add_secret("short").unwrap();
    assert_eq!(red.lookahead(), 6000);
}
