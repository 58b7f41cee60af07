//! Issue 9: the filter on a shared gateway, against a real Envoy with dist/cors.wasm.
//! `mode: "off"` leaves what the policy does not cover to its upstream byte for byte, and a
//! path-scoped policy selects on the path the upstream resolves, not on its raw bytes.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::json;
use testkit::prelude::*;

/// The gateway configuration of README's "Shared gateway" section: one host enforced, one path
/// of it handed back, everything else passed through.
fn gateway() -> serde_json::Value {
    json!({
        "mode": "off",
        "policies": [
            {"match": {"hosts": ["a.example.com"], "path_prefixes": ["/legacy/"]}, "mode": "off"},
            {"match": {"hosts": ["a.example.com"]}, "allow_origins": [ALLOWED], "allow_methods": ["PUT"]}
        ]
    })
}

/// What an upstream that answers its own CORS sends, on every response, preflights included.
const UPSTREAM_CORS: &[(&str, &str)] = &[
    ("access-control-allow-origin", "*"),
    ("access-control-allow-methods", "GET, DELETE"),
    ("access-control-expose-headers", "X-Upstream-Only"),
    ("vary", "Accept-Encoding"),
];

fn upstream_own_cors() -> Upstream {
    Upstream::with_headers(200, UPSTREAM_CORS)
}

/// The upstream's CORS headers and `Vary`, in order, exactly as it sent them.
fn assert_untouched(r: &Response) {
    let got: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(n, _)| n.starts_with("access-control-") || n == "vary")
        .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    let want: Vec<(String, String)> = UPSTREAM_CORS.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    assert_eq!(got, want, "the upstream's CORS headers and Vary must arrive as sent\n{}", r.dump());
}

#[test]
fn mode_off_passes_uncovered_hosts_through_byte_for_byte() {
    let f = Fixture::with_upstream(gateway(), upstream_own_cors());
    let before = f.envoy.counter_opt("cors.passed_through").unwrap_or(0);

    // An actual request for a host no entry covers, from any origin, with or without Origin.
    for origin in [Some("https://evil.example.net"), Some(ALLOWED), None] {
        let mut req = Request::get("/x").host("b.example.com");
        if let Some(o) = origin {
            req = req.origin(o);
        }
        let r = f.send(req);
        assert_eq!(r.status, 200, "{}", r.dump());
        assert_untouched(&r);
    }

    // A preflight for it reaches the upstream, which answers it.
    let hits = f.upstream.hits();
    let r = f.send(Request::preflight("/x", "https://evil.example.net", "DELETE", Some("x-any")).host("b.example.com"));
    assert_eq!(r.status, 200, "the upstream's answer, not a 403\n{}", r.dump());
    assert_untouched(&r);
    assert_eq!(f.upstream.hits(), hits + 1, "the preflight reached the upstream");
    let seen = f.upstream.requests().pop().unwrap();
    assert_eq!(seen.method, "OPTIONS");
    assert_eq!(seen.header("access-control-request-method"), Some("DELETE"));

    assert_eq!(f.envoy.counter("cors.passed_through") - before, 4);
    assert_eq!(f.envoy.counter_opt("cors.actual_denied").unwrap_or(0), 0);
    assert_eq!(f.envoy.counter_opt("cors.preflight_denied_origin").unwrap_or(0), 0);
}

#[test]
fn mode_off_carve_out_and_the_covered_host() {
    let f = Fixture::with_upstream(gateway(), upstream_own_cors());

    // The carve-out placed first hands one path of the covered host back to its upstream.
    let r = f.send(Request::get("/legacy/report").host("a.example.com").origin("https://evil.example.net"));
    assert_untouched(&r);
    let hits = f.upstream.hits();
    let r = f.send(Request::preflight("/legacy/x", "https://evil.example.net", "DELETE", None).host("a.example.com"));
    assert_eq!(r.status, 200, "{}", r.dump());
    assert_untouched(&r);
    assert_eq!(f.upstream.hits(), hits + 1);

    // The rest of the covered host is enforced: the upstream's `*` is replaced, a stranger's
    // preflight is answered 403 here and never reaches the upstream.
    let r = f.send(Request::get("/api").host("a.example.com").origin(ALLOWED));
    assert_eq!(r.must("access-control-allow-origin"), ALLOWED);
    assert!(r.one("access-control-expose-headers").is_none(), "the upstream's ACEH is not the policy's");
    assert_eq!(r.vary_tokens(), ["Accept-Encoding", "Origin"]);
    let r = f.send(Request::get("/api").host("a.example.com").origin("https://evil.example.net"));
    assert!(r.one("access-control-allow-origin").is_none(), "{}", r.dump());
    let hits = f.upstream.hits();
    let r = f.send(Request::preflight("/api", "https://evil.example.net", "PUT", None).host("a.example.com"));
    assert_eq!(r.status, 403, "{}", r.dump());
    assert_eq!(f.upstream.hits(), hits);
    let r = f.send(Request::preflight("/api", ALLOWED, "PUT", None).host("A.Example.COM:443"));
    assert_eq!(r.status, 204, "host compared without case and port, as Envoy does\n{}", r.dump());
    // Envoy's virtual hosts do not strip a trailing dot: read both ways, the host is ambiguous.
    let r = f.send(Request::preflight("/api", ALLOWED, "PUT", None).host("a.example.com."));
    assert_eq!(r.status, 403, "{}", r.dump());
    assert_eq!(f.envoy.counter("cors.passed_through"), 2);
}

/// A strict top level and a path-scoped `*`, the configuration issue 9 measured.
fn public_paths() -> serde_json::Value {
    json!({
        "allow_origins": [ALLOWED],
        "allow_credentials": true,
        "policies": [{"match": {"path_prefixes": ["/public/"]}, "allow_origins": ["*"], "allow_credentials": false}]
    })
}

const CONFUSED: [&str; 6] = [
    "/public/../admin",
    "/public/%2e%2e/admin",
    "/public/%2E%2E/admin",
    "/public/..%2Fadmin",
    "/public/..%5Cadmin",
    "/public//../admin",
];

#[test]
fn path_confusion_does_not_select_a_path_scoped_star() {
    let f = Fixture::new(public_paths());
    let r = f.send(Request::get("/public/logo.png").origin("https://evil.example.net"));
    assert_eq!(r.must("access-control-allow-origin"), "*", "{}", r.dump());
    for path in CONFUSED {
        let r = f.send(Request::get(path).origin("https://evil.example.net"));
        assert!(r.one("access-control-allow-origin").is_none(), "{path}: the top level applies\n{}", r.dump());
        let r = f.send(Request::preflight(path, "https://evil.example.net", "GET", None));
        assert_eq!(r.status, 403, "{path}\n{}", r.dump());
    }
    // Envoy's defaults leave the path as sent: the upstream sees what the filter refused to trust.
    let seen: Vec<String> = f.upstream.requests().into_iter().map(|s| s.path).collect();
    assert!(seen.iter().any(|p| p == "/public/..%2Fadmin"), "{seen:?}");
}

/// Envoy's own normalization (what Istio's `meshConfig.pathNormalization` sets): the HCM
/// rewrites `:path` before any HTTP filter runs, so the filter and the upstream see one path.
#[test]
fn with_envoy_path_normalization_filter_and_upstream_see_the_same_path() {
    let upstream = Upstream::ok();
    let listener = ListenerSpec::new("main", &cfg(public_paths()), "upstream").hcm(json!({
        "normalize_path": true,
        "merge_slashes": true,
        "path_with_escaped_slashes_action": "UNESCAPE_AND_FORWARD"
    }));
    let envoy = Envoy::start(&EnvoyConfig::new().listener(listener).cluster("upstream", upstream.port));
    let port = envoy.port("main");
    for (sent, upstream_sees) in [
        ("/public/../admin", "/admin"),
        ("/public/%2e%2e/admin", "/admin"),
        ("/public/..%2Fadmin", "/admin"),
        // RFC 3986 first, then merged slashes: Envoy resolves this one inside /public/ (the
        // filter alone refuses to guess, as a proxy that merges first would get `/admin`).
        ("/public//../admin", "/public/admin"),
        ("/admin/../public/x", "/public/x"),
    ] {
        let r = Request::get(sent).origin("https://evil.example.net").send(port);
        assert_eq!(r.status, 200, "{sent}\n{}", r.dump());
        assert_eq!(upstream.requests().pop().map(|s| s.path).as_deref(), Some(upstream_sees), "{sent}");
        let star = r.one("access-control-allow-origin").as_deref() == Some("*");
        assert_eq!(star, upstream_sees.starts_with("/public/"), "{sent} -> {upstream_sees}\n{}", r.dump());
    }

    // `REJECT_REQUEST` refuses an encoded slash before the filter runs.
    let listener = ListenerSpec::new("main", &cfg(public_paths()), "upstream").hcm(json!({
        "normalize_path": true,
        "merge_slashes": true,
        "path_with_escaped_slashes_action": "REJECT_REQUEST"
    }));
    let envoy = Envoy::start(&EnvoyConfig::new().listener(listener).cluster("upstream", upstream.port));
    let hits = upstream.hits();
    let r = Request::get("/public/..%2Fadmin").origin("https://evil.example.net").send(envoy.port("main"));
    assert_eq!(r.status, 400, "{}", r.dump());
    assert_eq!(upstream.hits(), hits);
    assert_eq!(envoy.counter_opt("cors.actual_allowed").unwrap_or(0), 0, "the filter never saw it");
}
