//! Invalid plugin configurations are refused by a real Envoy at startup, after exactly one
//! error-level log line from the plugin naming the key (and, for origins, the value).

mod support;

use serde_json::{json, Value};
use support::*;

/// Starts Envoy with `plugin` and expects it to refuse the configuration. `Err` describes what
/// went wrong, so one test can report every failing case at once.
fn refused(plugin: &str, key: &str, value: Option<&str>) -> Result<(), String> {
    let up = Upstream::ok();
    let cfg = EnvoyConfig::simple(plugin, &up);
    let f = match Envoy::try_start(&cfg) {
        Ok(e) => return Err(format!("{plugin}: Envoy ACCEPTED it\n{}", e.log())),
        Err(f) => f,
    };
    if f.status.is_none() {
        return Err(format!("{plugin}: Envoy neither became ready nor exited\n{}", f.log));
    }
    if f.status.is_some_and(|s| s.success()) {
        return Err(format!("{plugin}: Envoy exited 0\n{}", f.log));
    }
    let plugin_errors: Vec<&str> = f.error_lines().into_iter().filter(|l| l.contains("wasm log")).collect();
    if plugin_errors.len() != 1 {
        return Err(format!(
            "{plugin}: expected exactly one error line from the plugin, got {}:\n{}",
            plugin_errors.len(),
            f.log
        ));
    }
    let line = plugin_errors[0];
    // `a|b`: the line must name at least one of the keys
    if !key.split('|').any(|k| line.contains(k)) {
        return Err(format!("{plugin}: error line does not name key {key:?}: {line}"));
    }
    if let Some(v) = value {
        if !line.contains(v) {
            return Err(format!("{plugin}: error line does not name value {v:?}: {line}"));
        }
    }
    Ok(())
}

/// Runs every case; fails listing all the cases that were not refused as expected.
/// Each case: (plugin config, key the error must name (`a|b` = either), value it must name).
fn all_refused(cases: &[(Value, &str, Option<&str>)]) {
    let failures: Vec<String> =
        cases.iter().filter_map(|(c, key, value)| refused(&c.to_string(), key, *value).err()).collect();
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
    // the line names the key holding the `*` or allow_credentials
    all_refused(&[
        (json!({ "allow_origins": ["*"], "allow_credentials": true }), "allow_origins|allow_credentials", None),
        (
            json!({ "allow_origins": [ALLOWED], "allow_headers": ["*"], "allow_credentials": true }),
            "allow_headers|allow_credentials",
            None,
        ),
        (
            json!({ "allow_origins": [ALLOWED], "allow_methods": ["*"], "allow_credentials": true }),
            "allow_methods|allow_credentials",
            None,
        ),
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

#[test]
fn malformed_json_is_refused() {
    let up = Upstream::ok();
    let f = Envoy::start_expect_failure(&EnvoyConfig::simple("{\"allow_origins\": [", &up));
    assert!(f.status.is_some_and(|s| !s.success()), "Envoy should exit with an error: {:?}\n{}", f.status, f.log);
    let lines: Vec<&str> = f.error_lines().into_iter().filter(|l| l.contains("wasm log")).collect();
    assert_eq!(lines.len(), 1, "one plugin error line expected:\n{}", f.log);
}
