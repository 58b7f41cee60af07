//! Issue 18: the attack tables (`tests/attacks/cases.json`) through real Envoy, with the wasm
//! plugin and the native module side by side: every case's request is sent as raw HTTP/1.1 to
//! an Envoy with each artifact (one listener per configuration of the table, an upstream that
//! answers each case with the case's own response headers), and the two answers must be the same:
//! status, every `access-control-*` header and `Vary`, in order. `tests/attacks.rs` checks the
//! table's expectations through the engine (`simulate`); this checks that both adapters apply
//! those decisions identically inside Envoy, whatever Envoy's codec does with hostile bytes
//! first. Needs `dist/cors.wasm` and `dist/libenvoy_cors.so` (`make build`).
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use testkit::prelude::*;

const CASES: &str = include_str!("attacks/cases.json");

#[derive(Deserialize)]
struct Tables {
    configs: BTreeMap<String, Box<RawValue>>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    config: String,
    request: Vec<(String, Value)>,
    #[serde(default)]
    upstream: Vec<(String, String)>,
}

/// A header value of the table: a string, or pieces (`hex`, `repeat`, `seq`) concatenated.
fn value_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Array(pieces) => pieces.iter().flat_map(piece).collect(),
        other => panic!("header value {other}"),
    }
}

fn piece(p: &Value) -> Vec<u8> {
    if let Some(s) = p.as_str() {
        return s.as_bytes().to_vec();
    }
    if let Some(hex) = p.get("hex").and_then(Value::as_str) {
        return (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    }
    if let Some(r) = p.get("repeat").and_then(Value::as_str) {
        return r.repeat(p["times"].as_u64().unwrap() as usize).into_bytes();
    }
    if let Some(seq) = p.get("seq").and_then(Value::as_str) {
        let width = p.get("width").and_then(Value::as_u64).unwrap_or(0) as usize;
        let sep = p.get("sep").and_then(Value::as_str).unwrap_or("");
        let items: Vec<String> =
            (0..p["count"].as_u64().unwrap()).map(|i| seq.replace("{i}", &format!("{i:0width$}"))).collect();
        return items.join(sep).into_bytes();
    }
    panic!("piece {p}")
}

fn listener_name(config: &str) -> String {
    format!("cfg_{}", config.to_ascii_lowercase())
}

/// The raw request: the pseudo-headers as the request line and `host`, then every other line.
fn raw_request(case: &Case, index: usize) -> Vec<u8> {
    let pseudo = |n: &str| case.request.iter().find(|(k, _)| k == n).map(|(_, v)| value_bytes(v));
    let mut out = Vec::new();
    out.extend(pseudo(":method").unwrap_or_else(|| b"GET".to_vec()));
    out.push(b' ');
    out.extend(pseudo(":path").unwrap_or_else(|| b"/".to_vec()));
    out.extend(b" HTTP/1.1\r\nhost: ");
    out.extend(pseudo(":authority").unwrap_or_else(|| b"attack.test".to_vec()));
    out.extend(b"\r\n");
    for (name, value) in case.request.iter().filter(|(k, _)| !k.starts_with(':')) {
        out.extend(name.as_bytes());
        out.extend(b": ");
        out.extend(value_bytes(value));
        out.extend(b"\r\n");
    }
    out.extend(format!("x-attack-case: {index}\r\nconnection: close\r\n\r\n").as_bytes());
    out
}

/// What must be the same from both artifacts: status, CORS headers and Vary, in order.
fn answer(r: &std::io::Result<Response>) -> String {
    match r {
        Err(e) => format!("no response ({})", e.kind()),
        Ok(r) => {
            let cors: Vec<String> = r
                .headers
                .iter()
                .filter(|(n, _)| n.starts_with("access-control-") || n == "vary")
                .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v)))
                .collect();
            format!("{} [{}]", r.status, cors.join("; "))
        }
    }
}

#[test]
fn both_artifacts_answer_every_attack_case_the_same_in_envoy() {
    cors_wasm();
    cors_native();
    let tables: Tables = serde_json::from_str(CASES).unwrap();
    let replies: Arc<Vec<Vec<(String, String)>>> = Arc::new(tables.cases.iter().map(|c| c.upstream.clone()).collect());
    let up = {
        let replies = Arc::clone(&replies);
        Upstream::start(move |seen| {
            let i: usize = seen.header("x-attack-case").and_then(|v| v.parse().ok()).unwrap_or(usize::MAX);
            let headers = replies.get(i).cloned().unwrap_or_default();
            Reply::status(200, &headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>())
        })
    };
    let envoy_with = |native: bool| {
        let mut cfg = EnvoyConfig::new().cluster("upstream", up.port);
        for (name, json) in &tables.configs {
            let filter_name = format!("cors_{}", name.to_ascii_lowercase());
            let filter = if native {
                native_filter_named(&filter_name, json.get())
            } else {
                wasm_filter_named(&filter_name, json.get())
            };
            cfg = cfg.listener(ListenerSpec::without_plugin(&listener_name(name), "upstream").filter_before(filter));
        }
        Envoy::start(&cfg)
    };
    let (wasm, native) = (envoy_with(false), envoy_with(true));
    let (mut differ, mut allowed, mut replied) = (Vec::new(), 0, 0);
    for (i, case) in tables.cases.iter().enumerate() {
        let bytes = raw_request(case, i);
        let name = listener_name(&case.config);
        let (w, n) = (send_raw(wasm.port(&name), &bytes), send_raw(native.port(&name), &bytes));
        let (w, n) = (answer(&w), answer(&n));
        allowed += usize::from(w.contains("access-control-allow-origin"));
        replied += usize::from(w.starts_with("403") || w.starts_with("204"));
        if w != n {
            differ.push(format!("{}:\n  wasm:   {w}\n  native: {n}", case.name));
        }
    }
    println!("{} cases: {allowed} with ACAO, {replied} answered 204/403 locally", tables.cases.len());
    // Not vacuous: the table grants and refuses, through Envoy too.
    assert!(allowed > 50 && replied > 50, "only {allowed} allowed, {replied} local replies");
    assert!(differ.is_empty(), "{} of {} cases differ:\n{}", differ.len(), tables.cases.len(), differ.join("\n"));
    let (mut wasm, mut native) = (wasm, native);
    wasm.assert_alive();
    native.assert_alive();
}
