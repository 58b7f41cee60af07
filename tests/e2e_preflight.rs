//! Issue 2, behaviour items 1-4 (preflights) against a real Envoy with dist/cors.wasm.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::json;
use testkit::prelude::*;

const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

/// A local preflight reply has an empty body and the filter sends no Content-Length: Envoy's
/// HTTP/1 codec writes `content-length: 0` on a bodiless 200 and none on a 204 (RFC 9110
/// forbids it there).
fn assert_empty_body(r: &Response) {
    assert!(r.body.is_empty(), "{}", r.dump());
    match r.status {
        204 => assert_eq!(r.one("content-length"), None, "{}", r.dump()),
        _ => assert_eq!(r.must("content-length"), "0", "{}", r.dump()),
    }
}

fn base() -> serde_json::Value {
    json!({
        "allow_origins": [ALLOWED],
        "allow_methods": ["GET", "PUT", "DELETE"],
        "allow_headers": ["x-custom", "content-type"],
        "expose_headers": ["x-request-id"],
        "allow_credentials": true,
        "max_age": 600
    })
}

/// Item 2: the full local reply of an allowed preflight; the upstream never sees it.
#[test]
fn allowed_preflight_is_answered_locally_with_exact_headers() {
    let f = Fixture::new(base());
    let r = f.send(Request::preflight("/api/items", ALLOWED, "PUT", Some("x-custom")));
    assert_eq!(r.status, 204, "{}", r.dump());
    assert_empty_body(&r);
    assert_eq!(r.must("access-control-allow-origin"), ALLOWED);
    assert_eq!(r.must("access-control-allow-credentials"), "true");
    let acam = r.must("access-control-allow-methods");
    assert!(list_has(&acam, "PUT"), "ACAM {acam:?}\n{}", r.dump());
    let acah = r.must("access-control-allow-headers");
    assert!(list_has(&acah, "x-custom"), "ACAH {acah:?}\n{}", r.dump());
    assert_eq!(r.must("access-control-expose-headers"), "x-request-id", "as Envoy's filter sends it");
    assert_eq!(r.must("access-control-max-age"), "600");
    assert!(!r.has("access-control-allow-private-network"), "ACAPN without being asked\n{}", r.dump());
    assert_eq!(r.must("vary"), PREFLIGHT_VARY, "{}", r.dump());
    assert_eq!(f.upstream.hits(), 0, "the upstream saw the preflight");
}

/// Item 2: `*` policy without credentials answers `*`; no max-age when not configured.
#[test]
fn star_policy_preflight_answers_star() {
    let f = Fixture::new(json!({ "allow_origins": ["*"], "allow_methods": ["PUT"] }));
    let r = f.send(Request::preflight("/", "https://anyone.example", "PUT", None));
    assert_eq!(r.status, 204, "{}", r.dump());
    assert_eq!(r.must("access-control-allow-origin"), "*");
    assert!(!r.has("access-control-allow-credentials"), "{}", r.dump());
    assert!(!r.has("access-control-max-age"), "{}", r.dump());
    assert!(list_has(&r.must("access-control-allow-methods"), "PUT"));
    assert_empty_body(&r);
    assert_eq!(f.upstream.hits(), 0);
}

/// `preflight_success_status: 200`.
#[test]
fn preflight_success_status_200() {
    let f = Fixture::new(json!({
        "allow_origins": [ALLOWED],
        "allow_methods": ["PUT"],
        "preflight_success_status": 200
    }));
    let r = f.send(Request::preflight("/", ALLOWED, "PUT", None));
    assert_eq!(r.status, 200, "{}", r.dump());
    assert_empty_body(&r);
    assert_eq!(r.must("access-control-allow-origin"), ALLOWED);
    assert_eq!(r.must("vary"), PREFLIGHT_VARY);
    assert_eq!(f.upstream.hits(), 0);
}

/// Item 2: ACAPN only when asked for and allowed.
#[test]
fn private_network_header_only_when_asked_and_allowed() {
    let up = Upstream::ok();
    let on = json!({ "allow_origins": [ALLOWED], "allow_methods": ["PUT"], "allow_private_network": true });
    let off = json!({ "allow_origins": [ALLOWED], "allow_methods": ["PUT"] });
    let envoy = Envoy::start(
        &EnvoyConfig::new()
            .cluster("upstream", up.port)
            .listener(ListenerSpec::new("on", &cfg(on), "upstream"))
            .listener(ListenerSpec::new("off", &cfg(off), "upstream")),
    );
    let asked = Request::preflight("/", ALLOWED, "PUT", None).header("access-control-request-private-network", "true");

    let r = asked.send(envoy.port("on"));
    r.assert_well_formed();
    assert_eq!(r.status, 204, "{}", r.dump());
    assert_eq!(r.must("access-control-allow-private-network"), "true");

    let r = Request::preflight("/", ALLOWED, "PUT", None).send(envoy.port("on"));
    r.assert_well_formed();
    assert_eq!(r.status, 204, "{}", r.dump());
    assert!(!r.has("access-control-allow-private-network"), "ACAPN sent although not asked\n{}", r.dump());

    let r = asked.send(envoy.port("off"));
    r.assert_well_formed();
    assert!(!r.has("access-control-allow-private-network"), "ACAPN sent although not allowed\n{}", r.dump());
    assert_eq!(up.hits(), 0);
}

/// Item 1: OPTIONS that is not a preflight passes through untouched.
#[test]
fn non_preflight_options_pass_through_untouched() {
    let f = Fixture::with_upstream(base(), Upstream::with_headers(200, &[("allow", "GET, OPTIONS")]));
    // Origin but no Access-Control-Request-Method
    let r = f.send(Request::options("/thing").origin(ALLOWED));
    assert_eq!(r.status, 200, "{}", r.dump());
    assert_eq!(r.body_str(), "upstream body\n");
    assert_eq!(f.upstream.hits(), 1);
    let seen = &f.upstream.requests()[0];
    assert_eq!(seen.method, "OPTIONS");
    assert_eq!(seen.path, "/thing");
    assert_eq!(seen.header("origin"), Some(ALLOWED));

    // Access-Control-Request-Method but no Origin
    let r = f.send(Request::options("/other").header("access-control-request-method", "PUT"));
    assert_eq!(r.status, 200, "{}", r.dump());
    assert_eq!(f.upstream.hits(), 2);
    let seen = &f.upstream.requests()[1];
    assert_eq!(seen.method, "OPTIONS");
    assert_eq!(seen.header("access-control-request-method"), Some("PUT"));
    assert!(!r.has("access-control-allow-origin"), "{}", r.dump());
    assert!(!r.has("access-control-allow-methods"), "{}", r.dump());
}

/// Item 3: CORS-safelisted methods are always allowed; a request header only when listed, the
/// safelisted names included (a browser lists one only for a value that is not safelisted).
#[test]
fn safelisted_methods_are_allowed_and_headers_only_when_listed() {
    let f = Fixture::new(json!({ "allow_origins": [ALLOWED], "allow_methods": ["PUT"] }));
    for m in ["GET", "HEAD", "POST", "PUT"] {
        let r = f.send(Request::preflight("/", ALLOWED, m, None));
        assert_eq!(r.status, 204, "ACRM {m}\n{}", r.dump());
        assert_eq!(r.must("access-control-allow-origin"), ALLOWED);
    }
    for acrh in ["Accept", "Accept-Language", "Content-Language", "Content-Type"] {
        let r = f.send(Request::preflight("/", ALLOWED, "GET", Some(acrh)));
        assert_eq!(r.status, 403, "{acrh} is not configured\n{}", r.dump());
        r.assert_no_cors_headers();
    }
    // not safelisted and not configured
    let r = f.send(Request::preflight("/", ALLOWED, "DELETE", None));
    assert_eq!(r.status, 403, "DELETE is not configured\n{}", r.dump());
    r.assert_no_cors_headers();
    let r = f.send(Request::preflight("/", ALLOWED, "GET", Some("x-custom")));
    assert_eq!(r.status, 403, "x-custom is not configured\n{}", r.dump());
    r.assert_no_cors_headers();
    assert_eq!(f.upstream.hits(), 0);
}

/// Item 3: `*` in allow_headers never covers Authorization.
#[test]
fn star_headers_never_cover_authorization() {
    let f = Fixture::new(json!({
        "allow_origins": [ALLOWED],
        "allow_methods": ["PUT"],
        "allow_headers": ["*"]
    }));
    let r = f.send(Request::preflight("/", ALLOWED, "PUT", Some("x-anything, x-else")));
    assert_eq!(r.status, 204, "{}", r.dump());
    for acrh in ["authorization", "x-foo, Authorization", "AUTHORIZATION"] {
        let r = f.send(Request::preflight("/", ALLOWED, "PUT", Some(acrh)));
        assert_eq!(r.status, 403, "ACRH {acrh:?} must be denied\n{}", r.dump());
        r.assert_no_cors_headers();
    }
    assert_eq!(f.upstream.hits(), 0);
}

/// Issue 10 item 5: with credentials, `*` is a literal name to browsers, so `allow_headers:
/// ["*"]` is answered with the requested names, validated and lowercased.
#[test]
fn star_headers_with_credentials_echo_the_requested_names() {
    let f = Fixture::new(json!({
        "allow_origins": [ALLOWED],
        "allow_methods": ["PUT"],
        "allow_headers": ["*"],
        "allow_credentials": true
    }));
    let r = f.send(Request::preflight("/", ALLOWED, "PUT", Some("X-Trace-Id, x-tenant,,Content-Type")));
    assert_eq!(r.status, 204, "{}", r.dump());
    assert_eq!(r.must("access-control-allow-headers"), "x-trace-id,x-tenant,content-type");
    assert_eq!(r.must("access-control-allow-credentials"), "true");
    assert_eq!(r.must("vary"), PREFLIGHT_VARY, "the answer depends on the request's headers");
    let r = f.send(Request::preflight("/", ALLOWED, "PUT", None));
    assert_eq!(r.status, 204, "{}", r.dump());
    assert!(r.one("access-control-allow-headers").is_none(), "nothing asked, nothing listed\n{}", r.dump());
    for acrh in ["x-a, authorization", "x a", "cookie"] {
        let r = f.send(Request::preflight("/", ALLOWED, "PUT", Some(acrh)));
        assert_eq!(r.status, 403, "ACRH {acrh:?}\n{}", r.dump());
        r.assert_no_cors_headers();
    }
    assert_eq!(f.upstream.hits(), 0);
}

/// Item 3: ACRH parsing: whitespace, any case, empty elements, several header lines.
#[test]
fn acrh_parsing_whitespace_case_empty_elements_and_several_lines() {
    let f = Fixture::new(json!({
        "allow_origins": [ALLOWED],
        "allow_methods": ["PUT"],
        "allow_headers": ["x-custom", "content-type", "x-other"]
    }));
    let r = f.send(Request::preflight("/", ALLOWED, "PUT", Some(" X-Custom ,,CONTENT-TYPE ,\t, x-OTHER,")));
    assert_eq!(r.status, 204, "{}", r.dump());
    let acah = r.must("access-control-allow-headers");
    for h in ["x-custom", "content-type", "x-other"] {
        assert!(list_has(&acah, h), "ACAH {acah:?} lacks {h}");
    }

    let two_lines =
        Request::preflight("/", ALLOWED, "PUT", Some("x-custom")).header("access-control-request-headers", "X-Other");
    let r = f.send(two_lines);
    assert_eq!(r.status, 204, "two ACRH lines, all allowed\n{}", r.dump());

    let two_lines_bad = Request::preflight("/", ALLOWED, "PUT", Some("x-custom"))
        .header("access-control-request-headers", "x-not-allowed");
    let r = f.send(two_lines_bad);
    assert_eq!(r.status, 403, "second ACRH line carries a header that is not allowed\n{}", r.dump());
    r.assert_no_cors_headers();
    assert_eq!(f.upstream.hits(), 0);
}

/// Item 3: methods compare case-sensitively; a non-standard method is listed as configured and
/// upper-cased.
#[test]
fn methods_case_sensitive_and_nonstandard_listed_upper_cased() {
    let f = Fixture::new(json!({ "allow_origins": [ALLOWED], "allow_methods": ["PATCH", "purge"] }));
    let r = f.send(Request::preflight("/", ALLOWED, "PATCH", None));
    assert_eq!(r.status, 204, "{}", r.dump());
    let acam = r.must("access-control-allow-methods");
    assert!(acam.split(',').any(|m| m.trim() == "PATCH"), "ACAM {acam:?}");

    let r = f.send(Request::preflight("/", ALLOWED, "patch", None));
    assert_eq!(r.status, 403, "ACRM `patch` must not match configured `PATCH` (case-sensitive)\n{}", r.dump());
    r.assert_no_cors_headers();

    let r = f.send(Request::preflight("/", ALLOWED, "purge", None));
    assert_eq!(r.status, 204, "{}", r.dump());
    let acam = r.must("access-control-allow-methods");
    let items: Vec<&str> = acam.split(',').map(str::trim).collect();
    assert!(items.contains(&"purge"), "ACAM {acam:?} lacks `purge` as configured");
    assert!(items.contains(&"PURGE"), "ACAM {acam:?} lacks upper-cased `PURGE`");
    assert_eq!(f.upstream.hits(), 0);
}

/// Item 4: rejected preflights (origin, method, headers): 403, no CORS headers, upstream never
/// sees them.
#[test]
fn rejected_preflights_get_403_without_cors_headers() {
    let f = Fixture::new(base());
    let cases = [
        ("origin", Request::preflight("/", DENIED, "PUT", None)),
        ("origin suffix confusion", Request::preflight("/", "https://app.example.com.evil.net", "PUT", None)),
        ("method", Request::preflight("/", ALLOWED, "PATCH", None)),
        ("headers", Request::preflight("/", ALLOWED, "PUT", Some("x-custom, x-not-allowed"))),
    ];
    for (why, req) in cases {
        let r = f.send(req);
        assert_eq!(r.status, 403, "denied by {why}\n{}", r.dump());
        r.assert_no_cors_headers();
    }
    assert_eq!(f.upstream.hits(), 0, "a rejected preflight reached the upstream");
}

/// Issue 17: with credentials, `*` is a literal method to browsers, so `allow_methods: ["*"]`
/// is answered with the requested method, validated (a token, never CONNECT, TRACE, TRACK).
#[test]
fn star_methods_with_credentials_echo_the_requested_method() {
    let f = Fixture::new(json!({
        "allow_origins": [ALLOWED],
        "allow_methods": ["*"],
        "allow_credentials": true
    }));
    for method in ["PURGE", "patch", "DELETE"] {
        let r = f.send(Request::preflight("/", ALLOWED, method, None));
        assert_eq!(r.status, 204, "{method}\n{}", r.dump());
        assert_eq!(r.must("access-control-allow-methods"), method, "{}", r.dump());
        assert_eq!(r.must("access-control-allow-credentials"), "true");
        assert_eq!(r.must("vary"), PREFLIGHT_VARY, "the answer depends on the requested method");
    }
    for method in ["TRACE", "connect", "GET, PUT"] {
        let r = f.send(Request::preflight("/", ALLOWED, method, None));
        assert_eq!(r.status, 403, "{method}\n{}", r.dump());
        r.assert_no_cors_headers();
    }
    assert_eq!(f.upstream.hits(), 0);
}

/// Item 4: `unmatched_preflight: forward` passes preflights from origins the policy does not
/// allow to the upstream untouched; every other preflight is answered locally.
#[test]
fn unmatched_preflight_forward_reaches_upstream() {
    let mut c = base();
    c["unmatched_preflight"] = json!("forward");
    let f = Fixture::with_upstream(c, Upstream::with_headers(200, &[("x-from", "upstream")]));
    let r = f.send(Request::preflight("/fwd", DENIED, "PUT", Some("x-custom")));
    assert_eq!(r.status, 200, "{}", r.dump());
    assert_eq!(r.must("x-from"), "upstream");
    assert!(!r.has("access-control-allow-origin"), "{}", r.dump());
    assert_eq!(f.upstream.hits(), 1);
    let seen = &f.upstream.requests()[0];
    assert_eq!(seen.method, "OPTIONS");
    assert_eq!(seen.path, "/fwd");
    assert_eq!(seen.header("origin"), Some(DENIED));
    assert_eq!(seen.header("access-control-request-method"), Some("PUT"));
    assert_eq!(seen.header("access-control-request-headers"), Some("x-custom"));

    // An allowed origin is answered here whatever it asks (Istio's FORWARD): a method or header
    // the policy denies never reaches the upstream, whose own answer could allow it.
    for (method, acrh) in [("PATCH", None), ("PUT", Some("x-not-listed"))] {
        let r = f.send(Request::preflight("/fwd", ALLOWED, method, acrh));
        assert_eq!(r.status, 403, "{method} {acrh:?} from an allowed origin\n{}", r.dump());
        r.assert_no_cors_headers();
    }
    assert_eq!(f.upstream.hits(), 1);

    let r = f.send(Request::preflight("/fwd", ALLOWED, "PUT", None));
    assert_eq!(r.status, 204, "allowed preflight still local\n{}", r.dump());
    assert_eq!(f.upstream.hits(), 1);
}

/// The wasm plugin's local replies name themselves in Envoy's response-code details
/// (`%RESPONSE_CODE_DETAILS%` in access logs); a local-reply mapper copies them into a header
/// here so the test can see them. The native module sends its replies as Envoy's own CORS filter
/// does, straight to the encoder filters: not through Envoy's local-reply path, so they carry no
/// details and no local-reply mapper rewrites them (README, "The native module").
#[test]
fn local_replies_carry_response_code_details() {
    let upstream = Upstream::ok();
    let mapper = json!({
        "local_reply_config": { "mappers": [ {
            "filter": { "status_code_filter": { "comparison": {
                "op": "GE", "value": { "default_value": 100, "runtime_key": "e2e.details" } } } },
            "headers_to_add": [ {
                "header": { "key": "x-details", "value": "%RESPONSE_CODE_DETAILS%" },
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"
            } ]
        } ] }
    });
    let cfg = EnvoyConfig::new()
        .cluster("upstream", upstream.port)
        .listener(ListenerSpec::new("main", &base().to_string(), "upstream").hcm(mapper));
    let envoy = Envoy::start(&cfg);
    let port = envoy.port("main");
    let native = artifact() == Artifact::Native;
    let details_of = |r: &Response| if native { r.one("x-details") } else { Some(r.must("x-details")) };
    let allowed = Request::preflight("/", ALLOWED, "PUT", None).send(port);
    assert_eq!(allowed.status, 204, "{}", allowed.dump());
    let want = (!native).then(|| "cors_preflight_allowed".to_owned());
    assert_eq!(details_of(&allowed), want, "{}", allowed.dump());
    // A denial names its refusal and the refused item, within Envoy's rule (no whitespace:
    // other bytes percent-encoded).
    for (origin, method, headers, details) in [
        ("https://evil.example", "PUT", None, "cors_preflight_denied{origin_not_allowed:https://evil.example}"),
        (&format!("{ALLOWED}/"), "PUT", None, &format!("cors_preflight_denied{{invalid_origin:{ALLOWED}/}}")),
        (ALLOWED, "PATCH", None, "cors_preflight_denied{method_not_allowed:PATCH}"),
        (ALLOWED, "PUT", Some("x-foo"), "cors_preflight_denied{header_not_allowed:x-foo}"),
        (ALLOWED, "PUT", Some("x b"), "cors_preflight_denied{invalid_request_headers:x%20b}"),
    ] {
        let denied = Request::preflight("/", origin, method, headers).send(port);
        assert_eq!(denied.status, 403, "{}", denied.dump());
        assert_eq!(details_of(&denied), (!native).then(|| details.to_owned()), "{}", denied.dump());
        assert_eq!(denied.body_str(), "", "a denied preflight has no body (README)");
    }
    assert_eq!(upstream.hits(), 0);
}

/// Issue 10 item 2: `max_age: -1` ("no caching") is sent as `0`: the header's grammar is a
/// non-negative integer; for `-1` the Fetch Standard (and Safari) caches for the default 5 s.
#[test]
fn max_age_minus_one_is_sent_as_zero() {
    let f = Fixture::new(json!({ "allow_origins": [ALLOWED], "allow_methods": ["PUT"], "max_age": -1 }));
    let r = f.send(Request::preflight("/", ALLOWED, "PUT", None));
    assert_eq!(r.status, 204, "{}", r.dump());
    assert_eq!(r.all("access-control-max-age"), ["0"], "{}", r.dump());
    assert_eq!(f.upstream.hits(), 0);
}

/// Issue 10 item 3: an IPv4-mapped IPv6 origin is listed in the form browsers send
/// (`new URL("http://[::ffff:127.127.127.127]:90").origin` is `http://[::ffff:7f7f:7f7f]:90`),
/// and a request `Origin` with IPv6 in any other form is denied before any regex sees it.
#[test]
fn ipv6_origins_only_in_the_browsers_serialization() {
    let up = Upstream::ok();
    let exact = json!({ "allow_origins": ["http://[::ffff:7f7f:7f7f]:90"], "allow_methods": ["PUT"] });
    let regex = json!({ "allow_origin_regexes": ["http://\\[[0-9a-f:.]+\\]:4000"], "allow_methods": ["PUT"] });
    let envoy = Envoy::start(
        &EnvoyConfig::new()
            .cluster("upstream", up.port)
            .listener(ListenerSpec::new("exact", &cfg(exact), "upstream"))
            .listener(ListenerSpec::new("regex", &cfg(regex), "upstream")),
    );
    let preflight = |listener: &str, origin: &str| {
        let r = Request::preflight("/", origin, "PUT", None).send(envoy.port(listener));
        r.assert_well_formed();
        r
    };

    let mapped = "http://[::ffff:7f7f:7f7f]:90";
    let r = preflight("exact", mapped);
    assert_eq!(r.status, 204, "{}", r.dump());
    assert_eq!(r.must("access-control-allow-origin"), mapped);
    let r = preflight("exact", "http://[::ffff:127.127.127.127]:90");
    assert_eq!(r.status, 403, "the dotted form is not what browsers send\n{}", r.dump());
    r.assert_no_cors_headers();

    for ok in ["http://[::1]:4000", "http://[::ffff:7f00:1]:4000", "http://[2001:db8::1]:4000"] {
        let r = preflight("regex", ok);
        assert_eq!(r.status, 204, "{ok}\n{}", r.dump());
        assert_eq!(r.must("access-control-allow-origin"), ok);
    }
    for bad in [
        "http://[0:0:0:0:0:0:0:1]:4000",
        "http://[::0001]:4000",
        "http://[::127.0.0.1]:4000",
        "http://[::ffff:127.0.0.1]:4000",
        "http://[1::2:3:4:5:6:7]:4000",
    ] {
        let r = preflight("regex", bad);
        assert_eq!(r.status, 403, "{bad} is not a browser's serialization\n{}", r.dump());
        r.assert_no_cors_headers();
    }
    assert_eq!(up.hits(), 0);
}
