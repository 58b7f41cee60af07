//! Issue 18: what only the native module has, against a real Envoy with dist/libenvoy_cors.so
//! (whatever ARTIFACT says; the shared behaviour runs in every e2e suite with ARTIFACT=native):
//! per-route configuration (`DynamicModuleFilterPerRoute` in `typed_per_filter_config`, on a route
//! and on a virtual host), the configuration as a `google.protobuf.Struct`, a filter name the
//! module does not have, and the load-time log lines.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::{json, Value};
use testkit::prelude::*;

const VHOST_ORIGIN: &str = "https://vhost.example";
const ROUTE_ORIGIN: &str = "https://route.example";

fn only(origin: &str) -> String {
    cfg(json!({ "allow_origins": [origin], "allow_methods": ["PUT"] }))
}

fn start(filter: Value, routes: Vec<Value>, vhost: Option<Value>) -> (Envoy, Upstream) {
    cors_native();
    let up = Upstream::ok();
    let mut l = ListenerSpec::without_plugin("main", "upstream").filter_before(filter).routes(routes);
    if let Some(v) = vhost {
        l = l.vhost(v);
    }
    (Envoy::start(&EnvoyConfig::new().cluster("upstream", up.port).listener(l)), up)
}

fn acao(envoy: &Envoy, path: &str, origin: &str) -> Option<String> {
    let r = Request::get(path).origin(origin).send(envoy.port("main"));
    assert_eq!(r.status, 200, "{}", r.dump());
    r.one("access-control-allow-origin")
}

/// A route's per-route configuration replaces the filter's; a virtual host's applies to its
/// routes without one (Envoy hands the module the most specific). The filter's own applies
/// nowhere here: every route is under the virtual host.
#[test]
fn per_route_configuration_on_a_route_and_a_virtual_host() {
    let mut with_route = route("/route/", "upstream");
    with_route["typed_per_filter_config"] = native_per_route("cors", &only(ROUTE_ORIGIN));
    let (envoy, _up) = start(
        native_filter_named("cors", &only(ALLOWED)),
        vec![with_route, route("/", "upstream")],
        Some(json!({ "typed_per_filter_config": native_per_route("cors", &only(VHOST_ORIGIN)) })),
    );
    assert_eq!(acao(&envoy, "/route/x", ROUTE_ORIGIN).as_deref(), Some(ROUTE_ORIGIN));
    assert_eq!(acao(&envoy, "/route/x", VHOST_ORIGIN), None);
    assert_eq!(acao(&envoy, "/route/x", ALLOWED), None);
    assert_eq!(acao(&envoy, "/other", VHOST_ORIGIN).as_deref(), Some(VHOST_ORIGIN));
    assert_eq!(acao(&envoy, "/other", ALLOWED), None);
    // A preflight on the route is answered by the route's policy, and counted by the filter.
    let r = Request::preflight("/route/x", ROUTE_ORIGIN, "PUT", None).send(envoy.port("main"));
    assert_eq!(r.status, 204, "{}", r.dump());
    assert_eq!(envoy.counter("cors.preflight_allowed"), 1);
    assert_eq!(envoy.counter("cors.actual_allowed"), 2);
}

/// Without per-route configuration the filter's own policy answers.
#[test]
fn without_per_route_configuration_the_filter_policy_answers() {
    let (envoy, _up) = start(native_filter_named("cors", &only(ALLOWED)), vec![route("/", "upstream")], None);
    assert_eq!(acao(&envoy, "/x", ALLOWED).as_deref(), Some(ALLOWED));
    assert_eq!(acao(&envoy, "/x", ROUTE_ORIGIN), None);
}

/// A per-route configuration that does not compile is refused when Envoy loads it, with the
/// key in the log.
#[test]
fn invalid_per_route_configuration_is_refused_at_load() {
    let mut bad = route("/", "upstream");
    bad["typed_per_filter_config"] =
        native_per_route("cors", &cfg(json!({ "allow_origins": ["https://bad.example/"] })));
    let up = Upstream::ok();
    let l = ListenerSpec::without_plugin("main", "upstream")
        .filter_before(native_filter_named("cors", &only(ALLOWED)))
        .routes(vec![bad]);
    let failed = Envoy::start_expect_failure(&EnvoyConfig::new().cluster("upstream", up.port).listener(l));
    assert!(failed.log.contains("allow_origins[0]"), "{}", failed.log);
}

/// The same JSON as a `google.protobuf.Struct` (Envoy hands the module its JSON form).
#[test]
fn configuration_as_a_struct() {
    let filter = json!({
        "name": "cors",
        "typed_config": {
            "@type": DYNAMIC_MODULE_FILTER_TYPE,
            "dynamic_module_config": { "name": "envoy_cors" },
            "filter_name": "cors",
            "filter_config": {
                "@type": "type.googleapis.com/google.protobuf.Struct",
                "value": { "allow_origins": [ALLOWED], "allow_methods": ["PUT"], "max_age": 600 }
            }
        }
    });
    let (envoy, _up) = start(filter, vec![route("/", "upstream")], None);
    let r = Request::preflight("/", ALLOWED, "PUT", None).send(envoy.port("main"));
    assert_eq!(r.status, 204, "{}", r.dump());
    assert_eq!(r.must("access-control-max-age"), "600");
    assert_eq!(r.must("access-control-allow-origin"), ALLOWED);
}

/// The module has one filter, `cors`: another name is refused with a clear line.
#[test]
fn unknown_filter_name_is_refused() {
    let mut filter = native_filter_named("cors", &only(ALLOWED));
    filter["typed_config"]["filter_name"] = json!("cors-typo");
    let up = Upstream::ok();
    let l = ListenerSpec::without_plugin("main", "upstream").filter_before(filter).routes(vec![route("/", "upstream")]);
    let failed = Envoy::start_expect_failure(&EnvoyConfig::new().cluster("upstream", up.port).listener(l));
    assert!(failed.log.contains("unknown filter_name \"cors-typo\""), "{}", failed.log);
}

/// Envoy 1.38 on serves the ABI the module is built for (v0.1.0; 1.40 expects v0.2.0 and loads
/// v0.1.0); older Envoys (1.37 requires an exact ABI hash) must refuse it with a line that says
/// why. `make test-envoy-matrix` runs this against every version.
#[test]
fn the_module_loads_only_where_its_abi_is_served() {
    let mut filter = native_filter_named("cors", &only(ALLOWED));
    filter["typed_config"]["dynamic_module_config"] = json!({ "name": "envoy_cors" });
    let up = Upstream::ok();
    let l = ListenerSpec::without_plugin("main", "upstream").filter_before(filter).routes(vec![route("/", "upstream")]);
    let cfg = EnvoyConfig::new().cluster("upstream", up.port).listener(l);
    cors_native();
    if Envoy::version() >= (1, 38) {
        let envoy = Envoy::start(&cfg);
        assert_eq!(acao(&envoy, "/", ALLOWED).as_deref(), Some(ALLOWED));
    } else {
        let failed = Envoy::start_expect_failure(&cfg);
        assert!(
            failed.log.contains("does not serve the dynamic-module ABI v0.1.0"),
            "Envoy {:?} refused the module without saying why:\n{}",
            Envoy::version(),
            failed.log
        );
    }
}

/// `make run ARTIFACT=native` serves the same policy as `make run`: the demo configurations'
/// plugin JSON (the block after `value: |`) is the same text, indentation aside.
#[test]
fn native_demo_config_has_the_wasm_demo_policy() {
    let policy = |file: &str| -> Vec<String> {
        let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
        let start = text.find("value: |").unwrap_or_else(|| panic!("{file}: no `value: |`"));
        let end = text[start..].find("envoy.filters.http.router").unwrap() + start;
        text[start..end]
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('-'))
            .map(String::from)
            .collect()
    };
    assert_eq!(policy("envoy/envoy-native.yaml"), policy("envoy/envoy.yaml"));
}
