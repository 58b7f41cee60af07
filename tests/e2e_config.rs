//! Invalid plugin configurations are refused by a real Envoy, after exactly one error-level log
//! line from the plugin naming the key (and, where given, the value):
//! - at startup (Envoy exits non-zero): the first case of every table;
//! - as a filesystem-LDS update of a running Envoy (`update_rejected` grows, the old listener
//!   keeps serving): every case of every table. One Envoy compiles the module once and
//!   checks the whole table, which keeps this suite fast.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::{json, Value};
use std::time::Duration;
use testkit::prelude::*;

/// The plugin's error lines must be exactly one, naming `key` (`a|b` = either) and `value`.
fn check_error_line(what: &str, log: &str, key: &str, value: Option<&str>) -> Result<(), String> {
    let plugin_errors: Vec<&str> =
        log.lines().filter(|l| (l.contains("[error]") || l.contains("[critical]")) && l.contains("wasm log")).collect();
    if plugin_errors.len() != 1 {
        return Err(format!(
            "{what}: expected exactly one error line from the plugin, got {}:\n{log}",
            plugin_errors.len()
        ));
    }
    let line = plugin_errors[0];
    if !key.split('|').any(|k| line.contains(k)) {
        return Err(format!("{what}: error line does not name key {key:?}: {line}"));
    }
    if let Some(v) = value {
        if !line.contains(v) {
            return Err(format!("{what}: error line does not name value {v:?}: {line}"));
        }
    }
    Ok(())
}

/// Starts Envoy with `plugin` and expects it to refuse the configuration and exit non-zero.
fn refused_at_startup(plugin: &str, key: &str, value: Option<&str>) -> Result<(), String> {
    let up = Upstream::ok();
    let cfg = EnvoyConfig::simple(plugin, &up);
    let f = match Envoy::try_start(&cfg) {
        Ok(e) => return Err(format!("startup {plugin}: Envoy ACCEPTED it\n{}", e.log())),
        Err(f) => f,
    };
    match f.status {
        None => return Err(format!("startup {plugin}: Envoy neither became ready nor exited\n{}", f.log)),
        Some(s) if s.success() => return Err(format!("startup {plugin}: Envoy exited 0\n{}", f.log)),
        Some(_) => {}
    }
    check_error_line(&format!("startup {plugin}"), &f.log, key, value)
}

/// A running Envoy whose listener comes from a watched file; every update is checked.
struct LdsEnvoy {
    envoy: Envoy,
    _upstream: Upstream,
    _dir: TempDir,
    lds: std::path::PathBuf,
    port: u16,
    version: u32,
}

impl LdsEnvoy {
    fn start() -> LdsEnvoy {
        let upstream = Upstream::ok();
        let dir = TempDir::new("lds-config");
        let lds = dir.path().join("listeners.yaml");
        let port = free_port();
        let valid = json!({ "allow_origins": [ALLOWED], "allow_methods": ["PUT"] }).to_string();
        let l = ListenerSpec::new("main", &valid, "upstream").port(port);
        atomic_write(&lds, &lds_document("0", &[l]));
        let envoy = Envoy::start(&EnvoyConfig::new().cluster("upstream", upstream.port).lds(&lds));
        let me = LdsEnvoy { envoy, _upstream: upstream, _dir: dir, lds, port, version: 0 };
        assert!(
            me.envoy.wait_for(Duration::from_secs(10), |_| me.serves_original()),
            "LDS listener never served\n{}",
            me.envoy.log()
        );
        me
    }

    fn serves_original(&self) -> bool {
        match Request::preflight("/", ALLOWED, "PUT", None).try_send(self.port) {
            Ok(r) => r.status == 204 && r.one("access-control-allow-origin").as_deref() == Some(ALLOWED),
            Err(_) => false,
        }
    }

    fn refused_update(&mut self, plugin: &str, key: &str, value: Option<&str>) -> Result<(), String> {
        let what = format!("LDS update {plugin}");
        let rejected0 = self.envoy.counter_opt("lds.update_rejected").unwrap_or(0);
        let success0 = self.envoy.counter_opt("lds.update_success").unwrap_or(0);
        let log0 = self.envoy.log().len();
        self.version += 1;
        let l = ListenerSpec::new("main", plugin, "upstream").port(self.port);
        atomic_write(&self.lds, &lds_document(&self.version.to_string(), &[l]));
        let done = self.envoy.wait_for(Duration::from_secs(10), |e| {
            e.counter_opt("lds.update_rejected").unwrap_or(0) > rejected0
                || e.counter_opt("lds.update_success").unwrap_or(0) > success0
        });
        let log = self.envoy.log();
        let new_log = log.get(log0..).unwrap_or("");
        if !done {
            return Err(format!("{what}: Envoy neither applied nor rejected it\n{new_log}"));
        }
        if self.envoy.counter_opt("lds.update_success").unwrap_or(0) > success0 {
            // put the original policy back for the next case
            self.version += 1;
            let valid = json!({ "allow_origins": [ALLOWED], "allow_methods": ["PUT"] }).to_string();
            let l = ListenerSpec::new("main", &valid, "upstream").port(self.port);
            atomic_write(&self.lds, &lds_document(&self.version.to_string(), &[l]));
            self.envoy
                .wait_for(Duration::from_secs(10), |e| e.counter_opt("lds.update_success").unwrap_or(0) > success0 + 1);
            return Err(format!("{what}: Envoy ACCEPTED it"));
        }
        check_error_line(&what, new_log, key, value)?;
        if !self.serves_original() {
            return Err(format!("{what}: the old policy stopped serving after the rejection"));
        }
        Ok(())
    }
}

/// Fails listing every case that was not refused as expected.
/// Each case: (plugin config, key the error must name (`a|b` = either), value it must name).
fn all_refused(cases: &[(Value, &str, Option<&str>)]) {
    let mut failures = Vec::new();
    if let Some((c, key, value)) = cases.first() {
        failures.extend(refused_at_startup(&c.to_string(), key, *value).err());
    }
    let mut lds = LdsEnvoy::start();
    for (c, key, value) in cases {
        failures.extend(lds.refused_update(&c.to_string(), key, *value).err());
    }
    lds.envoy.assert_alive();
    assert!(
        failures.is_empty(),
        "{} of {} invalid configs were not refused as expected:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn valid_config_with_every_key_loads() {
    let up = Upstream::ok();
    let plugin = json!({
        "allow_origins": [ALLOWED, "https://*.example.org", "http://localhost:*"],
        "allow_origin_regexes": ["https://[a-z]+\\.example\\.net"],
        "allow_null_origin": false,
        "allow_methods": ["GET", "PUT", "PATCH"],
        "allow_headers": ["x-custom", "content-type"],
        "expose_headers": ["x-request-id"],
        "allow_credentials": true,
        "max_age": 600,
        "allow_private_network": true,
        "preflight_success_status": 200,
        "unmatched_preflight": "forward",
        "mode": "enforce",
        "policies": [
            { "match": { "hosts": ["api.example.com", "*.api.example.com"], "path_prefixes": ["/v1/"] },
              "allow_origins": ["https://partner.example"], "max_age": -1 }
        ]
    });
    let e = Envoy::start(&EnvoyConfig::simple(&cfg(plugin), &up));
    let r = Request::get("/").origin(ALLOWED).send(e.port("main"));
    assert_eq!(r.status, 200, "{}", r.dump());
    assert!(
        !e.log().lines().any(|l| l.contains("[error]") && l.contains("wasm")),
        "a valid config logged an error:\n{}",
        e.log()
    );
}

#[test]
fn unknown_keys_are_refused() {
    all_refused(&[
        (json!({ "allow_origins": [ALLOWED], "allow_orgins": [ALLOWED] }), "allow_orgins", None),
        (json!({ "allow_origins": [ALLOWED], "allowCredentials": true }), "allowCredentials", None),
        (
            json!({ "allow_origins": [ALLOWED],
                    "policies": [ { "match": { "hosts": ["a.example"] }, "alow_methods": ["GET"] } ] }),
            "alow_methods",
            None,
        ),
        (
            json!({ "allow_origins": [ALLOWED],
                    "policies": [ { "match": { "hostz": ["a.example"] } } ] }),
            "hostz",
            None,
        ),
    ]);
}

#[test]
fn wrong_types_are_refused() {
    all_refused(&[
        (json!({ "allow_origins": ALLOWED }), "allow_origins", None),
        (json!({ "allow_origins": [ALLOWED], "allow_credentials": "yes" }), "allow_credentials", None),
        (json!({ "allow_origins": [ALLOWED], "max_age": "600" }), "max_age", None),
        (json!({ "allow_origins": [ALLOWED], "allow_methods": "GET" }), "allow_methods", None),
        (json!({ "allow_origins": [ALLOWED], "allow_headers": [1, 2] }), "allow_headers", None),
        (json!({ "allow_origins": [ALLOWED], "preflight_success_status": "204" }), "preflight_success_status", None),
        (json!({ "allow_origins": [ALLOWED], "policies": { "match": {} } }), "policies", None),
    ]);
}

#[test]
fn bad_origins_are_refused() {
    let bad = [
        "https://app.example.com/",
        "https://app.example.com/path",
        "https://app.example.com?q=1",
        "app.example.com",
        "https://user@app.example.com",
        "https://app.example.com:443",
        "http://app.example.com:80",
        "https://app.example.com:0",
        "https://app.example.com:65536",
        "https://exa*mple.com",
        "https://*example.com",
        "null",
        "file://app",
        "ftp://app.example.com",
        "https://256.1.1.1",
    ];
    let mut cases: Vec<(Value, &str, Option<&str>)> =
        bad.iter().map(|o| (json!({ "allow_origins": [o] }), "allow_origins", Some(*o))).collect();
    cases.push((json!({ "allow_origins": ["https://bücher.example"] }), "allow_origins", None));
    cases.push((json!({ "allow_origins": [] }), "allow_origins", None));
    cases.push((json!({}), "allow_origins", None));
    cases.push((
        json!({ "allow_origins": [ALLOWED], "allow_origin_regexes": ["https://(a"] }),
        "allow_origin_regexes",
        None,
    ));
    all_refused(&cases);
}

#[test]
fn star_with_credentials_is_refused() {
    // the line names the key holding the `*` or allow_credentials (`allow_headers: ["*"]` and
    // `allow_methods: ["*"]` with credentials load: the request is echoed, tests/e2e_preflight.rs)
    all_refused(&[
        (json!({ "allow_origins": ["*"], "allow_credentials": true }), "allow_origins|allow_credentials", None),
        (
            json!({ "allow_origins": [ALLOWED], "expose_headers": ["*"], "allow_credentials": true }),
            "expose_headers|allow_credentials",
            None,
        ),
        (
            json!({ "allow_origins": [ALLOWED], "allow_credentials": true,
                    "policies": [ { "match": { "hosts": ["a.example"] }, "allow_origins": ["*"] } ] }),
            "allow_origins|allow_credentials",
            None,
        ),
    ]);
}

#[test]
fn credentials_with_insecure_origins_are_refused() {
    all_refused(&[
        (
            json!({ "allow_origins": ["http://app.example.com"], "allow_credentials": true }),
            "allow_origins",
            Some("http://app.example.com"),
        ),
        (
            json!({ "allow_origins": ["https://*.com"], "allow_credentials": true }),
            "allow_origins",
            Some("https://*.com"),
        ),
        (
            json!({ "allow_origins": ["https://*.github.io"], "allow_credentials": true }),
            "allow_origins",
            Some("https://*.github.io"),
        ),
    ]);
}

#[test]
fn forbidden_or_invalid_methods_are_refused() {
    all_refused(&[
        (json!({ "allow_origins": [ALLOWED], "allow_methods": ["GET", "TRACE"] }), "allow_methods", Some("TRACE")),
        (json!({ "allow_origins": [ALLOWED], "allow_methods": ["CONNECT"] }), "allow_methods", Some("CONNECT")),
        (json!({ "allow_origins": [ALLOWED], "allow_methods": ["track"] }), "allow_methods", None),
        (json!({ "allow_origins": [ALLOWED], "allow_methods": ["GE T"] }), "allow_methods", None),
        (json!({ "allow_origins": [ALLOWED], "allow_methods": [""] }), "allow_methods", None),
    ]);
}

#[test]
fn forbidden_or_invalid_headers_are_refused() {
    all_refused(&[
        (json!({ "allow_origins": [ALLOWED], "allow_headers": ["x ok"] }), "allow_headers", None),
        (json!({ "allow_origins": [ALLOWED], "allow_headers": ["cookie"] }), "allow_headers", Some("cookie")),
        (json!({ "allow_origins": [ALLOWED], "allow_headers": ["proxy-authorization"] }), "allow_headers", None),
        (json!({ "allow_origins": [ALLOWED], "allow_headers": ["sec-fetch-mode"] }), "allow_headers", None),
        (json!({ "allow_origins": [ALLOWED], "expose_headers": ["set-cookie"] }), "expose_headers", Some("set-cookie")),
        (json!({ "allow_origins": [ALLOWED], "expose_headers": ["x:y"] }), "expose_headers", None),
    ]);
}

#[test]
fn out_of_range_values_are_refused() {
    all_refused(&[
        (json!({ "allow_origins": [ALLOWED], "max_age": 86401 }), "max_age", Some("86401")),
        (json!({ "allow_origins": [ALLOWED], "max_age": -2 }), "max_age", Some("-2")),
        (json!({ "allow_origins": [ALLOWED], "preflight_success_status": 201 }), "preflight_success_status", None),
        (json!({ "allow_origins": [ALLOWED], "unmatched_preflight": "drop" }), "unmatched_preflight", Some("drop")),
        (json!({ "allow_origins": [ALLOWED], "mode": "audit" }), "mode", Some("audit")),
    ]);
}

/// Issue 10 items 3 and 4: the dotted form of an IPv4-mapped origin (the error names the form
/// browsers send), response-only names in allow_headers, request-only names in expose_headers,
/// `*.` patterns that can only match names longer than 253 characters, invalid punycode.
#[test]
fn origins_and_headers_that_can_never_apply_are_refused() {
    let long = format!("https://*.{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(60));
    all_refused(&[
        (
            json!({ "allow_origins": ["http://[::ffff:127.127.127.127]:90"] }),
            "allow_origins[0]",
            Some("[::ffff:7f7f:7f7f]"),
        ),
        (json!({ "allow_origins": ["http://[0:0:0:0:0:0:0:1]:4000"] }), "allow_origins[0]", Some("`[::1]`")),
        (
            json!({ "allow_origins": [ALLOWED], "allow_headers": ["x-custom", "access-control-allow-origin"] }),
            "allow_headers[1]",
            Some("response-only"),
        ),
        (
            json!({ "allow_origins": [ALLOWED], "allow_headers": ["Access-Control-Max-Age"] }),
            "allow_headers[0]",
            Some("response-only"),
        ),
        (
            json!({ "allow_origins": [ALLOWED], "expose_headers": ["access-control-request-headers"] }),
            "expose_headers[0]",
            Some("request-only"),
        ),
        (
            json!({ "allow_origins": [ALLOWED], "expose_headers": ["origin"] }),
            "expose_headers[0]",
            Some("request-only"),
        ),
        (json!({ "allow_origins": [long] }), "allow_origins[0]", Some("longer than 253 characters")),
        (json!({ "allow_origins": ["https://xn--f.example"] }), "allow_origins[0]", Some("punycode")),
        (json!({ "allow_origins": ["https://*.xn--abc-.example"] }), "allow_origins[0]", Some("`abc`")),
    ]);
}

#[test]
fn malformed_json_is_refused() {
    let up = Upstream::ok();
    let f = Envoy::start_expect_failure(&EnvoyConfig::simple("{\"allow_origins\": [", &up));
    assert!(f.status.is_some_and(|s| !s.success()), "Envoy should exit with an error: {:?}\n{}", f.status, f.log);
    let lines: Vec<&str> = f.error_lines().into_iter().filter(|l| l.contains("wasm log")).collect();
    assert_eq!(lines.len(), 1, "one plugin error line expected:\n{}", f.log);
}
