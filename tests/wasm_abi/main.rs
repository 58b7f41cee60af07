//! The built plugin, `dist/cors.wasm`, under a mock proxy-wasm host (wasmi, no Envoy): the
//! exports are driven in Envoy's order and every host call the module makes is recorded, so the
//! tests assert the exact calls per request type, and that hostile hosts (every call failing
//! with `NotFound`, `BadArgument` or a status no ABI defines, garbled, truncated, empty or huge
//! header maps, allocations the VM cannot satisfy) never make the module trap — a trap in Envoy
//! breaks every stream of the worker — and never make it grant anything.
//!
//! The mock implements exactly the imports the module declares (a test checks the list), with the
//! semantics of proxy-wasm-cpp-host (the host Envoy embeds) for ABI 0.2.1: returned buffers are
//! allocated through `proxy_on_memory_allocate`, a failed allocation is `InvalidMemoryAccess`,
//! an empty configuration read writes nothing. Run `make build` first: the test fails without
//! `dist/cors.wasm` (`make test-e2e` builds it).
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
// Runs natively: the wasm runtime is a native dev-dependency.
#![cfg(not(target_arch = "wasm32"))]

mod host;

use std::collections::BTreeSet;

use host::*;

const POLICY: &str = r#"{
    "allow_origins": ["https://app.example.com"],
    "allow_methods": ["PUT", "DELETE"],
    "allow_headers": ["x-custom"],
    "expose_headers": ["x-total"],
    "allow_credentials": true,
    "max_age": 600
}"#;
const ALLOWED: &str = "https://app.example.com";

fn configured(config: &str) -> Vm {
    let mut vm = Vm::new(config, Hostility::default());
    assert!(vm.configure(), "configuration refused: {:#?}", vm.take_calls());
    vm.take_calls();
    vm
}

fn get(origin: Option<&str>) -> Vec<(&str, &str)> {
    let mut h = vec![(":method", "GET"), (":path", "/api"), (":authority", "api.example.com")];
    h.extend(origin.map(|o| ("origin", o)));
    h
}

fn preflight(origin: &str, method: &str, headers: &str) -> Vec<(&'static str, String)> {
    vec![
        (":method", "OPTIONS".into()),
        (":path", "/api".into()),
        (":authority", "api.example.com".into()),
        ("origin", origin.into()),
        ("access-control-request-method", method.into()),
        ("access-control-request-headers", headers.into()),
    ]
}

fn owned<'a>(h: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    h.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn replace(name: &str, value: &str) -> Call {
    Call::Replace(RESPONSE_HEADERS, name.into(), value.into())
}

fn remove(name: &str) -> Call {
    Call::Remove(RESPONSE_HEADERS, name.into())
}

fn add(name: &str, value: &str) -> Call {
    Call::Add(RESPONSE_HEADERS, name.into(), value.into())
}

fn count(name: &str) -> Call {
    Call::Increment(name.into(), 1)
}

/// The increment of counter `name` (`cors.x`) for the top level's policy, which follows every
/// total's (`cors_policy=.=top_level;.;cors.policy.x`).
fn policy_count(name: &str) -> Call {
    let short = name.strip_prefix("cors.").unwrap();
    Call::Increment(format!("cors_policy=.=top_level;.;cors.policy.{short}"), 1)
}

fn reply(status: u32, details: &str, headers: &[(&str, &str)]) -> Call {
    Call::SendLocalResponse {
        status,
        details: details.into(),
        body: Vec::new(),
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        grpc: -1,
    }
}

const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
/// Every counter the plugin defines, from the engine's own list.
fn counters() -> Vec<&'static str> {
    cors_engine::counter::Counter::ALL.iter().map(|c| c.name()).collect()
}

#[test]
fn the_module_imports_only_what_the_mock_host_implements() {
    let (_, module) = module();
    let imported: BTreeSet<(String, String)> =
        module.imports().map(|i| (i.module().to_string(), i.name().to_string())).collect();
    let known: BTreeSet<(String, String)> = IMPORTS.iter().map(|(m, n)| (m.to_string(), n.to_string())).collect();
    assert_eq!(
        imported, known,
        "a new import: implement it in the mock (tests/wasm_abi/host.rs) and list it in IMPORTS"
    );
    let exported: BTreeSet<String> = module.exports().map(|e| e.name().to_string()).collect();
    // Only what a CORS filter needs: Envoy calls every callback a module exports, on every stream.
    let expected = [
        "memory",
        "_initialize",
        "proxy_abi_version_0_2_1",
        "proxy_on_memory_allocate",
        "proxy_on_vm_start",
        "proxy_on_context_create",
        "proxy_on_configure",
        "proxy_on_request_headers",
        "proxy_on_response_headers",
        "proxy_on_tick",
        "proxy_on_delete",
    ];
    assert_eq!(exported, expected.iter().map(|e| e.to_string()).collect::<BTreeSet<_>>());
}

#[test]
fn start_and_configure_make_these_host_calls() {
    let mut vm = Vm::new(POLICY, Hostility::default());
    assert_eq!(vm.take_calls(), [], "_initialize");
    assert!(vm.configure());
    let mut expected = vec![
        Call::GetLogLevel,
        Call::GetBufferBytes { buffer: PLUGIN_CONFIGURATION, start: 0, max: POLICY.len() as u32 },
        Call::Log(2, "configuration loaded (0 policies besides the top level)".into()),
        Call::SetTickPeriod(1000),
    ];
    expected.extend(counters().iter().map(|n| Call::DefineMetric(0, n.to_string())));
    expected.extend(counters().iter().map(|n| {
        let Call::Increment(name, _) = policy_count(n) else { unreachable!() };
        Call::DefineMetric(0, name)
    }));
    let calls: Vec<Call> = vm.take_calls().into_iter().filter(|c| !matches!(c, Call::Wasi(_))).collect();
    assert_eq!(calls, expected);
}

#[test]
fn allowed_actual_request_one_read_one_count_four_writes() {
    let mut vm = configured(POLICY);
    let s = vm.stream(&get(Some(ALLOWED)));
    assert_eq!((s.request_action, s.response_action), (CONTINUE, CONTINUE));
    assert_eq!(
        s.request_calls,
        [Call::GetHeaderMap(REQUEST_HEADERS), count("cors.actual_allowed"), policy_count("cors.actual_allowed")]
    );
    assert_eq!(
        s.response_calls,
        [
            replace("access-control-allow-origin", ALLOWED),
            replace("access-control-allow-credentials", "true"),
            replace("access-control-expose-headers", "x-total"),
            add("vary", "Origin"),
        ]
    );
}

#[test]
fn denied_actual_request_removes_every_cors_header() {
    let mut vm = configured(POLICY);
    let s = vm.stream(&get(Some("https://evil.example")));
    assert_eq!((s.request_action, s.response_action), (CONTINUE, CONTINUE));
    assert_eq!(
        s.request_calls,
        [Call::GetHeaderMap(REQUEST_HEADERS), count("cors.actual_denied"), policy_count("cors.actual_denied")]
    );
    let mut expected: Vec<Call> = [
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-max-age",
        "access-control-expose-headers",
        "access-control-allow-private-network",
    ]
    .iter()
    .map(|n| remove(n))
    .collect();
    expected.push(add("vary", "Origin"));
    assert_eq!(s.response_calls, expected);
}

#[test]
fn request_without_origin_one_read_and_vary() {
    let mut vm = configured(POLICY);
    let s = vm.stream(&get(None));
    assert_eq!((s.request_action, s.response_action), (CONTINUE, CONTINUE));
    assert_eq!(s.request_calls, [Call::GetHeaderMap(REQUEST_HEADERS)]);
    assert_eq!(s.response_calls, [add("vary", "Origin")]);
}

#[test]
fn allowed_preflight_one_read_one_count_one_local_reply() {
    let mut vm = configured(POLICY);
    let s = vm.stream(&owned(&preflight(ALLOWED, "PUT", "x-custom")));
    assert_eq!(s.request_action, STOP);
    assert_eq!(
        s.request_calls,
        [
            Call::GetHeaderMap(REQUEST_HEADERS),
            count("cors.preflight_allowed"),
            policy_count("cors.preflight_allowed"),
            reply(
                204,
                "cors_preflight_allowed",
                &[
                    ("access-control-allow-origin", ALLOWED),
                    ("access-control-allow-credentials", "true"),
                    ("access-control-allow-methods", "PUT,DELETE"),
                    // The policy's list, nothing appended.
                    ("access-control-allow-headers", "x-custom"),
                    ("access-control-expose-headers", "x-total"),
                    ("access-control-max-age", "600"),
                    ("vary", PREFLIGHT_VARY),
                ]
            ),
        ]
    );
    // The local reply passes back through the filter, which leaves it alone.
    assert_eq!((s.response_action, s.response_calls), (CONTINUE, vec![]));
}

#[test]
fn rejected_preflights_one_read_one_count_one_403() {
    let mut vm = configured(POLICY);
    for (request, counter, details) in [
        (
            preflight("https://evil.example", "PUT", "x-custom"),
            "cors.preflight_denied_origin",
            "cors_preflight_denied{origin_not_allowed:https://evil.example}",
        ),
        (
            preflight(ALLOWED, "PATCH", "x-custom"),
            "cors.preflight_denied_method",
            "cors_preflight_denied{method_not_allowed:PATCH}",
        ),
        (
            preflight(ALLOWED, "PUT", "x-other"),
            "cors.preflight_denied_headers",
            "cors_preflight_denied{header_not_allowed:x-other}",
        ),
    ] {
        let rejected = reply(403, details, &[("vary", PREFLIGHT_VARY)]);
        let s = vm.stream(&owned(&request));
        assert_eq!(s.request_action, STOP, "{counter}");
        assert_eq!(
            s.request_calls,
            [Call::GetHeaderMap(REQUEST_HEADERS), count(counter), policy_count(counter), rejected.clone()]
        );
        assert_eq!((s.response_action, s.response_calls), (CONTINUE, vec![]), "{counter}");
    }
}

/// The level is re-read on the root context's tick, never on a request: after the host's level
/// changes, the next tick turns debug lines on (one `proxy_get_log_level` call).
#[test]
fn log_level_follows_the_host_on_tick() {
    let mut vm = configured(POLICY);
    let evil = get(Some("https://evil.example"));
    assert!(!vm.stream(&evil).request_calls.iter().any(|c| matches!(c, Call::Log(..))));
    vm.store.data_mut().log_level = 1; // debug
    vm.call::<i32, ()>("proxy_on_tick", ROOT);
    assert_eq!(vm.take_calls(), [Call::GetLogLevel]);
    let s = vm.stream(&evil);
    let debug = Call::Log(1, "actual request denied: origin \"https://evil.example\" not allowed by top level".into());
    assert_eq!(
        s.request_calls,
        [Call::GetHeaderMap(REQUEST_HEADERS), count("cors.actual_denied"), policy_count("cors.actual_denied"), debug]
    );
}

#[test]
fn mode_off_one_read_one_count_no_writes() {
    let mut vm = configured(r#"{"mode":"off"}"#);
    for request in [get(Some(ALLOWED)), get(None), owned(&preflight(ALLOWED, "PUT", "x-custom"))] {
        let s = vm.stream(&request);
        assert_eq!((s.request_action, s.response_action), (CONTINUE, CONTINUE));
        assert_eq!(
            s.request_calls,
            [Call::GetHeaderMap(REQUEST_HEADERS), count("cors.passed_through"), policy_count("cors.passed_through")]
        );
        assert_eq!(s.response_calls, []);
    }
}

#[test]
fn deleted_streams_leave_no_memory_behind() {
    // A thousand streams through one VM: `proxy_on_delete` frees each, memory does not grow.
    let mut vm = configured(POLICY);
    let pages = |vm: &Vm| vm.instance.get_memory(&vm.store, "memory").unwrap().size(&vm.store);
    for _ in 0..50 {
        vm.stream(&get(Some(ALLOWED)));
    }
    let before = pages(&vm);
    for i in 0..1000 {
        let origin = format!("https://x{i}.example");
        let s = vm.stream(&get(Some(&origin)));
        assert!(!s.grants());
    }
    assert_eq!(pages(&vm), before, "linear memory grew over 1,000 streams");
}

// --- Hostile hosts -------------------------------------------------------------------------

/// Every request type, each checked for a trap by `Vm::call`.
fn every_request_type() -> Vec<Vec<(&'static str, String)>> {
    let own = |h: Vec<(&'static str, &str)>| h.into_iter().map(|(k, v)| (k, v.to_string())).collect();
    vec![
        own(get(Some(ALLOWED))),
        own(get(Some("https://evil.example"))),
        own(get(None)),
        preflight(ALLOWED, "PUT", "x-custom"),
        preflight("https://evil.example", "PUT", "x-custom"),
    ]
}

#[test]
fn every_host_call_failing_after_configuration_never_traps_and_grants_nothing() {
    for status in [NOT_FOUND, BAD_ARGUMENT, UNKNOWN_STATUS] {
        let mut vm = configured(POLICY);
        vm.store.data_mut().hostility.status = Some(status);
        for request in every_request_type() {
            let s = vm.stream(&owned(&request));
            // The request map could not be read: the request is seen without any header, so
            // nothing is allowed and no reply is sent.
            assert_eq!((s.request_action, s.response_action), (CONTINUE, CONTINUE), "status {status}");
            assert!(!s.grants(), "status {status}: {s:#?}");
            assert_eq!(s.request_calls[0], Call::GetHeaderMap(REQUEST_HEADERS));
            // What follows: `Vary: Origin` attempted, and its failure logged (at warn, which
            // fails too) — the module goes on either way.
            assert_eq!(s.response_calls[0], add("vary", "Origin"), "status {status}");
        }
    }
}

#[test]
fn every_host_call_failing_from_the_start_refuses_the_configuration_without_trapping() {
    for status in [NOT_FOUND, BAD_ARGUMENT, UNKNOWN_STATUS] {
        let mut vm = Vm::new(POLICY, Hostility { status: Some(status), ..Hostility::default() });
        // NotFound reads as "no configuration", which is not a valid one either.
        assert!(!vm.configure(), "status {status}");
        let calls = vm.take_calls();
        assert!(calls.contains(&Call::GetBufferBytes {
            buffer: PLUGIN_CONFIGURATION,
            start: 0,
            max: POLICY.len() as u32
        }));
        assert!(!calls.iter().any(|c| matches!(c, Call::DefineMetric(..))), "{calls:#?}");
        // Envoy would not send streams to a refused configuration; were it to, they pass through untouched.
        for request in every_request_type() {
            let s = vm.stream(&owned(&request));
            assert_eq!((s.request_action, s.response_action), (CONTINUE, CONTINUE));
            assert_eq!(s.all_calls().count(), 0, "status {status}: {s:#?}");
        }
    }
}

#[test]
fn metrics_the_host_refuses_to_define_are_never_incremented() {
    for status in [BAD_ARGUMENT, UNKNOWN_STATUS] {
        let mut vm = Vm::new(POLICY, Hostility { define_metric: Some(status), ..Hostility::default() });
        assert!(vm.configure());
        let warnings = vm.take_calls().into_iter().filter(|c| matches!(c, Call::Log(3, _))).count();
        assert_eq!(warnings, 2 * counters().len(), "one warning per metric (totals and the top level's)");
        let s = vm.stream(&get(Some(ALLOWED)));
        assert_eq!(s.request_calls, [Call::GetHeaderMap(REQUEST_HEADERS)], "no increment of an undefined metric");
        assert_eq!(s.allowed_origins(), [ALLOWED]);
    }
}

/// The pairs a prefix of a serialized map holds whole (the reader needs the size table and
/// each name and value, not the NUL after the last value), in order.
fn whole_pairs(pairs: &[(Vec<u8>, Vec<u8>)], cut: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut end = 4 + 8 * pairs.len();
    if cut < end {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (k, v) in pairs {
        let value_end = end + k.len() + 1 + v.len();
        if value_end > cut {
            break;
        }
        out.push((k.clone(), v.clone()));
        end = value_end + 1;
    }
    out
}

/// A request map cut at every length: never a trap, and the answer is exactly the answer to
/// the headers the prefix holds whole, so no grant rests on a partial origin, method or header
/// list.
#[test]
fn truncated_header_maps_are_answered_as_the_whole_headers_they_hold() {
    let mut vm = configured(POLICY);
    for request in every_request_type() {
        let pairs: Vec<_> = request.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
        let whole = serialize(&pairs);
        for cut in 0..=whole.len() {
            vm.store.data_mut().hostility.raw_request_map = Some(whole[..cut].to_vec());
            let truncated = vm.stream_bytes(Vec::new());
            vm.store.data_mut().hostility.raw_request_map = None;
            let seen = whole_pairs(&pairs, cut);
            let origin_whole = seen.iter().any(|(k, _)| k == b"origin");
            let reference = vm.stream_bytes(seen);
            assert_eq!(
                (truncated.request_action, &truncated.request_calls, &truncated.response_calls),
                (reference.request_action, &reference.request_calls, &reference.response_calls),
                "{request:?} cut at {cut} of {}",
                whole.len()
            );
            if !origin_whole {
                assert!(!truncated.grants(), "cut at {cut}: {truncated:#?}");
            }
        }
        // Cut anywhere before its last byte but one, the origin is never granted in part.
        let full = vm.stream(&owned(&request));
        assert!(full.allowed_origins().iter().all(|o| o == ALLOWED));
    }
}

#[test]
fn the_only_wasi_call_is_one_clock_read_for_the_hash_seed() {
    // foldhash seeds its tables from the wall clock (`SystemTime::now`) once per VM, at the
    // first context; std panics, and the VM aborts, were `clock_time_get` to fail: Envoy's
    // never fails for the real-time clock. The other WASI imports come with std and are never
    // called.
    let mut vm = Vm::new(POLICY, Hostility::default());
    vm.call::<(i32, i32), ()>("proxy_on_context_create", (ROOT, 0));
    assert_eq!(vm.take_calls(), [Call::Wasi("clock_time_get")]);
    assert_eq!(vm.call::<(i32, i32), i32>("proxy_on_vm_start", (ROOT, 0)), 1);
    assert_eq!(vm.call::<(i32, i32), i32>("proxy_on_configure", (ROOT, POLICY.len() as i32)), 1);
    let mut calls = vm.take_calls();
    for request in every_request_type() {
        let s = vm.stream(&owned(&request));
        calls.extend(s.request_calls.into_iter().chain(s.response_calls));
    }
    assert!(!calls.is_empty());
    assert!(!calls.iter().any(|c| matches!(c, Call::Wasi(_))), "{calls:#?}");
}

#[test]
fn garbled_header_maps_never_trap() {
    let valid = serialize(&[(b"origin".to_vec(), ALLOWED.as_bytes().to_vec())]);
    let mut garbled: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![1, 0, 0],
        u32::MAX.to_le_bytes().to_vec(),
        // A count far beyond the buffer.
        [&1000u32.to_le_bytes()[..], &valid[4..]].concat(),
        [&u32::MAX.to_le_bytes()[..], &valid[4..]].concat(),
        // Sizes that run past the end, or overflow when added.
        [&1u32.to_le_bytes()[..], &u32::MAX.to_le_bytes(), &u32::MAX.to_le_bytes(), b"origin\0x\0"].concat(),
        [&1u32.to_le_bytes()[..], &6u32.to_le_bytes(), &u32::MAX.to_le_bytes(), b"origin\0x\0"].concat(),
        [&2u32.to_le_bytes()[..], &6u32.to_le_bytes(), &1u32.to_le_bytes(), b"origin\0x\0"].concat(),
        // No NUL terminators at all.
        [
            &1u32.to_le_bytes()[..],
            &6u32.to_le_bytes(),
            &(ALLOWED.len() as u32).to_le_bytes(),
            b"origin",
            ALLOWED.as_bytes(),
        ]
        .concat(),
        // Non-UTF-8 names and values.
        serialize(&[(vec![0xff, 0xfe], vec![0x80]), (b"origin".to_vec(), vec![0xc3, 0x28])]),
    ];
    // Noise, deterministic.
    let mut x: u32 = 0x9e37_79b9;
    for len in [5, 17, 64, 255, 4096] {
        garbled.push(
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect(),
        );
    }
    let mut vm = configured(POLICY);
    for bytes in garbled {
        vm.store.data_mut().hostility.raw_request_map = Some(bytes.clone());
        let s = vm.stream_bytes(Vec::new());
        assert!(!s.grants(), "{bytes:?}: {s:#?}");
        assert_eq!(s.request_action, CONTINUE);
    }
}

#[test]
fn huge_header_maps_are_read_and_impossible_allocations_are_refused_without_trapping() {
    let mut vm = configured(POLICY);
    // 16 MiB of headers (Envoy caps them at 8 MiB), the origin last.
    let mut request: Vec<(Vec<u8>, Vec<u8>)> =
        (0..4096).map(|i| (format!("x-filler-{i}").into_bytes(), vec![b'a'; 4096])).collect();
    request.push((b"origin".to_vec(), ALLOWED.as_bytes().to_vec()));
    let s = vm.stream_bytes(request);
    assert_eq!(s.allowed_origins(), [ALLOWED]);
    // A header map of more than the VM can hold: the module answers null (the host then
    // returns InvalidMemoryAccess), it does not abort.
    for size in [u32::MAX, 0x8000_0000, 0x7fff_fff0, MEMORY_LIMIT as u32] {
        vm.store.data_mut().hostility.alloc_size = Some(size);
        let s = vm.stream(&get(Some(ALLOWED)));
        assert!(!s.grants(), "allocation of {size:#x}: {s:#?}");
        assert_eq!(s.request_action, CONTINUE);
    }
    // And the VM still works afterwards.
    vm.store.data_mut().hostility.alloc_size = None;
    assert_eq!(vm.stream(&get(Some(ALLOWED))).allowed_origins(), [ALLOWED]);
}

#[test]
fn a_zero_length_configuration_is_refused_without_trapping() {
    let mut vm = Vm::new("", Hostility::default());
    assert!(!vm.configure());
    let calls = vm.take_calls();
    assert!(calls.contains(&Call::GetBufferBytes { buffer: PLUGIN_CONFIGURATION, start: 0, max: 0 }), "{calls:#?}");
    assert!(calls.iter().any(|c| matches!(c, Call::Log(4, _))), "an error logged: {calls:#?}");
}

#[test]
fn a_configuration_size_larger_than_the_buffer_reads_what_is_there() {
    let mut vm = Vm::new(POLICY, Hostility::default());
    vm.call::<(i32, i32), ()>("proxy_on_context_create", (ROOT, 0));
    assert!(vm.call::<(i32, i32), i32>("proxy_on_configure", (ROOT, i32::MAX)) == 1);
    let calls = vm.take_calls();
    assert!(calls.contains(&Call::GetBufferBytes { buffer: PLUGIN_CONFIGURATION, start: 0, max: i32::MAX as u32 }));
    assert_eq!(vm.stream(&get(Some(ALLOWED))).allowed_origins(), [ALLOWED]);
}
