//! Issue 2 item 6 and issue 3 "Faults": responses Envoy makes itself after the plugin ran
//! (upstream down, timeout, reset, local replies of later filters) carry the same CORS headers
//! for an allowed origin and none for a denied one.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::json;
use std::time::{Duration, Instant};
use testkit::prelude::*;

struct Faults {
    envoy: Envoy,
    _upstream: Upstream,
}

fn faults() -> Faults {
    let up = Upstream::start(|req| {
        if req.path.starts_with("/slow") {
            Reply::Delay(Duration::from_secs(5), Box::new(Reply::ok()))
        } else if req.path.starts_with("/reset") {
            Reply::Reset
        } else {
            Reply::ok()
        }
    });
    let plugin = json!({
        "allow_origins": [ALLOWED],
        "allow_methods": ["GET", "PUT"],
        "expose_headers": ["x-request-id"],
        "allow_credentials": true
    });
    let listener =
        ListenerSpec::new("main", &cfg(plugin), "upstream").filter_after(rbac_deny_prefix("/rbac")).routes(vec![
            route("/down", "down"),
            route_timeout("/slow", "upstream", 300),
            direct_response("/direct", 404, "no such thing\n"),
            route("/", "upstream"),
        ]);
    let envoy = Envoy::start(
        &EnvoyConfig::new().cluster("upstream", up.port).cluster("down", closed_port()).listener(listener),
    );
    Faults { envoy, _upstream: up }
}

fn check(path: &str, want_status: u16) {
    let f = faults();
    let port = f.envoy.port("main");

    let t = Instant::now();
    let r = Request::get(path).origin(ALLOWED).send(port);
    r.assert_well_formed();
    assert_eq!(r.status, want_status, "allowed origin on {path}\n{}", r.dump());
    assert_eq!(
        r.one("access-control-allow-origin").as_deref(),
        Some(ALLOWED),
        "{path}: the {want_status} Envoy made must carry ACAO\n{}",
        r.dump()
    );
    assert_eq!(r.one("access-control-allow-credentials").as_deref(), Some("true"), "{}", r.dump());
    let aceh = r.must("access-control-expose-headers");
    assert!(list_has(&aceh, "x-request-id"), "ACEH {aceh:?}");
    let vary = r.vary_tokens();
    assert_eq!(vary.iter().filter(|t| t.eq_ignore_ascii_case("origin")).count(), 1, "{}", r.dump());
    assert!(t.elapsed() < Duration::from_secs(4), "{path} took {:?}", t.elapsed());

    let r = Request::get(path).origin(DENIED).send(port);
    r.assert_well_formed();
    assert_eq!(r.status, want_status, "denied origin on {path}\n{}", r.dump());
    r.assert_no_cors_headers();
}

#[test]
fn upstream_unreachable_503_carries_cors_headers() {
    check("/down", 503);
}

#[test]
fn upstream_timeout_504_carries_cors_headers() {
    check("/slow", 504);
}

#[test]
fn upstream_reset_503_carries_cors_headers() {
    check("/reset", 503);
}

#[test]
fn rbac_deny_after_plugin_403_carries_cors_headers() {
    check("/rbac/secret", 403);
}

#[test]
fn router_direct_response_carries_cors_headers() {
    check("/direct", 404);
}

/// The plugin runs before RBAC: an allowed preflight is answered even where RBAC would deny,
/// and a rejected one is still 403 without CORS headers.
#[test]
fn preflight_is_answered_before_a_later_deny_filter() {
    let f = faults();
    let port = f.envoy.port("main");
    let r = Request::preflight("/rbac/secret", ALLOWED, "PUT", None).send(port);
    r.assert_well_formed();
    assert_eq!(r.status, 204, "{}", r.dump());
    assert_eq!(r.must("access-control-allow-origin"), ALLOWED);
    let r = Request::preflight("/rbac/secret", DENIED, "PUT", None).send(port);
    r.assert_well_formed();
    assert_eq!(r.status, 403, "{}", r.dump());
    r.assert_no_cors_headers();
}
