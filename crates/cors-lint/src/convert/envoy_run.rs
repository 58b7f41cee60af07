//! `convert --check`'s Envoy: one process on 127.0.0.1 with a listener per configuration under
//! test, a tiny upstream that answers every request 200 with `x-upstream: 1`, and a raw
//! HTTP/1.1 client. Envoy is stopped by its own pid when the run ends.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long Envoy may take to start, and one request to be answered.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A response: status and lowercase header names, in order.
#[derive(Debug, Clone, Default)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
}

impl Answer {
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One HTTP filter chain to test: Envoy's CORS filter with a CorsPolicy on its one route, or the
/// plugin with its JSON configuration.
pub(super) enum Listener {
    EnvoyCors(Value),
    Plugin(String),
}

/// The upstream: answers every request `200` with `x-upstream: 1`, until dropped.
struct Upstream {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Upstream {
    fn start() -> std::io::Result<Upstream> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                thread::spawn(move || serve(&mut conn));
            }
        });
        Ok(Upstream { port, stop })
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Answers each request of a keep-alive connection (bodies are not expected: the probes have none).
fn serve(conn: &mut TcpStream) {
    let _ = conn.set_read_timeout(Some(IO_TIMEOUT));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = find(&buf, b"\r\n\r\n") {
            buf.drain(..end + 4);
            let reply = b"HTTP/1.1 200 OK\r\nx-upstream: 1\r\ncontent-length: 0\r\n\r\n";
            if conn.write_all(reply).is_err() {
                return;
            }
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running Envoy with one port per listener; stopped (by pid) and its files removed on drop.
pub(super) struct Envoy {
    child: Child,
    dir: PathBuf,
    pub(super) ports: Vec<u16>,
    _upstream: Upstream,
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn listener_json(name: &str, port: u16, listener: &Listener, wasm: &Path) -> Value {
    let router = json!({
        "name": "envoy.filters.http.router",
        "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" }
    });
    let mut route = json!({ "match": { "prefix": "/" }, "route": { "cluster": "upstream" } });
    let filter = match listener {
        Listener::EnvoyCors(policy) => {
            let mut policy = policy.clone();
            if let Value::Object(fields) = &mut policy {
                fields.insert(
                    "@type".into(),
                    json!("type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy"),
                );
            }
            if let Value::Object(fields) = &mut route {
                fields.insert("typed_per_filter_config".into(), json!({ "envoy.filters.http.cors": policy }));
            }
            json!({
                "name": "envoy.filters.http.cors",
                "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors" }
            })
        }
        Listener::Plugin(config) => json!({
            "name": "envoy.filters.http.wasm",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                "config": {
                    "name": "cors",
                    "root_id": "cors",
                    "vm_config": {
                        "vm_id": "cors",
                        "runtime": "envoy.wasm.runtime.v8",
                        "code": { "local": { "filename": wasm.to_string_lossy() } }
                    },
                    "configuration": { "@type": "type.googleapis.com/google.protobuf.StringValue", "value": config }
                }
            }
        }),
    };
    json!({
        "name": name,
        "address": { "socket_address": { "address": "127.0.0.1", "port_value": port } },
        "filter_chains": [ { "filters": [ {
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": name,
                "route_config": { "virtual_hosts": [ { "name": "all", "domains": ["*"], "routes": [route] } ] },
                "http_filters": [filter, router]
            }
        } ] } ]
    })
}

impl Envoy {
    /// Starts `envoy` with these listeners and waits until every one accepts connections.
    pub(super) fn start(envoy: &Path, wasm: &Path, listeners: &[Listener]) -> Result<Envoy, String> {
        let upstream = Upstream::start().map_err(|e| format!("cannot start the test upstream: {e}"))?;
        let dir = std::env::temp_dir().join(format!("cors-lint-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut ports = Vec::new();
        let mut specs = Vec::new();
        for (i, l) in listeners.iter().enumerate() {
            let port = free_port().map_err(|e| format!("no free port: {e}"))?;
            ports.push(port);
            specs.push(listener_json(&format!("check_{i}"), port, l, wasm));
        }
        let bootstrap = json!({
            "node": { "id": "cors-lint-check", "cluster": "cors-lint-check" },
            "admin": { "address": { "socket_address": { "address": "127.0.0.1", "port_value": 0 } } },
            "static_resources": {
                "listeners": specs,
                "clusters": [ {
                    "name": "upstream", "type": "STATIC", "connect_timeout": "1s",
                    "load_assignment": { "cluster_name": "upstream", "endpoints": [ { "lb_endpoints": [ { "endpoint": {
                        "address": { "socket_address": { "address": "127.0.0.1", "port_value": upstream.port } }
                    } } ] } ] }
                } ]
            }
        });
        let config = dir.join("envoy.json");
        let log = dir.join("envoy.log");
        std::fs::write(&config, bootstrap.to_string()).map_err(|e| format!("{}: {e}", config.display()))?;
        let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(envoy)
            .arg("-c")
            .arg(&config)
            .args(["--concurrency", "1", "--log-level", "warn", "--base-id-path"])
            .arg(dir.join("base-id"))
            .arg("--use-dynamic-base-id")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", envoy.display()))?;
        let mut envoy = Envoy { child, dir, ports, _upstream: upstream };
        let deadline = Instant::now() + START_TIMEOUT;
        while !envoy.ports.iter().all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok()) {
            if let Ok(Some(status)) = envoy.child.try_wait() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("Envoy exited ({status}):\n{text}"));
            }
            if Instant::now() > deadline {
                return Err(format!("Envoy did not start within {} s", START_TIMEOUT.as_secs()));
            }
            thread::sleep(Duration::from_millis(100));
        }
        Ok(envoy)
    }
}

/// Sends one request (no body, `connection: close`) and reads the response head.
pub(super) fn send(
    port: u16,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(String, String)],
) -> Result<Answer, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let head_end = find(&raw, b"\r\n\r\n").ok_or("no response")?;
    let head = String::from_utf8_lossy(raw.get(..head_end).unwrap_or_default()).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {head:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Answer { status, headers })
}
