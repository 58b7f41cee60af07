//! The operations kit against the real thing: Envoy runs the plugin (dist/cors.wasm) with the
//! documented `stats_tags`, traffic exercises every counter on a shared gateway (enforced,
//! shadow and `off` entries, scanners, an ambiguous path), a real Prometheus (Debian's, started
//! here on a free port) scrapes Envoy's /stats/prometheus and loads deploy/monitoring's rules.
//! Then every query of every panel of deploy/monitoring/grafana-dashboard.json must return
//! data, every rule must evaluate without error (and `promtool check rules` pass), and the
//! rollout alert must fire for the shadow entry that would break a known origin.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::prelude::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Debian's `prometheus` (make test-e2e installs it); PROMETHEUS_BIN overrides.
fn tool(name: &str, var: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()));
    found.unwrap_or_else(|| {
        panic!("{name} not found: `make test-e2e` installs it (Debian package prometheus), or set {var}")
    })
}

struct Prometheus {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(envoy_admin: u16, rules: &Path, dir: TempDir) -> Prometheus {
        let config = json!({
            "global": { "scrape_interval": "1s", "evaluation_interval": "1s" },
            "rule_files": [rules.to_string_lossy()],
            "scrape_configs": [{
                "job_name": "envoy",
                "metrics_path": "/stats/prometheus",
                "static_configs": [{ "targets": [format!("127.0.0.1:{envoy_admin}")] }]
            }]
        });
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(tool("prometheus", "PROMETHEUS_BIN"))
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let p = Prometheus { child, port, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !matches!(http_get(p.port, "/-/ready"), Ok((200, _))) {
            assert!(Instant::now() < deadline, "Prometheus not ready in 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    fn api(&self, path: &str) -> Value {
        let (status, body) = http_get(self.port, path).unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    fn query(&self, expr: &str) -> Vec<Value> {
        let v = self.api(&format!("/api/v1/query?query={}", encode(expr)));
        assert_eq!(v["status"], "success", "{expr}: {v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Grafana's variables, as a dashboard viewer would have them.
fn grafana(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m").replace("$__range", "5m").replace("$cors_policy", ".*")
}

fn traffic(port: u16) {
    let send = |host: &str, r: Request| r.host(host).send(port);
    for _ in 0..3 {
        send("shop.example.com", Request::get("/").origin("https://shop.example.com"));
        send("api.example.com", Request::preflight("/", "https://app.example.com", "PUT", Some("content-type")));
        send("api.example.com", Request::preflight("/", "https://app.example.com", "PATCH", None));
        send("api.example.com", Request::preflight("/", "https://app.example.com", "PUT", Some("x-nope")));
        send("api.example.com", Request::preflight("/", "https://scan.invalid", "PUT", None));
        send("api.example.com", Request::get("/").origin("https://scan.invalid"));
        // The shadow entry: scanners, and the app's front-end with a method it would refuse.
        send("beta.example.com", Request::get("/").origin("https://scan.invalid"));
        send("beta.example.com", Request::preflight("/", "https://app.example.com", "DELETE", None));
        send("beta.example.com", Request::get("/").origin("https://app.example.com"));
        // No entry: the top level is off.
        send("other.example.com", Request::get("/").origin("https://app.example.com"));
        // A path its readings route to two policies.
        send("api.example.com", Request::get("/%70ublic/a").origin("https://app.example.com"));
    }
}

#[test]
fn every_dashboard_query_returns_data_and_every_rule_evaluates() {
    let upstream = Upstream::ok();
    let plugin = json!({
        "mode": "off",
        "policies": [
            { "name": "shop", "match": { "hosts": ["shop.example.com"] }, "allow_origins": ["https://shop.example.com"] },
            { "name": "public", "match": { "hosts": ["api.example.com"], "path_prefixes": ["/public/"] }, "allow_origins": ["*"] },
            { "name": "api", "match": { "hosts": ["api.example.com"] }, "allow_origins": ["https://app.example.com"],
              "allow_methods": ["PUT"], "allow_headers": ["content-type"] },
            { "name": "beta-api", "match": { "hosts": ["beta.example.com"] }, "mode": "shadow",
              "allow_origins": ["https://app.example.com"], "allow_methods": ["PUT"] }
        ]
    });
    // The stats_tags of docs/operations.md.
    let stats = json!({ "stats_tags": [ { "tag_name": "cors_policy", "regex": "(cors_policy=\\.=(.*?);\\.;)" } ] });
    let cfg = EnvoyConfig::simple(&plugin.to_string(), &upstream).stats_config(stats);
    let envoy = Envoy::start(&cfg);
    let port = envoy.port("main");

    // The PrometheusRule's groups, as a Prometheus rule file (JSON is YAML).
    let dir = TempDir::new("prometheus");
    let text = std::fs::read_to_string(root().join("deploy/monitoring/prometheus-rule.yaml")).unwrap();
    let docs = cors_lint::kube_yaml::documents(&text).unwrap();
    let rule = &docs[0].value;
    assert_eq!(
        (rule["apiVersion"].as_str(), rule["kind"].as_str()),
        (Some("monitoring.coreos.com/v1"), Some("PrometheusRule"))
    );
    let rules_path = dir.path().join("rules.json");
    std::fs::write(&rules_path, json!({ "groups": rule["spec"]["groups"] }).to_string()).unwrap();
    let check =
        Command::new(tool("promtool", "PROMTOOL_BIN")).args(["check", "rules"]).arg(&rules_path).output().unwrap();
    assert!(
        check.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    let prometheus = Prometheus::start(envoy.admin_port, &rules_path, dir);
    // Prometheus applies its targets a few seconds after start: wait for the first scrape, so
    // the traffic below shows as increases.
    let deadline = Instant::now() + Duration::from_secs(30);
    while prometheus.query("up{job=\"envoy\"} == 1").is_empty() {
        assert!(Instant::now() < deadline, "Prometheus never scraped Envoy");
        std::thread::sleep(Duration::from_millis(200));
    }
    traffic(port);
    std::thread::sleep(Duration::from_secs(3));
    traffic(port);
    // Rates need two scrapes after the traffic; rules need an evaluation after those.
    std::thread::sleep(Duration::from_secs(4));

    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("deploy/monitoring/grafana-dashboard.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    let mut empty = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = grafana(target["expr"].as_str().unwrap());
            checked += 1;
            if prometheus.query(&expr).is_empty() {
                empty.push(format!("{}: {expr}", panel["title"]));
            }
        }
    }
    assert!(checked >= 8, "{checked}");
    assert!(empty.is_empty(), "panels without data:\n{}\n--- scrape ---\n{}", empty.join("\n"), envoy.prometheus());
    // The policy variable lists every policy.
    let policies: Vec<String> = prometheus
        .query("group by (cors_policy) (cors_policy_actual_allowed)")
        .iter()
        .map(|s| s["metric"]["cors_policy"].as_str().unwrap().to_owned())
        .collect();
    for want in ["top_level", "shop", "public", "api", "beta-api"] {
        assert!(policies.iter().any(|p| p == want), "{want} not in {policies:?}");
    }

    let rules = prometheus.api("/api/v1/rules");
    let mut firing = Vec::new();
    for group in rules["data"]["groups"].as_array().unwrap() {
        for r in group["rules"].as_array().unwrap() {
            assert_eq!(r["health"], "ok", "{r}");
            if r["state"] == "firing" {
                for a in r["alerts"].as_array().into_iter().flatten() {
                    firing.push(format!(
                        "{} {}",
                        r["name"].as_str().unwrap(),
                        a["labels"]["cors_policy"].as_str().unwrap_or("")
                    ));
                }
            }
        }
    }
    firing.sort();
    let known = prometheus.query("cors_policy_shadow_would_deny_known_origin");
    let increase = prometheus.query("increase(cors_policy_shadow_would_deny_known_origin[1h])");
    assert_eq!(
        firing,
        ["CorsAmbiguousRequests ", "CorsShadowWouldBreakKnownOrigin beta-api"],
        "{rules}\n{known:?}\n{increase:?}"
    );
    assert!(!prometheus.query("cors_policy:decisions:rate5m").is_empty());
}
