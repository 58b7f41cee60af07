//! The checks of the fuzz targets (`fuzz/fuzz_targets/*.rs`), shared with `tests/fuzz_corpus.rs` (which replays every
//! committed corpus file through them in `make test`). Each check panics on a violation.
//!
//! `request` input format (text-friendly, so seeds are readable):
//! - the first byte selects one of the fixed policies (`POLICIES`, modulo their number);
//! - every following line (split on `\n`) is a header: `name: value` for the request
//!   (pseudo-headers too: `:method: OPTIONS`), `<name: value` for the upstream's response.
//!   One space after the colon is dropped; CR and any other byte may appear in a value.
use std::rc::Rc;

use cors_engine::counter::Counter;
use cors_engine::mode::Mode;
use cors_engine::simulate::{self, Outcome};
use cors_engine::Config;

use crate::invariants;

/// The policies requests are fuzzed against, each with the test's own model of what it may reflect.
pub const POLICIES: [&str; 7] = [
    // 0: exact origins with credentials
    r#"{"allow_origins":["https://app.example.com","http://localhost:3000","http://[::1]:8080","https://xn--80ak6aa92e.com"],
        "allow_methods":["GET","PUT","PURGE","patch"],"allow_headers":["x-custom","authorization"],
        "expose_headers":["x-total"],"allow_credentials":true,"max_age":600}"#,
    // 1: open, no credentials (only ever `*`)
    r#"{"allow_origins":["*"],"allow_methods":["*"],"allow_headers":["*"],"expose_headers":["*"]}"#,
    // 2: patterns, a regex and null, with credentials
    r#"{"allow_origins":["https://*.example.com","http://localhost:*"],"allow_origin_regexes":["https://[a-z0-9-]+\\.regex\\.test"],
        "allow_null_origin":true,"dangerously_allow_null_origin_with_credentials":true,"allow_headers":["x-custom"],"allow_credentials":true}"#,
    // 3: a permissive top level with per-host and per-path policies
    r#"{"allow_origins":["*"],"policies":[
        {"match":{"hosts":["api.example.com"]},"allow_origins":["https://admin.example.com"],"allow_credentials":true},
        {"match":{"hosts":["*.internal.example.com"]},"allow_origins":["https://ops.example.com"]},
        {"match":{"path_prefixes":["/admin/"]},"allow_origins":["https://root.example.com"]}]}"#,
    // 4: shadow mode: changes nothing
    r#"{"allow_origins":["https://app.example.com"],"allow_methods":["PUT"],"allow_credentials":true,"mode":"shadow"}"#,
    // 5: forward unmatched preflights, private network access
    r#"{"allow_origins":["https://app.example.com"],"allow_methods":["PUT"],"unmatched_preflight":"forward",
        "allow_private_network":true,"preflight_success_status":200}"#,
    // 6: a shared gateway: off except one host, with an `off` carve-out and a path-scoped `*`
    r#"{"mode":"off","policies":[
        {"match":{"hosts":["api.example.com"],"path_prefixes":["/legacy/"]},"mode":"off"},
        {"match":{"hosts":["api.example.com"],"path_prefixes":["/public/"]},"allow_origins":["*"]},
        {"match":{"hosts":["api.example.com"]},"allow_origins":["https://app.example.com"],"allow_credentials":true}]}"#,
];

fn may_reflect(policy: usize, origin: &str) -> bool {
    let under = |suffix: &str| {
        origin.strip_prefix("https://").and_then(|h| h.strip_suffix(suffix)).is_some_and(|l| {
            !l.is_empty() && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        })
    };
    match policy {
        0 => ["https://app.example.com", "http://localhost:3000", "http://[::1]:8080", "https://xn--80ak6aa92e.com"]
            .contains(&origin),
        2 => {
            origin == "null"
                || under(".example.com")
                || (under(".regex.test") && !origin[8..origin.len() - 11].contains('.'))
                || origin == "http://localhost"
                || origin.strip_prefix("http://localhost:").is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
        }
        3 => ["https://admin.example.com", "https://ops.example.com", "https://root.example.com"].contains(&origin),
        5 | 6 => origin == "https://app.example.com",
        // 1 answers `*` only; 4 (shadow) never emits anything.
        _ => false,
    }
}

thread_local! {
    static COMPILED: Vec<Rc<Config>> = POLICIES
        .iter()
        .map(|p| Rc::new(Config::from_json(p).unwrap_or_else(|e| panic!("fixed policy refused: {e}"))))
        .collect();
}

/// Most header lines read from one input (bounds the work per input, not the values' size).
const MAX_LINES: usize = 256;

/// A decoded `request` input.
pub struct Input {
    pub policy: usize,
    pub request: invariants::Lines,
    pub upstream: Vec<(String, String)>,
}

pub fn decode(data: &[u8]) -> Option<Input> {
    let (&first, rest) = data.split_first()?;
    let policy = usize::from(first) % POLICIES.len();
    let mut request = Vec::new();
    let mut upstream: Vec<(String, String)> = Vec::new();
    // The first line holds the selector (and whatever follows it on that line is ignored).
    for line in rest.split(|&b| b == b'\n').skip(1).take(MAX_LINES) {
        let (is_upstream, line) = match line.strip_prefix(b"<") {
            Some(l) => (true, l),
            None => (false, line),
        };
        // The name ends at the first `:` after its first byte (so `:method` keeps its colon).
        let Some(colon) = line.iter().skip(1).position(|&b| b == b':').map(|i| i + 1) else {
            continue;
        };
        let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
        let value = &line[colon + 1..];
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if is_upstream {
            // What a real upstream can send through Envoy: token names, valid values, one line
            // per name; no CORS headers of its own (their replacement is checked in tests/attacks.rs).
            let Ok(v) = std::str::from_utf8(value) else { continue };
            if !name.bytes().all(invariants::is_tchar)
                || name.is_empty()
                || name.starts_with("access-control-")
                || !invariants::is_valid_value(v)
                || upstream.iter().any(|(k, _)| *k == name)
            {
                continue;
            }
            upstream.push((name, v.to_owned()));
        } else {
            request.push((name, value.to_vec()));
        }
    }
    Some(Input { policy, request, upstream })
}

/// Runs one decoded input and checks every invariant; panics with the details on a violation.
pub fn check_input(input: &Input) -> Outcome {
    let config = COMPILED.with(|c| c[input.policy].clone());
    let request = invariants::borrow(&input.request);
    let upstream: Vec<(&str, &str)> = input.upstream.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = simulate::run(config, &request, &upstream);
    let fail = |why: String| -> ! {
        panic!(
            "{why}\npolicy {}\nrequest {:?}\nupstream {:?}\noutcome {out:?}",
            input.policy,
            request_text(&input.request),
            input.upstream
        )
    };
    if let Err(e) = invariants::check(&request, &out, &|o| may_reflect(input.policy, o)) {
        fail(e);
    }
    let first = |name: &str| input.request.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_slice());
    let origins = input.request.iter().filter(|(k, _)| k == "origin").count();
    let is_preflight =
        first(":method") == Some(b"OPTIONS") && origins > 0 && first("access-control-request-method").is_some();
    if let Some((status, _)) = &out.local_reply {
        if !is_preflight {
            fail(format!("a local reply ({status}) to a request that is not a preflight"));
        }
        if *status != 403 && origins != 1 {
            fail(format!("a preflight with {origins} Origin lines was allowed"));
        }
    }
    let config = config_of(input);
    if config.select(first(":authority"), first(":path")).is_ok_and(|(_, p)| p.mode() == Mode::Off) {
        // Pass-through: nothing added, replaced or removed, no local reply, only the counter.
        if out.local_reply.is_some() || out.response_headers != input.upstream {
            fail("mode off changed the response".into());
        }
        if out.counters != [Counter::PassedThrough] {
            fail(format!("mode off counted {:?}", out.counters));
        }
    }
    if input.policy == 4 {
        // Shadow mode: the response is exactly the upstream's.
        let mut got = out.response_headers.clone();
        let mut want = input.upstream.clone();
        got.sort();
        want.sort();
        if out.local_reply.is_some() || got != want {
            fail("shadow mode changed the response".into());
        }
    }
    out
}

fn config_of(input: &Input) -> Rc<Config> {
    COMPILED.with(|c| c[input.policy].clone())
}

fn request_text(lines: &invariants::Lines) -> Vec<(String, String)> {
    lines.iter().map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned())).collect()
}

/// The `request` fuzz target.
pub fn check_request(data: &[u8]) {
    if let Some(input) = decode(data) {
        check_input(&input);
    }
}

/// Hostile requests run against every configuration that loads.
fn probes() -> Vec<invariants::Lines> {
    let l = |pairs: &[(&str, &[u8])]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_vec())).collect();
    vec![
        l(&[
            (":method", b"GET"),
            (":authority", b"api.example.com"),
            (":path", b"/admin/x"),
            ("origin", b"https://app.example.com"),
        ]),
        l(&[(":method", b"GET"), ("origin", b"null")]),
        l(&[(":method", b"GET"), ("origin", b"https://evil.example.net")]),
        l(&[(":method", b"GET"), ("origin", b"https://app.example.com\r\nset-cookie: a")]),
        l(&[(":method", b"GET")]),
        l(&[
            (":method", b"OPTIONS"),
            (":authority", b"x.internal.example.com:8443"),
            ("origin", b"https://app.example.com"),
            ("access-control-request-method", b"PUT"),
            ("access-control-request-headers", b"x-custom, authorization"),
            ("access-control-request-private-network", b"true"),
        ]),
        l(&[
            (":method", b"OPTIONS"),
            ("origin", b"https://a.example.com"),
            ("access-control-request-method", b"GET, DELETE"),
        ]),
    ]
}

/// The `config` fuzz target: any bytes as the configuration.
pub fn check_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_json(text) {
        Err(errors) => {
            assert!(!errors.is_empty(), "a refusal without an error");
            for e in &errors {
                // One log line per refusal, even for a key or value holding control characters.
                let line = e.to_string();
                assert!(!line.contains('\n') && !line.contains('\r'), "multi-line error: {line:?}");
                // The key path; empty only when the offending key itself is `""` (then the reason says so).
                assert!(!e.key.is_empty() || line.contains("unknown field ``"), "error without a key: {line}");
            }
        }
        Ok(config) => {
            let config = Rc::new(config);
            for lines in probes() {
                let request = invariants::borrow(&lines);
                let out = simulate::run(config.clone(), &request, &[("x-upstream", "1"), ("vary", "accept")]);
                // Any origin may be listed by a fuzzed config: check everything but the listing.
                if let Err(e) = invariants::check(&request, &out, &|_| true) {
                    panic!("{e}\nconfig {text}\nrequest {:?}\noutcome {out:?}", request_text(&lines));
                }
            }
        }
    }
}
