//! Issue 19: per-policy counters. Each entry of `policies` has a label (`name`, or its index;
//! `top_level` for the top level), validated and unique; every count names its policy; a shadow
//! would-deny of an origin that is no scanner's is counted apart, so a rollout can be decided
//! under scanner noise. Through `simulate` and the fake host (the code the plugin runs).
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use cors_engine::config::Rule;
use cors_engine::counter::Counter;
use cors_engine::fake_host::FakeHost;
use cors_engine::stream::StreamFilter;
use cors_engine::Config;

const GATEWAY: &str = r#"{
    "allow_origins": ["https://www.example.com"],
    "policies": [
        { "name": "checkout", "match": { "hosts": ["pay.example.com"] }, "allow_origins": ["https://shop.example.com"] },
        { "match": { "hosts": ["api.example.com"] }, "allow_origins": ["https://app.example.com"], "allow_methods": ["PUT"] },
        { "name": "beta-api", "match": { "hosts": ["beta.example.com"] }, "mode": "shadow",
          "allow_origins": ["https://beta.example.com"], "allow_methods": ["PUT"] }
    ]
}"#;

fn counted(config: &Arc<Config>, host: &str, origin: &str, preflight: Option<&str>) -> Vec<(Counter, String)> {
    let mut lines = vec![(":authority", host), (":path", "/"), ("origin", origin)];
    match preflight {
        Some(method) => lines.extend([(":method", "OPTIONS"), ("access-control-request-method", method)]),
        None => lines.push((":method", "GET")),
    }
    let fake = FakeHost::request(&lines);
    let mut filter = StreamFilter::new(Arc::clone(config));
    filter.on_request_headers(&fake);
    fake.counted_by_policy.into_inner()
}

#[test]
fn labels_are_names_indexes_and_top_level() {
    let config = Config::from_json(GATEWAY).unwrap();
    let labels: Vec<&str> = config.policies().map(|p| p.label()).collect();
    assert_eq!(labels, ["top_level", "checkout", "1", "beta-api"]);
    let slots: Vec<usize> = config.policies().map(|p| p.slot()).collect();
    assert_eq!(slots, [0, 1, 2, 3]);
    assert_eq!(config.routes()[0].policy.name(), "policies[0] (checkout)");
}

#[test]
fn every_count_names_its_policy() {
    let config = Arc::new(Config::from_json(GATEWAY).unwrap());
    assert_eq!(
        counted(&config, "pay.example.com", "https://shop.example.com", None),
        [(Counter::ActualAllowed, "checkout".to_owned())]
    );
    assert_eq!(
        counted(&config, "api.example.com", "https://app.example.com", Some("DELETE")),
        [(Counter::PreflightDeniedMethod, "1".to_owned())]
    );
    assert_eq!(
        counted(&config, "www.example.com", "https://evil.example", None),
        [(Counter::ActualDenied, "top_level".to_owned())]
    );
}

#[test]
fn shadow_would_deny_of_a_known_origin_is_counted_apart_from_scanners() {
    let config = Arc::new(Config::from_json(GATEWAY).unwrap());
    let beta = |c: Counter| (c, "beta-api".to_owned());
    // A scanner's origin: would-deny only.
    assert_eq!(
        counted(&config, "beta.example.com", "https://scanner.invalid", None),
        [beta(Counter::ActualDenied), beta(Counter::ShadowWouldDeny)]
    );
    // An origin an enforced policy allows (the app's own front-end): a real breakage.
    assert_eq!(
        counted(&config, "beta.example.com", "https://app.example.com", None),
        [beta(Counter::ActualDenied), beta(Counter::ShadowWouldDeny), beta(Counter::ShadowWouldDenyKnownOrigin)]
    );
    // Its own origin, refused for the method: known too.
    assert_eq!(
        counted(&config, "beta.example.com", "https://beta.example.com", Some("DELETE")),
        [
            beta(Counter::PreflightDeniedMethod),
            beta(Counter::ShadowWouldDeny),
            beta(Counter::ShadowWouldDenyKnownOrigin)
        ]
    );
    // A scanner's preflight: not known.
    assert_eq!(
        counted(&config, "beta.example.com", "https://scanner.invalid", Some("PUT")),
        [beta(Counter::PreflightDeniedOrigin), beta(Counter::ShadowWouldDeny)]
    );
}

#[test]
fn names_are_validated_and_unique() {
    let entry =
        |name: &str| format!(r#"{{"match":{{"hosts":["a.com"]}},"allow_origins":["https://a.com"],"name":{name}}}"#);
    for (name, words) in [
        (r#""Beta""#, "lowercase"),
        (r#""1st""#, "starting with a letter"),
        (r#""a.b""#, "lowercase letters"),
        (r#""top_level""#, "names the top level"),
        (&format!(r#""{}""#, "a".repeat(64)), "1 to 63"),
    ] {
        let text = format!(r#"{{"allow_origins":["https://a.com"],"policies":[{}]}}"#, entry(name));
        let e = Config::from_json(&text).unwrap_err().into_vec().remove(0);
        assert_eq!((e.key.as_str(), e.rule), ("policies[0].name", Rule::Name), "{name}");
        assert!(e.reason.contains(words), "{name}: {}", e.reason);
    }
    let twice =
        format!(r#"{{"allow_origins":["https://a.com"],"policies":[{},{}]}}"#, entry(r#""x""#), entry(r#""x""#));
    let e = Config::from_json(&twice).unwrap_err().into_vec().remove(0);
    assert_eq!((e.key.as_str(), e.rule), ("policies[1].name", Rule::Name));
    let top = Config::from_json(r#"{"allow_origins":["https://a.com"],"name":"x"}"#).unwrap_err();
    assert_eq!(top.first().unwrap().rule, Rule::Placement);
}
