//! Issue 2, behaviour items 5 and 7 (actual requests, requests without Origin) and policy
//! selection by host and path, against a real Envoy with dist/cors.wasm.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::json;
use testkit::prelude::*;

fn base() -> serde_json::Value {
    json!({
        "allow_origins": [ALLOWED],
        "allow_methods": ["GET", "PUT"],
        "expose_headers": ["x-request-id", "x-total"],
        "allow_credentials": true
    })
}

/// Headers that legitimately differ between two otherwise identical responses.
fn comparable(r: &Response) -> Vec<(String, Vec<u8>)> {
    r.headers.iter().filter(|(n, _)| n != "date" && n != "x-envoy-upstream-service-time").cloned().collect()
}

/// Item 5: allowed origin gets ACAO (echo), ACAC, ACEH; Vary gains Origin merged.
#[test]
fn allowed_origin_gets_acao_acac_aceh_and_merged_vary() {
    let f = Fixture::with_upstream(
        base(),
        Upstream::with_headers(200, &[("vary", "Accept-Encoding"), ("x-request-id", "42")]),
    );
    let r = f.send(Request::get("/api").origin(ALLOWED));
    assert_eq!(r.status, 200, "{}", r.dump());
    assert_eq!(r.body_str(), "upstream body\n");
    assert_eq!(r.must("access-control-allow-origin"), ALLOWED);
    assert_eq!(r.must("access-control-allow-credentials"), "true");
    let aceh = r.must("access-control-expose-headers");
    assert!(list_has(&aceh, "x-request-id") && list_has(&aceh, "x-total"), "ACEH {aceh:?}");
    assert_eq!(r.must("x-request-id"), "42");
    assert_eq!(
        r.vary_tokens(),
        vec!["Accept-Encoding".to_string(), "Origin".to_string()],
        "Vary must keep the upstream value and gain Origin once\n{}",
        r.dump()
    );
    assert_eq!(f.upstream.hits(), 1);
    assert_eq!(f.upstream.requests()[0].header("origin"), Some(ALLOWED));

    // non-GET actual request too
    let r = f.send(Request::new("PUT", "/api").origin(ALLOWED).body(b"{}"));
    assert_eq!(r.status, 200, "{}", r.dump());
    assert_eq!(r.must("access-control-allow-origin"), ALLOWED);
}

/// Item 5: a Vary that already names Origin (any case) is not given a second one.
#[test]
fn vary_already_naming_origin_keeps_the_upstream_list() {
    let f = Fixture::with_upstream(base(), Upstream::with_headers(200, &[("vary", "origin, Accept-Encoding")]));
    let r = f.send(Request::get("/").origin(ALLOWED));
    assert_eq!(r.status, 200);
    // Appended without reading the response: `origin` twice, which a cache reads as once.
    let toks: Vec<String> = r.vary_tokens().iter().map(|t| t.to_ascii_lowercase()).collect();
    assert_eq!(toks, ["origin", "accept-encoding", "origin"], "{}", r.dump());
}

/// Item 5: Vary spread over several upstream lines: every token kept, Origin added once.
#[test]
fn vary_over_several_upstream_lines_is_merged_without_duplicates() {
    let f =
        Fixture::with_upstream(base(), Upstream::with_headers(200, &[("vary", "Accept-Encoding"), ("vary", "Cookie")]));
    // the upstream itself sent two Vary lines, so no "header appears once" check here
    let r = Request::get("/").origin(ALLOWED).send(f.port());
    assert_eq!(r.status, 200, "{}", r.dump());
    let toks: Vec<String> = r.vary_tokens().iter().map(|t| t.to_ascii_lowercase()).collect();
    for t in ["accept-encoding", "cookie", "origin"] {
        assert_eq!(toks.iter().filter(|x| *x == t).count(), 1, "Vary token {t} not exactly once\n{}", r.dump());
    }
    assert_eq!(r.must("access-control-allow-origin"), ALLOWED);
}

/// Item 5: every access-control-* header of an actual response that a browser reads (ACAO,
/// ACAC, ACEH) is the policy's; the upstream's preflight-only ones are left alone.
#[test]
fn upstream_cors_headers_are_replaced_not_duplicated() {
    let f = Fixture::with_upstream(
        base(),
        Upstream::with_headers(
            200,
            &[
                ("access-control-allow-origin", "https://upstream.example"),
                ("access-control-allow-origin", "*"),
                ("access-control-allow-credentials", "false"),
                ("access-control-expose-headers", "x-upstream-secret"),
                ("access-control-allow-methods", "GET, POST, DELETE"),
                ("access-control-max-age", "99999"),
            ],
        ),
    );
    let r = f.send(Request::get("/").origin(ALLOWED));
    assert_eq!(r.status, 200, "{}", r.dump());
    assert_eq!(r.must("access-control-allow-origin"), ALLOWED);
    assert_eq!(r.must("access-control-allow-credentials"), "true");
    let aceh = r.must("access-control-expose-headers");
    assert!(list_has(&aceh, "x-request-id"), "ACEH {aceh:?}");
    assert!(!list_has(&aceh, "x-upstream-secret"), "upstream ACEH survived: {aceh:?}");
    let mut names: Vec<String> = r.cors_headers().into_iter().map(|(n, _)| n).collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "access-control-allow-credentials",
            "access-control-allow-methods",
            "access-control-allow-origin",
            "access-control-expose-headers",
            "access-control-max-age"
        ],
        "each once, ACAO/ACAC/ACEH the policy's\n{}",
        r.dump()
    );
    assert_eq!(r.must("access-control-max-age"), "99999", "preflight-only: left alone");
}

/// An upstream's `Access-Control-Allow-Credentials` is removed when the policy grants none.
#[test]
fn upstream_credentials_are_removed_when_the_policy_has_none() {
    let f = Fixture::with_upstream(
        json!({ "allow_origins": [ALLOWED] }),
        Upstream::with_headers(
            200,
            &[("access-control-allow-credentials", "true"), ("access-control-expose-headers", "x-upstream-secret")],
        ),
    );
    let r = f.send(Request::get("/").origin(ALLOWED));
    assert_eq!(r.status, 200, "{}", r.dump());
    assert_eq!(r.must("access-control-allow-origin"), ALLOWED);
    assert!(r.all("access-control-allow-credentials").is_empty(), "{}", r.dump());
    assert!(r.all("access-control-expose-headers").is_empty(), "{}", r.dump());
}

/// Item 5: `*` policy behind an upstream that also says `*`: one `*`, never `*,*`; the
/// upstream's ACAC is dropped as the policy has no credentials.
#[test]
fn star_policy_behind_star_upstream_gives_one_star() {
    let f = Fixture::with_upstream(
        json!({ "allow_origins": ["*"] }),
        Upstream::with_headers(
            200,
            &[("access-control-allow-origin", "*"), ("access-control-allow-credentials", "true")],
        ),
    );
    let r = f.send(Request::get("/").origin("https://anyone.example"));
    assert_eq!(r.status, 200, "{}", r.dump());
    assert_eq!(r.all("access-control-allow-origin"), vec!["*".to_string()], "{}", r.dump());
    assert!(
        !r.has("access-control-allow-credentials"),
        "upstream ACAC kept under a policy without credentials\n{}",
        r.dump()
    );
}

/// Item 5: a disallowed origin gets the upstream response with no CORS headers (not even the
/// upstream's own).
#[test]
fn denied_origin_gets_no_cors_headers() {
    // the upstream's own ACAO must not leak to a disallowed origin either
    let f = Fixture::with_upstream(
        base(),
        Upstream::with_headers(
            200,
            &[("x-request-id", "7"), ("access-control-allow-origin", "https://upstream.example")],
        ),
    );
    for origin in [
        DENIED,
        "https://app.example.com.evil.net",
        "https://evilapp.example.com",
        "http://app.example.com",
        "https://app.example.com:8443",
        "null",
    ] {
        let r = f.send(Request::get("/").origin(origin));
        assert_eq!(r.status, 200, "origin {origin}\n{}", r.dump());
        assert_eq!(r.body_str(), "upstream body\n");
        assert_eq!(r.must("x-request-id"), "7");
        assert!(r.cors_headers().is_empty(), "origin {origin} got CORS headers\n{}", r.dump());
    }
}

/// Item 7: no Origin: untouched except `Vary: Origin` (merged, once).
#[test]
fn request_without_origin_only_gains_vary_origin() {
    let up = Upstream::start(|req| {
        if req.path.starts_with("/ae") {
            Reply::status(200, &[("vary", "Accept-Encoding"), ("x-up", "1")])
        } else {
            Reply::status(200, &[("x-up", "1")])
        }
    });
    let envoy = Envoy::start(
        &EnvoyConfig::new()
            .cluster("upstream", up.port)
            .listener(ListenerSpec::new("main", &cfg(base()), "upstream"))
            .listener(ListenerSpec::without_plugin("bare", "upstream")),
    );
    for (path, expect_vary) in [("/plain", vec!["Origin"]), ("/ae", vec!["Accept-Encoding", "Origin"])] {
        let with = Request::get(path).send(envoy.port("main"));
        with.assert_well_formed();
        let without = Request::get(path).send(envoy.port("bare"));
        assert_eq!(with.status, 200, "{}", with.dump());
        with.assert_no_cors_headers();
        assert_eq!(with.vary_tokens(), expect_vary, "{}", with.dump());
        let strip_vary = |r: &Response| -> Vec<(String, Vec<u8>)> {
            comparable(r).into_iter().filter(|(n, _)| n != "vary").collect()
        };
        assert_eq!(
            strip_vary(&with),
            strip_vary(&without),
            "the plugin changed more than Vary\nwith plugin:\n{}without:\n{}",
            with.dump(),
            without.dump()
        );
        assert_eq!(with.body, without.body);
    }
    let seen = up.requests();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|s| s.header("origin").is_none()));
}

/// (host, path, origin, expected ACAO, expected ACAC)
type PolicyCase = (&'static str, &'static str, &'static str, Option<&'static str>, Option<&'static str>);

/// Policies are selected by :authority (exact or `*.domain`, port ignored) and :path prefix;
/// first match wins; otherwise the top level applies. Origin keys form one group.
#[test]
fn policies_selected_by_host_and_path_prefix() {
    let f = Fixture::new(json!({
        "allow_origins": ["https://top.example"],
        "allow_null_origin": true,
        "dangerously_allow_null_origin_with_credentials": true,
        "allow_credentials": true,
        "allow_methods": ["PUT"],
        "policies": [
            { "match": { "hosts": ["api.example.com"] }, "allow_origins": ["https://api-client.example"] },
            { "match": { "hosts": ["*.wild.example"] }, "allow_origins": ["https://wild-client.example"] },
            { "match": { "path_prefixes": ["/public/"] }, "allow_origins": ["*"], "allow_credentials": false },
            { "match": { "hosts": ["both.example"], "path_prefixes": ["/x"] },
              "allow_origins": ["https://both-client.example"] }
        ]
    }));
    // (host, path, origin, expected ACAO, expected ACAC)
    let cases: &[PolicyCase] = &[
        ("api.example.com", "/", "https://api-client.example", Some("https://api-client.example"), Some("true")),
        ("api.example.com:8443", "/", "https://api-client.example", Some("https://api-client.example"), Some("true")),
        ("API.example.com", "/", "https://api-client.example", Some("https://api-client.example"), Some("true")),
        ("api.example.com", "/", "https://top.example", None, None),
        // origin keys are one group: the policy's allow_origins drops the top-level null
        ("api.example.com", "/", "null", None, None),
        // first match wins: host policy before the /public/ policy
        ("api.example.com", "/public/a", "https://random.example", None, None),
        ("other.example", "/", "https://top.example", Some("https://top.example"), Some("true")),
        ("other.example", "/", "null", Some("null"), Some("true")),
        ("other.example", "/", "https://api-client.example", None, None),
        ("a.wild.example", "/", "https://wild-client.example", Some("https://wild-client.example"), Some("true")),
        ("a.wild.example:80", "/", "https://wild-client.example", Some("https://wild-client.example"), Some("true")),
        ("wild.example", "/", "https://wild-client.example", None, None),
        ("other.example", "/public/a", "https://random.example", Some("*"), None),
        ("other.example", "/publicity", "https://random.example", None, None),
        ("both.example", "/x/y", "https://both-client.example", Some("https://both-client.example"), Some("true")),
        ("both.example", "/z", "https://both-client.example", None, None),
        ("other.example", "/x", "https://both-client.example", None, None),
    ];
    let mut failures = Vec::new();
    for &(host, path, origin, acao, acac) in cases {
        let r = f.send(Request::get(path).host(host).origin(origin));
        let got = (r.one("access-control-allow-origin"), r.one("access-control-allow-credentials"));
        let want = (acao.map(str::to_string), acac.map(str::to_string));
        if r.status != 200 || got != want {
            failures.push(format!(
                "host {host} path {path} origin {origin}: want ACAO/ACAC {want:?}, got {got:?} (status {})",
                r.status
            ));
        }
    }
    // a preflight under a host policy inherits allow_methods from the top level
    let r = f.send(Request::preflight("/", "https://api-client.example", "PUT", None).host("api.example.com"));
    if r.status != 204 || r.one("access-control-allow-origin").as_deref() != Some("https://api-client.example") {
        failures.push(format!("preflight under host policy (inherits allow_methods):\n{}", r.dump()));
    }
    assert!(failures.is_empty(), "policy selection failures:\n{}", failures.join("\n"));
}

/// Every kind of origin rule, end to end: exact, `*.` subdomains (one or more labels, apex
/// excluded), `:*` ports, anchored regexes, `null`.
#[test]
fn origin_rule_kinds_match_as_documented() {
    let f = Fixture::new(json!({
        "allow_origins": [ALLOWED, "https://*.example.org", "http://localhost:*"],
        "allow_origin_regexes": ["https://tenant-[0-9]+\\.example\\.net"],
        "allow_null_origin": true
    }));
    let cases: &[(&str, bool)] = &[
        (ALLOWED, true),
        ("https://a.example.org", true),
        ("https://a.b.example.org", true),
        ("https://example.org", false),
        ("https://a.example.org.evil.net", false),
        ("http://a.example.org", false),
        ("https://aexample.org", false),
        ("http://localhost:3000", true),
        ("http://localhost:8080", true),
        ("https://localhost:3000", false),
        ("http://localhost.evil.net:3000", false),
        ("https://tenant-42.example.net", true),
        ("https://tenant-42.example.net.evil.com", false),
        ("https://xtenant-42.example.net", false),
        ("https://tenant-.example.net", false),
        ("null", true),
    ];
    let mut failures = Vec::new();
    for &(origin, allowed) in cases {
        let r = f.send(Request::get("/").origin(origin));
        let acao = r.one("access-control-allow-origin");
        let want = allowed.then(|| origin.to_string());
        if r.status != 200 || acao != want {
            failures.push(format!("GET origin {origin}: want ACAO {want:?}, got {acao:?} (status {})", r.status));
        }
        let r = f.send(Request::preflight("/", origin, "GET", None));
        let want_status = if allowed { 204 } else { 403 };
        if r.status != want_status || r.one("access-control-allow-origin") != want {
            failures.push(format!("preflight origin {origin}: want {want_status}\n{}", r.dump()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
