//! Issue 10 item 1: the Fetch Standard's "CORS protocol and HTTP caches", against a real Envoy
//! with dist/cors.wasm. A response a cache may store is handed to later requests that did not
//! make it, so its CORS headers must be right for all of them:
//! - a `*` policy without credentials sends `access-control-allow-origin: *` (and its
//!   `access-control-expose-headers`) on every response, CORS request or not, without `Vary`;
//! - a policy whose answer depends on `Origin` says `Vary: Origin` on every response, to
//!   requests without `Origin`, with a malformed one and with a denied one too.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::json;
use testkit::prelude::*;

const CACHEABLE: &[(&str, &str)] = &[("cache-control", "public, max-age=600")];

fn star() -> serde_json::Value {
    json!({"allow_origins": ["*"], "expose_headers": ["x-total"]})
}

/// Every request a page, a crawler or a cache may make for one URL.
fn requests(path: &str) -> Vec<(&'static str, Request)> {
    vec![
        ("no Origin (navigation, <img>, no-cors, curl)", Request::get(path)),
        ("CORS request", Request::get(path).origin("https://anyone.example")),
        ("malformed Origin", Request::get(path).origin("not an origin")),
        ("two Origin lines", Request::get(path).origin("https://a.example").origin("https://b.example")),
        ("HEAD without Origin", Request::new("HEAD", path)),
        ("OPTIONS without Access-Control-Request-Method", Request::options(path).origin("https://anyone.example")),
    ]
}

#[test]
fn star_policy_answers_every_response_alike() {
    let f = Fixture::with_upstream(star(), Upstream::with_headers(200, CACHEABLE));
    for (what, req) in requests("/logo.png") {
        let r = req.send(f.port());
        assert_eq!(r.status, 200, "{what}\n{}", r.dump());
        assert_eq!(r.all("access-control-allow-origin"), ["*"], "{what}\n{}", r.dump());
        assert_eq!(r.all("access-control-expose-headers"), ["x-total"], "{what}\n{}", r.dump());
        assert!(r.all("vary").is_empty(), "{what}: no Vary on a static answer\n{}", r.dump());
    }
}

#[test]
fn star_policy_keeps_nothing_the_upstream_widened() {
    let upstream = Upstream::with_headers(
        200,
        &[("cache-control", "public, max-age=600"), ("access-control-allow-credentials", "true")],
    );
    let f = Fixture::with_upstream(star(), upstream);
    for (what, req) in requests("/") {
        let r = req.send(f.port());
        assert!(r.one("access-control-allow-credentials").is_none(), "{what}\n{}", r.dump());
    }
}

#[test]
fn origin_dependent_policy_varies_on_every_response() {
    let f = Fixture::with_upstream(
        json!({"allow_origins": [ALLOWED], "allow_credentials": true}),
        Upstream::with_headers(200, &[("cache-control", "public, max-age=600"), ("vary", "Accept-Encoding")]),
    );
    let mut all = requests("/api");
    all.push(("denied Origin", Request::get("/api").origin("https://evil.example.net")));
    all.push(("allowed Origin", Request::get("/api").origin(ALLOWED)));
    for (what, req) in all {
        let r = req.send(f.port());
        assert_eq!(r.status, 200, "{what}\n{}", r.dump());
        assert_eq!(r.vary_tokens(), ["Accept-Encoding", "Origin"], "{what}\n{}", r.dump());
    }
}

/// The CDN case of the issue: a cache in front of the gateway stores the answer to a request
/// without `Origin` (a crawler, curl) and hands it to the next request, a CORS one. Envoy's
/// own HTTP cache on a front listener plays the CDN; the plugin runs on the listener behind it.
#[test]
fn a_cached_answer_to_a_request_without_origin_serves_a_cors_request() {
    let upstream = Upstream::with_headers(200, CACHEABLE);
    let cdn_port = free_port();
    let gateway_port = free_port();
    let cache = json!({
        "name": "envoy.filters.http.cache",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.cache.v3.CacheConfig",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.http.cache.simple_http_cache.v3.SimpleHttpCacheConfig"
            }
        }
    });
    let cfg = EnvoyConfig::new()
        .listener(ListenerSpec::without_plugin("cdn", "gateway").filter_before(cache).port(cdn_port))
        .listener(ListenerSpec::new("gateway", &cfg(star()), "upstream").port(gateway_port))
        .cluster("gateway", gateway_port)
        .cluster("upstream", upstream.port);
    let envoy = Envoy::start(&cfg);
    let first = Request::get("/logo.png").send(envoy.port("cdn"));
    assert_eq!(first.status, 200, "{}", first.dump());
    let second = Request::get("/logo.png").origin("https://app.example.com").send(envoy.port("cdn"));
    assert_eq!(upstream.hits(), 1, "the second answer came from the cache\n{}", second.dump());
    assert!(second.has("age"), "a cached answer carries Age\n{}", second.dump());
    assert_eq!(second.all("access-control-allow-origin"), ["*"], "{}", second.dump());
}
