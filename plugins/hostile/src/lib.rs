//! `example:hostile`: each command attacks the host or tries to escape the sandbox (see
//! `wit/hostile.wit`). Each really performs its attack when run on a permissive host.

use std::hint::black_box;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

ward_sdk::generate!({
    world: "example:hostile/hostile@0.1.0",
    path: ["../../wit", "wit"],
});

/// Size of the string returned by `huge-result`.
const HUGE_RESULT_BYTES: usize = 32 * 1024 * 1024;

/// How much memory `memory-bomb` takes per allocation.
const BOMB_CHUNK_BYTES: usize = 1024 * 1024;

/// Most body bytes `http-get` keeps (it still reads the whole body).
const HTTP_BODY_KEEP_BYTES: usize = 64 * 1024;

struct Hostile;

impl Guest for Hostile {
    fn spin() {
        let mut i: u64 = 0;
        loop {
            i = black_box(i.wrapping_add(1));
        }
    }

    fn memory_bomb() {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = vec![0u8; BOMB_CHUNK_BYTES];
            // Touch every page so the memory is really committed.
            for page in chunk.chunks_mut(4096) {
                page[0] = black_box(1);
            }
            hoard.push(black_box(chunk));
        }
    }

    fn deep_recursion() {
        black_box(recurse(0));
    }

    fn flood_stdout() {
        let line = [b'A'; 64 * 1024];
        let mut stdout = std::io::stdout().lock();
        let mut written: u64 = 0;
        loop {
            if let Err(err) = stdout.write_all(&line) {
                panic!("stdout refused a write after {written} bytes: {err}");
            }
            written += line.len() as u64;
        }
    }

    fn huge_result() -> String {
        "x".repeat(HUGE_RESULT_BYTES)
    }

    fn read_passwd() -> Result<String, String> {
        std::fs::read_to_string("/etc/passwd").map_err(|err| err.to_string())
    }

    fn open_socket() -> Result<String, String> {
        let addr = SocketAddr::from(([1, 1, 1, 1], 53));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|err| err.to_string())?;
        let peer = stream.peer_addr().map_err(|err| err.to_string())?;
        Ok(format!("connected to {peer}"))
    }

    fn resolve_dns() -> Result<String, String> {
        let addrs: Vec<String> = "example.com:80"
            .to_socket_addrs()
            .map_err(|err| err.to_string())?
            .map(|addr| addr.to_string())
            .collect();
        Ok(addrs.join(" "))
    }

    fn read_env() -> Vec<(String, String)> {
        std::env::vars().collect()
    }

    fn http_get() -> Result<String, String> {
        http_get("example.com", "/")
    }

    fn panic() {
        panic!("hostile plugin panicked on purpose");
    }

    fn trap() {
        core::arch::wasm32::unreachable()
    }

    fn read_file(path: String) -> Result<String, String> {
        std::fs::read_to_string(&path).map_err(|e| e.to_string())
    }

    fn write_file(path: String, contents: String) -> Result<(), String> {
        std::fs::write(&path, contents).map_err(|e| e.to_string())
    }

    fn truncate_file(path: String) -> Result<(), String> {
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn hard_link(target: String, link: String) -> Result<(), String> {
        std::fs::hard_link(&target, &link).map_err(|e| e.to_string())
    }

    fn http_fetch(authority: String, path: String) -> Result<String, String> {
        http_get(&authority, &path)
    }

    fn list_dir(path: String) -> Result<Vec<String>, String> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&path).map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn sleepy() {
        std::thread::sleep(Duration::from_secs(60));
    }

    fn echo_everywhere(text: String) -> String {
        ward_sdk::log::warn(&text);
        println!("{text}");
        eprintln!("{text}");
        text
    }

    fn echo_err(text: String) -> Result<String, String> {
        Err(text)
    }

    fn write_bytes(data: Vec<u8>) {
        // Best effort: a refused write shows as missing output, which the caller checks. stdout
        // is line-buffered, so it is flushed: the data need not end in a newline.
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(&data).and_then(|()| stdout.flush());
        let _ = std::io::stderr().lock().write_all(&data);
    }

    fn panic_with(text: String) {
        panic!("{text}");
    }

    fn leave_and_peek(text: String) -> String {
        let old = core::arch::wasm32::memory_grow(0, PEEK_PAGES);
        if old == usize::MAX {
            return "memory.grow failed".into();
        }
        let base = old * PAGE_BYTES;
        let places = [
            core::ptr::addr_of_mut!(LOW).cast::<u8>(),
            base as *mut u8,
            (base + PEEK_PAGES * PAGE_BYTES - MARK_BYTES) as *mut u8,
        ];
        let mut seen = Vec::new();
        for at in places {
            // SAFETY: each place is MARK_BYTES of this instance's own linear memory: a static, or
            // pages that memory.grow just gave it.
            unsafe {
                let bytes = core::slice::from_raw_parts_mut(at, MARK_BYTES);
                let end = bytes.iter().position(|b| *b == 0).unwrap_or(MARK_BYTES);
                seen.push(String::from_utf8_lossy(&bytes[..end]).into_owned());
                let n = text.len().min(MARK_BYTES - 1);
                bytes[..n].copy_from_slice(&text.as_bytes()[..n]);
                bytes[n] = 0;
            }
        }
        seen.join("|")
    }

    fn hoard_files(path: String, count: u32) -> Result<u32, String> {
        let mut kept = Vec::new();
        for _ in 0..count {
            kept.push(std::fs::File::open(&path).map_err(|e| e.to_string())?);
        }
        let n = u32::try_from(kept.len()).unwrap_or(u32::MAX);
        drop(black_box(kept));
        Ok(n)
    }

    fn random_bytes(len: u64) -> u64 {
        wasi::random::random::get_random_bytes(len).len() as u64
    }
}

/// Wasm page size.
const PAGE_BYTES: usize = 64 * 1024;
/// Pages `leave-and-peek` grows: 6.25 MiB, so that its last mark lies beyond what the host keeps
/// resident between calls.
const PEEK_PAGES: usize = 100;
/// Bytes of each mark `leave-and-peek` leaves.
const MARK_BYTES: usize = 256;
/// `leave-and-peek`'s mark in static data.
static mut LOW: [u8; MARK_BYTES] = [0; MARK_BYTES];

/// Recurses forever; the black boxes keep the optimizer from bounding the recursion or turning it
/// into a loop. Each frame keeps its state in wasm locals, so the wasm call stack is what runs out
/// (not the shadow stack in linear memory).
fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return depth;
    }
    let below = recurse(black_box(depth + 1));
    black_box(below).wrapping_mul(31).wrapping_add(depth)
}

/// A plain outgoing `wasi:http` GET; the status and the start of the body, or the error text.
fn http_get(authority: &str, path: &str) -> Result<String, String> {
    use wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};
    use wasi::io::streams::StreamError;

    let request = OutgoingRequest::new(Fields::new());
    request
        .set_method(&Method::Get)
        .map_err(|()| "invalid method".to_string())?;
    request
        .set_scheme(Some(&Scheme::Http))
        .map_err(|()| "invalid scheme".to_string())?;
    request
        .set_authority(Some(authority))
        .map_err(|()| format!("invalid authority {authority:?}"))?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| format!("invalid path {path:?}"))?;

    let pending = wasi::http::outgoing_handler::handle(request, None)
        .map_err(|err| format!("request refused: {err}"))?;
    let response = loop {
        match pending.get() {
            Some(response) => break response,
            None => pending.subscribe().block(),
        }
    };
    let response = response
        .map_err(|()| "response already taken".to_string())?
        .map_err(|err| format!("request failed: {err}"))?;

    let status = response.status();
    let body = response
        .consume()
        .map_err(|()| "response body already taken".to_string())?;
    let stream = body
        .stream()
        .map_err(|()| "response body stream already taken".to_string())?;
    let mut kept = Vec::new();
    loop {
        match stream.blocking_read(HTTP_BODY_KEEP_BYTES as u64) {
            Ok(chunk) => {
                let room = HTTP_BODY_KEEP_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(err)) => {
                return Err(format!(
                    "reading the body failed: {}",
                    err.to_debug_string()
                ));
            }
        }
    }
    drop(stream);
    drop(body);
    Ok(format!("{status} {}", String::from_utf8_lossy(&kept)))
}

export!(Hostile);
