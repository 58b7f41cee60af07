//! Issue 2 item 8: counters visible in Envoy's /stats and /stats/prometheus; shadow mode changes
//! nothing but counts; decisions logged at debug.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use cors_engine::counter::Counter;
use serde_json::json;
use std::time::Duration;
use testkit::prelude::*;

/// Every counter the plugin defines, from the engine's own list.
fn counters() -> Vec<&'static str> {
    Counter::ALL.iter().map(|c| c.name()).collect()
}

fn plugin() -> serde_json::Value {
    json!({
        "allow_origins": [ALLOWED],
        "allow_methods": ["PUT"],
        "allow_headers": ["x-custom"]
    })
}

fn snapshot(e: &Envoy) -> Vec<u64> {
    counters().iter().map(|c| e.counter_opt(c).unwrap_or(0)).collect()
}

#[test]
fn counters_count_each_decision_in_stats_and_prometheus() {
    let f = Fixture::new(plugin());
    let before = snapshot(&f.envoy);
    for _ in 0..3 {
        assert_eq!(f.send(Request::get("/").origin(ALLOWED)).status, 200);
    }
    for _ in 0..2 {
        assert_eq!(f.send(Request::get("/").origin(DENIED)).status, 200);
    }
    for _ in 0..4 {
        assert_eq!(f.send(Request::preflight("/", ALLOWED, "PUT", Some("x-custom"))).status, 204);
    }
    assert_eq!(f.send(Request::preflight("/", DENIED, "PUT", None)).status, 403);
    for _ in 0..2 {
        assert_eq!(f.send(Request::preflight("/", ALLOWED, "DELETE", None)).status, 403);
    }
    for _ in 0..3 {
        assert_eq!(f.send(Request::preflight("/", ALLOWED, "PUT", Some("x-nope"))).status, 403);
    }
    // In `Counter::ALL` order: actual allowed, denied, preflight allowed, denied for origin,
    // method, headers; shadow would-deny (of known origins too), passed-through and
    // ambiguous-request denials (no entry here, so nothing to be ambiguous about;
    // tests/e2e_ambiguity.rs counts them) stay at zero.
    let want = [3u64, 2, 4, 1, 2, 3, 0, 0, 0, 0];
    assert_eq!(want.len(), Counter::ALL.len());
    let mut failures = Vec::new();
    for (i, name) in counters().iter().enumerate() {
        let now = if want[i] == 0 { f.envoy.counter_opt(name).unwrap_or(0) } else { f.envoy.counter(name) };
        let got = now - before[i];
        if got != want[i] {
            failures.push(format!("/stats {name}: want +{}, got +{got}", want[i]));
        }
        if i < 6 {
            let prom = name.replace('.', "_");
            match f.envoy.prom_value(&prom) {
                Some(v) if v as u64 == before[i] + want[i] => {}
                other => {
                    failures.push(format!("/stats/prometheus {prom}: want {}, got {other:?}", before[i] + want[i]))
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n--- cors lines of /stats/prometheus ---\n{}",
        failures.join("\n"),
        f.envoy.prometheus().lines().filter(|l| l.contains("cors")).collect::<Vec<_>>().join("\n")
    );
}

/// Shadow mode: every response is byte-for-byte what Envoy without the plugin returns (apart
/// from date/timing), preflights reach the upstream, and would-deny decisions are counted.
#[test]
fn shadow_mode_changes_nothing_but_counts() {
    let up = Upstream::with_headers(200, &[("vary", "Accept-Encoding"), ("x-up", "1")]);
    let mut shadow = plugin();
    shadow["mode"] = json!("shadow");
    let envoy = Envoy::start(
        &EnvoyConfig::new()
            .cluster("upstream", up.port)
            .listener(ListenerSpec::new("shadow", &cfg(shadow), "upstream"))
            .listener(ListenerSpec::without_plugin("bare", "upstream")),
    );
    let comparable = |r: &Response| -> Vec<(String, Vec<u8>)> {
        r.headers.iter().filter(|(n, _)| n != "date" && n != "x-envoy-upstream-service-time").cloned().collect()
    };
    let would_deny_before = envoy.counter_opt("cors.shadow_would_deny").unwrap_or(0);
    let requests = [
        ("allowed GET", Request::get("/").origin(ALLOWED), false),
        ("no-origin GET", Request::get("/"), false),
        ("allowed preflight", Request::preflight("/", ALLOWED, "PUT", Some("x-custom")), false),
        ("denied-origin GET", Request::get("/").origin(DENIED), true),
        ("denied-origin preflight", Request::preflight("/", DENIED, "PUT", None), true),
        ("denied-method preflight", Request::preflight("/", ALLOWED, "DELETE", None), true),
    ];
    let mut failures = Vec::new();
    let mut denied_preflights = 0;
    for (what, req, denied) in &requests {
        let hits = up.hits();
        let with = req.send(envoy.port("shadow"));
        with.assert_well_formed();
        if up.hits() != hits + 1 {
            failures.push(format!("{what}: did not reach the upstream in shadow mode"));
        }
        let without = req.send(envoy.port("bare"));
        if with.status != without.status || comparable(&with) != comparable(&without) {
            failures.push(format!(
                "{what}: shadow changed the response\nshadow:\n{}bare:\n{}",
                with.dump(),
                without.dump()
            ));
        }
        let now = envoy.counter_opt("cors.shadow_would_deny").unwrap_or(0);
        if *denied && req.method == "OPTIONS" {
            denied_preflights += 1;
            if now < would_deny_before + denied_preflights {
                failures.push(format!("{what}: shadow_would_deny did not grow (now {now})"));
            }
        }
        if !*denied && now != would_deny_before + denied_preflights {
            failures.push(format!("{what}: shadow_would_deny grew on an allowed request ({now})"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Decisions are logged at debug with their reason.
#[test]
fn decisions_are_logged_at_debug_with_reason() {
    let up = Upstream::ok();
    let envoy = Envoy::start(&EnvoyConfig::simple(&cfg(plugin()), &up).wasm_debug());
    let r = Request::preflight("/", DENIED, "PUT", None).send(envoy.port("main"));
    assert_eq!(r.status, 403);
    let r = Request::preflight("/", ALLOWED, "DELETE", None).send(envoy.port("main"));
    assert_eq!(r.status, 403);
    let logged = |needle: &str| {
        envoy.log().lines().any(|l| {
            l.contains("[debug]") && l.contains(artifact().log_marker()) && l.to_ascii_lowercase().contains(needle)
        })
    };
    let ok = envoy.wait_for(Duration::from_secs(3), |_| logged("origin") && logged("method"));
    assert!(
        ok,
        "expected debug decision lines naming the reason (origin, method):\n{}",
        envoy.log().lines().filter(|l| l.contains(artifact().log_marker())).collect::<Vec<_>>().join("\n")
    );
}
