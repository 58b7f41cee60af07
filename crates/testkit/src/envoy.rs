//! A real Envoy process: started on a bootstrap from `bootstrap::EnvoyConfig`, waited for
//! (bounded), queried through its admin port, killed by pid and reaped on drop.

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::bootstrap::EnvoyConfig;
use crate::fixtures::TempDir;
use crate::http::http_get;
use crate::paths::{artifact, cors_native, envoy_bin, native_module_path, Artifact};

/// Bound on Envoy start-up (V8 compiles the module once per VM).
pub const START_TIMEOUT: Duration = Duration::from_secs(45);

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

    /// The (major, minor) version of the Envoy under test, from `envoy --version`.
    pub fn version() -> (u32, u32) {
        let out = Command::new(envoy_bin()).arg("--version").output().expect("run envoy --version");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // "... version: <commit>/1.40.0/Clean/RELEASE/BoringSSL"
        let after = text.split("version: ").nth(1).unwrap_or_default();
        let v = after.split('/').nth(1).unwrap_or_default();
        let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
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
            cmd.args(["--component-log-level", "wasm:debug,dynamic_modules:debug"]);
        }
        // Where a dynamic-module filter finds `libenvoy_cors.so` (by its module name); with
        // ARTIFACT=native a missing module fails here, with its path.
        let native = if artifact() == Artifact::Native { cors_native() } else { native_module_path() };
        if let Some(dir) = native.parent() {
            cmd.env("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", dir);
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

    /// POST on the admin interface (e.g. `/logging?wasm=debug`); fails the test unless 200.
    pub fn admin_post(&self, path: &str) -> String {
        match crate::http::Request::new("POST", path).host("127.0.0.1").try_send(self.admin_port) {
            Ok(r) if r.status == 200 => r.body_str(),
            other => panic!("admin POST {path}: {:?}\n--- log ---\n{}", other.map(|r| r.status), self.log()),
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
