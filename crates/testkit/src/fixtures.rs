//! Fixtures: temp dirs, ports, plugin configurations, the atomic file replace of config
//! management tools, and the one-Envoy-in-front-of-one-upstream `Fixture`.
//!
//! `E2E_KEEP=1` keeps every temp dir (config + Envoy log); a failing test always keeps its own.

use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use crate::bootstrap::EnvoyConfig;
use crate::envoy::Envoy;
use crate::http::{Request, Response};
use crate::upstream::Upstream;

/// The origin the test policies allow.
pub const ALLOWED: &str = "https://app.example.com";
/// An origin no test policy allows.
pub const DENIED: &str = "https://evil.example.net";

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

/// Replace `path` atomically (write a sibling temp file, then rename over it), as a config
/// management tool would; Envoy's watched directory sees the move.
pub fn atomic_write(path: &Path, contents: &str) {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, contents).expect("write temp file");
    std::fs::rename(&tmp, path).expect("rename over target");
}

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
