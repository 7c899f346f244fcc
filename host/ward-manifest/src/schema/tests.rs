#![allow(clippy::unwrap_used)]

use super::*;

const HEAD: &str = "name = \"acme:x\"\nversion = \"1.0.0\"\n";

const FULL: &str = r#"
name = "acme:github"
version = "1.2.3-beta.1"
description = "Talks to GitHub"

[commands.greet]
description = "Greets someone"
confirm = true

[commands.list-issues]

[capabilities]
network = [
    { url = "https://api.github.com", methods = ["GET", "POST"] },
    { url = "https://*.example.com:8443" },
]
files = [
    { host = "/srv/data", guest = "/data", mode = "ro" },
    { host = "$OPERATOR", guest = "/work", mode = "rw" },
]
env = ["LANG", "TZ"]
secrets = [
    { name = "GITHUB_TOKEN", hosts = ["https://api.github.com"], header = "Authorization", format = "Bearer {}" },
]
keyvalue = { quota = "10MiB" }
confirm = true

[limits]
memory = "128MiB"
timeout = "30s"
fuel = 1000000
output = "2MiB"
result = 65536
handles = 64
"#;

fn err(text: &str) -> String {
    Manifest::parse(text.as_bytes()).unwrap_err().to_string()
}

#[test]
fn full_manifest_parses() {
    let m = Manifest::parse(FULL.as_bytes()).unwrap();
    assert_eq!(m.id(), "acme:github@1.2.3-beta.1");
    assert_eq!(m.name.namespace, "acme");
    assert_eq!(m.commands.len(), 2);
    assert!(m.commands["greet"].confirm);
    assert!(!m.commands["list-issues"].confirm);
    let c = &m.capabilities;
    assert_eq!(c.network.len(), 2);
    assert_eq!(c.network[1].url.to_string(), "https://*.example.com:8443");
    assert_eq!(c.network[1].methods, None);
    assert_eq!(c.files[1].host, HostDir::Operator);
    assert_eq!(c.files[1].mode, Mode::ReadWrite);
    assert_eq!(
        c.secrets[0].inject,
        Inject::Header("Authorization".to_owned())
    );
    assert_eq!(c.keyvalue, Some(KeyValue { quota: 10 << 20 }));
    assert!(c.confirm);
}

#[test]
fn to_toml_round_trips() {
    let m = Manifest::parse(FULL.as_bytes()).unwrap();
    let text = m.to_toml();
    assert_eq!(Manifest::parse(text.as_bytes()).unwrap(), m, "{text}");
    let min = Manifest::parse(HEAD.as_bytes()).unwrap();
    assert_eq!(min.to_toml(), HEAD);
}

#[test]
fn limits_over_defaults() {
    let m = Manifest::parse(FULL.as_bytes()).unwrap();
    let l = m.limits();
    assert_eq!(l.memory_bytes, 128 << 20);
    assert_eq!(l.timeout, Duration::from_secs(30));
    assert_eq!(l.fuel, Some(1_000_000));
    assert_eq!(l.output_bytes, 2 << 20);
    assert_eq!(l.result_bytes, 65536);
    assert_eq!(l.handles, 64);
    assert_eq!(l.instances, ward_policy::Limits::default().instances);
    let m = Manifest::parse(HEAD.as_bytes()).unwrap();
    assert_eq!(m.limits(), ward_policy::Limits::default());
}

#[test]
fn capability_kinds_match_signing_ceilings() {
    let m = Manifest::parse(FULL.as_bytes()).unwrap();
    assert_eq!(
        m.capability_kinds().into_iter().collect::<Vec<_>>(),
        [
            Capability::Http,
            Capability::ReadPaths,
            Capability::WritablePaths,
            Capability::Secrets,
            Capability::Env,
            Capability::Kv,
            Capability::Confirm,
        ]
    );
    assert!(
        Manifest::parse(HEAD.as_bytes())
            .unwrap()
            .capability_kinds()
            .is_empty()
    );
}

#[test]
fn hostile_names_are_refused() {
    let rule = "write a lowercase kebab-case identifier: a letter a-z, then a-z, 0-9 and single '-' (not last)";
    let long = "a".repeat(10_000);
    let table: Vec<(String, String)> = vec![
        (
            "../x".into(),
            "name: '../x' is not of the form <namespace>:<name>: write for example acme:greeter"
                .into(),
        ),
        (
            "../x:y".into(),
            format!("name: the namespace '../x' is not valid: {rule}"),
        ),
        (
            "acme:a\\u0000b".into(),
            format!("name: the name 'a\\u{{0}}b' is not valid: {rule}"),
        ),
        (
            format!("acme:{long}"),
            format!(
                "name: the name '{}…' is longer than 64 characters",
                "a".repeat(80)
            ),
        ),
        (
            "\u{430}cme:x".into(),
            format!(
                "name: the namespace '\u{430}cme' has the non-ASCII character \\u{{430}} (a Cyrillic letter that may look like a Latin one): {rule}"
            ),
        ),
        (
            "Acme:X".into(),
            "name: the namespace 'Acme' has uppercase letters: write acme".into(),
        ),
        (":x".into(), format!("name: the namespace is empty: {rule}")),
        ("acme:".into(), format!("name: the name is empty: {rule}")),
        (
            "acme".into(),
            "name: 'acme' is not of the form <namespace>:<name>: write for example acme:greeter"
                .into(),
        ),
        (
            "acme:x:y".into(),
            format!("name: the name 'x:y' is not valid: {rule}"),
        ),
        (
            "acme:x@1.0.0".into(),
            format!("name: the name 'x@1.0.0' is not valid: {rule}"),
        ),
        (
            "acme:my--x".into(),
            format!("name: the name 'my--x' is not valid: {rule}"),
        ),
        (
            "acme:x-".into(),
            format!("name: the name 'x-' is not valid: {rule}"),
        ),
        (
            "acme:\u{202e}x".into(),
            format!(
                "name: the name '\\u{{202e}}x' has the non-ASCII character \\u{{202e}} (an invisible character): {rule}"
            ),
        ),
    ];
    for (name, want) in table {
        let text = format!("name = \"{name}\"\nversion = \"1.0.0\"\n");
        assert_eq!(err(&text), want, "{name:?}");
    }
}

#[test]
fn bad_manifests_name_the_field() {
    let table: &[(&str, &str)] = &[
        // version
        (
            "name = \"acme:x\"\nversion = \"v1.2.3\"\n",
            "version: the version 'v1.2.3' starts with 'v': write 1.2.3",
        ),
        (
            "name = \"acme:x\"\nversion = \"1.2\"\n",
            "version: the version '1.2' is not a semantic version (unexpected end of input while parsing minor version number): write for example 1.2.3",
        ),
        // description
        (
            "name = \"acme:x\"\nversion = \"1.0.0\"\ndescription = \"a\\u001b[31mb\"\n",
            "description: the description has the control or invisible character \\u{1b}: remove it",
        ),
        // commands
        (
            "[commands.Greet]\n",
            "commands.Greet: the command name 'Greet' has uppercase letters: write greet",
        ),
        (
            "[commands.greet]\ndescription = \"\\u202e\"\n",
            "commands.greet.description: the description has the control or invisible character \\u{202e}: remove it",
        ),
        // network
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\" }, { url = \"https://a.com/x\" }]\n",
            "capabilities.network[1].url: 'https://a.com/x' has a path, query or fragment; hosts must be in the form <scheme>://<host>[:<port>], for example https://api.github.com or https://*.example.com:8443: write https://a.com",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\" }, { url = \"https://a.com:443\" }]\n",
            "capabilities.network[1].url: https://a.com:443 is already listed as capabilities.network[0]: list each destination once, with all its methods",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\", methods = [] }]\n",
            "capabilities.network[0].methods: is empty: list the methods allowed, or leave `methods` out to allow any",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\", methods = [\"GET\", \"post\"] }]\n",
            "capabilities.network[0].methods[1]: write the method in uppercase: POST, not 'post'",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\", methods = [\"GET\", \"GET\"] }]\n",
            "capabilities.network[0].methods[1]: GET is listed twice",
        ),
        // files
        (
            "[capabilities]\nfiles = [{ host = \"srv\", guest = \"/data\" }]\n",
            "capabilities.files[0].host: the host path 'srv' is not absolute: write a path that starts with '/', for example /data",
        ),
        (
            "[capabilities]\nfiles = [{ host = \"$HOME\", guest = \"/data\" }]\n",
            "capabilities.files[0].host: '$HOME' is not known: write an absolute path or $OPERATOR (the operator chooses the directory at install)",
        ),
        (
            "[capabilities]\nfiles = [{ host = \"/srv\", guest = \"/data/../etc\" }]\n",
            "capabilities.files[0].guest: the guest path '/data/../etc' is not normalized: write it without '.', '..', repeated '/' or a trailing '/'",
        ),
        (
            "[capabilities]\nfiles = [{ host = \"/srv\", guest = \"/d\", mode = \"rwx\" }]\n",
            "capabilities.files[0].mode: 'rwx' is not a mode: write \"ro\" (read-only, the default) or \"rw\" (read-write)",
        ),
        (
            "[capabilities]\nfiles = [{ host = \"/a\", guest = \"/d\" }, { host = \"/b\", guest = \"/d\" }]\n",
            "capabilities.files[1].guest: /d is already used by capabilities.files[0]: give each directory its own guest path",
        ),
        // env
        (
            "[capabilities]\nenv = [\"LANG\", \"path\"]\n",
            "capabilities.env[1]: the variable name 'path' is not valid: write A-Z, 0-9 and '_', not starting with a digit: write PATH",
        ),
        (
            "[capabilities]\nenv = [\"LANG\", \"LANG\"]\n",
            "capabilities.env[1]: LANG is listed twice",
        ),
        // secrets
        (
            "[capabilities]\nsecrets = [{ name = \"T\", hosts = [\"https://a.com\"], header = \"Authorization\" }]\n",
            "capabilities.secrets[0].hosts[0]: https://a.com is not in capabilities.network: add it there too",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"http://a.com\" }]\nsecrets = [{ name = \"T\", hosts = [\"http://a.com\"], header = \"Authorization\" }]\n",
            "capabilities.secrets[0].hosts[0]: http://a.com: secrets are sent only over https; write https://a.com",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\" }]\nsecrets = [{ name = \"T\", hosts = [] }]\n",
            "capabilities.secrets[0].hosts: is empty: name the hosts the secret may be sent to, for example [\"https://api.github.com\"]",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\" }]\nsecrets = [{ name = \"T\", hosts = [\"https://a.com\"] }]\n",
            "capabilities.secrets[0]: set exactly one of `header` (for example header = \"Authorization\") or `query` (a URL query parameter)",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\" }]\nsecrets = [{ name = \"T\", hosts = [\"https://a.com\"], header = \"A\", query = \"b\" }]\n",
            "capabilities.secrets[0]: set exactly one of `header` (for example header = \"Authorization\") or `query` (a URL query parameter)",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\" }]\nsecrets = [{ name = \"T\", hosts = [\"https://a.com\"], header = \"Host\" }]\n",
            "capabilities.secrets[0].header: a secret cannot go in the Host header, which frames the request: use Authorization or an X- header",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\" }]\nsecrets = [{ name = \"T\", hosts = [\"https://a.com\"], header = \"X-A\\r\\nB\" }]\n",
            "capabilities.secrets[0].header: 'X-A\\u{d}\\u{a}B' is not a header name: write up to 64 characters from A-Z, a-z, 0-9 and '-', for example Authorization",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\" }]\nsecrets = [{ name = \"T\", hosts = [\"https://a.com\"], header = \"Authorization\", format = \"Bearer\" }]\n",
            "capabilities.secrets[0].format: must contain `{}` exactly once, where the secret goes, for example \"Bearer {}\"",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\" }]\nsecrets = [{ name = \"T\", hosts = [\"https://a.com\"], header = \"Authorization\", format = \"{}{}\" }]\n",
            "capabilities.secrets[0].format: must contain `{}` exactly once, where the secret goes, for example \"Bearer {}\"",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\" }]\nsecrets = [{ name = \"T\", hosts = [\"https://a.com\"], header = \"Authorization\", format = \"{}\\r\\nX: y\" }]\n",
            "capabilities.secrets[0].format: the format has the control or invisible character \\u{d}: remove it",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\" }]\nsecrets = [{ name = \"t\", hosts = [\"https://a.com\"], header = \"A\" }]\n",
            "capabilities.secrets[0].name: the secret name 't' is not valid: write A-Z, 0-9 and '_', not starting with a digit: write T",
        ),
        (
            "[capabilities]\nnetwork = [{ url = \"https://a.com\" }]\nsecrets = [{ name = \"T\", hosts = [\"https://a.com\"], header = \"A\" }, { name = \"T\", hosts = [\"https://a.com\"], header = \"A\" }]\n",
            "capabilities.secrets[1].name: T is listed twice",
        ),
        // keyvalue
        (
            "[capabilities]\nkeyvalue = { quota = \"lots\" }\n",
            "capabilities.keyvalue.quota: invalid size 'lots': write a number of bytes with an optional unit, for example 64MiB, 512KiB or 1048576",
        ),
        (
            "[capabilities]\nkeyvalue = { quota = 0 }\n",
            "capabilities.keyvalue.quota: must be greater than zero: leave `keyvalue` out for no storage",
        ),
        // limits
        (
            "[limits]\ntimeout = \"5\"\n",
            "limits.timeout: invalid duration '5': write a number with a unit, for example 500ms, 5s or 2m",
        ),
        (
            "[limits]\nfuel = -1\n",
            "limits.fuel: invalid number '-1': write a whole number, for example 1000000",
        ),
        (
            "[limits]\nmemory = \"0\"\n",
            "limits.memory: must be greater than zero: leave it out for ward's default",
        ),
        (
            "[limits]\ntimeout = \"0ms\"\n",
            "limits.timeout: must be greater than zero: leave it out for ward's default",
        ),
        (
            "[limits]\nhandles = 100000\n",
            "limits.handles: must be at most 4096",
        ),
    ];
    for (text, want) in table {
        let text = if text.starts_with("name") {
            text.to_string()
        } else {
            format!("{HEAD}{text}")
        };
        assert_eq!(err(&text), *want, "{text}");
    }
}

#[test]
fn toml_errors_say_where() {
    let table: &[(&str, &str)] = &[
        (
            "version = \"1.0.0\"\n",
            "invalid manifest: line 1, column 1: missing field `name`",
        ),
        (
            "name = \"acme:x\"\nversion = \"1.0.0\"\nauthor = \"me\"\n",
            "invalid manifest: line 3, column 1: unknown field `author`, expected one of `name`, `version`, `description`, `commands`, `capabilities`, `limits`",
        ),
        (
            "name = \"acme:x\"\nversion = \"1.0.0\"\n[capabilities]\nnetwork = [{ url = \"https://a.com\", path = \"/x\" }]\n",
            "invalid manifest: line 4, column 37: unknown field `path`, expected `url` or `methods`",
        ),
        (
            "name = \"acme:x\"\nversion = \"1.0.0\"\n[capabilities]\nsockets = true\n",
            "invalid manifest: line 4, column 1: unknown field `sockets`, expected one of `network`, `files`, `env`, `secrets`, `keyvalue`, `confirm`",
        ),
        (
            "name = \"acme:x\"\nversion = \"1.0.0\"\n[limits]\ncpu = \"1s\"\n",
            "invalid manifest: line 4, column 1: unknown field `cpu`, expected one of `memory`, `timeout`, `fuel`, `output`, `result`, `handles`",
        ),
        (
            "name = \"acme:x\"\nversion = \"1.0.0\"\n[limits]\nmemory = true\n",
            "invalid manifest: line 4, column 10: invalid type: boolean `true`, expected a number or a string such as \"64MiB\" or \"5s\"",
        ),
        (
            "name = \"acme:x\"\nversion = 1\n",
            "invalid manifest: line 2, column 11: invalid type: integer `1`, expected a string",
        ),
        (
            "name = \"acme:x\"\nname = \"acme:y\"\nversion = \"1.0.0\"\n",
            "invalid manifest: line 2, column 1: duplicate key",
        ),
        (
            "name = \"acme:x\nversion = \"1.0.0\"\n",
            "invalid manifest: line 1, column 15: invalid basic string, expected `\"`",
        ),
    ];
    for (text, want) in table {
        assert_eq!(err(text), *want, "{text}");
    }
}

#[test]
fn hostile_unknown_keys_are_quoted_safely() {
    let key = format!("\\u001b[2J{}", "k".repeat(20_000));
    let text = format!("{HEAD}\"{key}\" = 1\n");
    let e = err(&text);
    assert!(
        e.starts_with("invalid manifest: line 3, column 1: unknown field `\\u{1b}[2Jkkk"),
        "{e}"
    );
    assert!(e.len() <= 400, "{}", e.len());
}

#[test]
fn oversized_manifest_is_refused_before_parsing() {
    let mut text = HEAD.to_owned();
    text.push_str(&format!(
        "description = \"{}\"\n",
        "a".repeat(MAX_MANIFEST_BYTES)
    ));
    assert_eq!(
        err(&text),
        format!(
            "the manifest is {} bytes; the limit is 65536 bytes",
            text.len()
        )
    );
}

#[test]
fn long_description_is_refused() {
    let text = format!("{HEAD}description = \"{}\"\n", "a".repeat(1025));
    assert_eq!(
        err(&text),
        "description: the description is 1025 bytes; the limit is 1024 bytes"
    );
}

#[test]
fn too_many_entries_are_refused() {
    let net: Vec<String> = (0..65)
        .map(|i| format!("{{ url = \"https://h{i}.com\" }}"))
        .collect();
    let text = format!("{HEAD}[capabilities]\nnetwork = [{}]\n", net.join(", "));
    assert_eq!(
        err(&text),
        "capabilities.network: 65 entries; the limit is 64"
    );
    let env: Vec<String> = (0..65).map(|i| format!("\"V{i}\"")).collect();
    let text = format!("{HEAD}[capabilities]\nenv = [{}]\n", env.join(", "));
    assert_eq!(err(&text), "capabilities.env: 65 entries; the limit is 64");
}

#[test]
fn deeply_nested_toml_does_not_overflow() {
    let text = format!("{HEAD}x = {}", "[".repeat(30_000));
    assert!(err(&text).starts_with("invalid manifest: "));
    let text = format!("{HEAD}x = {}", "{ a = ".repeat(10_000));
    assert!(err(&text).starts_with("invalid manifest: "));
}

#[test]
fn non_utf8_is_refused() {
    assert_eq!(
        Manifest::parse(b"name = \"\xff\"").unwrap_err(),
        ManifestError::NotUtf8
    );
}
