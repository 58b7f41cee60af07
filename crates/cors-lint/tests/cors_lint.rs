//! `cors-lint` end to end: the built binary on real files (`cargo test -p cors-lint`).
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cors-lint");

/// The workspace root: the fixtures (`tests/cors-lint/`), `examples/` and `schema/` live there.
fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).current_dir(root()).output().expect("cors-lint runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A file in a fresh temporary directory (removed with the directory handle).
struct Temp(std::path::PathBuf);

impl Temp {
    fn new(name: &str, text: &str) -> Temp {
        let dir = std::env::temp_dir().join(format!("cors-lint-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        Temp(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[test]
fn schema_file_is_current() {
    let out = run(&["schema"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let committed = std::fs::read_to_string(root().join("schema/cors-config.schema.json")).unwrap_or_default();
    assert!(
        stdout(&out) == committed,
        "schema/cors-config.schema.json is not current: regenerate it with `make schema` \
         (cargo run --quiet -p cors-lint -- schema > schema/cors-config.schema.json)"
    );
}

#[test]
fn validate_accepts_the_examples() {
    let out = run(&[
        "validate",
        "envoy/envoy.yaml",
        "examples/envoy/basic.yaml",
        "examples/istio/ingress-gateway.yaml",
        "tests/cors-lint/valid.json",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains("examples/istio/ingress-gateway.yaml: WasmPlugin istio-system/cors spec.pluginConfig: ok"),
        "{text}"
    );
    assert!(text.contains("tests/cors-lint/valid.json: ok"), "{text}");
    assert!(text.contains(", 0 error(s)"), "{text}");
}

#[test]
fn validate_reports_the_plugin_error_line() {
    let bad = Temp::new("bad.json", r#"{"allow_origins": ["*"], "allow_credentials": true}"#);
    let expected = cors_engine::Config::from_json(r#"{"allow_origins": ["*"], "allow_credentials": true}"#)
        .unwrap_err()
        .to_string();
    let out = run(&["validate", bad.path(), "tests/cors-lint/valid.json"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("{}: {expected}", bad.path())), "{text}");
    assert!(text.contains("invalid CORS configuration: `allow_origins[0]`"), "{text}");
    assert!(text.contains("tests/cors-lint/valid.json: ok"), "{text}");
}

#[test]
fn validate_finds_every_config_in_multi_document_yaml() {
    let yaml = r#"
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: cors-a, namespace: a }
spec:
  url: oci://registry.example.com/envoy-cors:1
  pluginConfig:
    allow_origins: [https://a.example.com]
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: cors-b, namespace: b }
spec:
  url: oci://registry.example.com/envoy-cors:1
  pluginConfig:
    allow_origins: [https://b.example.com]
    max_age: 90000
"#;
    let f = Temp::new("plugins.yaml", yaml);
    let out = run(&["validate", f.path()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("document 1: WasmPlugin a/cors-a spec.pluginConfig: ok"), "{text}");
    assert!(
        text.contains(
            "document 2: WasmPlugin b/cors-b spec.pluginConfig: invalid CORS configuration: `max_age` = 90000"
        ),
        "{text}"
    );
}

#[test]
fn validate_exit_status_2_on_io_and_usage_errors() {
    assert_eq!(run(&["validate", "no/such/file.json"]).status.code(), Some(2));
    assert_eq!(run(&["validate"]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(run(&["explain", "tests/cors-lint/valid.json"]).status.code(), Some(2), "--origin is required");
}

#[test]
fn validate_fails_a_file_without_a_config() {
    let f = Temp::new("nothing.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
    let out = run(&["validate", f.path()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("no CORS plugin configuration found"), "{}", stdout(&out));
}

#[test]
fn explain_allowed_preflight() {
    let out = run(&[
        "explain",
        "examples/envoy/policies.yaml",
        "--origin",
        "https://console.example.com",
        "--preflight",
        "--method",
        "PUT",
        "--header",
        "X-CSRF-Token",
        "--host",
        "admin.example.com",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    for line in [
        "policy:    policies[1]",
        "origin:    matches allow_origins[0] \"https://console.example.com\"",
        "decision:  allowed",
        "counter:   cors.preflight_allowed",
        "response:  local reply 204",
        "  access-control-allow-origin: https://console.example.com\n",
        "  access-control-allow-credentials: true\n",
        "  access-control-request-headers: x-csrf-token\n",
        "  vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn explain_denied_origin() {
    let out = run(&[
        "explain",
        "examples/envoy/basic.yaml",
        "--origin",
        "https://evil.example.net",
        "--preflight",
        "--method",
        "PUT",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("decision:  denied: origin \"https://evil.example.net\" not allowed by top level"), "{text}");
    assert!(text.contains("details:   cors_preflight_denied{origin_not_allowed:https://evil.example.net}"), "{text}");
    assert!(text.contains("origin:    matches none of the policy's origin rules"), "{text}");
    assert!(text.contains("response:  local reply 403"), "{text}");
    assert!(!text.contains("access-control-allow-origin"), "{text}");
}

#[test]
fn explain_actual_request_replaces_upstream_cors_headers() {
    let out = run(&[
        "explain",
        "examples/envoy/basic.yaml",
        "--origin",
        "http://localhost:5173",
        "--upstream-header",
        "access-control-allow-origin: *",
        "--upstream-header",
        "vary: Accept-Encoding",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("origin:    matches allow_origins[1] \"http://localhost:*\""), "{text}");
    assert!(text.contains("  access-control-allow-origin: http://localhost:5173   (changed by the filter)"), "{text}");
    assert!(text.contains("  vary: Accept-Encoding,Origin   (changed by the filter)"), "{text}");
}

#[test]
fn explain_names_what_mode_off_passes_through() {
    let config = Temp::new(
        "gateway.json",
        r#"{"mode":"off","policies":[
            {"match":{"hosts":["a.example.com"],"path_prefixes":["/legacy/"]},"mode":"off"},
            {"match":{"hosts":["a.example.com"]},"allow_origins":["https://app.example.com"]}]}"#,
    );
    let explain = |host: &str, path: &str| {
        let o = run(&["explain", config.path(), "--host", host, "--path", path, "--origin", "https://x.example"]);
        (o.status.code(), stdout(&o))
    };
    let (code, out) = explain("b.example.com", "/x");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("decision:  passed through (mode off, chosen by the top level)"), "{out}");
    assert!(out.contains("cors.passed_through"), "{out}");
    let (_, out) = explain("a.example.com", "/legacy/x");
    assert!(out.contains("passed through (mode off, chosen by policies[0])"), "{out}");
    let (code, out) = explain("a.example.com", "/x");
    assert_eq!(code, Some(3), "the covered host is enforced: {out}");
    assert!(out.contains("denied"), "{out}");
}

#[test]
fn validate_shows_every_error() {
    let config = Temp::new(
        "broken.json",
        r#"{"allow_origins":["https://a.com/","http://b.com"],"allow_credentials":true,"max_age":-7}"#,
    );
    let o = run(&["validate", config.path()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    for key in ["`allow_origins[0]`", "`allow_origins[1]`", "`max_age`"] {
        assert_eq!(out.lines().filter(|l| l.contains(key)).count(), 1, "{key} once:\n{out}");
    }
    assert!(out.contains("1 configuration(s) checked, 3 error(s)"), "{out}");
}

#[test]
fn validate_warns_when_mode_off_leaves_nothing_to_do() {
    let config = Temp::new("off.json", r#"{"mode":"off"}"#);
    let o = run(&["validate", config.path()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("warning: `mode` is \"off\" and there are no `policies`: the filter does nothing"));
    let quiet = run(&["validate", "-q", config.path()]);
    assert!(stdout(&quiet).contains("warning:"), "a warning is shown even with --quiet");
}

fn convert(file: &str) -> (Option<i32>, serde_json::Value, String) {
    let out = run(&["convert", file]);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), json, stderr(&out))
}

/// Golden files: each manifest of `tests/cors-lint/*.yaml` and `tests/peers/manifests/*.yaml`
/// converts to exactly `tests/cors-lint/golden/NAME.json` (standard output; no file when the
/// manifest is refused) and `NAME.txt` (the exit status, then standard error: every note or
/// refusal), NAME being the manifest's (`peers-NAME` for the peers'). `UPDATE_GOLDEN=1` rewrites
/// them; review the diff.
#[test]
fn convert_matches_its_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let golden = root().join("tests/cors-lint/golden");
    let mut failures = Vec::new();
    let mut seen = 0;
    for (dir, prefix) in [("tests/cors-lint", ""), ("tests/peers/manifests", "peers-")] {
        let mut inputs: Vec<_> = std::fs::read_dir(root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        inputs.sort();
        for input in inputs {
            seen += 1;
            let out = run(&["convert", &format!("{dir}/{input}")]);
            let name = format!("{prefix}{}", input.trim_end_matches(".yaml"));
            let text = format!("exit {}\n{}", out.status.code().unwrap_or(-1), stderr(&out));
            let json = stdout(&out);
            let (text_path, json_path) = (golden.join(format!("{name}.txt")), golden.join(format!("{name}.json")));
            if update {
                std::fs::create_dir_all(&golden).unwrap();
                std::fs::write(&text_path, &text).unwrap();
                if json.is_empty() {
                    let _ = std::fs::remove_file(&json_path);
                } else {
                    std::fs::write(&json_path, &json).unwrap();
                }
                continue;
            }
            let want_text = std::fs::read_to_string(&text_path).unwrap_or_default();
            let want_json = std::fs::read_to_string(&json_path).unwrap_or_default();
            if text != want_text || json != want_json {
                failures.push(format!("{dir}/{input}:\n{text}{json}\n--- want ---\n{want_text}{want_json}"));
            }
        }
    }
    assert!(seen >= 15, "only {seen} manifests found");
    assert!(
        failures.is_empty(),
        "differs from tests/cors-lint/golden (UPDATE_GOLDEN=1 to rewrite):\n{}",
        failures.join("\n")
    );
}

/// The policy of a route becomes a `policies` entry for that route's hosts (and paths), under a
/// top-level "off" that leaves the proxy's other hosts alone.
#[test]
fn convert_istio_virtual_service() {
    let (code, json, notes) = convert("tests/cors-lint/istio-virtualservice.yaml");
    assert_eq!(code, Some(0), "{notes}");
    // The whole output: tests/cors-lint/golden/istio-virtualservice.json.
    assert_eq!(json["policies"][0]["match"], serde_json::json!({"hosts": ["shop.example.com"]}));
    assert_eq!(json["policies"][0]["unmatched_preflight"], "reject");
    assert!(notes.contains("unmatchedPreflights: IGNORE"), "{notes}");
    assert!(
        notes.contains("note: top-level \"mode\": \"off\": requests that match none of the converted routes"),
        "{notes}"
    );
    cors_engine::Config::from_json(&json.to_string()).unwrap();
}

/// A route-scoped corsPolicy: its hosts and uri prefixes, the routes around it kept in order
/// (a route without corsPolicy before it stays "off"), allowHeaders "*" keeps Authorization,
/// maxAge "-1" becomes 0.
#[test]
fn convert_istio_policy_covers_only_its_route() {
    let (code, json, notes) = convert("tests/cors-lint/istio-routes.yaml");
    assert_eq!(code, Some(0), "{notes}");
    // The whole output: tests/cors-lint/golden/istio-routes.json.
    let hosts = serde_json::json!(["shop.example.com", "*.shop.example.com"]);
    assert_eq!(
        json["policies"][0],
        serde_json::json!({"match": {"hosts": hosts, "path_prefixes": ["/api/internal/"]}, "mode": "off"})
    );
    assert_eq!(json["policies"][1]["allow_headers"], serde_json::json!(["*", "authorization"]));
    assert_eq!(json["policies"][1]["unmatched_preflight"], "forward", "Istio's default, the same behaviour");
    assert!(notes.contains("the exact path \"/graphql\" becomes the prefix \"/graphql\""), "{notes}");
    assert!(notes.contains("so \"authorization\" is added to keep it allowed"), "{notes}");
    cors_engine::Config::from_json(&json.to_string()).unwrap();
    // The converted policy answers as the route's did: Authorization passes; other hosts and the
    // internal route are passed through.
    let f = Temp::new("istio-routes.json", &json.to_string());
    let explain = |args: &[&str]| stdout(&run(&[&["explain", f.path()], args].concat()));
    let api = explain(&[
        "--origin",
        "https://shop.example.com",
        "--preflight",
        "--method",
        "POST",
        "--header",
        "authorization",
        "--host",
        "shop.example.com",
        "--path",
        "/api/cart",
    ]);
    assert!(api.contains("decision:  allowed"), "{api}");
    let internal =
        explain(&["--origin", "https://shop.example.com", "--host", "shop.example.com", "--path", "/api/internal/x"]);
    assert!(internal.contains("cors.passed_through"), "{internal}");
    let other =
        explain(&["--origin", "https://shop.example.com", "--host", "other.example.com", "--path", "/api/cart"]);
    assert!(other.contains("cors.passed_through"), "{other}");
}

#[test]
fn convert_envoy_cors_policy() {
    let (code, json, notes) = convert("tests/cors-lint/envoy-route-cors.yaml");
    assert_eq!(code, Some(0), "{notes}");
    let entry = &json["policies"][0];
    assert_eq!(json["mode"], "off");
    assert_eq!(entry["match"], serde_json::json!({"hosts": ["api.example.com"]}));
    assert_eq!(
        entry["allow_origins"],
        serde_json::json!(["https://app.example.com", "https://*.partners.example.com"])
    );
    assert_eq!(entry["allow_origin_regexes"], serde_json::json!(["http://localhost:[0-9]+"]));
    assert_eq!(entry["allow_methods"], serde_json::json!(["GET", "POST", "PUT", "DELETE"]));
    assert_eq!(entry["max_age"], 86400, "172800 is capped to what browsers honour");
    assert_eq!(entry["allow_private_network"], true);
    assert_eq!(entry["unmatched_preflight"], "reject");
    assert!(notes.contains("also matched http:// origins"), "{notes}");
}

/// A virtual-host policy plus a route policy: merged field by field (route first), as Envoy's
/// CORS filter reads them; the other routes get the virtual host's; max_age "-1" becomes 0.
#[test]
fn convert_envoy_merges_virtual_host_and_route_policies() {
    let (code, json, notes) = convert("tests/cors-lint/envoy-vhost-and-route.yaml");
    assert_eq!(code, Some(0), "{notes}");
    // The whole output: tests/cors-lint/golden/envoy-vhost-and-route.json.
    let (upload, rest) = (&json["policies"][0], &json["policies"][1]);
    assert_eq!(upload["allow_methods"], serde_json::json!(["PUT", "POST"]), "the route's own");
    assert_eq!(upload["allow_credentials"], true, "from the virtual host");
    assert_eq!(rest["allow_methods"], serde_json::json!(["GET", "POST"]), "the virtual host's");
    assert_eq!(rest["max_age"], 0);
    assert!(
        notes.contains(
            "routes[0] and its virtual host both have a CORS policy: merged field by field as Envoy does (route \
             first); from the virtual host: allow_credentials, allow_headers, allow_origin_string_match, \
             forward_not_matching_preflights"
        ),
        "{notes}"
    );
    assert!(notes.contains("domains \"api.example.com:8443\": the port is dropped"), "{notes}");
    cors_engine::Config::from_json(&json.to_string()).unwrap();
}

/// Route conditions the plugin cannot match on are noted, never dropped silently; a path regex
/// is refused.
#[test]
fn convert_envoy_route_conditions_are_noted_or_refused() {
    let route = |m: &str| {
        format!(
            "virtual_hosts:\n- name: api\n  domains: [api.example.com]\n  routes:\n  - match: {m}\n    route: {{cluster: api}}\n\
             \x20   typed_per_filter_config:\n      cors:\n        \"@type\": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy\n\
             \x20       allow_origin_string_match: [{{exact: https://a.example.com}}]\n        forward_not_matching_preflights: true\n"
        )
    };
    let f = Temp::new(
        "conditions.yaml",
        &route("{prefix: /API, case_sensitive: false, headers: [{name: x-v, present_match: true}]}"),
    );
    let (code, json, notes) = convert(f.path());
    assert_eq!(code, Some(0), "{notes}");
    assert_eq!(
        json["policies"][0]["match"],
        serde_json::json!({"hosts": ["api.example.com"], "path_prefixes": ["/API"]})
    );
    assert!(notes.contains("case_sensitive false: Envoy matched the path in any case"), "{notes}");
    assert!(notes.contains("[\"headers\"] have no equivalent in `match`"), "{notes}");
    let f = Temp::new("regex.yaml", &route("{safe_regex: {regex: \"/v[0-9]+/.*\"}}"));
    let (code, _, msg) = convert(f.path());
    assert_eq!(code, Some(1), "{msg}");
    assert!(msg.contains("has no equivalent in match.path_prefixes"), "{msg}");
}

/// Envoy's allow_headers "*" echoed Authorization: kept with and without credentials.
#[test]
fn convert_star_allow_headers_keeps_authorization() {
    for credentials in [false, true] {
        let f = Temp::new(
            "star-headers.yaml",
            &format!(
                "allow_origin_string_match: [{{exact: https://a.example.com}}]\nallow_headers: \"*\"\n\
                 allow_credentials: {credentials}\nmax_age: \"-1\"\n"
            ),
        );
        let (code, json, notes) = convert(f.path());
        assert_eq!(code, Some(0), "{notes}");
        assert_eq!(json["allow_headers"], serde_json::json!(["*", "authorization"]), "{notes}");
        assert_eq!(json["max_age"], 0, "{notes}");
        assert!(notes.contains("Envoy answered with the requested names"), "{notes}");
    }
}

#[test]
fn convert_gateway_api_http_route() {
    let (code, json, notes) = convert("tests/cors-lint/gateway-api-httproute.yaml");
    assert_eq!(code, Some(0), "{notes}");
    // The whole output: tests/cors-lint/golden/gateway-api-httproute.json.
    assert_eq!(json["policies"][0]["mode"], "off", "the longer prefix of a rule without the filter comes first");
    assert_eq!(json["policies"][1]["match"]["path_prefixes"], serde_json::json!(["/api"]));
    assert!(notes.contains("prefix \"/api\" matches whole path segments"), "{notes}");
    assert!(notes.contains("ordered as the Gateway API ranks matches"), "{notes}");
    assert!(
        notes.contains("the Gateway API has the gateway answer preflights from origins that do not match"),
        "{notes}"
    );
}

#[test]
fn convert_gateway_api_refuses_any_host_origins_and_path_regexes() {
    let text = std::fs::read_to_string(root().join("tests/cors-lint/gateway-api-httproute.yaml"))
        .unwrap()
        .replace("- https://*.shop.example.com", "- https://*")
        .replace("{ type: PathPrefix, value: /api }", "{ type: RegularExpression, value: \"/api/v[0-9]+\" }");
    let f = Temp::new("route.yaml", &text);
    let (code, json, msg) = convert(f.path());
    assert_eq!(code, Some(1), "{msg}");
    assert!(json.is_null());
    assert!(msg.contains("\"https://*\" allows every host over that scheme"), "{msg}");
    assert!(msg.contains("the path regex \"/api/v[0-9]+\" has no equivalent"), "{msg}");
}

/// Envoy Gateway SecurityPolicy.spec.cors: a duration maxAge, wildcard origins, and a note that
/// the policy's scope is its targets.
#[test]
fn convert_envoy_gateway_security_policy() {
    let (code, json, notes) = convert("tests/cors-lint/envoy-gateway-securitypolicy.yaml");
    assert_eq!(code, Some(0), "{notes}");
    // The whole output: tests/cors-lint/golden/envoy-gateway-securitypolicy.json.
    assert_eq!(json["max_age"], 5400, "the duration 1h30m");
    assert!(json.get("match").is_none() && json.get("unmatched_preflight").is_none(), "the top level, reject");
    assert!(notes.contains("a SecurityPolicy applies to its targets (Gateway public)"), "{notes}");
    assert!(
        notes.contains(
            "Envoy Gateway (since v1.1) programs Envoy's CORS filter with forward_not_matching_preflights: false"
        ),
        "{notes}"
    );
}

#[test]
fn convert_refuses_unsafe_envoy_matchers() {
    let (code, json, msg) = convert("tests/cors-lint/envoy-unsafe.yaml");
    assert_eq!(code, Some(1));
    assert!(json.is_null(), "nothing on stdout when refused");
    assert!(msg.contains("cannot convert this Envoy policy safely"), "{msg}");
    assert!(msg.contains("prefix \"https://app.example.com\" also matches"), "{msg}");
    assert!(msg.contains("allow_origins [\"https://app.example.com\"]"), "the exact equivalent is offered: {msg}");
    assert!(msg.contains("contains \"example\""), "{msg}");
    assert!(msg.contains("suffix \"example.com\" is not a whole-label domain suffix"), "{msg}");
    assert!(msg.contains("regex \".*\" matches every origin"), "{msg}");
}

#[test]
fn convert_refuses_unsafe_istio_matchers() {
    let (code, _, msg) = convert("tests/cors-lint/istio-unsafe.yaml");
    assert_eq!(code, Some(1));
    assert!(msg.contains("allow_origins [\"http://localhost:*\"]"), "{msg}");
    assert!(msg.contains("is a literal string for Istio"), "{msg}");
    assert!(msg.contains("regex-lite"), "RE2 differences are explained: {msg}");
}

#[test]
fn convert_refuses_what_the_plugin_refuses() {
    // A credentialed http:// origin: listed, but its scheme is the problem, and the hint says so.
    let f = Temp::new(
        "http.yaml",
        "allow_origin_string_match: [{exact: \"http://app.example.com\"}]\nallow_credentials: true\n",
    );
    let (code, _, msg) = convert(f.path());
    assert_eq!(code, Some(1));
    assert!(msg.contains("the converted configuration is refused by the plugin"), "{msg}");
    assert!(msg.contains("`allow_origins[0]`"), "{msg}");
    assert!(msg.contains("its scheme is the problem") && msg.contains("https://"), "{msg}");
    assert!(!msg.contains("list the origins that need credentials"), "it is listed: {msg}");
}

/// Every origin with credentials is the classic CORS vulnerability: refused for every source
/// format, with the safe alternatives.
#[test]
fn convert_refuses_credentialed_star_origins_with_alternatives() {
    let inputs = [
        ("envoy.yaml", "allow_origin_string_match: [{exact: \"*\"}]\nallow_credentials: true\n"),
        ("istio.yaml", "allowOrigins: [{exact: \"*\"}]\nallowCredentials: true\nunmatchedPreflights: IGNORE\n"),
        (
            "route.yaml",
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - \
             filters:\n    - type: CORS\n      cors: {allowOrigins: [\"*\"], allowCredentials: true}\n",
        ),
    ];
    for (name, text) in inputs {
        let f = Temp::new(name, text);
        let (code, json, msg) = convert(f.path());
        assert_eq!(code, Some(1), "{name}: {msg}");
        assert!(json.is_null());
        assert!(msg.contains("every origin (\"*\") with allowCredentials"), "{name}: {msg}");
        assert!(msg.contains("Safe alternatives: list the origins that need credentials"), "{name}: {msg}");
        assert!(msg.contains("set allowCredentials to false"), "{name}: {msg}");
    }
}

/// A VirtualService for every host whose route has no match covers every request: it becomes
/// the top level (never `match: {}`, which the plugin refuses); the routes after it were never
/// reached. Behind another route, it becomes an entry for every path.
#[test]
fn convert_route_matching_everything() {
    let vs = |routes: &str| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: any}}\nspec:\n  hosts: \
             [\"*\"]\n  http:\n{routes}"
        )
    };
    let cors = "  - corsPolicy: {allowOrigins: [{exact: \"https://a.example.com\"}], allowMethods: [PUT]}\n    \
                route: [{destination: {host: a}}]\n";
    let other = "  - route: [{destination: {host: b}}]\n";
    let f = Temp::new("first.yaml", &vs(&format!("{cors}{other}")));
    let (code, json, notes) = convert(f.path());
    assert_eq!(code, Some(0), "{notes}");
    assert_eq!(
        json,
        serde_json::json!({
            "allow_origins": ["https://a.example.com"], "allow_methods": ["PUT"], "unmatched_preflight": "forward"
        }),
        "{notes}"
    );
    assert!(notes.contains("matches every request, so the 1 route(s) after it were never reached"), "{notes}");
    let api = "  - match: [{uri: {prefix: /api/}}]\n    route: [{destination: {host: b}}]\n";
    let f = Temp::new("second.yaml", &vs(&format!("{api}{cors}")));
    let (code, json, notes) = convert(f.path());
    assert_eq!(code, Some(0), "{notes}");
    assert_eq!(json["policies"][0], serde_json::json!({"match": {"path_prefixes": ["/api/"]}, "mode": "off"}));
    assert_eq!(json["policies"][1]["match"], serde_json::json!({"path_prefixes": ["/"]}), "{notes}");
}

#[test]
fn convert_envoy_max_age_minus_one_to_zero() {
    let f = Temp::new(
        "no-cache.yaml",
        "allow_origin_string_match: [{exact: \"https://app.example.com\"}]\nmax_age: \"-1\"\n",
    );
    let (code, json, notes) = convert(f.path());
    assert_eq!(code, Some(0), "{notes}");
    assert_eq!(json["max_age"], 0, "{json}");
    assert!(notes.contains("-1 was sent as is, which is not a valid Access-Control-Max-Age"), "{notes}");
    let f =
        Temp::new("negative.yaml", "allow_origin_string_match: [{exact: \"https://a.example\"}]\nmax_age: \"-5\"\n");
    let (code, _, msg) = convert(f.path());
    assert_eq!(code, Some(1), "{msg}");
    assert!(msg.contains("not a duration"), "{msg}");
}

#[test]
fn convert_output_validates() {
    for input in [
        "envoy-route-cors.yaml",
        "envoy-vhost-and-route.yaml",
        "istio-virtualservice.yaml",
        "istio-routes.yaml",
        "gateway-api-httproute.yaml",
        "envoy-gateway-securitypolicy.yaml",
    ] {
        let (code, json, notes) = convert(&format!("tests/cors-lint/{input}"));
        assert_eq!(code, Some(0), "{input}: {notes}");
        let f = Temp::new(&format!("converted-{input}.json"), &json.to_string());
        assert_eq!(run(&["validate", "-q", f.path()]).status.code(), Some(0), "{input}");
    }
}

#[test]
fn explain_ambiguous_path() {
    let out = run(&[
        "explain",
        "examples/envoy/policies.yaml",
        "--origin",
        "https://evil.example.net",
        "--host",
        "api.example.com",
        "--path",
        "/public/..;/admin",
        "--upstream-header",
        "access-control-allow-origin: https://evil.example.net",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}{}", stderr(&out));
    for line in [
        "policy:    none: ambiguous path: its readings select policies[0] and top level",
        "decision:  denied: the answer must not depend on how the upstream reads the host or path",
        "counter:   cors.ambiguous_request_denied",
        "(removed by the filter: access-control-allow-origin: https://evil.example.net)",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}
