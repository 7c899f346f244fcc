//! Proposals end to end with the real `ward` binary: `ward propose` in a temporary WARD_HOME,
//! review, approval signed by the operator's local key, paper mode against a loopback server,
//! promote, and the health check that rolls back. Each case is its own test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The environment variable the tests pass the local key's passphrase in.
const PASS_VAR: &str = "WARD_TEST_LOCAL_KEY_PASS";

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        Env { _dir: dir, root }
    }

    fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    fn ward(&self) -> Command {
        let mut cmd = Command::cargo_bin("ward").unwrap();
        cmd.env("WARD_HOME", self.home())
            .env(PASS_VAR, "correct horse battery staple")
            .env_remove("RUST_LOG")
            .env_remove("WARD_STORE_FAILPOINT")
            .env("NO_COLOR", "1");
        cmd
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.ward().args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> std::process::Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "ward {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_slice(&self.ok(args).stdout).unwrap()
    }

    /// `ward pack COMPONENT` with `manifest`, unsigned.
    fn pack(&self, component: &str, manifest: &str, tag: &str) -> PathBuf {
        let manifest_file = self.root.join(format!("{tag}.toml"));
        std::fs::write(&manifest_file, manifest).unwrap();
        let out = self.root.join(format!("{tag}.wasm"));
        self.ok(&[
            "pack",
            component,
            "--manifest",
            manifest_file.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        out
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.root.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `ward propose` with `--json`: the proposal id and its report.
    fn propose(&self, component: &Path, examples: Option<&Path>) -> (String, Value) {
        let mut args = vec!["propose", component.to_str().unwrap(), "--json"];
        if let Some(e) = examples {
            args.push("--examples");
            args.push(e.to_str().unwrap());
        }
        let doc = self.json(&args);
        (
            doc["id"].as_str().unwrap().to_owned(),
            doc["report"].clone(),
        )
    }

    fn approve(&self, id: &str, extra: &[&str]) -> std::process::Output {
        let mut args = vec!["proposals", "approve", id, "--passphrase-env", PASS_VAR];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn audit(&self) -> Vec<Value> {
        ward_testkit::install::json_lines(&self.ok(&["audit", "--json"]).stdout)
            .as_array()
            .unwrap()
            .clone()
    }

    fn installed_version(&self, name: &str) -> Option<String> {
        let list = self.json(&["list", "--json"]);
        list.as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["version"].as_str().unwrap().to_owned())
    }

    /// `ward run NAME send` of the relay plugin: the JSON document.
    fn relay(&self, name: &str, method: &str, url: &str, body: &str) -> Value {
        let args = serde_json::json!({ "method": method, "url": url, "body": body }).to_string();
        let out = self.run(&["run", name, "send", "--args", &args, "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A plain-http loopback server recording each request head and answering `200 <text>`.
struct Server {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
    _rt: tokio::runtime::Runtime,
}

impl Server {
    fn start(text: &'static str) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let recorded = heads.clone();
        rt.spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let heads = recorded.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let seen = String::from_utf8_lossy(&head).into_owned();
                    // Read the body too, so the client is never cut off while it sends.
                    let length: usize = seen
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.trim()
                                .eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    let chunked = seen
                        .to_ascii_lowercase()
                        .contains("transfer-encoding: chunked");
                    let start = seen.find("\r\n\r\n").map_or(head.len(), |i| i + 4);
                    let mut body = head[start.min(head.len())..].to_vec();
                    loop {
                        let done = if chunked {
                            body.windows(5).any(|w| w == b"0\r\n\r\n")
                        } else {
                            body.len() >= length
                        };
                        if done || body.len() > 1 << 20 {
                            break;
                        }
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => body.extend_from_slice(&buf[..n]),
                        }
                    }
                    heads.lock().unwrap().push(seen);
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                        text.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Server {
            port,
            heads,
            _rt: rt,
        }
    }

    fn methods(&self) -> Vec<String> {
        self.heads
            .lock()
            .unwrap()
            .iter()
            .map(|h| h.split(' ').next().unwrap_or("").to_owned())
            .collect()
    }
}

fn hello_manifest(version: &str) -> String {
    format!("name = \"local:hello\"\nversion = \"{version}\"\ndescription = \"Greets people\"\n")
}

fn relay_manifest(version: &str, port: u16) -> String {
    format!(
        "name = \"local:relay\"\nversion = \"{version}\"\ndescription = \"Relays requests\"\n\n\
         [capabilities]\nnetwork = [{{ url = \"http://127.0.0.1:{port}\", methods = [\"GET\", \"POST\"] }}]\n"
    )
}

/// Examples for the relay: one GET answered by a fixture with `body`.
fn relay_examples(port: u16, body: &str) -> String {
    format!(
        "[[example]]\ncommand = \"send\"\nargs = {{ method = \"GET\", url = \"http://127.0.0.1:{port}/status\", body = \"\" }}\n\
         expect = {{ ok = \"200 {body}\" }}\n\n\
         [[fixture]]\nmethod = \"GET\"\nurl = \"http://127.0.0.1:{port}/status\"\nstatus = 200\nbody = \"{body}\"\n"
    )
}

const HELLO_EXAMPLES: &str =
    "[[example]]\ncommand = \"greet\"\nargs = { name = \"Ada\" }\nexpect = \"Hello, Ada!\"\n";

#[test]
fn proposal_importing_an_undeclared_capability_is_refused_with_no_record() {
    let env = Env::new();
    // fetch imports wasi:http; this manifest declares no network at all.
    let packed = env.pack(
        ward_fixtures::FETCH,
        "name = \"local:fetch\"\nversion = \"0.1.0\"\ndescription = \"x\"\n",
        "undeclared",
    );
    let out = env.run(&["propose", packed.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("imports a capability its manifest does not declare"),
        "{err}"
    );
    assert!(err.contains("nothing recorded"), "{err}");
    assert_eq!(
        env.json(&["proposals", "list", "--json"]),
        Value::Array(vec![])
    );
    let audit = env.audit();
    assert!(
        audit
            .iter()
            .any(|r| r["action"] == "deny" && r["detail"].to_string().contains("undeclared-import")),
        "{audit:?}"
    );
    assert!(!audit.iter().any(|r| r["action"] == "propose"));
}

#[test]
fn malformed_proposal_is_refused_with_no_record() {
    let env = Env::new();
    let junk = env.write("junk.wasm", "not a component");
    let out = env.run(&["propose", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    // An unpacked component: no manifest.
    let out = env.run(&["propose", ward_fixtures::HELLO]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("carries no manifest"),
        "{}",
        stderr(&out)
    );
    // A bad examples file.
    let packed = env.pack(ward_fixtures::HELLO, &hello_manifest("0.1.0"), "hello");
    let bad = env.write("bad.toml", "[[example]]\ncommand = \"greet\"\n");
    let out = env.run(&[
        "propose",
        packed.to_str().unwrap(),
        "--examples",
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("missing field `expect`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        env.json(&["proposals", "list", "--json"]),
        Value::Array(vec![])
    );
}

#[test]
fn proposal_whose_examples_fail_says_which() {
    let env = Env::new();
    let packed = env.pack(ward_fixtures::HELLO, &hello_manifest("0.1.0"), "hello");
    let examples = env.write(
        "examples.toml",
        "[[example]]\ncommand = \"greet\"\nargs = { name = \"Ada\" }\nexpect = \"Hello, Ada!\"\n\n\
         [[example]]\ncommand = \"divide\"\nargs = { a = 7, b = 2 }\nexpect = { ok = 4 }\n\n\
         [[example]]\ncommand = \"divide\"\nargs = { a = 1, b = 0 }\nexpect = { ok = 0 }\n",
    );
    let (id, report) = env.propose(&packed, Some(&examples));
    assert_eq!(report["examples_passed"], false);
    let outcomes = report["examples"].as_array().unwrap();
    assert_eq!(outcomes[0]["passed"], true);
    assert_eq!(outcomes[1]["passed"], false);
    assert_eq!(outcomes[1]["got"], serde_json::json!({ "ok": 3 }));
    assert_eq!(outcomes[2]["passed"], false);
    let show = String::from_utf8(env.ok(&["proposals", "show", &id]).stdout).unwrap();
    assert!(show.contains("examples: SOME FAILED"), "{show}");
    assert!(show.contains("pass #1 greet"), "{show}");
    assert!(
        show.contains("FAIL #2 divide: expected {\"ok\":4} got {\"ok\":3}"),
        "{show}"
    );
    assert!(show.contains("FAIL #3 divide"), "{show}");
    // Still recorded as pending; approval is refused while its examples fail.
    let list = env.json(&["proposals", "list", "--json"]);
    assert_eq!(list[0]["state"], "pending");
    let out = env.approve(&id, &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("its examples failed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.installed_version("local:hello"), None);
}

#[test]
fn examples_run_with_nothing_granted_and_http_answered_from_fixtures() {
    let env = Env::new();
    let server = Server::start("live");
    let packed = env.pack(
        ward_fixtures::RELAY,
        &relay_manifest("0.1.0", server.port),
        "relay",
    );
    let examples = env.write(
        "examples.toml",
        &format!(
            "{}\n[[example]]\ncommand = \"send\"\nargs = {{ method = \"GET\", url = \"http://127.0.0.1:{p}/unmatched\", body = \"\" }}\n\
             expect = {{ err = \"request failed: HTTP-request-denied\" }}\n",
            relay_examples(server.port, "from-fixture"),
            p = server.port
        ),
    );
    let (_id, report) = env.propose(&packed, Some(&examples));
    let outcomes = report["examples"].as_array().unwrap();
    assert_eq!(outcomes[0]["passed"], true, "{report:#}");
    assert_eq!(outcomes[0]["requests"][0]["answer"], "fixture");
    assert_eq!(outcomes[1]["requests"][0]["answer"], "no-fixture");
    assert!(outcomes[1]["got"].to_string().contains("err"), "{report:#}");
    // Nothing reached the real server.
    assert!(server.methods().is_empty(), "{:?}", server.methods());
    assert_eq!(report["escalates"], true);
    assert_eq!(report["phrase"], "grant local:relay 0.1.0");
    assert!(
        report["capabilities"].to_string().contains("127.0.0.1"),
        "{report:#}"
    );
    assert!(
        report["commands"][0]["signature"]
            .as_str()
            .unwrap()
            .starts_with("send: func(method: string, url: string, body: string)"),
        "{report:#}"
    );
}

#[test]
fn escalating_proposal_approved_without_the_phrase_is_refused() {
    let env = Env::new();
    let server = Server::start("live");
    let packed = env.pack(
        ward_fixtures::RELAY,
        &relay_manifest("0.1.0", server.port),
        "relay",
    );
    let examples = env.write("examples.toml", &relay_examples(server.port, "live"));
    let (id, _) = env.propose(&packed, Some(&examples));
    for extra in [&[][..], &["--confirm", "grant local:relay"][..]] {
        let out = env.approve(&id, extra);
        assert!(!out.status.success(), "{extra:?}");
        assert!(
            stderr(&out).contains("type the exact phrase 'grant local:relay 0.1.0'"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(env.installed_version("local:relay"), None);
    assert_eq!(
        env.json(&["proposals", "list", "--json"])[0]["state"],
        "pending"
    );
    assert!(
        env.audit()
            .iter()
            .any(|r| r["action"] == "deny" && r["detail"].to_string().contains("phrase-missing"))
    );
}

#[test]
fn approve_signs_with_the_operator_key_installs_and_runs() {
    let env = Env::new();
    let packed = env.pack(ward_fixtures::HELLO, &hello_manifest("0.1.0"), "hello");
    let examples = env.write("examples.toml", HELLO_EXAMPLES);
    let (id, report) = env.propose(&packed, Some(&examples));
    assert_eq!(report["escalates"], false);
    // Not installable as it is: unsigned.
    let out = env.run(&["install", packed.to_str().unwrap(), "--yes"]);
    assert!(!out.status.success());

    let out = env.approve(&id, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("created the local signing key"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("health check passed"),
        "{}",
        stderr(&out)
    );

    // The local key: encrypted at rest, private, trusted for local:*.
    let key_file = env.home().join("keys/local.key");
    let contents = std::fs::read(&key_file).unwrap();
    assert!(ward_signing::SecretKey::is_encrypted(&contents).unwrap());
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o077,
        0
    );
    let trust = env.json(&["trust", "list", "--json"]);
    let local = trust
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "operator-local")
        .unwrap()
        .clone();
    assert_eq!(local["scopes"], serde_json::json!(["local:*"]));

    // Installed, signed by that key, and it runs.
    let inspect = env.json(&["inspect", "local:hello", "--json"]);
    assert!(
        inspect
            .to_string()
            .contains(local["key_id"].as_str().unwrap()),
        "{inspect:#}"
    );
    let out = env.ok(&["run", "local:hello", "greet", "name=Ada"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Hello, Ada!");
    assert_eq!(
        env.json(&["proposals", "list", "--json"])[0]["state"],
        "approved"
    );
    // A decided proposal is not decided again.
    let out = env.approve(&id, &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not pending"), "{}", stderr(&out));
    let audit = env.audit();
    for action in ["propose", "proposal-approve", "install", "health-check"] {
        assert!(
            audit.iter().any(|r| r["action"] == action),
            "{action}: {audit:?}"
        );
    }
}

#[test]
fn rejected_proposal_keeps_the_reason_and_is_never_installed() {
    let env = Env::new();
    let packed = env.pack(ward_fixtures::HELLO, &hello_manifest("0.1.0"), "hello");
    let (id, _) = env.propose(&packed, None);
    env.ok(&["proposals", "reject", &id, "--reason", "not needed"]);
    let p = env.json(&["proposals", "show", &id, "--json"]);
    assert_eq!(p["state"], "rejected");
    assert_eq!(p["reason"], "not needed");
    let out = env.approve(&id, &[]);
    assert!(!out.status.success());
    assert_eq!(env.installed_version("local:hello"), None);
}

#[test]
fn paper_mode_holds_back_a_post_but_a_get_goes_through_and_promote_makes_it_live() {
    let env = Env::new();
    let server = Server::start("live");
    let packed = env.pack(
        ward_fixtures::RELAY,
        &relay_manifest("0.1.0", server.port),
        "relay",
    );
    let examples = env.write("examples.toml", &relay_examples(server.port, "live"));
    let (id, _) = env.propose(&packed, Some(&examples));
    let out = env.approve(&id, &["--confirm", "grant local:relay 0.1.0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("in paper mode"), "{}", stderr(&out));
    // The health check's GET reached the real server.
    assert_eq!(server.methods(), vec!["GET"]);

    let url = format!("http://127.0.0.1:{}/items", server.port);
    let posted = env.relay("local:relay", "POST", &url, "{\"secret-body\":1}");
    let result = posted["result"]["ok"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(result.starts_with("202 "), "{posted:#}");
    assert!(result.contains("paper mode"), "{posted:#}");
    assert_eq!(
        server.methods(),
        vec!["GET"],
        "the POST must not reach the server"
    );

    let got = env.relay("local:relay", "GET", &url, "");
    assert_eq!(got["result"]["ok"], "200 live", "{got:#}");
    assert_eq!(server.methods(), vec!["GET", "GET"]);

    let audit = env.audit();
    let held: Vec<&Value> = audit
        .iter()
        .filter(|r| r["action"] == "paper-request")
        .collect();
    assert_eq!(held.len(), 1, "{audit:?}");
    assert_eq!(held[0]["detail"]["method"], "POST");
    assert_eq!(
        held[0]["detail"]["origin"],
        format!("http://127.0.0.1:{}", server.port)
    );
    let all = serde_json::to_string(&audit).unwrap();
    assert!(
        !all.contains("secret-body") && !all.contains("/items"),
        "{all}"
    );

    // Promote: phrase-gated, then the POST is sent.
    let out = env.run(&["promote", "local:relay"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("'promote local:relay 0.1.0'"),
        "{}",
        stderr(&out)
    );
    let posted = env.relay("local:relay", "POST", &url, "x");
    assert!(
        posted["result"]["ok"]
            .as_str()
            .unwrap_or_default()
            .starts_with("202 ")
    );
    env.ok(&[
        "promote",
        "local:relay",
        "--confirm",
        "promote local:relay 0.1.0",
    ]);
    let posted = env.relay("local:relay", "POST", &url, "x");
    assert_eq!(posted["result"]["ok"], "200 live", "{posted:#}");
    assert_eq!(server.methods(), vec!["GET", "GET", "POST"]);
    assert!(env.audit().iter().any(|r| r["action"] == "promote"));
    let out = env.run(&[
        "promote",
        "local:relay",
        "--confirm",
        "promote local:relay 0.1.0",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not in paper mode"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn failing_health_check_rolls_back_and_is_audited() {
    let env = Env::new();
    let server = Server::start("live");
    // 0.1.0: its example expects what the real server says.
    let v1 = env.pack(
        ward_fixtures::RELAY,
        &relay_manifest("0.1.0", server.port),
        "relay1",
    );
    let ex1 = env.write("ex1.toml", &relay_examples(server.port, "live"));
    let (id1, _) = env.propose(&v1, Some(&ex1));
    let out = env.approve(&id1, &["--confirm", "grant local:relay 0.1.0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        env.installed_version("local:relay").as_deref(),
        Some("0.1.0")
    );

    // 0.2.0: passes in the sandbox (its fixture says so) but not against the real server.
    let v2 = env.pack(
        ward_fixtures::RELAY,
        &relay_manifest("0.2.0", server.port),
        "relay2",
    );
    let ex2 = env.write(
        "ex2.toml",
        &relay_examples(server.port, "only-in-the-fixture"),
    );
    let (id2, report) = env.propose(&v2, Some(&ex2));
    assert_eq!(report["examples_passed"], true);
    assert_eq!(report["escalates"], false, "same capabilities as 0.1.0");
    let out = env.approve(&id2, &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("health check failed for local:relay 0.2.0"),
        "{err}"
    );
    assert!(err.contains("rolled back to 0.1.0"), "{err}");
    assert_eq!(
        env.installed_version("local:relay").as_deref(),
        Some("0.1.0")
    );

    let audit = env.audit();
    let check = audit
        .iter()
        .rfind(|r| r["action"] == "health-check")
        .unwrap();
    assert_eq!(check["outcome"], "error");
    assert_eq!(check["detail"]["reason"], "health-check-failed");
    assert_eq!(check["detail"]["version"], "0.2.0");
    assert!(
        audit
            .iter()
            .any(|r| r["action"] == "rollback" && r["detail"]["to_version"] == "0.1.0"),
        "{audit:?}"
    );
    let out = env.relay(
        "local:relay",
        "GET",
        &format!("http://127.0.0.1:{}/", server.port),
        "",
    );
    assert_eq!(out["result"]["ok"], "200 live");
}

#[test]
fn failing_health_check_of_a_first_install_uninstalls() {
    let env = Env::new();
    let server = Server::start("live");
    let v1 = env.pack(
        ward_fixtures::RELAY,
        &relay_manifest("0.1.0", server.port),
        "relay1",
    );
    let ex = env.write(
        "ex.toml",
        &relay_examples(server.port, "only-in-the-fixture"),
    );
    let (id, _) = env.propose(&v1, Some(&ex));
    let out = env.approve(&id, &["--confirm", "grant local:relay 0.1.0"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("uninstalled (there was no previous version)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.installed_version("local:relay"), None);
    assert!(env.audit().iter().any(|r| r["action"] == "uninstall"));
}

#[test]
fn source_diff_against_the_last_approved_proposal() {
    let env = Env::new();
    let src = env.root.join("src1");
    std::fs::create_dir_all(src.join("target")).unwrap();
    std::fs::write(src.join("lib.rs"), "fn a() {}\nfn b() {}\n").unwrap();
    std::fs::write(src.join("target/junk.rs"), "skipped").unwrap();
    let v1 = env.pack(ward_fixtures::HELLO, &hello_manifest("0.1.0"), "h1");
    let out = env.ok(&[
        "propose",
        v1.to_str().unwrap(),
        "--source",
        src.to_str().unwrap(),
        "--json",
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let diff = doc["report"]["source_diff"].as_str().unwrap();
    assert!(
        diff.contains("+++ b/lib.rs") && !diff.contains("junk"),
        "{diff}"
    );
    let id = doc["id"].as_str().unwrap().to_owned();
    assert!(env.approve(&id, &[]).status.success());

    std::fs::write(src.join("lib.rs"), "fn a() {}\nfn c() {}\n").unwrap();
    let v2 = env.pack(ward_fixtures::HELLO, &hello_manifest("0.2.0"), "h2");
    let out = env.ok(&[
        "propose",
        v2.to_str().unwrap(),
        "--source",
        src.to_str().unwrap(),
        "--json",
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let diff = doc["report"]["source_diff"].as_str().unwrap();
    assert_eq!(
        diff,
        "--- a/lib.rs\n+++ b/lib.rs\n@@ -1,2 +1,2 @@\n fn a() {}\n-fn b() {}\n+fn c() {}\n"
    );
    assert_eq!(doc["report"]["installed"]["version"], "0.1.0");
}

#[test]
fn approved_proposal_pointing_a_writable_dir_elsewhere_needs_the_phrase() {
    // The proposal's manifest asks for nothing more than the installed version's, so approval
    // asks no phrase for it; but the operator's --dir giving the plugin another writable host
    // directory is more authority, and needs the phrase all the same (issue 6, item 4).
    let env = Env::new();
    let first = env.root.join("first");
    let elsewhere = env.root.join("elsewhere");
    std::fs::create_dir(&first).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    let manifest = |v: &str| {
        format!(
            "name = \"local:files\"\nversion = \"{v}\"\ndescription = \"x\"\n[capabilities]\n\
             files = [{{ host = \"$OPERATOR\", guest = \"/work\", mode = \"rw\" }}]\n"
        )
    };
    let dir = |d: &Path| format!("/work={}", d.display());
    let v1 = env.pack(ward_fixtures::HELLO, &manifest("0.1.0"), "files1");
    let (id1, _) = env.propose(&v1, None);
    let out = env.approve(
        &id1,
        &[
            "--live",
            "--dir",
            &dir(&first),
            "--confirm",
            "grant local:files 0.1.0",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let v2 = env.pack(ward_fixtures::HELLO, &manifest("0.2.0"), "files2");
    let (id2, report) = env.propose(&v2, None);
    assert_eq!(report["escalates"], false);
    let out = env.approve(&id2, &["--live", "--dir", &dir(&elsewhere)]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--confirm 'grant local:files 0.2.0'"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        env.installed_version("local:files").as_deref(),
        Some("0.1.0")
    );
    assert!(
        env.audit()
            .iter()
            .any(|r| r["action"] == "deny" && r["detail"]["reason"] == "phrase-missing")
    );
    let out = env.approve(
        &id2,
        &[
            "--live",
            "--dir",
            &dir(&elsewhere),
            "--confirm",
            "grant local:files 0.2.0",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        env.installed_version("local:files").as_deref(),
        Some("0.2.0")
    );
}
