//! Filesystem and environment grants against the hostile plugin: exactly what was granted, and
//! no way around it. Each attack is its own test, named after it.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde_json::{Value, json};
use ward_runtime::{DirGrant, Grants, Limits, Plugin, Runtime, RuntimeOptions};

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(RuntimeOptions::default()).unwrap())
}

fn hostile() -> Arc<Plugin> {
    runtime()
        .load_file(Path::new(ward_fixtures::HOSTILE))
        .unwrap()
}

/// A temporary directory holding `data/` (the grant) and `outside/secret.txt` next to it.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::create_dir(dir.path().join("outside")).unwrap();
        std::fs::write(dir.path().join("data/hello.txt"), "inside").unwrap();
        std::fs::write(dir.path().join("outside/secret.txt"), "outside secret").unwrap();
        Fixture { dir }
    }

    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    fn grants(&self, writable: bool) -> Grants {
        Grants {
            dirs: vec![DirGrant {
                host: self.data(),
                guest: "/data".into(),
                writable,
            }],
            ..Grants::default()
        }
    }
}

async fn call(command: &str, args: Value, grants: &Grants) -> Value {
    runtime()
        .call(&hostile(), command, &args, &Limits::default(), grants)
        .await
        .unwrap()
        .result
}

fn is_err(v: &Value) -> bool {
    v.get("err").is_some()
}

#[tokio::test]
async fn granted_directory_is_readable() {
    let f = Fixture::new();
    let out = call(
        "read-file",
        json!({"path": "/data/hello.txt"}),
        &f.grants(false),
    )
    .await;
    assert_eq!(out, json!({"ok": "inside"}));
    let out = call("list-dir", json!({"path": "/data"}), &f.grants(false)).await;
    assert_eq!(out, json!({"ok": ["hello.txt"]}));
}

#[tokio::test]
async fn dotdot_escape_is_denied() {
    let f = Fixture::new();
    for path in [
        "/data/../outside/secret.txt",
        "/data/../../etc/passwd",
        "../outside/secret.txt",
    ] {
        let out = call("read-file", json!({"path": path}), &f.grants(false)).await;
        assert!(is_err(&out), "{path}: {out}");
        assert!(!out.to_string().contains("outside secret"));
    }
}

#[tokio::test]
async fn absolute_path_outside_the_grant_is_denied() {
    let f = Fixture::new();
    let secret = f.dir.path().join("outside/secret.txt");
    for path in ["/etc/passwd", secret.to_str().unwrap()] {
        let out = call("read-file", json!({"path": path}), &f.grants(false)).await;
        assert!(is_err(&out), "{path}: {out}");
    }
}

#[tokio::test]
async fn symlink_inside_pointing_out_is_denied() {
    let f = Fixture::new();
    std::os::unix::fs::symlink("/etc/passwd", f.data().join("abs-link")).unwrap();
    std::os::unix::fs::symlink("../outside/secret.txt", f.data().join("rel-link")).unwrap();
    std::os::unix::fs::symlink(f.dir.path().join("outside"), f.data().join("dir-link")).unwrap();
    for path in [
        "/data/abs-link",
        "/data/rel-link",
        "/data/dir-link/secret.txt",
    ] {
        let out = call("read-file", json!({"path": path}), &f.grants(false)).await;
        assert!(is_err(&out), "{path}: {out}");
        assert!(!out.to_string().contains("root:") && !out.to_string().contains("outside secret"));
    }
}

#[tokio::test]
async fn symlink_loop_is_denied() {
    let f = Fixture::new();
    std::os::unix::fs::symlink("b", f.data().join("a")).unwrap();
    std::os::unix::fs::symlink("a", f.data().join("b")).unwrap();
    let out = call("read-file", json!({"path": "/data/a"}), &f.grants(false)).await;
    assert!(is_err(&out), "{out}");
}

#[tokio::test]
async fn hard_link_out_is_denied() {
    let f = Fixture::new();
    let grants = f.grants(true);
    // Linking a file from outside the grant into it, and a granted file out of it.
    let out = call(
        "hard-link",
        json!({"target": "/etc/passwd", "link": "/data/passwd"}),
        &grants,
    )
    .await;
    assert!(is_err(&out), "{out}");
    assert!(!f.data().join("passwd").exists());
    let out = call(
        "hard-link",
        json!({"target": "/data/hello.txt", "link": "/tmp/escaped"}),
        &grants,
    )
    .await;
    assert!(is_err(&out), "{out}");
    let out = call(
        "hard-link",
        json!({"target": "/data/../outside/secret.txt", "link": "/data/s"}),
        &grants,
    )
    .await;
    assert!(is_err(&out), "{out}");
    assert!(!f.data().join("s").exists());
}

#[tokio::test]
async fn write_to_a_read_only_grant_is_denied() {
    let f = Fixture::new();
    let out = call(
        "write-file",
        json!({"path": "/data/new.txt", "contents": "x"}),
        &f.grants(false),
    )
    .await;
    assert!(is_err(&out), "{out}");
    assert!(!f.data().join("new.txt").exists());
}

#[tokio::test]
async fn opening_a_read_only_file_with_truncate_is_denied() {
    let f = Fixture::new();
    let out = call(
        "truncate-file",
        json!({"path": "/data/hello.txt"}),
        &f.grants(false),
    )
    .await;
    assert!(is_err(&out), "{out}");
    assert_eq!(
        std::fs::read_to_string(f.data().join("hello.txt")).unwrap(),
        "inside"
    );
}

#[tokio::test]
async fn writable_grant_allows_writes_inside_only() {
    let f = Fixture::new();
    let out = call(
        "write-file",
        json!({"path": "/data/new.txt", "contents": "written"}),
        &f.grants(true),
    )
    .await;
    assert_eq!(out, json!({"ok": null}));
    assert_eq!(
        std::fs::read_to_string(f.data().join("new.txt")).unwrap(),
        "written"
    );
    let out = call(
        "write-file",
        json!({"path": "/data/../outside/new.txt", "contents": "x"}),
        &f.grants(true),
    )
    .await;
    assert!(is_err(&out), "{out}");
    assert!(!f.dir.path().join("outside/new.txt").exists());
}

#[tokio::test]
async fn missing_granted_directory_is_a_clear_error() {
    let grants = Grants {
        dirs: vec![DirGrant {
            host: "/nonexistent/ward-test".into(),
            guest: "/data".into(),
            writable: false,
        }],
        ..Grants::default()
    };
    let err = runtime()
        .call(
            &hostile(),
            "read-passwd",
            &json!({}),
            &Limits::default(),
            &grants,
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot grant directory /nonexistent/ward-test"),
        "{err}"
    );
}

#[tokio::test]
async fn env_var_not_granted_is_invisible() {
    assert!(std::env::var_os("PATH").is_some());
    let grants = Grants {
        env: vec![("LANG".into(), "C.UTF-8".into())],
        ..Grants::default()
    };
    let out = call("read-env", json!({}), &grants).await;
    assert_eq!(out, json!([["LANG", "C.UTF-8"]]));
}

/// A loopback HTTP server answering every request with `hello from the server`; counts
/// connections.
fn server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { return };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = "hello from the server";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr.to_string(), hits)
}

fn http_grants(network: &str) -> Grants {
    let manifest = ward_manifest::Manifest::parse(
        format!(
            "name = \"example:hostile\"\nversion = \"1.0.0\"\n[capabilities]\nnetwork = [{network}]\n"
        )
        .as_bytes(),
    )
    .unwrap();
    Grants {
        http: Some(ward_http::GrantedHttp::new(
            ward_http::HttpGrant::from_rules(&manifest.capabilities.network),
        )),
        ..Grants::default()
    }
}

#[tokio::test]
async fn granted_http_destination_is_reached() {
    let (addr, hits) = server();
    let grants = http_grants(&format!(
        "{{ url = \"http://{addr}\", methods = [\"GET\"] }}"
    ));
    let out = call(
        "http-fetch",
        json!({"authority": addr, "path": "/x"}),
        &grants,
    )
    .await;
    assert_eq!(out, json!({"ok": "200 hello from the server"}));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unlisted_host_is_refused_unsent() {
    let (addr, hits) = server();
    let grants = http_grants("{ url = \"https://api.example.com\" }");
    let out = call(
        "http-fetch",
        json!({"authority": addr, "path": "/x"}),
        &grants,
    )
    .await;
    assert!(is_err(&out), "{out}");
    assert!(out.to_string().to_lowercase().contains("denied"), "{out}");
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the request was sent"
    );
}

#[tokio::test]
async fn http_without_a_grant_is_refused_unsent() {
    let (addr, hits) = server();
    let out = call(
        "http-fetch",
        json!({"authority": addr, "path": "/"}),
        &Grants::default(),
    )
    .await;
    assert!(is_err(&out), "{out}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// Open descriptors of this process.
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[tokio::test]
async fn a_call_cannot_exhaust_host_descriptors() {
    let fx = Fixture::new();
    let grants = fx.grants(false);
    let limits = Limits {
        handles: 64,
        ..Limits::default()
    };
    let before = open_descriptors();
    let err = runtime()
        .call(
            &hostile(),
            "hoard-files",
            &json!({ "path": "/data/hello.txt", "count": 100_000 }),
            &limits,
            &grants,
        )
        .await
        .unwrap_err();
    assert_eq!(err.limit(), Some(ward_runtime::Limit::Handles), "{err}");
    assert!(
        err.to_string().contains("handles limit of 64 handles"),
        "{err}"
    );
    // Every descriptor the call held (64) went with its store; the slack is for other tests of
    // this binary opening files meanwhile.
    assert!(
        open_descriptors() <= before + 32,
        "{before} -> {}",
        open_descriptors()
    );
    // Under the limit the same command works.
    let out = runtime()
        .call(
            &hostile(),
            "hoard-files",
            &json!({ "path": "/data/hello.txt", "count": 16 }),
            &limits,
            &grants,
        )
        .await
        .unwrap();
    assert_eq!(out.result, json!({ "ok": 16 }));
}

#[tokio::test]
async fn a_call_cannot_make_the_host_allocate_unbounded_random_bytes() {
    let err = runtime()
        .call(
            &hostile(),
            "random-bytes",
            &json!({ "len": 1u64 << 40 }),
            &Limits::default(),
            &Grants::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.limit(), Some(ward_runtime::Limit::Random), "{err}");
    let out = call("random-bytes", json!({ "len": 4096 }), &Grants::default()).await;
    assert_eq!(out, json!(4096));
}
