//! Property tests (proptest) of the engine's invariants, through `simulate::run` (the plugin's
//! stream logic) over generated configurations and requests:
//! - the emitted ACAO is the request's Origin or `*`, and never `*` with credentials;
//! - a denied origin (by an independent model of the patterns) gets no ACAO, and an allowed
//!   one gets it on an actual request;
//! - every emitted header value is valid, no header appears twice;
//! - cost is bounded by the input: memory allocated per request is linear in its size, inputs
//!   past the documented limits are refused, pathological regexes and huge headers neither
//!   panic nor blow up.
//!
//! Native only: proptest is a native dev-dependency (the engine's own tests also run on wasm).
#![cfg(not(target_arch = "wasm32"))]
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::rc::Rc;
use std::time::{Duration, Instant};

use cors_engine::simulate::{self, Outcome};
use cors_engine::Config;
use proptest::prelude::*;
use testkit::invariants::{borrow, check, is_serialized_origin, values, Lines};

// Allocation accounting (per thread, so parallel tests do not disturb each other).
#[global_allocator]
static ALLOCATOR: testkit::alloc_counter::Counting = testkit::alloc_counter::Counting;

/// Bytes allocated (not net: every allocation counts) while running `f`.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let (out, allocated) = testkit::alloc_counter::measure(f);
    (out, allocated.bytes)
}

// ---------------------------------------------------------------------------------------------
// Generated configurations, with an independent model of what they allow
// ---------------------------------------------------------------------------------------------

/// Origin patterns of the generated policies.
const PATTERNS: &[&str] = &[
    "https://app.example.com",
    "https://example.com",
    "http://localhost:3000",
    "https://app.example.com:8443",
    "http://127.0.0.1:8080",
    "http://[::1]:8080",
    "https://*.example.com",
    "https://*.example.org:8443",
    "http://localhost:*",
    "https://xn--80ak6aa92e.com",
];

#[derive(Debug, Clone)]
struct Policy {
    patterns: Vec<&'static str>,
    any: bool,
    null: bool,
    credentials: bool,
    /// `https://[a-z]+\.regex\.test` when set.
    regex: bool,
    methods: Vec<&'static str>,
    headers: Vec<&'static str>,
    expose: Vec<&'static str>,
    shadow: bool,
    forward: bool,
}

impl Policy {
    fn json(&self) -> String {
        let mut origins: Vec<&str> = self.patterns.clone();
        if self.any {
            origins.push("*");
        }
        let mut v = serde_json::json!({
            "allow_origins": origins,
            "allow_null_origin": self.null,
            "allow_credentials": self.credentials,
            "allow_methods": self.methods,
            "allow_headers": self.headers,
            "expose_headers": self.expose,
            "mode": if self.shadow { "shadow" } else { "enforce" },
            "unmatched_preflight": if self.forward { "forward" } else { "reject" },
        });
        if self.null && self.credentials {
            // The opt-in the credential rules ask for (README, `allow_null_origin`).
            v["dangerously_allow_null_origin_with_credentials"] = serde_json::json!(true);
        }
        if self.regex {
            v["allow_origin_regexes"] = serde_json::json!(["https://[a-z]+\\.regex\\.test"]);
        }
        v.to_string()
    }

    /// Does this policy allow `origin`? Written from the README's rules, not from the engine.
    fn allows(&self, origin: &[u8]) -> bool {
        let Ok(o) = std::str::from_utf8(origin) else {
            return false;
        };
        if o == "null" {
            return (self.any && !self.credentials) || self.null;
        }
        if o.len() > 512 || !is_serialized_origin(o) {
            return false;
        }
        if self.any && !self.credentials {
            return true;
        }
        let (scheme, rest) = o.split_once("://").unwrap();
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, Some(p)),
            _ => (rest, None),
        };
        if self.any {
            // `*` with credentials does not load; never generated.
            return true;
        }
        let regex_ok = self.regex
            && scheme == "https"
            && port.is_none()
            && host
                .strip_suffix(".regex.test")
                .is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_lowercase()));
        regex_ok
            || self.patterns.iter().any(|p| {
                if let Some((pscheme, phost)) = p.split_once("://*.") {
                    let (suffix, pport) = match phost.split_once(':') {
                        Some((s, pp)) => (s, Some(pp)),
                        None => (phost, None),
                    };
                    pscheme == scheme
                        && port == pport
                        && host.strip_suffix(suffix).is_some_and(|l| l.len() > 1 && l.ends_with('.'))
                } else if let Some(base) = p.strip_suffix(":*") {
                    base == format!("{scheme}://{host}")
                } else {
                    *p == o
                }
            })
    }
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        proptest::sample::subsequence(PATTERNS.to_vec(), 0..=PATTERNS.len()),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::sample::subsequence(vec!["PUT", "DELETE", "PURGE", "patch", "*"], 0..=3),
        proptest::sample::subsequence(
            vec!["x-custom", "authorization", "x-a-very-long-header-name-beyond-inline", "*"],
            0..=3,
        ),
        proptest::sample::subsequence(vec!["x-total", "etag", "*"], 0..=2),
        (any::<bool>(), any::<bool>()),
    )
        .prop_map(|(patterns, any, null, credentials, regex, methods, headers, expose, (shadow, forward))| {
            let mut p =
                Policy { patterns, any, null, credentials, regex, methods, headers, expose, shadow: false, forward };
            // One in four policies is in shadow mode.
            p.shadow = shadow && forward;
            if p.credentials {
                // `*` with credentials, and credentialed http:// non-loopback, are refused at load.
                p.any = false;
                p.methods.retain(|m| *m != "*");
                p.headers.retain(|h| *h != "*");
                p.expose.retain(|h| *h != "*");
            }
            if p.patterns.is_empty() && !p.any && !p.null && !p.regex {
                p.patterns.push("https://app.example.com");
            }
            p
        })
}

// ---------------------------------------------------------------------------------------------
// Generated requests
// ---------------------------------------------------------------------------------------------

/// Bytes that tend to break parsers of origins and header lists.
const NASTY: &[u8] = b"\r\n\0\t :/@.%?#[]*,;\"\\AZaz09-_\x7f\x80\xc3\xa9\xff";

fn valid_origin() -> impl Strategy<Value = Vec<u8>> {
    let scheme = prop_oneof![Just("https"), Just("http"), Just("chrome-extension"), Just("ftp")];
    let host = prop_oneof![
        Just("app.example.com".to_string()),
        Just("example.com".to_string()),
        Just("localhost".to_string()),
        Just("127.0.0.1".to_string()),
        Just("[::1]".to_string()),
        Just("xn--80ak6aa92e.com".to_string()),
        "[a-z0-9-]{1,12}(\\.[a-z0-9-]{1,12}){0,3}\\.(example\\.com|example\\.org|regex\\.test|com)",
        "[a-z]{1,10}\\.regex\\.test",
    ];
    let port =
        prop_oneof![Just(None), Just(Some(3000u32)), Just(Some(8080)), Just(Some(8443)), (1u32..=65535).prop_map(Some)];
    (scheme, host, port).prop_filter_map("default ports are never serialized", |(s, h, p)| {
        if (s == "https" && p == Some(443)) || (s == "http" && p == Some(80)) {
            return None;
        }
        Some(match p {
            Some(p) => format!("{s}://{h}:{p}").into_bytes(),
            None => format!("{s}://{h}").into_bytes(),
        })
    })
}

/// A valid origin with a few bytes inserted, replaced or removed.
fn mutated_origin() -> impl Strategy<Value = Vec<u8>> {
    (
        valid_origin(),
        proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(NASTY)), 1..4),
    )
        .prop_map(|(mut o, edits)| {
            for (at, op, b) in edits {
                let i = at.index(o.len() + 1);
                match op {
                    0 => o.insert(i, b),
                    1 if i < o.len() => o[i] = b,
                    _ if i < o.len() => {
                        o.remove(i);
                    }
                    _ => o.push(b),
                }
            }
            o
        })
}

fn origin() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => valid_origin(),
        3 => mutated_origin(),
        1 => Just(b"null".to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
        1 => proptest::collection::vec(prop::sample::select(NASTY), 0..32),
    ]
}

fn header_map() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        Just("x-custom".to_string()),
        Just("X-Custom".to_string()),
        Just("authorization".to_string()),
        Just("content-type".to_string()),
        Just("x-a-very-long-header-name-beyond-inline".to_string()),
        Just(String::new()),
        "[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,20}",
        "[ -~]{0,12}",
    ];
    (proptest::collection::vec(name, 0..8), prop::sample::select(vec![",", ", ", " ,\t", ",,"]))
        .prop_map(|(names, sep)| names.join(sep).into_bytes())
}

fn request() -> impl Strategy<Value = Lines> {
    let method = prop_oneof![Just("GET"), Just("OPTIONS"), Just("POST"), Just("PUT"), Just("options")];
    let acrm = prop_oneof![
        Just(None),
        Just(Some(b"PUT".to_vec())),
        Just(Some(b"GET".to_vec())),
        Just(Some(b"put".to_vec())),
        Just(Some(b"PURGE".to_vec())),
        Just(Some(b"GET, DELETE".to_vec())),
        Just(Some(b"TRACE".to_vec())),
        proptest::collection::vec(prop::sample::select(NASTY), 0..8).prop_map(Some),
    ];
    (
        method,
        proptest::collection::vec(origin(), 0..3),
        acrm,
        proptest::collection::vec(header_map(), 0..3),
        any::<bool>(),
    )
        .prop_map(|(method, origins, acrm, acrh, pna)| {
            let mut lines: Lines = vec![
                (":method".into(), method.as_bytes().to_vec()),
                (":authority".into(), b"api.test".to_vec()),
                (":path".into(), b"/".to_vec()),
            ];
            lines.extend(origins.into_iter().map(|o| ("origin".to_string(), o)));
            if let Some(m) = acrm {
                lines.push(("access-control-request-method".into(), m));
            }
            lines.extend(acrh.into_iter().map(|h| ("access-control-request-headers".to_string(), h)));
            if pna {
                lines.push(("access-control-request-private-network".into(), b"true".to_vec()));
            }
            lines
        })
}

fn load(p: &Policy) -> Rc<Config> {
    Rc::new(Config::from_json(&p.json()).unwrap_or_else(|e| panic!("generated policy refused: {e}\n{}", p.json())))
}

fn run(config: &Rc<Config>, lines: &Lines) -> Outcome {
    simulate::run(config.clone(), &borrow(lines), &[("x-upstream", "1")])
}

fn origins_of(lines: &Lines) -> Vec<&[u8]> {
    lines.iter().filter(|(k, _)| k == "origin").map(|(_, v)| v.as_slice()).collect()
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    /// ACAO is the request's (single) Origin or `*`; never `*` with credentials; every value
    /// valid; no header twice; nothing reflected that the policy model does not allow.
    #[test]
    fn invariants_hold(p in policy(), lines in request()) {
        let config = load(&p);
        let out = run(&config, &lines);
        let request = borrow(&lines);
        if let Err(e) = check(&request, &out, &|o| p.allows(o.as_bytes())) {
            return Err(TestCaseError::fail(format!("{e}\npolicy {}\nrequest {lines:?}\nout {out:?}", p.json())));
        }
        let origins = origins_of(&lines);
        for acao in values(out.client_headers(), "access-control-allow-origin") {
            prop_assert!(acao == "*" || origins.contains(&acao.as_bytes()), "ACAO {acao:?} not from {origins:?}");
            if acao == "*" {
                prop_assert!(!p.credentials, "`*` from a credentialed policy");
            }
        }
        if p.credentials && !p.shadow {
            for acao in values(out.client_headers(), "access-control-allow-origin") {
                prop_assert_ne!(acao, "*");
            }
        }
    }

    /// A denied origin gets no ACAO; an allowed origin on a GET gets exactly itself; a `*`
    /// policy without credentials answers `*` to every GET.
    #[test]
    fn decision_matches_the_model(p in policy(), o in origin()) {
        let config = load(&p);
        let lines: Lines = vec![
            (":method".into(), b"GET".to_vec()),
            (":authority".into(), b"api.test".to_vec()),
            (":path".into(), b"/".to_vec()),
            ("origin".into(), o.clone()),
        ];
        let out = run(&config, &lines);
        let acao = values(out.client_headers(), "access-control-allow-origin");
        let acac = values(out.client_headers(), "access-control-allow-credentials");
        if p.shadow {
            prop_assert!(acao.is_empty() && acac.is_empty(), "shadow mode changed the response");
        } else if p.any && !p.credentials {
            // A static answer, whatever the Origin (Fetch, "CORS protocol and HTTP caches").
            prop_assert_eq!(acao, vec!["*"], "static policy, origin {:?}", String::from_utf8_lossy(&o));
            prop_assert!(acac.is_empty());
        } else if p.allows(&o) {
            let want = if p.any && !p.credentials { "*".to_string() } else { String::from_utf8(o.clone()).unwrap() };
            prop_assert_eq!(acao, vec![want.as_str()], "allowed origin {:?} by {}", String::from_utf8_lossy(&o), p.json());
            prop_assert_eq!(acac.len(), usize::from(p.credentials));
        } else {
            prop_assert!(acao.is_empty(), "denied origin {:?} got ACAO {:?} from {}", String::from_utf8_lossy(&o), acao, p.json());
            prop_assert!(acac.is_empty());
        }
    }

    /// Preflights: an answered one carries exactly one ACAO equal to the only Origin (or `*`),
    /// a rejected one carries no CORS header, and one with several Origin lines is never allowed.
    #[test]
    fn preflight_answers(p in policy(), origins in proptest::collection::vec(origin(), 1..3),
                         acrh in header_map(), method in prop::sample::select(vec!["PUT", "GET", "put", "PURGE", "patch"])) {
        let config = load(&p);
        let mut lines: Lines = vec![
            (":method".into(), b"OPTIONS".to_vec()),
            (":authority".into(), b"api.test".to_vec()),
            (":path".into(), b"/".to_vec()),
            ("access-control-request-method".into(), method.as_bytes().to_vec()),
            ("access-control-request-headers".into(), acrh),
        ];
        lines.extend(origins.iter().map(|o| ("origin".to_string(), o.clone())));
        let out = run(&config, &lines);
        if let Err(e) = check(&borrow(&lines), &out, &|o| p.allows(o.as_bytes())) {
            return Err(TestCaseError::fail(format!("{e}\npolicy {}\nrequest {lines:?}", p.json())));
        }
        match &out.local_reply {
            Some((status, _)) if *status != 403 => {
                prop_assert_eq!(origins.len(), 1, "a preflight with several Origin lines was allowed");
                prop_assert!(p.allows(&origins[0]));
                let acao = values(out.client_headers(), "access-control-allow-origin");
                prop_assert_eq!(acao.len(), 1);
            }
            Some(_) => {}
            // `forward` passes on only a preflight whose origin the policy does not allow.
            None => prop_assert!(
                p.shadow || (p.forward && !(origins.len() == 1 && p.allows(&origins[0]))),
                "a preflight reached the upstream under enforce/reject, or from an allowed origin"
            ),
        }
    }

    /// Memory allocated by one request is linear in the request's size (the simulator itself
    /// copies the request a few times): no input makes the engine allocate out of proportion.
    #[test]
    fn allocation_is_linear_in_input(p in policy(), lines in request(),
                                     pad in proptest::collection::vec(header_map(), 0..4)) {
        let config = load(&p);
        let mut lines = lines;
        lines.extend(pad.into_iter().map(|h| ("access-control-request-headers".to_string(), h)));
        // Warm the per-VM caches (public suffix list, regex verdict map) outside the measure.
        let _ = run(&config, &lines);
        let size: usize = lines.iter().map(|(k, v)| k.len() + v.len()).sum();
        let (out, bytes) = allocated_by(|| run(&config, &lines));
        drop(out);
        prop_assert!(bytes <= 8 * size + 32 * 1024, "{bytes} bytes allocated for a {size}-byte request");
    }

    /// Long Access-Control-Request-Headers values: accepted up to the 64 KiB bound when every
    /// name is allowed, always refused beyond it, and never a panic.
    #[test]
    fn huge_request_headers_are_bounded(names in 1usize..20_000, lines_n in 1usize..5, evil in any::<bool>()) {
        let config = Rc::new(Config::from_json(r#"{"allow_origins":["*"],"allow_methods":["PUT"],"allow_headers":["*"]}"#).unwrap());
        let per_line = "x-a,".repeat(names / lines_n + 1);
        let mut lines: Lines = vec![
            (":method".into(), b"OPTIONS".to_vec()),
            ("origin".into(), b"https://a.example".to_vec()),
            ("access-control-request-method".into(), b"PUT".to_vec()),
        ];
        for _ in 0..lines_n {
            lines.push(("access-control-request-headers".into(), per_line.clone().into_bytes()));
        }
        if evil {
            lines.push(("access-control-request-headers".into(), b"authorization".to_vec()));
        }
        let total: usize = lines.iter().filter(|(k, _)| k.starts_with("access-control-request-h")).map(|(_, v)| v.len()).sum();
        let out = run(&config, &lines);
        let status = out.local_reply.as_ref().map(|r| r.0);
        if evil || total > 64 * 1024 {
            prop_assert_eq!(status, Some(403));
        } else {
            prop_assert_eq!(status, Some(204));
        }
    }

    /// Config text: arbitrary mutations of a valid configuration never panic the loader, and
    /// whatever loads still keeps the invariants on a fixed set of hostile requests.
    #[test]
    fn mutated_configs_never_panic(p in policy(), edits in proptest::collection::vec((any::<prop::sample::Index>(), prop::sample::select(b"\"{}[],:*\\ 0aZ.-/".to_vec())), 0..6)) {
        let mut json = p.json().into_bytes();
        for (at, b) in edits {
            let i = at.index(json.len());
            json[i] = b;
        }
        let Ok(text) = String::from_utf8(json) else { return Ok(()) };
        if let Ok(config) = Config::from_json(&text) {
            let config = Rc::new(config);
            for o in [&b"https://evil.net"[..], b"null", b"https://app.example.com\r\nx: y", b"https://app.example.com"] {
                for lines in [
                    vec![(":method".to_string(), b"GET".to_vec()), ("origin".to_string(), o.to_vec())],
                    vec![(":method".to_string(), b"OPTIONS".to_vec()), ("origin".to_string(), o.to_vec()),
                         ("access-control-request-method".to_string(), b"PUT".to_vec())],
                ] {
                    let out = run(&config, &lines);
                    if let Err(e) = check(&borrow(&lines), &out, &|o| o == "https://app.example.com" || o == "https://evil.net" || o == "null") {
                        return Err(TestCaseError::fail(format!("{e}\nconfig {text}")));
                    }
                }
            }
        }
    }
}

/// Worst cases of each input, each run once: pathological regexes against the longest origin
/// accepted, 64 KiB of header names, 512-byte origins under 10,000 patterns. The time bound is
/// a catastrophe detector (two orders of magnitude above a debug build's need), not a benchmark.
#[test]
fn worst_case_inputs_finish() {
    let regexes =
        r#"{"allow_origin_regexes":["(a+)+b","(a|aa)*c","https://(a*)*\\.x","(.*a){12}"],"allow_headers":["x-a"]}"#;
    let config = Rc::new(Config::from_json(regexes).unwrap());
    let long_origin = format!("https://{}", vec!["a".repeat(63); 7].join("."));
    assert!(long_origin.len() <= 512);
    let many: Vec<String> = (0..10_000).map(|i| format!("\"https://app{i}.example.com\"")).collect();
    let big = Rc::new(
        Config::from_json(&format!(r#"{{"allow_origins":[{}],"allow_headers":["x-a"]}}"#, many.join(","))).unwrap(),
    );
    let acrh = "x-a,".repeat(16 * 1024 - 1);
    let names_128 = vec!["x".repeat(128); 500].join(",");
    let cases: Vec<(&Rc<Config>, Lines)> = vec![
        (&config, vec![(":method".into(), b"GET".to_vec()), ("origin".into(), long_origin.clone().into_bytes())]),
        (&big, vec![(":method".into(), b"GET".to_vec()), ("origin".into(), long_origin.clone().into_bytes())]),
        (
            &config,
            vec![
                (":method".into(), b"OPTIONS".to_vec()),
                ("origin".into(), long_origin.clone().into_bytes()),
                ("access-control-request-method".into(), b"PUT".to_vec()),
                ("access-control-request-headers".into(), acrh.clone().into_bytes()),
            ],
        ),
        (
            &big,
            vec![
                (":method".into(), b"OPTIONS".to_vec()),
                ("origin".into(), b"https://app9999.example.com".to_vec()),
                ("access-control-request-method".into(), b"GET".to_vec()),
                ("access-control-request-headers".into(), acrh.into_bytes()),
            ],
        ),
        (
            &big,
            vec![
                (":method".into(), b"OPTIONS".to_vec()),
                ("origin".into(), b"https://app9999.example.com".to_vec()),
                ("access-control-request-method".into(), b"GET".to_vec()),
                ("access-control-request-headers".into(), names_128.into_bytes()),
            ],
        ),
    ];
    for (i, (config, lines)) in cases.iter().enumerate() {
        let start = Instant::now();
        let out = run(config, lines);
        let took = start.elapsed();
        assert!(took < Duration::from_secs(2), "case {i} took {took:?}");
        check(&borrow(lines), &out, &|o| o.starts_with("https://app")).unwrap();
    }
    // The 64 KiB ACRH of allowed names is accepted (the bound is inclusive of Envoy's default).
    let out = run(
        &big,
        &vec![
            (":method".into(), b"OPTIONS".to_vec()),
            ("origin".into(), b"https://app1.example.com".to_vec()),
            ("access-control-request-method".into(), b"GET".to_vec()),
            ("access-control-request-headers".into(), "x-a,".repeat(16 * 1024 - 1).into_bytes()),
        ],
    );
    assert_eq!(out.local_reply.map(|r| r.0), Some(204));
}
