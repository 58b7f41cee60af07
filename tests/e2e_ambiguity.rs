//! Issue 16: no request gets CORS access its configuration does not grant, whatever Envoy and
//! the upstream make of its path and host. A shared gateway (`mode: "off"` at the top, path- or
//! host-scoped entries below) in front of upstreams that reflect any origin with credentials
//! (a common framework default), under Envoy's default settings, Istio's (`normalize_path`
//! only) and README's recommended ones. Each response is checked against the policy of the
//! route Envoy actually chose (the upstream names itself in `x-served-by`).
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::{json, Value};
use testkit::prelude::*;

const EVIL: &str = "https://evil.example";
const APP: &str = "https://app.example.com";
const ADMIN: &str = "https://admin.example.com";

/// An upstream that answers every request, preflights included, by reflecting its `Origin`
/// with credentials, and says which route it serves.
fn reflecting(name: &'static str) -> Upstream {
    Upstream::start(move |seen| {
        let mut headers = vec![("x-served-by", name.to_owned())];
        if let Some(origin) = seen.header("origin") {
            headers.push(("access-control-allow-origin", origin.to_owned()));
            headers.push(("access-control-allow-credentials", "true".to_owned()));
            headers.push(("access-control-allow-methods", "GET, PUT, DELETE".to_owned()));
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        Reply::status(200, &headers)
    })
}

/// The HCM settings the tests run under: Envoy's defaults, Istio's default, README's advice.
fn settings() -> [(&'static str, Value); 3] {
    [
        ("envoy defaults", json!({})),
        ("istio default (normalize_path)", json!({"normalize_path": true})),
        (
            "README recommended",
            json!({"normalize_path": true, "merge_slashes": true, "path_with_escaped_slashes_action": "UNESCAPE_AND_FORWARD"}),
        ),
    ]
}

/// The origins the configuration grants on a route: `None` when the route's policy is `off`
/// (the upstream's own CORS applies, as configured).
fn granted(route: &str) -> Option<&'static [&'static str]> {
    match route {
        "api" => Some(&[APP]),
        "admin" => Some(&[ADMIN]),
        "a-host" => Some(&[APP]),
        _ => None,
    }
}

/// The invariant: an `access-control-allow-origin` only as the chosen route's policy grants it.
fn assert_granted(what: &str, r: &Response) {
    let acao = r.one("access-control-allow-origin");
    let Some(route) = r.one("x-served-by") else {
        // A local reply (the filter's 403, Envoy's 400/404): never an evil grant.
        assert!(acao.is_none(), "{what}: a local reply granted {acao:?}\n{}", r.dump());
        return;
    };
    if let (Some(acao), Some(origins)) = (acao.as_deref(), granted(&route)) {
        assert!(
            origins.contains(&acao),
            "{what}: routed to {route}, which grants {origins:?}, got {acao}\n{}",
            r.dump()
        );
    }
}

fn path_gateway() -> Value {
    json!({
        "mode": "off",
        "policies": [
            {"match": {"path_prefixes": ["/api/"]}, "allow_origins": [APP], "allow_credentials": true, "allow_methods": ["PUT"]},
            {"match": {"path_prefixes": ["/admin/"]}, "allow_origins": [ADMIN], "allow_credentials": true}
        ]
    })
}

/// Paths a reviewer aims at another entry, or at none: every form of issue 16's classes.
const PATHS: &[&str] = &[
    "/api/x%2Fy",
    "/api/x%2fy",
    "/api/x%5Cy",
    "/api/x%zz",
    "/api/%",
    "/api/x%2",
    "/api/..;/admin/x",
    "/api/%2e%2e;/admin/x",
    "/admin;/x",
    "/admin;jsessionid=1/x",
    "/x/..;/api/y",
    "/api/..%2Fadmin/x",
    "/api/..%5Cadmin/x",
    "/api/../admin/x",
    "/api//../admin/x",
    "/api\\..\\admin/x",
    "/API/x",
    "/Admin/x",
    "/x/../api/y",
    "/../api/x",
    "/%61pi/x",
];

#[test]
fn ambiguous_paths_never_widen_access() {
    let (api, admin, other) = (reflecting("api"), reflecting("admin"), reflecting("other"));
    for (name, hcm) in settings() {
        let listener = ListenerSpec::new("main", &cfg(path_gateway()), "other")
            .routes(vec![route("/api/", "api"), route("/admin/", "admin"), route("/", "other")])
            .hcm(hcm);
        let envoy = Envoy::start(
            &EnvoyConfig::new()
                .listener(listener)
                .cluster("api", api.port)
                .cluster("admin", admin.port)
                .cluster("other", other.port),
        );
        let port = envoy.port("main");

        // The upstreams reflect: a path no entry covers passes through, evil origin and all.
        let r = Request::get("/other/x").origin(EVIL).send(port);
        assert_eq!(r.one("access-control-allow-origin").as_deref(), Some(EVIL), "{name}\n{}", r.dump());
        // The entries are enforced on their own paths.
        let r = Request::get("/api/x").origin(EVIL).send(port);
        assert!(r.one("access-control-allow-origin").is_none(), "{name}\n{}", r.dump());
        let r = Request::get("/api/x").origin(APP).send(port);
        assert_eq!(r.one("access-control-allow-origin").as_deref(), Some(APP), "{name}\n{}", r.dump());

        for path in PATHS {
            let what = format!("{name}: GET {path}");
            let r = Request::get(path).origin(EVIL).send(port);
            assert_granted(&what, &r);
            let what = format!("{name}: preflight {path}");
            let r = Request::preflight(path, EVIL, "DELETE", None).send(port);
            assert_granted(&what, &r);
            if r.one("x-served-by").is_some_and(|route| granted(&route).is_some()) {
                panic!("{what}: a preflight for a route with a policy reached its upstream\n{}", r.dump());
            }
        }
        if name == "envoy defaults" {
            // Envoy routed these to /api/ as sent; the filter cannot know how the upstream reads them.
            assert!(envoy.counter("cors.ambiguous_request_denied") >= 20, "{name}");
            let prom = envoy.prom_value("cors_ambiguous_request_denied");
            assert!(prom.is_some_and(|v| v >= 20.0), "{name}: Prometheus name as README says: {prom:?}");
        }
    }
}

fn host_gateway() -> Value {
    json!({
        "mode": "off",
        "policies": [{"match": {"hosts": ["a.example.com"]}, "allow_origins": [APP], "allow_credentials": true}]
    })
}

#[test]
fn ambiguous_hosts_never_widen_access() {
    let (a, other) = (reflecting("a-host"), reflecting("other"));
    for (name, hcm) in settings() {
        // The host's virtual host takes any port, as Envoy users write it (`a.example.com:*`).
        let mut listener = ListenerSpec::new("main", &cfg(host_gateway()), "a")
            .vhost(json!({"domains": ["a.example.com", "a.example.com:*"]}))
            .hcm(hcm);
        listener.vhost_name = "a".into();
        let mut config = EnvoyConfig::new().listener(listener).cluster("a", a.port).cluster("other", other.port);
        // A second listener, for the hosts no entry covers, proves the upstream reflects.
        config = config.listener(ListenerSpec::new("plain", &cfg(host_gateway()), "other"));
        let envoy = Envoy::start(&config);
        let port = envoy.port("main");

        let r = Request::get("/").host("b.example.com").origin(EVIL).send(envoy.port("plain"));
        assert_eq!(r.one("access-control-allow-origin").as_deref(), Some(EVIL), "{name}\n{}", r.dump());
        let r = Request::get("/").host("a.example.com:8443").origin(APP).send(port);
        assert_eq!(r.one("access-control-allow-origin").as_deref(), Some(APP), "{name}\n{}", r.dump());

        for host in
            ["a.example.com:1:2", "a.example.com:8443:", "a.example.com.", "A.Example.COM", "a.example.com:8443"]
        {
            let r = Request::get("/").host(host).origin(EVIL).send(port);
            assert_granted(&format!("{name}: GET host {host}"), &r);
            let r = Request::preflight("/", EVIL, "DELETE", None).host(host).send(port);
            assert_granted(&format!("{name}: preflight host {host}"), &r);
            assert!(r.one("x-served-by").is_none(), "{name}: preflight host {host} reached the upstream\n{}", r.dump());
        }
    }
}
