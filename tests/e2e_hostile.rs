//! Hostile requests through a real Envoy: several Origin headers, CR/LF, NUL and non-UTF-8
//! bytes, huge headers. None may reflect an unlisted origin or emit an invalid header, and the
//! worker keeps serving afterwards (a wasm panic would break every later request).
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::json;
use std::time::{Duration, Instant};
use testkit::prelude::*;

fn plugin() -> serde_json::Value {
    json!({
        "allow_origins": [ALLOWED],
        "allow_origin_regexes": ["https://[a-z0-9.@/-]+\\.example\\.org"],
        "allow_methods": ["GET", "PUT"],
        "allow_headers": ["x-custom"],
        "allow_credentials": true
    })
}

/// After any hostile input: Envoy is alive and an allowed request and preflight still work.
fn still_serving(f: &mut Fixture) {
    f.envoy.assert_alive();
    let r = f.send(Request::get("/after").origin(ALLOWED));
    assert_eq!(r.status, 200, "worker no longer serves\n{}\n{}", r.dump(), f.envoy.log());
    assert_eq!(r.must("access-control-allow-origin"), ALLOWED);
    let r = f.send(Request::preflight("/after", ALLOWED, "PUT", Some("x-custom")));
    assert_eq!(r.status, 204, "{}", r.dump());
    assert_eq!(r.must("access-control-allow-origin"), ALLOWED);
}

/// The response to a hostile request: well formed, and any ACAO is exactly an allowed origin.
fn assert_safe(what: &str, r: &Response, may_reflect: &[&str]) {
    r.assert_well_formed();
    for v in r.all("access-control-allow-origin") {
        assert!(may_reflect.contains(&v.as_str()), "{what}: reflected {v:?}\n{}", r.dump());
    }
}

#[test]
fn several_origin_headers_never_reflect_an_unlisted_origin() {
    let mut f = Fixture::new(plugin());
    let port = f.port();
    // a browser sends one Origin: two that differ are ambiguous and denied
    for (a, b) in [(ALLOWED, DENIED), (DENIED, ALLOWED), (ALLOWED, ALLOWED)] {
        let may: &[&str] = if a == b { &[ALLOWED] } else { &[] };
        let get = Request::get("/").origin(a).origin(b);
        let r = get.send(port);
        assert_safe(&format!("GET Origin {a} + {b}"), &r, may);
        let pre = Request::preflight("/", a, "PUT", None).origin(b);
        let r = pre.send(port);
        assert_safe(&format!("preflight Origin {a} + {b}"), &r, may);
        if a != b {
            assert_eq!(r.status, 403, "preflight with Origin {a} + {b}\n{}", r.dump());
        }
    }
    // one header line holding a list is not a serialized origin
    let r = Request::get("/").origin(&format!("{ALLOWED}, {DENIED}")).send(port);
    r.assert_well_formed();
    assert!(!r.has("access-control-allow-origin"), "{}", r.dump());
    still_serving(&mut f);
}

#[test]
fn cr_lf_and_nul_bytes_in_headers_do_not_crash_the_worker() {
    let mut f = Fixture::new(plugin());
    let port = f.port();
    let values: &[&[u8]] = &[
        b"https://app.example.com\rx-injected: 1",
        b"https://app.example.com\nx-injected: 1",
        b"https://app.example.com\x00",
        b"https://app.example.com\x0b",
        b"https://app.example.com\x7f",
    ];
    for v in values {
        for name in ["origin", "access-control-request-headers", "access-control-request-method"] {
            let req = Request::preflight("/", ALLOWED, "PUT", None).header_bytes(name, v);
            // Envoy's codec may refuse the request (400) or close the connection: both are fine.
            if let Ok(r) = req.try_send(port) {
                assert_safe(&format!("{name}: {:?}", String::from_utf8_lossy(v)), &r, &[ALLOWED]);
            }
            let req = Request::get("/").header_bytes("origin", v);
            if let Ok(r) = req.try_send(port) {
                // a bare LF may end the line for Envoy's codec, leaving a clean allowed Origin
                assert_safe(&format!("GET origin {:?}", String::from_utf8_lossy(v)), &r, &[ALLOWED]);
            }
        }
    }
    still_serving(&mut f);
}

#[test]
fn non_utf8_bytes_in_headers_do_not_crash_the_worker() {
    let mut f = Fixture::new(plugin());
    let port = f.port();
    let values: &[&[u8]] = &[
        b"https://app.example.com\xff",
        b"https://\xc3\x28.example.com",
        b"\xfe\xff",
        b"https://app.example.com\xc0\xaf",
    ];
    for v in values {
        let r = Request::get("/").header_bytes("origin", v).try_send(port);
        if let Ok(r) = r {
            assert_safe("non-UTF-8 Origin on GET", &r, &[]);
        }
        let r = Request::options("/")
            .header_bytes("origin", v)
            .header("access-control-request-method", "PUT")
            .try_send(port);
        if let Ok(r) = r {
            assert_safe("non-UTF-8 Origin on preflight", &r, &[]);
            assert_ne!(r.status, 204, "a non-UTF-8 origin was allowed\n{}", r.dump());
        }
        for name in ["access-control-request-method", "access-control-request-headers"] {
            let r = Request::preflight("/", ALLOWED, "PUT", None).header_bytes(name, v).try_send(port);
            if let Ok(r) = r {
                assert_safe(&format!("non-UTF-8 {name}"), &r, &[ALLOWED]);
            }
        }
        // :authority and :path drive policy selection
        let mut raw = b"GET /x\xff HTTP/1.1\r\nhost: a\xffb.example\r\norigin: ".to_vec();
        raw.extend_from_slice(ALLOWED.as_bytes());
        raw.extend_from_slice(b"\r\nconnection: close\r\n\r\n");
        if let Ok(r) = send_raw(port, &raw) {
            assert_safe("non-UTF-8 authority/path", &r, &[ALLOWED]);
        }
    }
    still_serving(&mut f);
}

/// Syntax is checked before any regex runs: nothing that is not a serialized origin is echoed,
/// even when a (permissive) regex would match it.
#[test]
fn malformed_origins_are_never_reflected_even_if_a_regex_matches() {
    let mut f = Fixture::new(plugin());
    let port = f.port();
    // sanity: the regex allows a well-formed origin
    let r = Request::get("/").origin("https://a.example.org").send(port);
    assert_eq!(r.one("access-control-allow-origin").as_deref(), Some("https://a.example.org"), "{}", r.dump());
    for o in [
        "https://user@a.example.org",
        "https://evil.net/x.example.org",
        "https://a.example.org/",
        "https://a..example.org",
        "https://a.example.org:80800",
        "https://app.example.com.",
        "https://APP.example.com",
        "https://app.example.com:443",
        "https://app.example.com/",
        "https://app%2eexample.com",
        "http://app.example.com",
        "null",
    ] {
        let r = Request::get("/").origin(o).send(port);
        assert_safe(o, &r, &[]);
        let r = Request::preflight("/", o, "PUT", None).send(port);
        assert_safe(o, &r, &[]);
        assert_eq!(r.status, 403, "preflight from {o}\n{}", r.dump());
    }
    still_serving(&mut f);
}

#[test]
fn very_long_origin_is_denied() {
    let mut f = Fixture::new(plugin());
    let long = format!("https://{}.example.com", "a".repeat(8000));
    let r = f.send(Request::get("/").origin(&long));
    assert_eq!(r.status, 200);
    assert!(!r.has("access-control-allow-origin"), "{}", r.dump());
    let r = f.send(Request::preflight("/", &long, "PUT", None));
    assert_eq!(r.status, 403, "{}", r.dump());
    still_serving(&mut f);
}

/// ACRM holding a list is not a method.
#[test]
fn acrm_list_is_denied() {
    let mut f = Fixture::new(plugin());
    for m in ["GET, DELETE", "PUT,GET", "PUT PUT", "PUT\tGET"] {
        let r = f.send(Request::preflight("/", ALLOWED, m, None));
        assert_ne!(r.status, 204, "ACRM {m:?} allowed\n{}", r.dump());
        assert!(!r.has("access-control-allow-origin"), "ACRM {m:?}\n{}", r.dump());
    }
    still_serving(&mut f);
}

/// A 30 KB ACRH and a 1000-element ACRH are answered promptly (bounded work).
#[test]
fn huge_acrh_is_answered_promptly() {
    let mut f = Fixture::new(json!({
        "allow_origins": [ALLOWED],
        "allow_methods": ["PUT"],
        "allow_headers": ["*"]
    }));
    let mut names = Vec::new();
    let mut len = 0;
    while len < 30 * 1024 {
        let n = format!("x-header-{}", names.len());
        len += n.len() + 1;
        names.push(n);
    }
    let acrh = names.join(",");
    let t = Instant::now();
    let r = f.send(Request::preflight("/", ALLOWED, "PUT", Some(&acrh)));
    assert!(r.status == 204 || r.status == 403, "30 KB ACRH: status {}\n{}", r.status, r.dump());
    assert!(t.elapsed() < Duration::from_secs(3), "30 KB ACRH took {:?}", t.elapsed());
    if r.status == 403 {
        r.assert_no_cors_headers();
    }

    let many: Vec<String> = (0..1000).map(|i| format!("x-h{i}")).collect();
    let mut with_auth = many.clone();
    with_auth.push("authorization".to_string());
    let t = Instant::now();
    let r = f.send(Request::preflight("/", ALLOWED, "PUT", Some(&with_auth.join(", "))));
    assert_eq!(r.status, 403, "authorization hidden among 1000 names\n{}", r.status);
    r.assert_no_cors_headers();
    assert!(t.elapsed() < Duration::from_secs(3), "1000-name ACRH took {:?}", t.elapsed());
    still_serving(&mut f);
}
