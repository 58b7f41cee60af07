//! The stream logic against a fake host that behaves like Envoy's header maps and counts calls.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::sync::Arc;

use super::*;
use crate::fake_host::FakeHost;

const POLICY: &str = r#"{
    "allow_origins": ["https://app.example.com"],
    "allow_methods": ["PUT", "DELETE"],
    "allow_headers": ["x-custom"],
    "expose_headers": ["x-total"],
    "allow_credentials": true,
    "max_age": 600
}"#;

fn filter(json: &str) -> StreamFilter {
    StreamFilter::new(Arc::new(Config::from_json(json).unwrap()))
}

fn preflight(origin: &str, method: &str, headers: Option<&str>) -> FakeHost {
    let mut h = vec![(":method", "OPTIONS"), (":path", "/api"), (":authority", "api.example.com"), ("origin", origin)];
    h.push(("access-control-request-method", method));
    if let Some(v) = headers {
        h.push(("access-control-request-headers", v));
    }
    FakeHost::request(&h)
}

fn get(origin: Option<&str>) -> FakeHost {
    let mut h = vec![(":method", "GET"), (":path", "/api"), (":authority", "api.example.com")];
    if let Some(o) = origin {
        h.push(("origin", o));
    }
    FakeHost::request(&h)
}

#[test]
fn allowed_preflight_is_answered_locally_once() {
    let mut f = filter(POLICY);
    let host = preflight("https://app.example.com", "PUT", Some("X-Custom"));
    assert_eq!(f.on_request_headers(&host), Verdict::Stop);
    let (status, _) = host.sent.borrow().clone().unwrap();
    assert_eq!(status, 204);
    assert_eq!(host.sent_header("access-control-allow-origin").as_deref(), Some("https://app.example.com"));
    assert_eq!(host.sent_header("access-control-allow-credentials").as_deref(), Some("true"));
    assert_eq!(host.sent_header("access-control-allow-methods").as_deref(), Some("PUT,DELETE"));
    assert_eq!(host.sent_header("access-control-allow-headers").as_deref(), Some("x-custom"));
    // Envoy's filter sends the exposed headers on preflights too, and the Gateway API's
    // conformance test expects them there; they grant nothing on a preflight.
    assert_eq!(host.sent_header("access-control-expose-headers").as_deref(), Some("x-total"));
    assert_eq!(host.sent_header("access-control-max-age").as_deref(), Some("600"));
    assert_eq!(host.sent_header("access-control-allow-private-network"), None);
    assert_eq!(
        host.sent_header("vary").as_deref(),
        Some("Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
    );
    // No Content-Length: RFC 9110 forbids it on a 204, and Envoy's codec writes
    // `content-length: 0` on a bodiless 200 itself (tests/e2e_preflight.rs checks the wire).
    assert_eq!(host.sent_header("content-length"), None);
    assert_eq!(*host.counted.borrow(), vec![Counter::PreflightAllowed]);
    // The local reply comes back through the response phase: it must not gain headers twice.
    let writes = host.writes.get();
    host.upstream(&[("access-control-allow-origin", "https://app.example.com")]);
    assert_eq!(f.on_response_headers(&host), Verdict::Continue);
    assert_eq!(host.writes.get(), writes, "the local reply is left alone");
    assert_eq!(host.response_values("access-control-allow-origin").len(), 1);
}

#[test]
fn denied_preflights_are_rejected_without_cors_headers() {
    for (origin, method, headers, counter) in [
        ("https://evil.example", "PUT", None, Counter::PreflightDeniedOrigin),
        ("https://app.example.com", "PATCH", None, Counter::PreflightDeniedMethod),
        ("https://app.example.com", "GET, DELETE", None, Counter::PreflightDeniedMethod),
        ("https://app.example.com", "PUT", Some("x-custom, x-evil"), Counter::PreflightDeniedHeaders),
        ("https://app.example.com", "PUT", Some("authorization"), Counter::PreflightDeniedHeaders),
    ] {
        let mut f = filter(POLICY);
        let host = preflight(origin, method, headers);
        assert_eq!(f.on_request_headers(&host), Verdict::Stop);
        let (status, sent) = host.sent.borrow().clone().unwrap();
        assert_eq!(status, 403);
        assert!(sent.iter().all(|(k, _)| !k.starts_with("access-control-")), "{sent:?}");
        assert_eq!(*host.counted.borrow(), vec![counter]);
    }
}

#[test]
fn preflight_reads_every_header_line() {
    let mut f = filter(POLICY);
    let mut host = preflight("https://app.example.com", "PUT", Some("x-custom"));
    host.request.push(("access-control-request-headers".into(), b"x-evil".to_vec()));
    f.on_request_headers(&host);
    assert_eq!(host.sent.borrow().as_ref().unwrap().0, 403, "the second line is checked too");

    let mut f = filter(POLICY);
    let mut host = preflight("https://app.example.com", "PUT", None);
    host.request.push(("origin".into(), b"https://app.example.com".to_vec()));
    f.on_request_headers(&host);
    assert_eq!(host.sent.borrow().as_ref().unwrap().0, 403, "two Origin lines are denied");
}

#[test]
fn forward_and_shadow_leave_the_request_alone() {
    let mut f = filter(r#"{"allow_origins":["https://app.example.com"],"unmatched_preflight":"forward"}"#);
    let host = preflight("https://evil.example", "PUT", None);
    assert_eq!(f.on_request_headers(&host), Verdict::Continue);
    assert!(host.sent.borrow().is_none());
    host.upstream(&[("access-control-allow-origin", "https://evil.example")]);
    f.on_response_headers(&host);
    assert_eq!(host.response_value("access-control-allow-origin").as_deref(), Some("https://evil.example"));
    // Only an origin the policy does not allow is forwarded (Istio's FORWARD): an allowed
    // origin's preflight for a method or header not allowed is answered here, so the upstream's
    // own answer cannot widen the policy for it.
    for denied in [
        preflight("https://app.example.com", "PUT", None),
        preflight("https://app.example.com", "GET", Some("x-not-listed")),
    ] {
        let mut f = filter(r#"{"allow_origins":["https://app.example.com"],"unmatched_preflight":"forward"}"#);
        assert_eq!(f.on_request_headers(&denied), Verdict::Stop);
        assert_eq!(denied.sent.borrow().as_ref().unwrap().0, 403);
    }

    for (request, counters) in [
        (
            preflight("https://evil.example", "PUT", None),
            vec![Counter::PreflightDeniedOrigin, Counter::ShadowWouldDeny],
        ),
        (preflight("https://app.example.com", "GET", None), vec![Counter::PreflightAllowed]),
        (get(Some("https://evil.example")), vec![Counter::ActualDenied, Counter::ShadowWouldDeny]),
        (get(Some("https://app.example.com")), vec![Counter::ActualAllowed]),
        (get(None), vec![]),
    ] {
        let mut f = filter(r#"{"allow_origins":["https://app.example.com"],"mode":"shadow"}"#);
        assert_eq!(f.on_request_headers(&request), Verdict::Continue);
        request.upstream(&[("x", "y")]);
        f.on_response_headers(&request);
        assert!(request.sent.borrow().is_none());
        assert_eq!(request.writes.get(), 0, "shadow mode changes nothing");
        assert_eq!(*request.counted.borrow(), counters);
    }
}

#[test]
fn allowed_actual_request_gets_the_policy_headers() {
    let mut f = filter(POLICY);
    let host = get(Some("https://app.example.com"));
    assert_eq!(f.on_request_headers(&host), Verdict::Continue);
    host.upstream(&[
        ("content-type", "text/plain"),
        ("access-control-allow-origin", "*"),
        ("access-control-expose-headers", "x-secret"),
        ("access-control-allow-methods", "GET"),
        ("vary", "Accept-Encoding, Accept-Language"),
    ]);
    f.on_response_headers(&host);
    assert_eq!(host.response_value("access-control-allow-origin").as_deref(), Some("https://app.example.com"));
    assert_eq!(host.response_value("access-control-allow-credentials").as_deref(), Some("true"));
    assert_eq!(host.response_value("access-control-expose-headers").as_deref(), Some("x-total"), "replaced");
    // A preflight-only header means nothing to a browser on an actual response: left alone.
    assert_eq!(host.response_value("access-control-allow-methods").as_deref(), Some("GET"));
    assert_eq!(host.response_value("vary").as_deref(), Some("Accept-Encoding, Accept-Language,Origin"));
    assert_eq!(host.response_value("content-type").as_deref(), Some("text/plain"));
    assert_eq!(*host.counted.borrow(), vec![Counter::ActualAllowed]);
}

#[test]
fn denied_actual_request_loses_every_cors_header() {
    let mut f = filter(POLICY);
    let host = get(Some("https://evil.example"));
    f.on_request_headers(&host);
    host.upstream(&[
        ("access-control-allow-origin", "https://evil.example"),
        ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "x-secret"),
        ("access-control-allow-methods", "GET"),
    ]);
    f.on_response_headers(&host);
    assert!(host.cors_response_headers().is_empty(), "{:?}", host.cors_response_headers());
    assert_eq!(host.response_value("vary").as_deref(), Some("Origin"));
    assert_eq!(*host.counted.borrow(), vec![Counter::ActualDenied]);
}

#[test]
fn requests_without_origin_only_gain_vary() {
    let mut f = filter(POLICY);
    let host = get(None);
    f.on_request_headers(&host);
    host.upstream(&[("vary", "accept"), ("access-control-allow-origin", "https://x.example")]);
    f.on_response_headers(&host);
    assert_eq!(host.response_value("vary").as_deref(), Some("accept,Origin"));
    assert_eq!(host.response_value("access-control-allow-origin").as_deref(), Some("https://x.example"));
    assert!(host.counted.borrow().is_empty());

    let mut f = filter(r#"{"allow_origins":["https://a.example"],"mode":"shadow"}"#);
    let host = get(None);
    f.on_request_headers(&host);
    f.on_response_headers(&host);
    assert_eq!(host.calls(), 1, "shadow mode writes nothing");
}

/// Fetch, "CORS protocol and HTTP caches": a `*` resource sends the same CORS headers on every
/// response, so a copy cached from a request without CORS serves a later CORS request.
#[test]
fn static_policy_answers_every_request_alike() {
    let json = r#"{"allow_origins":["*"],"expose_headers":["x-total"]}"#;
    let origin_lines: [&[&str]; 5] =
        [&[], &["https://anyone.example"], &["not an origin"], &["https://a.example", "https://b.example"], &["null"]];
    for lines in origin_lines {
        let mut f = filter(json);
        let mut h = vec![(":method", "GET"), (":path", "/img"), (":authority", "cdn.example.com")];
        h.extend(lines.iter().map(|o| ("origin", *o)));
        let host = FakeHost::request(&h);
        f.on_request_headers(&host);
        host.upstream(&[("cache-control", "public, max-age=600"), ("access-control-allow-credentials", "true")]);
        f.on_response_headers(&host);
        assert_eq!(host.response_value("access-control-allow-origin").as_deref(), Some("*"), "{lines:?}");
        assert_eq!(host.response_value("access-control-expose-headers").as_deref(), Some("x-total"), "{lines:?}");
        assert_eq!(host.response_value("access-control-allow-credentials"), None, "{lines:?}");
        assert_eq!(host.response_value("vary"), None, "no Vary on a static answer: {lines:?}");
    }
    // HEAD and OPTIONS without Access-Control-Request-Method are actual requests too.
    for method in ["HEAD", "OPTIONS"] {
        let mut f = filter(json);
        let host = FakeHost::request(&[(":method", method), (":path", "/img")]);
        assert_eq!(f.on_request_headers(&host), Verdict::Continue);
        f.on_response_headers(&host);
        assert_eq!(host.response_value("access-control-allow-origin").as_deref(), Some("*"), "{method}");
    }
}

/// The other side of the same section: an answer that depends on `Origin` says `Vary: Origin`
/// on every response, whatever the request carried.
#[test]
fn origin_dependent_policy_varies_on_every_response() {
    let origin_lines: [&[&str]; 5] = [
        &[],
        &["https://app.example.com"],
        &["https://evil.example"],
        &["not an origin"],
        &["https://app.example.com", "https://app.example.com"],
    ];
    for lines in origin_lines {
        for method in ["GET", "HEAD", "OPTIONS"] {
            let mut f = filter(POLICY);
            let mut h = vec![(":method", method), (":path", "/api")];
            h.extend(lines.iter().map(|o| ("origin", *o)));
            let host = FakeHost::request(&h);
            f.on_request_headers(&host);
            host.upstream(&[("cache-control", "public, max-age=600")]);
            f.on_response_headers(&host);
            assert_eq!(host.response_value("vary").as_deref(), Some("Origin"), "{method} {lines:?}");
        }
    }
}

#[test]
fn mode_off_leaves_request_and_response_byte_for_byte() {
    let json = r#"{"mode":"off","policies":[{"match":{"hosts":["a.example.com"]},"allow_origins":["https://app.example.com"]}]}"#;
    let upstream = [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "x-b"),
        ("vary", "Accept-Encoding"),
    ];
    let requests: [&[(&str, &str)]; 3] = [
        &[(":method", "GET"), (":authority", "b.example.com"), ("origin", "https://evil.example")],
        &[(":method", "GET"), (":authority", "b.example.com")],
        &[
            (":method", "OPTIONS"),
            (":authority", "b.example.com"),
            ("origin", "https://evil.example"),
            ("access-control-request-method", "DELETE"),
        ],
    ];
    for request in requests {
        let mut f = filter(json);
        let host = FakeHost::request(request);
        assert_eq!(f.on_request_headers(&host), Verdict::Continue, "{request:?}: a preflight goes upstream");
        host.upstream(&upstream);
        f.on_response_headers(&host);
        assert!(host.sent.borrow().is_none());
        let expected: Vec<(String, Vec<u8>)> =
            upstream.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect();
        assert_eq!(*host.response.borrow(), expected, "{request:?}");
        assert_eq!(host.writes.get(), 0);
        assert_eq!(*host.counted.borrow(), vec![Counter::PassedThrough]);
    }
    // The entry it covers is enforced.
    let mut f = filter(json);
    let host =
        FakeHost::request(&[(":method", "GET"), (":authority", "a.example.com"), ("origin", "https://evil.example")]);
    f.on_request_headers(&host);
    host.upstream(&upstream);
    f.on_response_headers(&host);
    assert!(host.cors_response_headers().is_empty());
    assert_eq!(*host.counted.borrow(), vec![Counter::ActualDenied]);
}

#[test]
fn wildcard_headers_with_credentials_echo_the_requested_names() {
    let json = r#"{"allow_origins":["https://app.example.com"],"allow_credentials":true,"allow_headers":["*"]}"#;
    let mut f = filter(json);
    let host = preflight("https://app.example.com", "GET", Some("X-Trace-Id, content-type,,X-Other"));
    assert_eq!(f.on_request_headers(&host), Verdict::Stop);
    assert_eq!(host.sent_header("access-control-allow-headers").as_deref(), Some("x-trace-id,content-type,x-other"));
    assert_eq!(host.sent_header("access-control-allow-credentials").as_deref(), Some("true"));
    // Nothing requested: nothing to allow.
    let mut f = filter(json);
    let host = preflight("https://app.example.com", "GET", None);
    assert_eq!(f.on_request_headers(&host), Verdict::Stop);
    assert_eq!(host.sent_header("access-control-allow-headers"), None);
    // Authorization must still be named.
    let mut f = filter(json);
    let host = preflight("https://app.example.com", "GET", Some("x-a,authorization"));
    f.on_request_headers(&host);
    assert_eq!(host.sent.borrow().as_ref().map(|r| r.0), Some(403));
}

#[test]
fn wildcard_methods_with_credentials_echo_the_requested_method() {
    let json = r#"{"allow_origins":["https://app.example.com"],"allow_credentials":true,"allow_methods":["*"]}"#;
    for method in ["PURGE", "patch", "GET"] {
        let mut f = filter(json);
        let host = preflight("https://app.example.com", method, None);
        assert_eq!(f.on_request_headers(&host), Verdict::Stop);
        assert_eq!(host.sent.borrow().as_ref().map(|r| r.0), Some(204));
        assert_eq!(host.sent_header("access-control-allow-methods").as_deref(), Some(method));
        assert_eq!(
            host.sent_header("vary").as_deref(),
            Some("Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
            "the answer depends on the requested method"
        );
    }
    for forbidden in ["TRACE", "connect", "PUT, DELETE"] {
        let mut f = filter(json);
        let host = preflight("https://app.example.com", forbidden, None);
        f.on_request_headers(&host);
        assert_eq!(host.sent.borrow().as_ref().map(|r| r.0), Some(403), "{forbidden}");
    }
}

#[test]
fn wildcard_policy_answers_star_without_vary() {
    let mut f = filter(r#"{"allow_origins":["*"],"expose_headers":["*"]}"#);
    let host = get(Some("https://anyone.example"));
    f.on_request_headers(&host);
    f.on_response_headers(&host);
    assert_eq!(host.response_value("access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(host.response_value("access-control-expose-headers").as_deref(), Some("*"));
    assert_eq!(host.response_value("vary"), None);
}

#[test]
fn other_options_requests_are_actual_requests() {
    let mut f = filter(POLICY);
    let host = FakeHost::request(&[(":method", "OPTIONS"), ("origin", "https://app.example.com")]);
    assert_eq!(f.on_request_headers(&host), Verdict::Continue);
    f.on_response_headers(&host);
    assert!(host.sent.borrow().is_none());
    assert_eq!(host.response_value("access-control-allow-origin").as_deref(), Some("https://app.example.com"));
    // ACRM on a non-OPTIONS request does not make it a preflight either.
    let mut f = filter(POLICY);
    let host = FakeHost::request(&[
        (":method", "GET"),
        ("origin", "https://app.example.com"),
        ("access-control-request-method", "PUT"),
    ]);
    assert_eq!(f.on_request_headers(&host), Verdict::Continue);
}

#[test]
fn private_network_access() {
    let json = r#"{"allow_origins":["https://app.example.com"],"allow_private_network":true}"#;
    let mut f = filter(json);
    let mut host = preflight("https://app.example.com", "GET", None);
    host.request.push(("access-control-request-private-network".into(), b"true".to_vec()));
    f.on_request_headers(&host);
    assert_eq!(host.sent_header("access-control-allow-private-network").as_deref(), Some("true"));
    assert!(host.sent_header("vary").unwrap().ends_with("Access-Control-Request-Private-Network"));
    // Not asked: not sent. Asked but not allowed: not sent.
    let mut f = filter(json);
    let host = preflight("https://app.example.com", "GET", None);
    f.on_request_headers(&host);
    assert_eq!(host.sent_header("access-control-allow-private-network"), None);
    let mut f = filter(POLICY);
    let mut host = preflight("https://app.example.com", "GET", None);
    host.request.push(("access-control-request-private-network".into(), b"true".to_vec()));
    f.on_request_headers(&host);
    assert_eq!(host.sent_header("access-control-allow-private-network"), None);
}

#[test]
fn policies_are_selected_per_request_and_kept_for_the_response() {
    let json = r#"{"allow_origins":["https://app.example.com"],
        "policies":[{"match":{"path_prefixes":["/public/"]},"allow_origins":["*"]}]}"#;
    let mut f = filter(json);
    let host = FakeHost::request(&[(":method", "GET"), (":path", "/public/x"), ("origin", "https://x.example")]);
    f.on_request_headers(&host);
    f.on_response_headers(&host);
    assert_eq!(host.response_value("access-control-allow-origin").as_deref(), Some("*"));
    let mut f = filter(json);
    let host = FakeHost::request(&[(":method", "GET"), (":path", "/private"), ("origin", "https://x.example")]);
    f.on_request_headers(&host);
    f.on_response_headers(&host);
    assert_eq!(host.response_value("access-control-allow-origin"), None);
    // Preflight: the route comes from the same one read of all headers.
    let mut f = filter(json);
    let host = FakeHost::request(&[
        (":method", "OPTIONS"),
        (":path", "/public/x"),
        ("origin", "https://x.example"),
        ("access-control-request-method", "GET"),
    ]);
    f.on_request_headers(&host);
    assert_eq!(host.sent_header("access-control-allow-origin").as_deref(), Some("*"));
}

#[test]
fn hostile_bytes_never_reach_a_header() {
    for origin in [&b"https://app.example.com\r\nset-cookie: a=b"[..], b"https://app.example.com\xff", b"\xc3\xa9", b""]
    {
        let mut f = filter(r#"{"allow_origins":["https://app.example.com"],"allow_origin_regexes":[".*"]}"#);
        let host = FakeHost {
            request: vec![(":method".into(), b"GET".to_vec()), ("origin".into(), origin.to_vec())],
            ..FakeHost::default()
        };
        f.on_request_headers(&host);
        f.on_response_headers(&host);
        assert!(host.cors_response_headers().is_empty(), "{origin:?}");
        assert_eq!(*host.counted.borrow(), vec![Counter::ActualDenied]);
    }
}

/// Host calls per request type: the figures BENCHMARKS.md quotes.
#[test]
fn host_calls_per_request_type() {
    let run = |host: &FakeHost| {
        let mut f = filter(POLICY);
        f.on_request_headers(host);
        f.on_response_headers(host);
        (host.reads.get(), host.writes.get())
    };
    // all request headers | ACAO, ACAC, ACEH replaced, Vary appended: the response is never read
    assert_eq!(run(&get(Some("https://app.example.com"))), (1, 4));
    // ...whatever the upstream sent
    let host = get(Some("https://app.example.com"));
    let mut f = filter(POLICY);
    f.on_request_headers(&host);
    host.upstream(&[("access-control-allow-origin", "*"), ("vary", "accept")]);
    f.on_response_headers(&host);
    assert_eq!((host.reads.get(), host.writes.get()), (1, 4));
    assert_eq!(host.response_value("access-control-allow-origin").as_deref(), Some("https://app.example.com"));
    // all request headers | the 7 CORS response headers removed, Vary appended (denials are rare)
    assert_eq!(run(&get(Some("https://evil.example"))), (1, 8));
    // all request headers | Vary appended
    assert_eq!(run(&get(None)), (1, 1));
    // all request headers | the reply
    assert_eq!(run(&preflight("https://app.example.com", "PUT", None)), (1, 1));
    assert_eq!(run(&preflight("https://evil.example", "PUT", None)), (1, 1));
}

/// A path the upstream may read as another entry's: denied whatever the top level (here `off`)
/// or the upstream says, preflight and actual alike (docs/security.md).
#[test]
fn ambiguous_requests_are_denied() {
    let json = r#"{"mode":"off","policies":[{"match":{"path_prefixes":["/api/"]},"allow_origins":["https://app.example.com"],"allow_credentials":true}]}"#;
    let reflecting = [
        ("access-control-allow-origin", "https://evil.example"),
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", "DELETE"),
        ("vary", "Accept-Encoding"),
    ];
    for path in ["/api/x%zz", "/API/x", "/x/..;/api/y", "/x/..%2Fapi/y", "/x\\..\\api/y"] {
        let mut f = filter(json);
        let host = FakeHost::request(&[
            (":method", "OPTIONS"),
            (":path", path),
            ("origin", "https://evil.example"),
            ("access-control-request-method", "DELETE"),
        ]);
        assert_eq!(f.on_request_headers(&host), Verdict::Stop, "{path}: answered here, never forwarded");
        let (status, headers) = host.sent.borrow().clone().unwrap();
        assert_eq!(status, 403, "{path}");
        assert!(headers.iter().all(|(k, _)| !k.starts_with("access-control-")), "{path}: {headers:?}");
        assert_eq!(*host.counted.borrow(), vec![Counter::AmbiguousRequestDenied]);
        f.on_response_headers(&host);

        for origin in [Some("https://evil.example"), Some("https://app.example.com"), None] {
            let mut f = filter(json);
            let mut request = vec![(":method", "GET"), (":path", path)];
            request.extend(origin.map(|o| ("origin", o)));
            let host = FakeHost::request(&request);
            assert_eq!(f.on_request_headers(&host), Verdict::Continue);
            host.upstream(&reflecting);
            f.on_response_headers(&host);
            assert!(host.cors_response_headers().is_empty(), "{path} {origin:?}: {:?}", host.cors_response_headers());
            assert_eq!(host.response_value("vary").as_deref(), Some("Accept-Encoding,Origin"));
            let counted = if origin.is_some() { vec![Counter::AmbiguousRequestDenied] } else { vec![] };
            assert_eq!(*host.counted.borrow(), counted, "{path} {origin:?}");
        }
    }
    // Readings that agree: exactly as before (the upstream's answer passes under `off`).
    let mut f = filter(json);
    let host = FakeHost::request(&[(":method", "GET"), (":path", "/other/x;y"), ("origin", "https://evil.example")]);
    f.on_request_headers(&host);
    host.upstream(&reflecting);
    f.on_response_headers(&host);
    assert_eq!(host.cors_response_headers().len(), 3);
    assert_eq!(*host.counted.borrow(), vec![Counter::PassedThrough]);
}

#[test]
fn ambiguity_under_shadow_only_counts() {
    let json = r#"{"mode":"off","policies":[{"match":{"path_prefixes":["/api/"]},"allow_origins":["https://app.example.com"],"mode":"shadow"}]}"#;
    let mut f = filter(json);
    let host = FakeHost::request(&[(":method", "GET"), (":path", "/API/x"), ("origin", "https://evil.example")]);
    assert_eq!(f.on_request_headers(&host), Verdict::Continue);
    host.upstream(&[("access-control-allow-origin", "*")]);
    f.on_response_headers(&host);
    assert_eq!(host.response_value("access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(host.writes.get(), 0);
    assert_eq!(*host.counted.borrow(), vec![Counter::ShadowWouldDeny]);
}

/// Each response header is edited at most once (`ResponseEdits`): the native adapter reads the
/// response once and trusts what it found for every edit.
#[test]
fn every_response_edits_each_header_once() {
    let policies = [
        POLICY,
        r#"{"allow_origins": ["https://app.example.com"]}"#,
        r#"{"allow_origins": ["*"], "expose_headers": ["x-total"]}"#,
        r#"{"mode": "shadow", "allow_origins": ["https://app.example.com"]}"#,
        r#"{"allow_origins": ["https://app.example.com"], "policies": [
            {"match": {"path_prefixes": ["/admin/"]}, "allow_origins": ["https://admin.example.com"]}]}"#,
    ];
    let requests: [&[(&str, &str)]; 5] = [
        &[(":method", "GET"), (":path", "/api"), ("origin", "https://app.example.com")],
        &[(":method", "GET"), (":path", "/api"), ("origin", "https://evil.example")],
        &[(":method", "GET"), (":path", "/api")],
        &[
            (":method", "GET"),
            (":path", "/api"),
            ("origin", "https://app.example.com"),
            ("origin", "https://x.example"),
        ],
        &[(":method", "GET"), (":path", "/admin%2Fx"), ("origin", "https://app.example.com")],
    ];
    for policy in policies {
        for request in requests {
            let mut f = filter(policy);
            f.on_request_headers(&FakeHost::request(request));
            let edits = f.response_edits();
            let names: Vec<&str> = edits.as_slice().iter().map(Edit::name).collect();
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(names.len(), unique.len(), "{policy} {request:?}: {names:?}");
            // Only these headers, so `EDITS_MAX` holds them all.
            let ours = |n: &&str| CORS_RESPONSE_HEADERS.contains(n) || *n == VARY;
            assert!(names.iter().all(ours), "{policy} {request:?}: {names:?}");
        }
    }
}
