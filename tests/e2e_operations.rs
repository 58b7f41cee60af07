//! Issue 19, against a real Envoy with dist/cors.wasm: the plugin follows the host's log level
//! at runtime (`POST /logging?wasm=debug`, what `istioctl proxy-config log` does), denials name
//! what was refused, shadow decisions say "would be denied".
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::json;
use std::time::{Duration, Instant};
use testkit::prelude::*;

/// Sends `request` until Envoy's log holds `line` (bounded: 10 s, every 100 ms); true if it did.
fn send_until_logged(envoy: &Envoy, port: u16, request: &Request, line: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        request.send(port);
        if envoy.log().contains(line) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn log_level_follows_envoy_at_runtime_and_denials_explain_themselves() {
    let upstream = Upstream::ok();
    let plugin = json!({
        "allow_origins": [ALLOWED],
        "allow_methods": ["PUT"],
        "allow_headers": ["x-custom"],
        "policies": [
            { "name": "beta", "match": { "path_prefixes": ["/beta"] }, "mode": "shadow" }
        ]
    });
    let cfg = EnvoyConfig::simple(&plugin.to_string(), &upstream);
    let envoy = Envoy::start(&cfg);
    let port = envoy.port("main");
    let header_denied = Request::preflight("/", ALLOWED, "PUT", Some("x-custom,x-foo"));
    let wanted = r#"preflight denied: request header "x-foo" not allowed by top level (allow_headers)"#;

    // Envoy runs at `warning`: no decision line.
    for _ in 0..3 {
        assert_eq!(header_denied.send(port).status, 403);
    }
    std::thread::sleep(Duration::from_millis(1500));
    header_denied.send(port);
    assert!(!envoy.log().contains("preflight denied"), "{}", envoy.log());

    // Raised at runtime, no configuration push: the plugin re-reads the level each second.
    envoy.admin_post(&format!("/logging?{}=debug", artifact().log_component()));
    let raised = Instant::now();
    assert!(send_until_logged(&envoy, port, &header_denied, wanted), "{}", envoy.log());
    eprintln!("debug lines after {:?}", raised.elapsed());

    // An invalid origin is named as such, with why.
    let slash = Request::get("/").origin(&format!("{ALLOWED}/"));
    let invalid = format!(r#"actual request denied: invalid origin "{ALLOWED}/": trailing slash"#);
    assert!(send_until_logged(&envoy, port, &slash, &invalid), "{}", envoy.log());

    // Shadow decisions are not logged as if enforced.
    let shadow = Request::preflight("/beta/x", DENIED, "PUT", None);
    let would = format!(r#"shadow: preflight would be denied: origin "{DENIED}" not allowed by policies[0]"#);
    assert!(send_until_logged(&envoy, port, &shadow, &would), "{}", envoy.log());
    assert!(!envoy.log().contains(&format!(r#"preflight denied: origin "{DENIED}""#)), "{}", envoy.log());

    // And lowered again.
    envoy.admin_post(&format!("/logging?{}=warning", artifact().log_component()));
    std::thread::sleep(Duration::from_millis(2500));
    let before = envoy.log().matches("preflight denied").count();
    for _ in 0..3 {
        header_denied.send(port);
    }
    assert_eq!(envoy.log().matches("preflight denied").count(), before, "{}", envoy.log());
}

/// The `stats_tags` entry that extracts the per-policy label (docs/operations.md).
pub fn policy_stats_config() -> serde_json::Value {
    json!({ "stats_tags": [ { "tag_name": "cors_policy", "regex": "(cors_policy=\\.=(.*?);\\.;)" } ] })
}

/// The samples of Prometheus metric `name` by their `cors_policy` label.
fn by_policy(prometheus: &str, name: &str) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    for line in prometheus.lines().filter(|l| l.starts_with(&format!("{name}{{"))) {
        let Some((labels, value)) = line.rsplit_once(' ') else { continue };
        let Some(policy) = labels.split("cors_policy=\"").nth(1).and_then(|r| r.split('"').next()) else { continue };
        *out.entry(policy.to_owned()).or_insert(0.0) += value.parse::<f64>().unwrap_or(0.0);
    }
    out
}

/// A shared gateway: enforced entries for two apps, one entry (`beta-api`) rolled out in
/// shadow mode. Scanners send foreign origins everywhere; the rollout decision reads the shadow
/// entry's own counters, in Prometheus, by its `cors_policy` label: scanner traffic raises
/// `cors_policy_shadow_would_deny` but not `..._known_origin`, which only a real page would.
#[test]
fn shadow_rollout_is_decided_from_its_own_labelled_counters_under_scanner_noise() {
    let upstream = Upstream::ok();
    let plugin = json!({
        "allow_origins": ["https://www.example.com"],
        "policies": [
            { "name": "shop", "match": { "hosts": ["shop.example.com"] }, "allow_origins": ["https://shop.example.com"] },
            { "match": { "hosts": ["api.example.com"] }, "allow_origins": ["https://app.example.com"], "allow_methods": ["PUT"] },
            { "name": "beta-api", "match": { "hosts": ["beta.example.com"] }, "mode": "shadow",
              "allow_origins": ["https://app.example.com"], "allow_methods": ["PUT"] }
        ]
    });
    let cfg = EnvoyConfig::simple(&plugin.to_string(), &upstream).stats_config(policy_stats_config());
    let envoy = Envoy::start(&cfg);
    let port = envoy.port("main");
    let send = |host: &str, r: Request| r.host(host).send(port);

    // Legitimate traffic on every entry, then scanner noise: 40 foreign origins per host.
    for _ in 0..5 {
        assert_eq!(send("shop.example.com", Request::get("/").origin("https://shop.example.com")).status, 200);
        assert_eq!(
            send("api.example.com", Request::preflight("/", "https://app.example.com", "PUT", None)).status,
            204
        );
        assert_eq!(send("beta.example.com", Request::get("/").origin("https://app.example.com")).status, 200);
    }
    for i in 0..40 {
        let scanner = format!("https://scan{i}.invalid");
        for host in ["shop.example.com", "api.example.com", "beta.example.com", "www.example.com"] {
            send(host, Request::get("/").origin(&scanner));
            send(host, Request::preflight("/", &scanner, "PUT", None));
        }
    }
    let prom = envoy.prometheus();
    let would_deny = by_policy(&prom, "cors_policy_shadow_would_deny");
    let known = by_policy(&prom, "cors_policy_shadow_would_deny_known_origin");
    let allowed = by_policy(&prom, "cors_policy_actual_allowed");
    assert_eq!(would_deny.get("beta-api"), Some(&80.0), "{prom}");
    assert_eq!(known.get("beta-api").copied().unwrap_or(0.0), 0.0, "scanners are not known origins\n{prom}");
    assert_eq!(allowed.get("beta-api"), Some(&5.0), "{prom}");
    assert_eq!(allowed.get("shop"), Some(&5.0), "{prom}");
    assert_eq!(by_policy(&prom, "cors_policy_preflight_allowed").get("1"), Some(&5.0), "{prom}");
    assert_eq!(by_policy(&prom, "cors_policy_actual_denied").get("top_level"), Some(&40.0), "{prom}");
    // The totals keep their names and count every policy.
    assert_eq!(envoy.prom_value("cors_shadow_would_deny"), Some(80.0), "{prom}");

    // The app's front-end starts sending a header the shadow entry would refuse, and the shop's
    // origin reaches the beta host: both are real breakages, counted as known origins.
    for _ in 0..3 {
        send("beta.example.com", Request::preflight("/", "https://app.example.com", "DELETE", None));
        send("beta.example.com", Request::get("/").origin("https://shop.example.com"));
    }
    let prom = envoy.prometheus();
    assert_eq!(by_policy(&prom, "cors_policy_shadow_would_deny_known_origin").get("beta-api"), Some(&6.0), "{prom}");
    assert_eq!(by_policy(&prom, "cors_policy_shadow_would_deny").get("beta-api"), Some(&86.0), "{prom}");
    // Nothing was changed by shadow mode: the upstream answered every beta request.
    assert!(upstream.hits() >= 5 + 80 + 6, "{}", upstream.hits());
}
