//! Attack cases, table-driven: `config + request -> expected decision and headers`, each run
//! through `simulate::run` (the plugin's own stream logic). After every case the invariants of
//! `tests/invariants` are checked: no unlisted origin reflected, never `*` with credentials,
//! only valid header values, no header twice.
//!
//! The second half refuses insecure configurations: every rule of the "configuration that
//! cannot be made insecure by accident" list, each test naming the key in error.

mod invariants;

use std::collections::HashMap;
use std::rc::Rc;

use envoy_cors::counter::Counter;
use envoy_cors::simulate;
use envoy_cors::Config;
use invariants::Lines;

// ---------------------------------------------------------------------------------------------
// Configurations under attack
// ---------------------------------------------------------------------------------------------

/// Exact origins with credentials.
const CRED: &str = r#"{
    "allow_origins": ["https://example.com", "https://app.example.com", "http://localhost:3000",
                      "http://[::1]:8080", "http://127.0.0.1:3000", "https://xn--80ak6aa92e.com"],
    "allow_methods": ["GET", "PUT", "DELETE", "PURGE"],
    "allow_headers": ["x-custom", "authorization"],
    "expose_headers": ["x-total"],
    "allow_credentials": true,
    "max_age": 600
}"#;
const CRED_ORIGINS: &[&str] = &[
    "https://example.com",
    "https://app.example.com",
    "http://localhost:3000",
    "http://[::1]:8080",
    "http://127.0.0.1:3000",
    "https://xn--80ak6aa92e.com",
];
const CRED_ACAM: &str = "GET,PUT,DELETE,PURGE";
const CRED_ACAH: &str = "x-custom,authorization,accept,accept-language,content-language,content-type";

/// Open to every origin, without credentials.
const OPEN: &str = r#"{"allow_origins":["*"],"allow_methods":["*"],"allow_headers":["*"],"expose_headers":["*"]}"#;
/// `*` headers plus Authorization named explicitly.
const OPEN_AUTH: &str = r#"{"allow_origins":["*"],"allow_headers":["*","authorization"]}"#;
/// Subdomain and any-port patterns with credentials.
const SUB: &str = r#"{"allow_origins":["https://*.example.com","http://localhost:*"],"allow_credentials":true}"#;
/// `null` allowed explicitly.
const NULL_OK: &str = r#"{"allow_origins":["https://example.com"],"allow_null_origin":true,"allow_credentials":true}"#;
/// A careless regex that matches anything.
const RE_ANY: &str = r#"{"allow_origin_regexes":[".*"]}"#;
/// Regexes written as if unanchored, with unescaped dots and a bare alternation.
const RE_LOOSE: &str = r#"{"allow_origin_regexes":["https://.*\\.example\\.com","https://app.example.org",
    "https://a\\.com|https://b\\.com"],"allow_credentials":true}"#;
/// A permissive top level with stricter per-host and per-path policies.
const HOSTS: &str = r#"{
    "allow_origins": ["*"],
    "policies": [
        {"match": {"hosts": ["api.example.com"]}, "allow_origins": ["https://admin.example.com"], "allow_credentials": true},
        {"match": {"hosts": ["*.internal.example.com"]}, "allow_origins": ["https://ops.example.com"]},
        {"match": {"path_prefixes": ["/admin/"]}, "allow_origins": ["https://root.example.com"]}
    ]
}"#;
const SHADOW: &str =
    r#"{"allow_origins":["https://example.com"],"allow_methods":["PUT"],"allow_credentials":true,"mode":"shadow"}"#;
const FORWARD: &str =
    r#"{"allow_origins":["https://example.com"],"allow_methods":["PUT"],"unmatched_preflight":"forward"}"#;
const PNA: &str = r#"{"allow_origins":["https://example.com"],"allow_private_network":true}"#;
/// A strict top level with a path-scoped `*` (the path-confusion target).
const PATHS: &str = r#"{"allow_origins":["https://example.com"],"allow_credentials":true,
    "policies":[{"match":{"path_prefixes":["/public/"]},"allow_origins":["*"],"allow_credentials":false}]}"#;
/// A shared gateway: the filter owns one host and leaves every other to its upstream.
const GATEWAY: &str = r#"{"mode":"off","policies":[
    {"match":{"hosts":["a.example.com"],"path_prefixes":["/legacy/"]},"mode":"off"},
    {"match":{"hosts":["a.example.com"]},"allow_origins":["https://example.com"],"allow_credentials":true}]}"#;
/// `max_age: -1` ("no caching"), and an IPv4-mapped IPv6 origin in the form browsers send.
const NO_CACHE: &str =
    r#"{"allow_origins":["https://example.com","http://[::ffff:7f7f:7f7f]:90"],"allow_methods":["PUT"],"max_age":-1}"#;

/// What each configuration may reflect: the test's own model of the policy.
fn may_reflect(config: &str, origin: &str) -> bool {
    let sub = |suffix: &str| {
        origin.strip_prefix("https://").and_then(|h| h.strip_suffix(suffix)).is_some_and(|label| {
            !label.is_empty() && label.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b != b':'))
        })
    };
    match config {
        CRED => CRED_ORIGINS.contains(&origin),
        SUB => {
            sub(".example.com")
                || origin == "http://localhost"
                || origin.strip_prefix("http://localhost:").is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
        }
        NULL_OK => origin == "https://example.com" || origin == "null",
        // Anything syntactically an origin (the invariants check the syntax).
        RE_ANY => origin != "null",
        RE_LOOSE => {
            sub(".example.com")
                || (origin.starts_with("https://app") && origin.ends_with("example.org") && origin.len() == 23)
                || origin == "https://a.com"
                || origin == "https://b.com"
        }
        HOSTS => ["https://admin.example.com", "https://ops.example.com", "https://root.example.com"].contains(&origin),
        SHADOW | FORWARD | PNA | PATHS | GATEWAY => origin == "https://example.com",
        NO_CACHE => origin == "https://example.com" || origin == "http://[::ffff:7f7f:7f7f]:90",
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Req(Lines);

impl Req {
    fn new(method: &str) -> Req {
        Req(vec![
            (":method".into(), method.as_bytes().to_vec()),
            (":authority".into(), b"api.test".to_vec()),
            (":path".into(), b"/".to_vec()),
        ])
    }
    fn get(origin: impl AsRef<[u8]>) -> Req {
        Req::new("GET").h("origin", origin)
    }
    fn preflight(origin: impl AsRef<[u8]>, method: impl AsRef<[u8]>) -> Req {
        Req::new("OPTIONS").h("origin", origin).h("access-control-request-method", method)
    }
    fn h(mut self, name: &str, value: impl AsRef<[u8]>) -> Req {
        self.0.push((name.into(), value.as_ref().to_vec()));
        self
    }
    fn acrh(self, value: impl AsRef<[u8]>) -> Req {
        self.h("access-control-request-headers", value)
    }
    /// Replaces a pseudo-header.
    fn set(mut self, name: &str, value: impl AsRef<[u8]>) -> Req {
        for (k, v) in self.0.iter_mut() {
            if k == name {
                *v = value.as_ref().to_vec();
            }
        }
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Expectations
// ---------------------------------------------------------------------------------------------

type Headers = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// Answered by the filter itself: status and exactly these headers.
    Reply(u32, Headers),
    /// Went upstream; the client gets exactly these response headers.
    Upstream(Headers),
}

fn hs(list: &[(&str, &str)]) -> Headers {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const UPSTREAM: &[(&str, &str)] = &[("x-upstream", "1")];
const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

fn rejected() -> Expect {
    Expect::Reply(403, hs(&[("vary", PREFLIGHT_VARY), ("content-length", "0")]))
}

fn cred_preflight_ok(origin: &str) -> Expect {
    Expect::Reply(
        204,
        hs(&[
            ("access-control-allow-origin", origin),
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-methods", CRED_ACAM),
            ("access-control-allow-headers", CRED_ACAH),
            ("access-control-max-age", "600"),
            ("vary", PREFLIGHT_VARY),
            ("content-length", "0"),
        ]),
    )
}

fn cred_actual_ok(origin: &str) -> Expect {
    Expect::Upstream(hs(&[
        ("x-upstream", "1"),
        ("access-control-allow-origin", origin),
        ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "x-total"),
        ("vary", "Origin"),
    ]))
}

/// An actual request from an allowed origin of a credentialed policy without expose headers.
fn creds_actual(origin: &str) -> Expect {
    Expect::Upstream(hs(&[
        ("x-upstream", "1"),
        ("access-control-allow-origin", origin),
        ("access-control-allow-credentials", "true"),
        ("vary", "Origin"),
    ]))
}

/// Denied actual request of a policy whose answer depends on Origin: untouched but for Vary.
fn denied_vary() -> Expect {
    Expect::Upstream(hs(&[("x-upstream", "1"), ("vary", "Origin")]))
}

/// Untouched (no Vary: the policy's answer does not depend on Origin, or shadow mode).
fn untouched() -> Expect {
    Expect::Upstream(hs(UPSTREAM))
}

fn open_actual() -> Expect {
    Expect::Upstream(hs(&[
        ("x-upstream", "1"),
        ("access-control-allow-origin", "*"),
        ("access-control-expose-headers", "*"),
    ]))
}

fn open_preflight_ok() -> Expect {
    Expect::Reply(
        204,
        hs(&[
            ("access-control-allow-origin", "*"),
            ("access-control-allow-methods", "*"),
            ("access-control-allow-headers", "*"),
            ("vary", PREFLIGHT_VARY),
            ("content-length", "0"),
        ]),
    )
}

fn echo_only(origin: &str, vary: bool) -> Expect {
    let mut h = hs(&[("x-upstream", "1"), ("access-control-allow-origin", origin)]);
    if vary {
        h.push(("vary".into(), "Origin".into()));
    }
    Expect::Upstream(h)
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

struct Case {
    name: String,
    config: &'static str,
    req: Req,
    upstream: &'static [(&'static str, &'static str)],
    expect: Expect,
    counters: Vec<Counter>,
}

fn case(name: impl Into<String>, config: &'static str, req: Req, expect: Expect, counters: &[Counter]) -> Case {
    Case { name: name.into(), config, req, upstream: UPSTREAM, expect, counters: counters.to_vec() }
}

use Counter::*;

fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    let ok = "https://example.com";

    // --- baseline: the policy works ---
    c.push(case("allowed exact origin, actual", CRED, Req::get(ok), cred_actual_ok(ok), &[ActualAllowed]));
    c.push(case(
        "allowed exact origin, preflight",
        CRED,
        Req::preflight(ok, "PUT"),
        cred_preflight_ok(ok),
        &[PreflightAllowed],
    ));

    // --- prefix / suffix confusion ---
    for (what, o) in [
        ("suffix appended (example.com.evil.net)", "https://example.com.evil.net"),
        ("prefix glued (evilexample.com)", "https://evilexample.com"),
        ("label prefix (evil-example.com)", "https://evil-example.com"),
        ("truncated (example.co)", "https://example.co"),
        ("extended TLD (example.comm)", "https://example.comm"),
        ("subdomain of a listed exact origin", "https://a.example.com"),
        ("listed origin as a subdomain of evil", "https://example.com.evil"),
    ] {
        c.push(case(format!("actual: {what}"), CRED, Req::get(o), denied_vary(), &[ActualDenied]));
        c.push(case(
            format!("preflight: {what}"),
            CRED,
            Req::preflight(o, "PUT"),
            rejected(),
            &[PreflightDeniedOrigin],
        ));
    }

    // --- scheme, port, syntax confusion on an exact policy ---
    for (what, o) in [
        ("scheme downgrade https->http", "http://example.com".as_bytes()),
        ("scheme upgrade of an http origin", b"https://localhost:3000"),
        ("port overflow :80800", b"https://example.com:80800"),
        ("explicit default port :443", b"https://example.com:443"),
        ("explicit default port :80 on http", b"http://localhost:80"),
        ("other port :8443", b"https://example.com:8443"),
        ("port with leading zero :03000", b"http://localhost:03000"),
        ("empty port", b"https://example.com:"),
        ("port 0", b"https://example.com:0"),
        ("trailing slash", b"https://example.com/"),
        ("path", b"https://example.com/app"),
        ("query", b"https://example.com?x"),
        ("fragment", b"https://example.com#x"),
        ("trailing dot", b"https://example.com."),
        ("leading dot", b"https://.example.com"),
        ("mixed-case host", b"https://Example.com"),
        ("upper-case host", b"https://EXAMPLE.COM"),
        ("upper-case scheme", b"HTTPS://example.com"),
        ("userinfo", b"https://user@example.com"),
        ("userinfo with password", b"https://user:pass@example.com"),
        ("listed origin as userinfo of evil", b"https://example.com@evil.net"),
        ("listed host:port as userinfo", b"http://localhost:3000@evil.net"),
        ("percent-encoded dot", b"https://example%2ecom"),
        ("percent-encoded byte appended", b"https://example.com%00"),
        ("missing slashes", b"https:example.com"),
        ("one slash", b"https:/example.com"),
        ("scheme-relative", b"//example.com"),
        ("no scheme", b"example.com"),
        ("two origins in one line", b"https://example.com, https://evil.net"),
        ("two origins space-separated", b"https://example.com https://evil.net"),
        ("leading space", b" https://example.com"),
        ("trailing space", b"https://example.com "),
        ("trailing tab", b"https://example.com\t"),
        ("empty origin", b""),
        ("null (not allowed)", b"null"),
        ("NULL upper-case", b"NULL"),
        ("IPv4 as a decimal integer", b"http://2130706433:3000"),
        ("IPv4 in hex", b"http://0x7f.0.0.1:3000"),
        ("IPv4 with leading zero", b"http://127.0.0.01:3000"),
        ("IPv6 not compressed", b"http://[0:0:0:0:0:0:0:1]:8080"),
        ("IPv6 upper-case", b"http://[::ABCD]:8080"),
        ("IPv6 unclosed", b"http://[::1:8080"),
        ("file scheme", b"file://"),
        ("javascript scheme", b"javascript:alert(1)"),
        ("data scheme", b"data:text/html,x"),
    ] {
        c.push(case(format!("actual: {what}"), CRED, Req::get(o), denied_vary(), &[ActualDenied]));
    }
    c.push(case(
        "preflight: scheme downgrade",
        CRED,
        Req::preflight("http://example.com", "PUT"),
        rejected(),
        &[PreflightDeniedOrigin],
    ));
    c.push(case(
        "preflight: port overflow :80800",
        CRED,
        Req::preflight("https://example.com:80800", "PUT"),
        rejected(),
        &[PreflightDeniedOrigin],
    ));
    c.push(case(
        "preflight: explicit :443",
        CRED,
        Req::preflight("https://example.com:443", "PUT"),
        rejected(),
        &[PreflightDeniedOrigin],
    ));
    c.push(case(
        "preflight: null not allowed",
        CRED,
        Req::preflight("null", "PUT"),
        rejected(),
        &[PreflightDeniedOrigin],
    ));
    // Listed loopback forms are allowed exactly as browsers serialize them.
    c.push(case(
        "actual: listed IPv6 loopback",
        CRED,
        Req::get("http://[::1]:8080"),
        cred_actual_ok("http://[::1]:8080"),
        &[ActualAllowed],
    ));
    c.push(case(
        "actual: listed IPv4 loopback",
        CRED,
        Req::get("http://127.0.0.1:3000"),
        cred_actual_ok("http://127.0.0.1:3000"),
        &[ActualAllowed],
    ));

    // --- IDN homographs ---
    // `https://аррӏе.com` (Cyrillic) is listed in punycode; browsers send punycode.
    let apple_punycode = "https://xn--80ak6aa92e.com";
    c.push(case(
        "IDN: listed punycode form",
        CRED,
        Req::get(apple_punycode),
        cred_actual_ok(apple_punycode),
        &[ActualAllowed],
    ));
    c.push(case(
        "IDN: Unicode form of a listed punycode origin (raw UTF-8)",
        CRED,
        Req::get("https://аррӏе.com"),
        denied_vary(),
        &[ActualDenied],
    ));
    c.push(case(
        "IDN: Cyrillic a in example.com (Unicode)",
        CRED,
        Req::get("https://exаmple.com"),
        denied_vary(),
        &[ActualDenied],
    ));
    c.push(case(
        "IDN: punycode homograph of example.com",
        CRED,
        Req::get("https://xn--exmple-4nf.com"),
        denied_vary(),
        &[ActualDenied],
    ));
    c.push(case(
        "IDN: Unicode homograph under a subdomain pattern",
        SUB,
        Req::get("https://аpp.example.com".as_bytes()),
        denied_vary(),
        &[ActualDenied],
    ));
    c.push(case(
        "IDN: Latin-1 byte (not UTF-8) in host",
        CRED,
        Req::get(b"https://exampl\xe9.com"),
        denied_vary(),
        &[ActualDenied],
    ));

    // --- several Origin headers ---
    c.push(case(
        "preflight: two Origin lines (allowed, evil)",
        CRED,
        Req::preflight(ok, "PUT").h("origin", "https://evil.net"),
        rejected(),
        &[PreflightDeniedOrigin],
    ));
    c.push(case(
        "preflight: two Origin lines (evil, allowed)",
        CRED,
        Req::preflight("https://evil.net", "PUT").h("origin", ok),
        rejected(),
        &[PreflightDeniedOrigin],
    ));
    c.push(case(
        "preflight: the same allowed Origin twice",
        CRED,
        Req::preflight(ok, "PUT").h("origin", ok),
        rejected(),
        &[PreflightDeniedOrigin],
    ));
    c.push(case(
        "actual: two Origin lines merged by the proxy (allowed,evil)",
        CRED,
        Req::get("https://example.com,https://evil.net"),
        denied_vary(),
        &[ActualDenied],
    ));
    c.push(case(
        "actual: two Origin lines (evil, allowed)",
        CRED,
        Req::get("https://evil.net").h("origin", ok),
        denied_vary(),
        &[ActualDenied],
    ));

    // --- very long origins ---
    // 253 bytes is the longest host name (RFC 1035), so the longest origin a policy can match.
    let long_host = format!("https://{}.{}.example.com", vec!["a".repeat(63); 3].join("."), "b".repeat(49));
    assert_eq!(long_host.len(), 8 + 253);
    c.push(case(
        "subdomain pattern: 253-byte host",
        SUB,
        Req::get(&long_host),
        creds_actual(&long_host),
        &[ActualAllowed],
    ));
    let too_long = format!("https://{}.{}.example.com", vec!["a".repeat(63); 3].join("."), "b".repeat(50));
    c.push(case("subdomain pattern: 254-byte host", SUB, Req::get(&too_long), denied_vary(), &[ActualDenied]));
    let over_512 = format!("https://a.example.com:{}", "1".repeat(500));
    c.push(case("subdomain pattern: origin over 512 bytes", SUB, Req::get(&over_512), denied_vary(), &[ActualDenied]));
    c.push(case(
        "open policy: 30 KB origin still gets the static answer",
        OPEN,
        Req::get(format!("https://{}.com", "a".repeat(30 * 1024))),
        open_actual(),
        &[ActualAllowed],
    ));
    c.push(case(
        "subdomain pattern: 64-byte label",
        SUB,
        Req::get(format!("https://{}.example.com", "a".repeat(64))),
        denied_vary(),
        &[ActualDenied],
    ));

    // --- CR/LF and other invalid bytes in Origin, ACRM, ACRH ---
    for (what, o) in [
        ("CRLF + header injection", &b"https://example.com\r\nset-cookie: a=b"[..]),
        ("bare LF", b"https://example.com\nx: y"),
        ("bare CR", b"https://example.com\r"),
        ("NUL", b"https://example.com\0"),
        ("DEL", b"https://example.com\x7f"),
        ("byte 0xff", b"https://example.com\xff"),
        ("vertical tab", b"https://example.com\x0b"),
    ] {
        c.push(case(format!("Origin with {what} (actual)"), CRED, Req::get(o), denied_vary(), &[ActualDenied]));
        // A `*` policy's answer is the same for every request, so it reflects nothing and a
        // cache may hand it to anyone (Fetch, "CORS protocol and HTTP caches").
        c.push(case(format!("Origin with {what} (open policy)"), OPEN, Req::get(o), open_actual(), &[ActualAllowed]));
        c.push(case(
            format!("Origin with {what} (careless regex)"),
            RE_ANY,
            Req::get(o),
            denied_vary(),
            &[ActualDenied],
        ));
        c.push(case(
            format!("Origin with {what} (preflight)"),
            CRED,
            Req::preflight(o, "PUT"),
            rejected(),
            &[PreflightDeniedOrigin],
        ));
    }
    for (what, m) in [
        ("CRLF", &b"PUT\r\nx-evil: 1"[..]),
        ("NUL", b"PUT\0"),
        ("trailing space", b"PUT "),
        ("byte 0xff", b"PU\xffT"),
        ("empty", b""),
    ] {
        c.push(case(format!("ACRM with {what}"), CRED, Req::preflight(ok, m), rejected(), &[PreflightDeniedMethod]));
    }
    for (what, h) in [
        ("CRLF", &b"x-custom\r\nx-evil: 1"[..]),
        ("NUL", b"x-custom\0"),
        ("byte 0xff", b"x-cust\xffom"),
        ("colon", b"x-custom: 1"),
        ("quote", b"\"x-custom\""),
        ("space inside a name", b"x custom"),
    ] {
        c.push(case(
            format!("ACRH with {what}"),
            CRED,
            Req::preflight(ok, "PUT").acrh(h),
            rejected(),
            &[PreflightDeniedHeaders],
        ));
    }

    // --- methods ---
    c.push(case(
        "ACRM `GET, DELETE` (a list)",
        CRED,
        Req::preflight(ok, "GET, DELETE"),
        rejected(),
        &[PreflightDeniedMethod],
    ));
    c.push(case(
        "ACRM `GET, DELETE` under methods `*`",
        OPEN,
        Req::preflight(ok, "GET, DELETE"),
        rejected(),
        &[PreflightDeniedMethod],
    ));
    c.push(case(
        "ACRM lowercase `put` (case-sensitive)",
        CRED,
        Req::preflight(ok, "put"),
        rejected(),
        &[PreflightDeniedMethod],
    ));
    c.push(case(
        "ACRM lowercase `purge` for configured PURGE",
        CRED,
        Req::preflight(ok, "purge"),
        rejected(),
        &[PreflightDeniedMethod],
    ));
    c.push(case("ACRM PATCH not listed", CRED, Req::preflight(ok, "PATCH"), rejected(), &[PreflightDeniedMethod]));
    c.push(case(
        "ACRM TRACE under methods `*`",
        OPEN,
        Req::preflight(ok, "TRACE"),
        rejected(),
        &[PreflightDeniedMethod],
    ));
    c.push(case(
        "ACRM CONNECT under methods `*`",
        OPEN,
        Req::preflight(ok, "CONNECT"),
        rejected(),
        &[PreflightDeniedMethod],
    ));
    c.push(case(
        "ACRM track (any case) under methods `*`",
        OPEN,
        Req::preflight(ok, "track"),
        rejected(),
        &[PreflightDeniedMethod],
    ));
    c.push(case(
        "ACRM lowercase `get` is not safelisted",
        CRED,
        Req::preflight(ok, "get"),
        rejected(),
        &[PreflightDeniedMethod],
    ));
    c.push(case(
        "two ACRM lines merged by the proxy (PUT,PATCH)",
        CRED,
        Req::preflight(ok, "PUT,PATCH"),
        rejected(),
        &[PreflightDeniedMethod],
    ));

    // --- request headers ---
    let thousand_allowed = vec!["x-custom"; 1000].join(",");
    c.push(case(
        "ACRH: 1000 allowed elements",
        CRED,
        Req::preflight(ok, "PUT").acrh(&thousand_allowed),
        cred_preflight_ok(ok),
        &[PreflightAllowed],
    ));
    let thousand_distinct: Vec<String> = (0..1000).map(|i| format!("x-h{i}")).collect();
    c.push(case(
        "ACRH: 1000 distinct names under `*`",
        OPEN,
        Req::preflight(ok, "PUT").acrh(thousand_distinct.join(",")),
        open_preflight_ok(),
        &[PreflightAllowed],
    ));
    c.push(case(
        "ACRH: 1000 distinct names, none listed",
        CRED,
        Req::preflight(ok, "PUT").acrh(thousand_distinct.join(",")),
        rejected(),
        &[PreflightDeniedHeaders],
    ));
    let evil_last = format!("{thousand_allowed},x-evil");
    c.push(case(
        "ACRH: 1000 allowed then one not allowed",
        CRED,
        Req::preflight(ok, "PUT").acrh(&evil_last),
        rejected(),
        &[PreflightDeniedHeaders],
    ));
    let thirty_kb: String = (0..2048).map(|i| format!("x-header-{i:05},")).collect();
    assert!(thirty_kb.len() >= 30 * 1024);
    c.push(case(
        "ACRH: 30 KB of names under `*`",
        OPEN,
        Req::preflight(ok, "PUT").acrh(&thirty_kb),
        open_preflight_ok(),
        &[PreflightAllowed],
    ));
    let thirty_kb_allowed = "x-custom, authorization ,".repeat(30 * 1024 / 25 + 1);
    c.push(case(
        "ACRH: 30 KB of allowed names",
        CRED,
        Req::preflight(ok, "PUT").acrh(&thirty_kb_allowed),
        cred_preflight_ok(ok),
        &[PreflightAllowed],
    ));
    c.push(case(
        "ACRH: 30 KB under `*` ending in authorization",
        OPEN,
        Req::preflight(ok, "PUT").acrh(format!("{thirty_kb}authorization")),
        rejected(),
        &[PreflightDeniedHeaders],
    ));
    c.push(case(
        "ACRH: over 64 KB under `*` is refused",
        OPEN,
        Req::preflight(ok, "PUT").acrh("x-a,".repeat(17 * 1024)),
        rejected(),
        &[PreflightDeniedHeaders],
    ));
    c.push(case(
        "ACRH: over 64 KB split over 4 lines is refused",
        OPEN,
        Req::preflight(ok, "PUT")
            .acrh("x-a,".repeat(4200))
            .acrh("x-a,".repeat(4200))
            .acrh("x-a,".repeat(4200))
            .acrh("x-a,".repeat(4200)),
        rejected(),
        &[PreflightDeniedHeaders],
    ));
    c.push(case(
        "ACRH: a 129-byte name under `*`",
        OPEN,
        Req::preflight(ok, "PUT").acrh("x".repeat(129)),
        rejected(),
        &[PreflightDeniedHeaders],
    ));
    c.push(case(
        "ACRH: split over several lines, all allowed",
        CRED,
        Req::preflight(ok, "PUT").acrh("x-custom").acrh("Authorization").acrh(" content-type , "),
        cred_preflight_ok(ok),
        &[PreflightAllowed],
    ));
    c.push(case(
        "ACRH: split over lines, the last not allowed",
        CRED,
        Req::preflight(ok, "PUT").acrh("x-custom").acrh("authorization").acrh("x-evil"),
        rejected(),
        &[PreflightDeniedHeaders],
    ));
    c.push(case(
        "ACRH: whitespace, case and empty elements",
        CRED,
        Req::preflight(ok, "PUT").acrh(" ,X-Custom ,\t, AUTHORIZATION,,"),
        cred_preflight_ok(ok),
        &[PreflightAllowed],
    ));
    c.push(case(
        "ACRH: prefix of an allowed name",
        CRED,
        Req::preflight(ok, "PUT").acrh("x-custo"),
        rejected(),
        &[PreflightDeniedHeaders],
    ));
    c.push(case(
        "ACRH: forbidden name cookie (never listable)",
        CRED,
        Req::preflight(ok, "PUT").acrh("cookie"),
        rejected(),
        &[PreflightDeniedHeaders],
    ));

    // --- Authorization and `*` ---
    c.push(case(
        "Authorization is not covered by `*`",
        OPEN,
        Req::preflight(ok, "PUT").acrh("authorization"),
        rejected(),
        &[PreflightDeniedHeaders],
    ));
    c.push(case(
        "AUTHORIZATION (any case) is not covered by `*`",
        OPEN,
        Req::preflight(ok, "PUT").acrh("x-a, AUTHORIZATION"),
        rejected(),
        &[PreflightDeniedHeaders],
    ));
    c.push(case(
        "Authorization named next to `*`",
        OPEN_AUTH,
        Req::preflight(ok, "POST").acrh("x-a,Authorization"),
        Expect::Reply(
            204,
            hs(&[
                ("access-control-allow-origin", "*"),
                ("access-control-allow-headers", "*,authorization"),
                ("vary", PREFLIGHT_VARY),
                ("content-length", "0"),
            ]),
        ),
        &[PreflightAllowed],
    ));

    // --- credentials never with `*`; upstream CORS headers replaced ---
    c.push(case(
        "open policy: any origin gets `*`",
        OPEN,
        Req::get("https://anyone.example"),
        open_actual(),
        &[ActualAllowed],
    ));
    c.push(case("open policy: null gets `*`", OPEN, Req::get("null"), open_actual(), &[ActualAllowed]));
    c.push(Case {
        upstream: &[("x-upstream", "1"), ("access-control-allow-credentials", "true")],
        ..case(
            "open policy: upstream's ACAC true is removed (never `*` with credentials)",
            OPEN,
            Req::get("https://anyone.example"),
            open_actual(),
            &[ActualAllowed],
        )
    });
    c.push(Case {
        upstream: &[
            ("x-upstream", "1"),
            ("access-control-allow-origin", "*"),
            ("access-control-allow-credentials", "true"),
        ],
        ..case(
            "credentialed policy: upstream's `*` replaced by the echo",
            CRED,
            Req::get(ok),
            cred_actual_ok(ok),
            &[ActualAllowed],
        )
    });
    c.push(Case {
        upstream: &[
            ("x-upstream", "1"),
            ("access-control-allow-origin", "https://evil.net"),
            ("access-control-allow-credentials", "true"),
            ("access-control-expose-headers", "set-cookie"),
        ],
        ..case(
            "denied origin: upstream's own CORS headers are removed",
            CRED,
            Req::get("https://evil.net"),
            denied_vary(),
            &[ActualDenied],
        )
    });
    c.push(Case {
        upstream: &[("x-upstream", "1"), ("vary", "Accept-Encoding, origin")],
        ..case(
            "Vary already naming origin: appended, the upstream's list kept (RFC 9110: same meaning)",
            CRED,
            Req::get(ok),
            Expect::Upstream(hs(&[
                ("x-upstream", "1"),
                ("access-control-allow-origin", ok),
                ("access-control-allow-credentials", "true"),
                ("access-control-expose-headers", "x-total"),
                ("vary", "Accept-Encoding, origin,Origin"),
            ])),
            &[ActualAllowed],
        )
    });

    // --- subdomain and port patterns (credentials) ---
    for (what, o, allowed) in [
        ("one label", "https://a.example.com", true),
        ("two labels", "https://a.b.example.com", true),
        ("apex excluded", "https://example.com", false),
        ("evil suffix", "https://a.example.com.evil.net", false),
        ("glued prefix", "https://evilexample.com", false),
        ("hyphen-glued prefix", "https://a-example.com", false),
        ("http downgrade", "http://a.example.com", false),
        ("other port", "https://a.example.com:8443", false),
        ("explicit :443", "https://a.example.com:443", false),
        ("empty label", "https://.example.com", false),
        ("double dot", "https://a..example.com", false),
        ("literal `*`", "https://*.example.com", false),
        ("upper-case label", "https://A.example.com", false),
        ("localhost any port", "http://localhost:5173", true),
        ("localhost default port", "http://localhost", true),
        ("localhost over https", "https://localhost:5173", false),
        ("localhost as a prefix", "http://localhost.evil.net:5173", false),
        ("subdomain of localhost", "http://a.localhost:5173", false),
        ("localhost port overflow", "http://localhost:80800", false),
    ] {
        let expect = if allowed { creds_actual(o) } else { denied_vary() };
        let counter = if allowed { ActualAllowed } else { ActualDenied };
        c.push(case(format!("subdomain/port pattern: {what}"), SUB, Req::get(o), expect, &[counter]));
    }

    // --- null ---
    c.push(case("null allowed explicitly", NULL_OK, Req::get("null"), creds_actual("null"), &[ActualAllowed]));
    c.push(case(
        "null allowed: preflight",
        NULL_OK,
        Req::preflight("null", "POST"),
        Expect::Reply(
            204,
            hs(&[
                ("access-control-allow-origin", "null"),
                ("access-control-allow-credentials", "true"),
                ("access-control-allow-headers", "accept,accept-language,content-language,content-type"),
                ("vary", PREFLIGHT_VARY),
                ("content-length", "0"),
            ]),
        ),
        &[PreflightAllowed],
    ));
    c.push(case("null allowed: `Null` is not null", NULL_OK, Req::get("Null"), denied_vary(), &[ActualDenied]));
    c.push(case("null allowed: `null ` is not null", NULL_OK, Req::get("null "), denied_vary(), &[ActualDenied]));
    c.push(case("null not allowed by a subdomain policy", SUB, Req::get("null"), denied_vary(), &[ActualDenied]));

    // --- careless regexes never reflect a non-origin ---
    for (what, o) in [
        ("null", "null"),
        ("path", "https://a.com/x"),
        ("userinfo", "https://a@b.com"),
        ("list", "https://a.com, https://b.com"),
        ("upper case", "https://A.com"),
        ("default port", "https://a.com:443"),
        ("no host", "https://"),
        ("javascript:", "javascript:alert(1)"),
    ] {
        c.push(case(format!("regex `.*`: {what}"), RE_ANY, Req::get(o), denied_vary(), &[ActualDenied]));
    }
    c.push(case(
        "regex `.*`: a real origin is reflected",
        RE_ANY,
        Req::get("https://any.example"),
        echo_only("https://any.example", true),
        &[ActualAllowed],
    ));
    for (what, o) in [
        ("suffix after an anchored-looking match", "https://a.example.com.evil.net"),
        ("path hiding the suffix", "https://evil.net/.example.com"),
        ("query hiding the suffix", "https://evil.net?.example.com"),
        ("fragment hiding the suffix", "https://evil.net#.example.com"),
        ("userinfo hiding the suffix", "https://evil.net@a.example.com"),
        ("alternation left branch extended", "https://a.com.evil.net"),
        ("alternation right branch prefixed", "https://evil.b.com"),
        ("alternation right branch extended", "https://b.com.evil.net"),
        ("port on an alternation branch", "https://a.com:8443"),
    ] {
        c.push(case(format!("loose regex: {what}"), RE_LOOSE, Req::get(o), denied_vary(), &[ActualDenied]));
    }
    c.push(case(
        "loose regex: alternation right branch",
        RE_LOOSE,
        Req::get("https://b.com"),
        creds_actual("https://b.com"),
        &[ActualAllowed],
    ));
    // An unescaped dot is the author's choice: a valid origin it matches is allowed, as written.
    c.push(case(
        "loose regex: unescaped dot matches a real origin (as written)",
        RE_LOOSE,
        Req::get("https://appxexample.org"),
        creds_actual("https://appxexample.org"),
        &[ActualAllowed],
    ));

    // --- path confusion: a path-scoped `*` aimed at a path the upstream resolves elsewhere ---
    let evil = "https://evil.net";
    for (what, path) in [
        ("dot-dot", "/public/../admin"),
        ("encoded dot-dot", "/public/%2e%2e/admin"),
        ("upper-case encoded dot-dot", "/public/%2E%2E/admin"),
        ("half-encoded dot-dot", "/public/.%2e/admin"),
        ("encoded slash", "/public/..%2Fadmin"),
        ("lower-case encoded slash", "/public/..%2fadmin"),
        ("encoded backslash", "/public/..%5Cadmin"),
        ("raw backslash", "/public/..\\admin"),
        ("climbing above the root", "/../public/x"),
        ("empty segment before dot-dot", "/public//../admin"),
        ("malformed escape", "/public/x%zz"),
    ] {
        c.push(case(
            format!("path confusion ({what}): the path-scoped `*` does not apply"),
            PATHS,
            Req::get(evil).set(":path", path),
            denied_vary(),
            &[ActualDenied],
        ));
        c.push(case(
            format!("path confusion ({what}): preflight"),
            PATHS,
            Req::preflight(evil, "GET").set(":path", path),
            rejected(),
            &[PreflightDeniedOrigin],
        ));
    }
    for (what, path) in
        [("plain", "/public/x"), ("query", "/public/x?to=/admin"), ("resolves inside", "/admin/../public/x")]
    {
        c.push(case(
            format!("path-scoped `*` ({what}) still applies"),
            PATHS,
            Req::get(evil).set(":path", path),
            open_star(),
            &[ActualAllowed],
        ));
    }
    c.push(case(
        "path confusion: `/public/` in the query does not select the entry",
        PATHS,
        Req::get(evil).set(":path", "/admin?/public/"),
        denied_vary(),
        &[ActualDenied],
    ));

    // --- shared gateway: mode off leaves hosts it does not cover to their upstream ---
    let upstream_cors: &'static [(&'static str, &'static str)] =
        &[("access-control-allow-origin", "*"), ("vary", "Accept-Encoding")];
    let on = |host: &str, req: Req| req.set(":authority", host);
    for (what, req) in [
        ("actual", on("b.example.com", Req::get(evil))),
        ("preflight", on("b.example.com", Req::preflight(evil, "DELETE"))),
        ("carve-out path", on("a.example.com", Req::get(evil)).set(":path", "/legacy/x")),
        ("carve-out preflight", on("a.example.com", Req::preflight(evil, "PUT")).set(":path", "/legacy/x")),
    ] {
        let mut passed = case(
            format!("mode off ({what}): the upstream's CORS arrives as sent"),
            GATEWAY,
            req,
            Expect::Upstream(hs(upstream_cors)),
            &[PassedThrough],
        );
        passed.upstream = upstream_cors;
        c.push(passed);
    }
    let mut covered = case(
        "mode off: the covered host is enforced (upstream's `*` removed)",
        GATEWAY,
        on("a.example.com", Req::get(evil)),
        Expect::Upstream(hs(&[("vary", "Accept-Encoding,Origin")])),
        &[ActualDenied],
    );
    covered.upstream = upstream_cors;
    c.push(covered);
    c.push(case(
        "mode off: a carve-out cannot be reached by path confusion",
        GATEWAY,
        on("a.example.com", Req::get(evil)).set(":path", "/legacy/..%2Fapi"),
        denied_vary(),
        &[ActualDenied],
    ));

    // --- per-host / per-path policy confusion ---
    let admin = "https://admin.example.com";
    let at = |authority: &str, origin: &str| Req::get(origin).set(":authority", authority);
    for (what, authority) in [
        ("exact host", "api.example.com"),
        ("host with port", "api.example.com:8443"),
        ("upper-case host", "API.EXAMPLE.COM"),
        ("mixed case with port", "Api.Example.Com:443"),
    ] {
        c.push(case(
            format!("per-host policy ({what}): its origin allowed"),
            HOSTS,
            at(authority, admin),
            creds_actual(admin),
            &[ActualAllowed],
        ));
        c.push(case(
            format!("per-host policy ({what}): top level's `*` does not leak in"),
            HOSTS,
            at(authority, "https://evil.net"),
            denied_vary(),
            &[ActualDenied],
        ));
    }
    c.push(case(
        "per-host: evil suffix is not the host",
        HOSTS,
        at("api.example.com.evil.net", "https://evil.net"),
        open_star(),
        &[ActualAllowed],
    ));
    c.push(case(
        "per-host: glued prefix is not the host",
        HOSTS,
        at("xapi.example.com", admin),
        open_star(),
        &[ActualAllowed],
    ));
    c.push(case(
        "`*.internal.example.com`: a subdomain selects it",
        HOSTS,
        at("a.internal.example.com:8080", "https://evil.net"),
        denied_vary(),
        &[ActualDenied],
    ));
    c.push(case(
        "`*.internal.example.com`: a subdomain, its origin",
        HOSTS,
        at("a.b.internal.example.com", "https://ops.example.com"),
        echo_only("https://ops.example.com", true),
        &[ActualAllowed],
    ));
    c.push(case(
        "`*.internal.example.com`: the apex does not select it",
        HOSTS,
        at("internal.example.com", "https://evil.net"),
        open_star(),
        &[ActualAllowed],
    ));
    c.push(case(
        "per-path policy: its prefix selects it",
        HOSTS,
        Req::get("https://evil.net").set(":path", "/admin/users"),
        denied_vary(),
        &[ActualDenied],
    ));
    c.push(case(
        "per-path policy: preflight under its prefix",
        HOSTS,
        Req::preflight("https://evil.net", "PUT").set(":path", "/admin/x"),
        rejected(),
        &[PreflightDeniedOrigin],
    ));
    c.push(case(
        "no :authority: top level",
        HOSTS,
        Req(vec![
            (":method".into(), b"GET".to_vec()),
            (":path".into(), b"/".to_vec()),
            ("origin".into(), b"https://evil.net".to_vec()),
        ]),
        open_star(),
        &[ActualAllowed],
    ));

    // --- shadow mode changes nothing ---
    for (what, req, counters) in [
        ("allowed actual", Req::get(ok), vec![ActualAllowed]),
        ("denied actual", Req::get("https://evil.net"), vec![ActualDenied, ShadowWouldDeny]),
        ("allowed preflight", Req::preflight(ok, "PUT"), vec![PreflightAllowed]),
        (
            "preflight, origin denied",
            Req::preflight("https://evil.net", "PUT"),
            vec![PreflightDeniedOrigin, ShadowWouldDeny],
        ),
        ("preflight, method denied", Req::preflight(ok, "PATCH"), vec![PreflightDeniedMethod, ShadowWouldDeny]),
        ("CRLF origin", Req::get("https://example.com\r\nx: y"), vec![ActualDenied, ShadowWouldDeny]),
        ("no origin", Req::new("GET"), vec![]),
    ] {
        c.push(Case { counters, ..case(format!("shadow: {what} untouched"), SHADOW, req, untouched(), &[]) });
    }

    // --- unmatched_preflight: forward ---
    c.push(case(
        "forward: denied preflight reaches the upstream untouched",
        FORWARD,
        Req::preflight("https://evil.net", "PUT"),
        untouched(),
        &[PreflightDeniedOrigin],
    ));
    c.push(case(
        "forward: method-denied preflight reaches the upstream",
        FORWARD,
        Req::preflight(ok, "PATCH"),
        untouched(),
        &[PreflightDeniedMethod],
    ));
    c.push(case(
        "forward: allowed preflight is still answered locally",
        FORWARD,
        Req::preflight(ok, "PUT"),
        Expect::Reply(
            204,
            hs(&[
                ("access-control-allow-origin", ok),
                ("access-control-allow-methods", "PUT"),
                ("access-control-allow-headers", "accept,accept-language,content-language,content-type"),
                ("vary", PREFLIGHT_VARY),
                ("content-length", "0"),
            ]),
        ),
        &[PreflightAllowed],
    ));

    // --- not preflights ---
    c.push(case(
        "OPTIONS without ACRM is an actual request",
        CRED,
        Req::new("OPTIONS").h("origin", ok),
        cred_actual_ok(ok),
        &[ActualAllowed],
    ));
    c.push(case(
        "lower-case `options` with ACRM is not a preflight",
        CRED,
        Req::preflight("https://evil.net", "PUT").set(":method", "options"),
        denied_vary(),
        &[ActualDenied],
    ));
    c.push(case("no Origin: only Vary", CRED, Req::new("GET"), denied_vary(), &[]));

    // --- private network access ---
    c.push(case(
        "PNA asked and allowed",
        PNA,
        Req::preflight(ok, "GET").h("access-control-request-private-network", "true"),
        pna_reply(true),
        &[PreflightAllowed],
    ));
    c.push(case("PNA not asked: no ACAPN", PNA, Req::preflight(ok, "GET"), pna_reply(false), &[PreflightAllowed]));
    c.push(case(
        "PNA asked, not allowed by the policy: no ACAPN",
        CRED,
        Req::preflight(ok, "PUT").h("access-control-request-private-network", "true"),
        cred_preflight_ok(ok),
        &[PreflightAllowed],
    ));
    c.push(case(
        "PNA asked with a denied origin",
        PNA,
        Req::preflight("https://evil.net", "GET").h("access-control-request-private-network", "true"),
        Expect::Reply(
            403,
            hs(&[
                ("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network"),
                ("content-length", "0"),
            ]),
        ),
        &[PreflightDeniedOrigin],
    ));
    c
}

/// Cases found by this suite and fixed in the engine: repeated ACRM/Origin lines, trailing-dot hosts.
fn engine_gaps() -> Vec<Case> {
    let ok = "https://example.com";
    let admin_only = |authority: &str| Req::get("https://evil.net").set(":authority", authority);
    vec![
        // A browser sends one Access-Control-Request-Method; two lines are ambiguous, as two
        // Origin lines are (denied). Envoy merges the two lines of this inline header into
        // `PUT,PATCH` (denied), but the stream logic reads only the first line, so hosts that
        // keep lines apart (and `simulate`, `cors-lint explain`) allow on the first one.
        case(
            "two ACRM lines (allowed, not allowed)",
            CRED,
            Req::preflight(ok, "PUT").h("access-control-request-method", "PATCH"),
            rejected(),
            &[PreflightDeniedMethod],
        ),
        // Same for Origin on an actual request: the preflight path denies two Origin lines,
        // the actual path decides on the first one (Envoy merges them into one invalid value).
        case(
            "actual: two Origin lines (allowed, evil)",
            CRED,
            Req::get(ok).h("origin", "https://evil.net"),
            denied_vary(),
            &[ActualDenied],
        ),
        // `api.example.com.` is the same host as `api.example.com` (browsers keep the dot in
        // Host); selecting the top-level `*` policy for it bypasses the stricter per-host one
        // wherever Envoy routes both to the same upstream (strip_trailing_host_dot is off by default).
        case(
            "per-host policy: trailing-dot authority still selects it",
            HOSTS,
            admin_only("api.example.com."),
            denied_vary(),
            &[ActualDenied],
        ),
        case(
            "per-host policy: trailing dot and port still select it",
            HOSTS,
            admin_only("api.example.com.:8443"),
            denied_vary(),
            &[ActualDenied],
        ),
        // `max_age: -1` was sent as `Access-Control-Max-Age: -1`, which the header's grammar
        // forbids: the Fetch Standard (and Safari) then caches for the default 5 s.
        case(
            "max_age -1 is sent as 0",
            NO_CACHE,
            Req::preflight(ok, "PUT"),
            no_cache_preflight(ok),
            &[PreflightAllowed],
        ),
        // The browser's form of an IPv4-mapped origin could not be listed (the dotted form was
        // required, and matched nothing a browser sends).
        case(
            "IPv4-mapped origin in the browser's form",
            NO_CACHE,
            Req::preflight("http://[::ffff:7f7f:7f7f]:90", "PUT"),
            no_cache_preflight("http://[::ffff:7f7f:7f7f]:90"),
            &[PreflightAllowed],
        ),
        case(
            "IPv4-mapped origin, dotted (no browser sends it)",
            NO_CACHE,
            Req::preflight("http://[::ffff:127.127.127.127]:90", "PUT"),
            rejected(),
            &[PreflightDeniedOrigin],
        ),
    ]
    .into_iter()
    // The request `Origin` check let non-canonical IPv6 through to the regexes.
    .chain(
        [
            ("IPv6 not compressed", "http://[0:0:0:0:0:0:0:1]:4000"),
            ("IPv6 leading zeros", "http://[::0001]"),
            ("IPv6 zero run not compressed", "http://[1:0:0:2:0:0:0:3]"),
            ("IPv6 single zero compressed", "http://[1::2:3:4:5:6:7]"),
            ("IPv6 dotted IPv4-compatible", "http://[::127.0.0.1]"),
            ("IPv6 dotted IPv4-mapped", "http://[::ffff:127.127.127.127]:90"),
        ]
        .into_iter()
        .map(|(what, o)| case(format!("regex `.*`: {what}"), RE_ANY, Req::get(o), denied_vary(), &[ActualDenied])),
    )
    .chain([case(
        "regex `.*`: IPv4-mapped IPv6 in the browser's form is reflected",
        RE_ANY,
        Req::get("http://[::ffff:7f7f:7f7f]:90"),
        echo_only("http://[::ffff:7f7f:7f7f]:90", true),
        &[ActualAllowed],
    )])
    .collect()
}

fn no_cache_preflight(origin: &str) -> Expect {
    Expect::Reply(
        204,
        hs(&[
            ("access-control-allow-origin", origin),
            ("access-control-allow-methods", "PUT"),
            ("access-control-allow-headers", "accept,accept-language,content-language,content-type"),
            ("access-control-max-age", "0"),
            ("vary", PREFLIGHT_VARY),
            ("content-length", "0"),
        ]),
    )
}

fn open_star() -> Expect {
    Expect::Upstream(hs(&[("x-upstream", "1"), ("access-control-allow-origin", "*")]))
}

fn pna_reply(pna: bool) -> Expect {
    let vary =
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network";
    let mut h = hs(&[
        ("access-control-allow-origin", "https://example.com"),
        ("access-control-allow-headers", "accept,accept-language,content-language,content-type"),
    ]);
    if pna {
        h.push(("access-control-allow-private-network".into(), "true".into()));
    }
    h.extend(hs(&[("vary", vary), ("content-length", "0")]));
    Expect::Reply(204, h)
}

fn sorted(mut h: Headers) -> Headers {
    for (k, _) in h.iter_mut() {
        *k = k.to_ascii_lowercase();
    }
    h.sort();
    h
}

/// Runs one case: the decision and headers expected, then the invariants.
fn run_case(configs: &HashMap<&'static str, Rc<Config>>, case: &Case) -> Result<(), String> {
    let config = configs[case.config].clone();
    let request = invariants::borrow(&case.req.0);
    let out = simulate::run(config, &request, case.upstream);
    let got = match &out.local_reply {
        Some((status, h)) => Expect::Reply(*status, sorted(h.clone())),
        None => Expect::Upstream(sorted(out.response_headers.clone())),
    };
    let want = match &case.expect {
        Expect::Reply(s, h) => Expect::Reply(*s, sorted(h.clone())),
        Expect::Upstream(h) => Expect::Upstream(sorted(h.clone())),
    };
    if got != want {
        return Err(format!("decision/headers\n  want {want:?}\n  got  {got:?}"));
    }
    if out.counters != case.counters {
        return Err(format!("counters: want {:?}, got {:?}", case.counters, out.counters));
    }
    invariants::check(&request, &out, &|o| may_reflect(case.config, o)).map_err(|e| format!("invariant: {e}"))
}

fn compiled() -> HashMap<&'static str, Rc<Config>> {
    [CRED, OPEN, OPEN_AUTH, SUB, NULL_OK, RE_ANY, RE_LOOSE, HOSTS, SHADOW, FORWARD, PNA, PATHS, GATEWAY, NO_CACHE]
        .into_iter()
        .map(|c| (c, Rc::new(Config::from_json(c).unwrap_or_else(|e| panic!("{e}\n{c}")))))
        .collect()
}

#[test]
fn attack_cases() {
    let configs = compiled();
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut names = std::collections::HashSet::new();
    let mut failures = Vec::new();
    for case in &cases {
        assert!(names.insert(case.name.clone()), "duplicate case name {}", case.name);
        if let Err(e) = run_case(&configs, case) {
            failures.push(format!("[{}] {e}", case.name));
        }
    }
    eprintln!("{} attack cases run", cases.len());
    assert!(failures.is_empty(), "{} of {} attack cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn engine_gap_cases() {
    let configs = compiled();
    let failures: Vec<String> = engine_gaps()
        .iter()
        .filter_map(|case| run_case(&configs, case).err().map(|e| format!("[{}] {e}", case.name)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Configurations that must not load: each names the key, the value and the rule
// ---------------------------------------------------------------------------------------------

/// `{"allow_origins":[<origin>]}` plus extra keys.
fn with_origin(origin: &str, extra: &str) -> String {
    let o = serde_json::to_string(origin).unwrap();
    if extra.is_empty() {
        format!(r#"{{"allow_origins":[{o}]}}"#)
    } else {
        format!(r#"{{"allow_origins":[{o}],{extra}}}"#)
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

const BASE: &str = r#""allow_origins":["https://app.example.com"]"#;

/// (configuration, key named, words the reason must contain).
fn refused_configs() -> Vec<(String, &'static str, &'static str)> {
    let creds = r#""allow_credentials":true"#;
    let mut v: Vec<(String, &'static str, &'static str)> = Vec::new();
    // Malformed origins (rule: only browser-serialized http(s) origins can be listed).
    for (origin, why) in [
        ("app.example.com", "missing scheme"),
        ("//app.example.com", "missing scheme"),
        ("https://app.example.com/", "trailing slash"),
        ("https://app.example.com/api", "path"),
        ("https://app.example.com?x=1", "query"),
        ("https://app.example.com#top", "fragment"),
        ("https://user@app.example.com", "userinfo"),
        ("https://user:pw@app.example.com", "userinfo"),
        ("https://b\u{fc}cher.example", "punycode"),
        ("https://аррӏе.com", "punycode"),
        ("https://app.example.com:0", "port `0`"),
        ("https://app.example.com:65536", "port `65536`"),
        ("https://app.example.com:80800", "port `80800`"),
        ("https://app.example.com:-1", "port `-1`"),
        ("https://app.example.com:08443", "leading zeros"),
        ("https://app.example.com:443", "default port"),
        ("http://app.example.com:80", "default port"),
        ("https://app.example.com.", "trailing dot"),
        ("https://app..example.com", "not a valid host name"),
        ("https://256.0.0.1", "IPv4"),
        ("https://1.2.3", "IPv4"),
        ("https://010.0.0.1", "IPv4"),
        ("http://[::1", "malformed"),
        ("http://[0:0:0:0:0:0:0:1]", "[::1]"),
        ("http://[::g]", "IPv6"),
        ("http://[::0001]", "`[::1]`"),
        ("http://[::127.0.0.1]", "`[::7f00:1]`"),
        ("http://[::ffff:127.127.127.127]:90", "`[::ffff:7f7f:7f7f]`"),
        ("http://[::ffff:10.0.0.1]:*", "`[::ffff:a00:1]`"),
        ("https://xn--", "nothing follows `xn--`"),
        ("https://xn--f.example", "punycode"),
        ("https://app.xn--bcher-kv.example", "punycode"),
        ("https://*.xn--99999999999.example", "punycode"),
        ("https://xn--app-.example.com", "ASCII label `app`"),
        ("https://*", "leftmost label"),
        ("https://*example.com", "leftmost label"),
        ("https://a.*.example.com", "leftmost label"),
        ("https://*.*.example.com", "leftmost label"),
        ("https://app.example.*", "leftmost label"),
        ("*://app.example.com", "scheme `*`"),
        ("https://app.example.com:8*", "port `8*`"),
        ("https://%61pp.example.com", "percent"),
        ("https://app.example.com\r\nx: y", "control"),
        ("https://app.example.com ", "whitespace"),
        ("", "missing scheme"),
        // `null` and other schemes.
        ("null", "allow_null_origin"),
        ("Null", "allow_null_origin"),
        ("file://", "scheme `file`"),
        ("file:///etc/passwd", "scheme `file`"),
        ("ftp://files.example.com", "scheme `ftp`"),
        ("chrome-extension://abcdefghijklmnop", "scheme `chrome-extension`"),
        ("ws://app.example.com", "scheme `ws`"),
        ("data:text/html,x", "missing scheme"),
        ("javascript:alert(1)", "missing scheme"),
    ] {
        v.push((with_origin(origin, ""), "allow_origins[0]", why));
    }
    // A `*.` pattern whose shortest match (`x.` + suffix) is longer than any host name.
    for last in [60, 61] {
        // A suffix of 252, then 253 characters: valid names, listed exactly they load.
        let suffix = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(last));
        v.push((with_origin(&format!("https://*.{suffix}"), ""), "allow_origins[0]", "longer than 253 characters"));
    }
    // With credentials: `*` anywhere, insecure origins, public-suffix wildcards.
    for (origin, why) in [
        ("*", "credentials"),
        ("http://app.example.com", "dangerously_allow_insecure_origins_with_credentials"),
        ("http://app.example.com:8080", "http://"),
        ("http://*.example.com", "http://"),
        ("http://example.com:*", "http://"),
        ("http://localhost.evil.net", "http://"),
        ("http://127.0.0.1.nip.io", "http://"),
        ("http://10.0.0.1", "http://"),
        ("http://192.168.1.10:8080", "http://"),
        ("https://*.com", "dangerously_allow_public_suffix_wildcards_with_credentials"),
        ("https://*.com:8443", "public suffix"),
        ("https://*.co.uk", "public suffix"),
        ("https://*.github.io", "public suffix"),
        ("https://*.herokuapp.com", "public suffix"),
        ("https://*.s3.amazonaws.com", "public suffix"),
        ("https://*.xn--p1ai", "public suffix"),
        ("https://*.anything.ck", "public suffix"),
    ] {
        v.push((with_origin(origin, creds), "allow_origins[0]", why));
    }
    // An opt-in for one rule does not lift the other.
    v.push((
        with_origin(
            "http://*.github.io",
            r#""allow_credentials":true,"dangerously_allow_insecure_origins_with_credentials":true"#,
        ),
        "allow_origins[0]",
        "public suffix",
    ));
    v.push((
        with_origin(
            "http://*.github.io",
            r#""allow_credentials":true,"dangerously_allow_public_suffix_wildcards_with_credentials":true"#,
        ),
        "allow_origins[0]",
        "http://",
    ));
    // An opt-in given to one policy does not reach another; credentials inherited are checked.
    v.push((
        r#"{"allow_origins":["https://app.example.com"],"allow_credentials":true,"policies":[
            {"match":{"hosts":["a.example.com"]},"allow_origins":["http://a.example.net"],"dangerously_allow_insecure_origins_with_credentials":true},
            {"match":{"hosts":["b.example.com"]},"allow_origins":["http://b.example.net"]}]}"#
            .into(),
        "policies[1].allow_origins[0]",
        "http://",
    ));
    v.push((
        r#"{"allow_origins":["https://app.example.com"],"allow_credentials":true,"policies":[
            {"match":{"path_prefixes":["/pages/"]},"allow_origins":["https://*.github.io"]}]}"#
            .into(),
        "policies[0].allow_origins[0]",
        "public suffix",
    ));
    v.push((
        r#"{"allow_origins":["https://app.example.com"],"policies":[
            {"match":{"hosts":["a.example.com"]},"allow_origins":["https://ok.example.com","null"]}]}"#
            .into(),
        "policies[0].allow_origins[1]",
        "allow_null_origin",
    ));
    // `*` in methods, headers, expose headers with credentials (top level and inherited).
    for (key, extra) in [
        ("allow_methods[1]", r#""allow_methods":["PUT","*"]"#),
        ("expose_headers[2]", r#""expose_headers":["x-a","x-b","*"]"#),
    ] {
        v.push((format!("{{{BASE},{creds},{extra}}}"), key, "credentials"));
    }
    v.push((
        format!(r#"{{{BASE},"expose_headers":["*"],"policies":[{{"match":{{"hosts":["a.example.com"]}},{creds}}}]}}"#),
        "policies[0].expose_headers[0]",
        "credentials",
    ));
    // Methods: not tokens, forbidden.
    for (m, why) in [
        ("GET, PUT", "token"),
        ("PUT ", "token"),
        ("", "token"),
        ("P\u{fc}T", "token"),
        ("PUT\r\nX: y", "token"),
        ("(GET)", "token"),
        ("CONNECT", "forbidden"),
        ("connect", "forbidden"),
        ("TRACE", "forbidden"),
        ("Trace", "forbidden"),
        ("TRACK", "forbidden"),
        ("track", "forbidden"),
    ] {
        v.push((format!(r#"{{{BASE},"allow_methods":["GET",{}]}}"#, json_str(m)), "allow_methods[1]", why));
    }
    // Request headers: not tokens, forbidden (Fetch list, proxy-*, sec-*).
    for (h, why) in [
        ("x custom", "token"),
        ("x-custom:", "token"),
        ("", "token"),
        ("x-caf\u{e9}", "token"),
        ("x-a\r\nx-b", "token"),
        ("accept-charset", "forbidden"),
        ("Accept-Encoding", "forbidden"),
        ("access-control-request-headers", "forbidden"),
        ("access-control-request-method", "forbidden"),
        ("connection", "forbidden"),
        ("content-length", "forbidden"),
        ("cookie", "forbidden"),
        ("cookie2", "forbidden"),
        ("date", "forbidden"),
        ("DNT", "forbidden"),
        ("expect", "forbidden"),
        ("host", "forbidden"),
        ("keep-alive", "forbidden"),
        ("origin", "forbidden"),
        ("referer", "forbidden"),
        ("set-cookie", "forbidden"),
        ("te", "forbidden"),
        ("trailer", "forbidden"),
        ("transfer-encoding", "forbidden"),
        ("upgrade", "forbidden"),
        ("via", "forbidden"),
        ("proxy-authorization", "forbidden"),
        ("Proxy-Connection", "forbidden"),
        ("proxy-anything", "forbidden"),
        ("sec-fetch-site", "forbidden"),
        ("Sec-CH-UA", "forbidden"),
        ("sec-websocket-key", "forbidden"),
        // Response-only CORS headers: no request needs them.
        ("access-control-allow-origin", "response-only"),
        ("Access-Control-Allow-Credentials", "response-only"),
        ("access-control-allow-methods", "response-only"),
        ("access-control-allow-headers", "response-only"),
        ("access-control-allow-private-network", "response-only"),
        ("access-control-expose-headers", "response-only"),
        ("ACCESS-CONTROL-MAX-AGE", "response-only"),
    ] {
        v.push((format!(r#"{{{BASE},"allow_headers":["x-ok",{}]}}"#, json_str(h)), "allow_headers[1]", why));
    }
    // Expose headers: not tokens, forbidden response headers.
    for (h, why) in [
        ("set-cookie", "forbidden"),
        ("Set-Cookie", "forbidden"),
        ("SET-COOKIE2", "forbidden"),
        ("x total", "token"),
        ("x-total\r\nset-cookie: a", "token"),
        // Request-only headers: no response carries them.
        ("access-control-request-method", "request-only"),
        ("Access-Control-Request-Headers", "request-only"),
        ("access-control-request-private-network", "request-only"),
        ("origin", "request-only"),
    ] {
        v.push((format!(r#"{{{BASE},"expose_headers":["x-ok",{}]}}"#, json_str(h)), "expose_headers[1]", why));
    }
    // max_age outside -1..=86400.
    for (age, why) in [
        ("86401", "86400"),
        ("-2", "-1"),
        ("604800", "86400"),
        ("9223372036854775807", "86400"),
        ("-9223372036854775808", "-1"),
        ("1e3", "invalid type"),
        ("600.5", "invalid type"),
        ("18446744073709551616", "invalid type"),
        ("\"600\"", "invalid type"),
        ("null", ""),
    ] {
        if age == "null" {
            // `null` means "not set": it loads.
            Config::from_json(&format!(r#"{{{BASE},"max_age":null}}"#)).unwrap();
            continue;
        }
        v.push((format!(r#"{{{BASE},"max_age":{age}}}"#), "max_age", why));
    }
    // Regexes that do not compile or are too large.
    v.push((r#"{"allow_origin_regexes":["https://(a"]}"#.into(), "allow_origin_regexes[0]", ""));
    v.push((r#"{"allow_origin_regexes":["(a{1000}){1000}"]}"#.into(), "allow_origin_regexes[0]", ""));
    v
}

#[test]
fn insecure_configs_are_refused_naming_the_key() {
    let cases = refused_configs();
    let mut failures = Vec::new();
    for (json, key, words) in &cases {
        match Config::from_json(json) {
            Ok(_) => failures.push(format!("accepted: {json}")),
            Err(e) => {
                let line = e.to_string();
                if e.key != *key || !line.contains(words) || line.contains('\n') || !line.contains(&format!("`{key}`"))
                {
                    failures.push(format!("{json}\n  want key {key} mentioning {words:?}\n  got  {line}"));
                }
            }
        }
    }
    eprintln!("{} refused configurations checked", cases.len());
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn error_line_names_the_value() {
    let e = Config::from_json(&with_origin("https://*.github.io", r#""allow_credentials":true"#)).unwrap_err();
    assert_eq!(e.value.as_deref(), Some(r#""https://*.github.io""#), "{e}");
    let e = Config::from_json(&format!(r#"{{{BASE},"max_age":86401}}"#)).unwrap_err();
    assert_eq!(e.value.as_deref(), Some("86401"), "{e}");
    // A control character in the value is escaped in the one-line message.
    let e = Config::from_json(&with_origin("https://a.example.com\r\nx", "")).unwrap_err();
    assert!(!e.to_string().contains('\r') && !e.to_string().contains('\n'), "{e:?}");
}

/// What the rules allow on purpose: loopback http with credentials, the loud opt-ins, bounds.
#[test]
fn allowed_edges_load() {
    let creds = r#""allow_credentials":true"#;
    for ok in [
        with_origin("http://localhost:3000", creds),
        with_origin("http://localhost:*", creds),
        with_origin("http://app.localhost", creds),
        with_origin("http://127.0.0.1:8080", creds),
        with_origin("http://127.1.2.3", creds),
        with_origin("http://[::1]:8080", creds),
        with_origin("https://*.example.com", creds),
        with_origin("https://*.example.co.uk", creds),
        with_origin("https://*.user.github.io", creds),
        with_origin(
            "https://*.github.io",
            &format!("{creds},\"dangerously_allow_public_suffix_wildcards_with_credentials\":true"),
        ),
        with_origin(
            "http://app.example.com",
            &format!("{creds},\"dangerously_allow_insecure_origins_with_credentials\":true"),
        ),
        with_origin("https://*.com", ""),
        with_origin("http://app.example.com", ""),
        with_origin("https://app.example.com:65535", ""),
        with_origin("https://xn--80ak6aa92e.com", ""),
        with_origin("https://*.xn--p1ai", ""),
        with_origin("http://[::ffff:7f7f:7f7f]:90", ""),
        with_origin(&format!("https://*.{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(59)), ""),
        format!(r#"{{{BASE},"max_age":-1}}"#),
        format!(r#"{{{BASE},"max_age":0}}"#),
        format!(r#"{{{BASE},"max_age":86400}}"#),
        format!(r#"{{{BASE},"allow_methods":["PURGE","patch","*"]}}"#),
        format!(r#"{{{BASE},"allow_headers":["x-forwarded-for","*","authorization"]}}"#),
        format!(r#"{{{BASE},"expose_headers":["*","etag"]}}"#),
        r#"{"allow_origins":["https://app.example.com"],"allow_null_origin":true,"allow_credentials":true}"#.into(),
    ] {
        Config::from_json(&ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

/// JSON with a key given twice is ambiguous: a reviewer (or another parser) may read the first
/// value while the plugin reads the last, so `allow_credentials:false ... :true` could pass review.
#[test]
fn duplicate_keys_are_refused() {
    for json in [
        r#"{"allow_origins":["https://app.example.com"],"allow_credentials":false,"allow_credentials":true}"#,
        r#"{"allow_origins":["https://app.example.com"],"allow_origins":["*"]}"#,
        r#"{"allow_origins":["https://a.example.com"],"policies":[{"match":{"hosts":["a.example.com"],"hosts":["*.com"]}}]}"#,
    ] {
        assert!(Config::from_json(json).is_err(), "accepted a duplicate key: {json}");
    }
}

/// The error is one log line that names the key, even when the key or value holds control
/// characters (a configuration must not be able to forge extra lines in Envoy's log).
#[test]
fn config_errors_stay_one_line_for_hostile_keys() {
    let mut failures = Vec::new();
    for json in [
        r#"{"allow_origins":["https://a.example.com"],"x\nFAKE LOG LINE":1}"#,
        r#"{"allow_origins":["https://a.example.com"],"x\rFAKE":1}"#,
        r#"{"allow_origins":["https://a.example.com"],"mode":"enforce\nFAKE"}"#,
        r#"{"allow_origins":["https://a.example.com"],"unmatched_preflight":"x\r\ny"}"#,
        r#"{"allow_origins":["https://a.example.com"],"policies":[{"match":{"hosts":["a.com"]},"k\n":1}]}"#,
    ] {
        let e = Config::from_json(json).unwrap_err();
        let line = e.to_string();
        if line.contains('\n') || line.contains('\r') {
            failures.push(format!("{json}: {line:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Values with control characters are escaped in the error line (they are JSON-quoted).
#[test]
fn config_error_values_are_escaped() {
    for json in [
        r#"{"allow_origins":["https://a.example.com\nFAKE"]}"#,
        r#"{"allow_origins":["https://a.example.com"],"allow_methods":["GET\r\nX"]}"#,
        r#"{"allow_origins":["https://a.example.com"],"allow_headers":["x\ny"]}"#,
        r#"{"allow_origins":["https://a.example.com"],"expose_headers":["x\ry"]}"#,
        r#"{"allow_origin_regexes":["(\n"]}"#,
        r#"{"allow_origins":["https://a.example.com"],"policies":[{"match":{"hosts":["a\n.com"]}}]}"#,
        r#"{"allow_origins":["https://a.example.com"],"policies":[{"match":{"path_prefixes":["/a\nb"]}}]}"#,
    ] {
        let e = Config::from_json(json).unwrap_err();
        let line = e.to_string();
        assert!(!line.contains('\n') && !line.contains('\r'), "{json}: {line:?}");
    }
}
