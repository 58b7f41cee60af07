//! The built module, `dist/libenvoy_cors.so`, under a mock Envoy (as tests/wasm_abi/ runs the
//! plugin): this test executable defines every callback the module imports (exported with `-rdynamic`, see build.rs; the module binds
//! them all at load, `-z now`), loads the library with dlopen as Envoy does, and drives its hooks
//! in Envoy's order. It checks that the module answers as the engine does (`simulate::run`, the
//! code the attack tables and the wasm build are checked with), and that hostile values (header
//! counts that lie, null pointers with lengths, bytes that are not UTF-8, every callback failing,
//! a local reply that re-enters the stream, configurations that do not compile, null handles)
//! neither crash the process — in-process, a crash is Envoy's — nor grant anything. Run
//! `make build` first (or set CORS_NATIVE).
// Test code: a failed unwrap or assertion is how a test reports; calling a C ABI takes `unsafe`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![allow(unsafe_code, clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

use std::cell::RefCell;
use std::ffi::{c_void, CStr};
use std::sync::{Arc, OnceLock};

use cors_engine::counter::Counter;
use cors_engine::fake_host::{add_header, set_header, HeaderLines};
use cors_engine::simulate;
use cors_engine::Config;
use libloading::Library;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct Buf {
    ptr: *const u8,
    len: usize,
}

impl Buf {
    fn of(b: &[u8]) -> Buf {
        Buf { ptr: b.as_ptr(), len: b.len() }
    }
    unsafe fn bytes(&self) -> Vec<u8> {
        if self.ptr.is_null() {
            return Vec::new();
        }
        std::slice::from_raw_parts(self.ptr, self.len).to_vec()
    }
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct Header {
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
}

/// How the mock misbehaves (`Hostility::default()`: it does not).
#[derive(Clone)]
struct Hostility {
    /// Added to the count of lines Envoy reports for a map (the lines written are the real ones).
    extra_count: usize,
    get_headers_fails: bool,
    /// Values returned as a null pointer with a non-zero length.
    null_values: bool,
    writes_fail: bool,
    /// A `metrics_result` code for every define and increment (0 = success).
    metrics_code: u32,
    /// What `log_enabled` returns (a C++ bool is 0 or 1; anything else must not matter).
    log_enabled: u8,
}

impl Default for Hostility {
    fn default() -> Self {
        Hostility {
            extra_count: 0,
            get_headers_fails: false,
            null_values: false,
            writes_fail: false,
            metrics_code: 0,
            log_enabled: 1,
        }
    }
}

/// A local reply: status and headers (a headers-only reply records no response-code details).
type Reply = (u32, Vec<(String, String)>);

#[derive(Default)]
struct Host {
    request: Vec<(Vec<u8>, Vec<u8>)>,
    /// The Envoy-owned copies `get_headers` hands out pointers into, alive until the test's
    /// thread ends (Envoy's are valid until the hook returns): a line the module kept past its
    /// read reads as what it was, never as freed memory.
    handed_out: Vec<Vec<u8>>,
    response: HeaderLines,
    replies: Vec<Reply>,
    /// Counters defined: name and label names.
    defined: Vec<(String, Vec<String>)>,
    /// Increments of unlabelled counters, by id...
    incremented: Vec<usize>,
    /// ...and of labelled ones: name and label values.
    labelled: Vec<(String, Vec<String>)>,
    logs: Vec<(u32, String)>,
    route_config: usize,
    hostile: Hostility,
    /// While set, a local reply runs the stream's response hook first, as Envoy may.
    reenter: Option<(usize, usize)>,
    reentered: usize,
}

thread_local! {
    static HOST: RefCell<Host> = RefCell::new(Host::default());
}

fn with_host<R>(f: impl FnOnce(&mut Host) -> R) -> R {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

// ---- the callbacks the module imports --------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_callback_log(level: u32, message: Buf) {
    let text = String::from_utf8_lossy(&message.bytes()).into_owned();
    with_host(|h| h.logs.push((level, text)));
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_callback_log_enabled(_level: u32) -> u8 {
    with_host(|h| h.hostile.log_enabled)
}

#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_callback_http_filter_config_define_counter(
    _config: *mut c_void,
    name: Buf,
    labels: *mut Buf,
    labels_len: usize,
    id: *mut usize,
) -> u32 {
    let name = String::from_utf8(name.bytes()).unwrap();
    let labels: Vec<String> = (0..labels_len).map(|i| String::from_utf8((*labels.add(i)).bytes()).unwrap()).collect();
    with_host(|h| {
        if h.hostile.metrics_code != 0 {
            return h.hostile.metrics_code;
        }
        h.defined.push((name, labels));
        *id = h.defined.len() - 1;
        0
    })
}

#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_callback_http_filter_increment_counter(
    _filter: *mut c_void,
    id: usize,
    labels: *mut Buf,
    labels_len: usize,
    value: u64,
) -> u32 {
    assert_eq!(value, 1);
    let values: Vec<String> = (0..labels_len).map(|i| String::from_utf8((*labels.add(i)).bytes()).unwrap()).collect();
    with_host(|h| {
        if h.hostile.metrics_code != 0 {
            return h.hostile.metrics_code;
        }
        // As Envoy: the label values must match the definition's label names.
        let Some((name, names)) = h.defined.get(id).cloned() else { return 1 };
        if names.len() != values.len() {
            return 2;
        }
        if values.is_empty() {
            h.incremented.push(id);
        } else {
            h.labelled.push((name, values));
        }
        0
    })
}

/// The lines of a map, as Envoy hands them out: request (0) or response (2) headers.
fn lines_of(h: &Host, kind: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
    match kind {
        0 => h.request.clone(),
        2 => h.response.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.clone())).collect(),
        other => panic!("the module reads only request and response headers, not {other}"),
    }
}

#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_callback_http_get_headers_size(_filter: *mut c_void, kind: u32) -> usize {
    with_host(|h| lines_of(h, kind).len() + h.hostile.extra_count)
}

#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_callback_http_get_headers(
    _filter: *mut c_void,
    kind: u32,
    result: *mut Header,
) -> u8 {
    with_host(|h| {
        if h.hostile.get_headers_fails {
            return 0;
        }
        for (i, (k, v)) in lines_of(h, kind).into_iter().enumerate() {
            // Copies that stay put until the stream ends: the module may hold them.
            h.handed_out.push(k);
            let key = h.handed_out.last().unwrap();
            let (key, key_len) = (key.as_ptr(), key.len());
            let (value, value_len) = if h.hostile.null_values {
                (std::ptr::null(), v.len() + 1)
            } else {
                h.handed_out.push(v);
                let v = h.handed_out.last().unwrap();
                (v.as_ptr(), v.len())
            };
            // Only as many as the true count: a count that lies leaves the rest as they were.
            *result.add(i) = Header { key, key_len, value, value_len };
        }
        1
    })
}

#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_callback_http_set_header(
    _filter: *mut c_void,
    kind: u32,
    key: Buf,
    value: Buf,
) -> u8 {
    assert_eq!(kind, 2, "the module writes only response headers");
    let key = String::from_utf8(key.bytes()).unwrap();
    let value = (!value.ptr.is_null()).then(|| String::from_utf8(value.bytes()).unwrap());
    with_host(|h| {
        set_header(&mut h.response, &key, value.as_deref());
        u8::from(!h.hostile.writes_fail)
    })
}

#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_callback_http_add_header(
    _filter: *mut c_void,
    kind: u32,
    key: Buf,
    value: Buf,
) -> u8 {
    assert_eq!(kind, 2);
    let key = String::from_utf8(key.bytes()).unwrap();
    let value = String::from_utf8(value.bytes()).unwrap();
    with_host(|h| {
        add_header(&mut h.response, &key, &value);
        u8::from(!h.hostile.writes_fail)
    })
}

#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_callback_http_send_response_headers(
    filter: *mut c_void,
    headers: *mut Header,
    count: usize,
    end_stream: bool,
) {
    assert!(end_stream, "a reply of headers only ends the stream");
    let mut lines: Vec<(String, String)> = (0..count)
        .map(|i| {
            let h = *headers.add(i);
            let k = std::slice::from_raw_parts(h.key, h.key_len);
            let v = std::slice::from_raw_parts(h.value, h.value_len);
            (String::from_utf8(k.to_vec()).unwrap(), String::from_utf8(v.to_vec()).unwrap())
        })
        .collect();
    // As Envoy needs it: `:status` comes first.
    assert_eq!(lines.first().map(|l| l.0.as_str()), Some(":status"), "{lines:?}");
    let status: u32 = lines.remove(0).1.parse().unwrap();
    let reenter = with_host(|h| {
        h.replies.push((status, lines));
        h.reenter
    });
    // Envoy encodes the reply at once, through the encoder filters: the same stream's response
    // hook may run before this call returns.
    if let Some((lib_filter, stream)) = reenter {
        assert_eq!(lib_filter, filter as usize);
        let status = (hooks().response_headers)(filter, stream as *const c_void, 1);
        assert_eq!(status, 0);
        with_host(|h| h.reentered += 1);
    }
}

/// Only looked up (dlsym), as the probe of an Envoy that serves ABI v0.1.0.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_callback_get_concurrency() -> u32 {
    1
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_callback_get_most_specific_route_config(_filter: *mut c_void) -> *const c_void {
    with_host(|h| h.route_config as *const c_void)
}

// ---- the module ------------------------------------------------------------------------------

struct Hooks {
    _lib: Library,
    program_init: unsafe extern "C" fn() -> *const u8,
    config_new: unsafe extern "C" fn(*mut c_void, Buf, Buf) -> *const c_void,
    config_destroy: unsafe extern "C" fn(*const c_void),
    route_new: unsafe extern "C" fn(Buf, Buf) -> *const c_void,
    route_destroy: unsafe extern "C" fn(*const c_void),
    filter_new: unsafe extern "C" fn(*const c_void, *mut c_void) -> *const c_void,
    request_headers: unsafe extern "C" fn(*mut c_void, *const c_void, u8) -> u32,
    response_headers: unsafe extern "C" fn(*mut c_void, *const c_void, u8) -> u32,
    request_body: unsafe extern "C" fn(*mut c_void, *const c_void, u8) -> u32,
    stream_complete: unsafe extern "C" fn(*mut c_void, *const c_void),
    destroy: unsafe extern "C" fn(*const c_void),
}

fn hooks() -> &'static Hooks {
    static HOOKS: OnceLock<Hooks> = OnceLock::new();
    HOOKS.get_or_init(|| unsafe {
        let lib = Library::new(testkit::paths::cors_native()).expect("dlopen the module");
        macro_rules! sym {
            ($name:literal) => {
                *lib.get(concat!("envoy_dynamic_module_on_", $name, "\0").as_bytes()).expect($name)
            };
        }
        Hooks {
            program_init: sym!("program_init"),
            config_new: sym!("http_filter_config_new"),
            config_destroy: sym!("http_filter_config_destroy"),
            route_new: sym!("http_filter_per_route_config_new"),
            route_destroy: sym!("http_filter_per_route_config_destroy"),
            filter_new: sym!("http_filter_new"),
            request_headers: sym!("http_filter_request_headers"),
            response_headers: sym!("http_filter_response_headers"),
            request_body: sym!("http_filter_request_body"),
            stream_complete: sym!("http_filter_stream_complete"),
            destroy: sym!("http_filter_destroy"),
            _lib: lib,
        }
    })
}

/// Loads the module once (Envoy calls `program_init` once per process).
fn module() -> &'static Hooks {
    static INIT: OnceLock<String> = OnceLock::new();
    let h = hooks();
    let version = INIT.get_or_init(|| unsafe {
        let v = (h.program_init)();
        assert!(!v.is_null());
        CStr::from_ptr(v.cast()).to_str().unwrap().to_owned()
    });
    assert_eq!(version, "v0.1.0");
    h
}

/// A filter configuration; `None` when the module refused it.
fn config_new(name: &[u8], json: &[u8]) -> Option<*const c_void> {
    let h = module();
    let dummy = 0x1000 as *mut c_void;
    let p = unsafe { (h.config_new)(dummy, Buf::of(name), Buf::of(json)) };
    (!p.is_null()).then_some(p)
}

const FILTER: *mut c_void = 0x2000 as *mut c_void;

/// What one stream did, read back from the mock.
#[derive(Debug, PartialEq)]
struct Seen {
    request_status: u32,
    reply: Option<(u32, Vec<(String, String)>)>,
    response: Vec<(String, String)>,
    counters: Vec<String>,
    /// Per-policy counts: `cors_policy=.=<label>;.;cors.policy.<counter>`.
    by_policy: Vec<String>,
}

/// Runs one stream in Envoy's order: new, request headers, (upstream) response headers, body,
/// complete, destroy.
fn run_stream(config: *const c_void, request: &[(&str, &[u8])], upstream: &[(&str, &str)]) -> Seen {
    let h = module();
    with_host(|host| {
        host.request = request.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.to_vec())).collect();
        host.response.clear();
        host.replies.clear();
        host.incremented.clear();
        host.labelled.clear();
    });
    unsafe {
        let stream = (h.filter_new)(config, FILTER);
        assert!(!stream.is_null());
        if with_host(|host| host.reenter.is_some()) {
            with_host(|host| host.reenter = Some((FILTER as usize, stream as usize)));
        }
        let request_status = (h.request_headers)(FILTER, stream, 1);
        assert!(request_status <= 1, "status {request_status}");
        if request_status == 0 {
            with_host(|host| {
                host.response = upstream.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect()
            });
        }
        // The local reply, or the upstream's response, passes through the response hook.
        assert_eq!((h.response_headers)(FILTER, stream, 0), 0);
        assert_eq!((h.request_body)(FILTER, stream, 1), 0);
        (h.stream_complete)(FILTER, stream);
        (h.destroy)(stream);
        with_host(|host| {
            let names: Vec<String> =
                host.incremented.iter().filter_map(|&i| host.defined.get(i).map(|d| d.0.clone())).collect();
            Seen {
                request_status,
                reply: host.replies.last().cloned(),
                response: host
                    .response
                    .iter()
                    .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                    .collect(),
                counters: names.iter().filter(|n| !n.starts_with("cors_policy=")).cloned().collect(),
                by_policy: names.iter().filter(|n| n.starts_with("cors_policy=")).cloned().collect(),
            }
        })
    }
}

const POLICY: &str = r#"{
    "allow_origins": ["https://app.example.com", "https://*.example.org"],
    "allow_origin_regexes": ["https://pr-[0-9]+\\.preview\\.example\\.net"],
    "allow_methods": ["GET", "PUT"],
    "allow_headers": ["x-custom"],
    "expose_headers": ["x-request-id"],
    "allow_credentials": true,
    "max_age": 600,
    "policies": [
        {"match": {"path_prefixes": ["/public/"]}, "allow_origins": ["*"], "allow_credentials": false},
        {"match": {"path_prefixes": ["/shadow/"]}, "mode": "shadow"},
        {"match": {"path_prefixes": ["/off/"]}, "mode": "off"}
    ]
}"#;

type Case<'a> = (&'a [(&'a str, &'a [u8])], &'a [(&'a str, &'a str)]);

fn cases() -> Vec<Case<'static>> {
    const UP: &[(&str, &str)] = &[
        ("content-type", "text/plain"),
        ("access-control-allow-origin", "*"),
        ("access-control-allow-credentials", "true"),
        ("vary", "accept-encoding"),
    ];
    // The module reads the response only to skip removals: an upstream with none of the headers
    // a denial strips, and one that repeats them.
    const BARE: &[(&str, &str)] = &[("content-type", "text/plain")];
    const REPEATED: &[(&str, &str)] = &[
        ("access-control-expose-headers", "x-secret"),
        ("vary", "accept-encoding"),
        ("access-control-expose-headers", "x-other"),
        ("access-control-max-age", "9"),
    ];
    vec![
        (&[(":method", b"GET"), (":path", b"/"), ("origin", b"https://app.example.com")], UP),
        (&[(":method", b"GET"), (":path", b"/"), ("origin", b"https://app.example.com")], BARE),
        (&[(":method", b"GET"), (":path", b"/"), ("origin", b"https://app.example.com")], REPEATED),
        (&[(":method", b"GET"), (":path", b"/"), ("origin", b"https://evil.example.net")], UP),
        (&[(":method", b"GET"), (":path", b"/"), ("origin", b"https://evil.example.net")], BARE),
        (&[(":method", b"GET"), (":path", b"/"), ("origin", b"https://evil.example.net")], REPEATED),
        (&[(":method", b"GET"), (":path", b"/public/x"), ("origin", b"https://anyone.example")], REPEATED),
        (&[(":method", b"GET"), (":path", b"/")], UP),
        (&[(":method", b"GET"), (":path", b"/"), ("origin", b"https://pr-12.preview.example.net")], UP),
        (
            &[
                (":method", b"GET"),
                (":path", b"/"),
                ("origin", b"https://a.example.org"),
                ("origin", b"https://a.example.org"),
            ],
            UP,
        ),
        (&[(":method", b"GET"), (":path", b"/public/x"), ("origin", b"https://anyone.example")], UP),
        (&[(":method", b"GET"), (":path", b"/shadow/x"), ("origin", b"https://evil.example.net")], UP),
        (&[(":method", b"GET"), (":path", b"/off/x"), ("origin", b"https://evil.example.net")], UP),
        (&[(":method", b"GET"), (":path", b"/"), ("origin", b"https://app.example.com\xff")], UP),
        (
            &[
                (":method", b"OPTIONS"),
                (":path", b"/"),
                ("origin", b"https://app.example.com"),
                ("access-control-request-method", b"PUT"),
                ("access-control-request-headers", b"X-Custom"),
            ],
            UP,
        ),
        (
            &[
                (":method", b"OPTIONS"),
                (":path", b"/"),
                ("origin", b"https://app.example.com"),
                ("access-control-request-method", b"DELETE"),
            ],
            UP,
        ),
        (
            &[
                (":method", b"OPTIONS"),
                (":path", b"/"),
                ("origin", b"https://evil.example.net"),
                ("access-control-request-method", b"PUT"),
            ],
            UP,
        ),
        (
            &[
                (":method", b"OPTIONS"),
                (":path", b"/"),
                ("origin", b"https://app.example.com"),
                ("access-control-request-method", b"PUT"),
                ("access-control-request-headers", b"x-custom, x-other"),
            ],
            UP,
        ),
        (&[(":method", b"OPTIONS"), (":path", b"/"), ("origin", b"https://app.example.com")], UP),
    ]
}

fn expected(config: &Arc<Config>, request: &[(&str, &[u8])], upstream: &[(&str, &str)]) -> Seen {
    let o = simulate::run(Arc::clone(config), request, upstream);
    let stopped = o.local_reply.is_some();
    Seen {
        request_status: u32::from(stopped),
        reply: o.local_reply.clone(),
        response: if stopped { Vec::new() } else { o.response_headers.clone() },
        counters: o.counters.iter().map(|c| c.name().to_string()).collect(),
        by_policy: Vec::new(),
    }
}

/// Each total count comes with its policy's count, labelled with the policy's label.
fn check_by_policy(got: &mut Seen, engine: &Config, request: &[(&str, &[u8])]) {
    let label = label_of(engine, request);
    let want: Vec<String> = got
        .counters
        .iter()
        .map(|c| format!("cors_policy=.={label};.;cors.policy.{}", c.trim_start_matches("cors.")))
        .collect();
    assert_eq!(std::mem::take(&mut got.by_policy), want, "{request:?}");
}

/// The label of the policy `request` selects (the top level's is `top_level`).
fn label_of(engine: &Config, request: &[(&str, &[u8])]) -> String {
    let get = |n: &str| request.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
    match engine.select(get(":authority"), get(":path")) {
        Ok((_, policy)) => policy.label().to_owned(),
        Err(_) => "?".into(),
    }
}

#[test]
fn answers_as_the_engine_does() {
    let config = config_new(b"cors", POLICY.as_bytes()).expect("the policy loads");
    let engine = Arc::new(Config::from_json(POLICY).unwrap());
    for (request, upstream) in cases() {
        let mut got = run_stream(config, request, upstream);
        check_by_policy(&mut got, &engine, request);
        assert_eq!(got, expected(&engine, request, upstream), "request {request:?}");
    }
    // Every counter is defined under its wasm name, without the `cors.` the namespace adds.
    let defined = with_host(|h| h.defined.clone());
    for c in Counter::ALL {
        assert!(defined.iter().any(|(d, l)| d == c.name() && l.is_empty()), "{} not defined", c.name());
        let policy = c.policy_metric_name("top_level");
        assert!(defined.iter().any(|(d, l)| *d == policy && l.is_empty()), "{policy} not defined");
    }
    unsafe { (module().config_destroy)(config) };
}

#[test]
fn per_route_configuration_replaces_the_filter_one_on_its_routes() {
    let h = module();
    let config = config_new(b"cors", br#"{"allow_origins":["https://app.example.com"]}"#).unwrap();
    let route_json = br#"{"allow_origins":["https://other.example"]}"#;
    let route = unsafe { (h.route_new)(Buf::of(b"cors"), Buf::of(route_json)) };
    assert!(!route.is_null());
    let request: &[(&str, &[u8])] = &[(":method", b"GET"), (":path", b"/"), ("origin", b"https://other.example")];
    let without = run_stream(config, request, &[]);
    assert!(without.response.iter().all(|(k, _)| k != "access-control-allow-origin"));
    with_host(|host| host.route_config = route as usize);
    let with = run_stream(config, request, &[]);
    with_host(|host| host.route_config = 0);
    assert!(with.response.contains(&("access-control-allow-origin".into(), "https://other.example".into())));
    assert_eq!(with.counters, ["cors.actual_allowed"]);
    // A per-route configuration that does not compile, or names another filter, is refused.
    for (name, json) in [(&b"cors"[..], &b"{\"allow_origins\":[\"https://x/\"]}"[..]), (b"other", route_json)] {
        assert!(unsafe { (h.route_new)(Buf::of(name), Buf::of(json)) }.is_null());
    }
    unsafe {
        (h.route_destroy)(route);
        (h.config_destroy)(config);
    }
}

#[test]
fn configurations_that_do_not_compile_are_refused_with_one_log_line_each() {
    let before = with_host(|h| h.logs.len());
    for (name, json) in [
        (&b"cors"[..], &br#"{"allow_origins":["https://a.example/","ftp://b"],"max_age":-5}"#[..]),
        (b"cors", b"{"),
        (b"cors", b""),
        (b"cors", b"\xff\xfe"),
        (b"cors", br#"{"allow_origins":["*"],"allow_credentials":true}"#),
        (b"not-cors", br#"{"allow_origins":["*"]}"#),
    ] {
        assert!(config_new(name, json).is_none(), "{:?} loaded", String::from_utf8_lossy(json));
    }
    let errors: Vec<(u32, String)> = with_host(|h| h.logs[before..].to_vec());
    // Error (4) lines only, none spanning two lines, and each refusal names its key.
    assert!(errors.iter().all(|(level, text)| *level == 4 && !text.contains('\n')), "{errors:#?}");
    assert!(errors.iter().any(|(_, t)| t.contains("allow_origins[0]")));
    assert!(errors.iter().any(|(_, t)| t.contains("allow_origins[1]")));
    assert!(errors.iter().any(|(_, t)| t.contains("not UTF-8")));
    assert!(errors.iter().any(|(_, t)| t.contains("not-cors")));
}

#[test]
fn a_read_sees_none_of_an_earlier_reads_lines() {
    // The module reads every map into a buffer its worker reuses. Envoy writes as many lines as
    // it counted; were one to report more, the rest must read as absent, not as the lines of the
    // stream before (the mock keeps every line it handed out alive, so a stale one would show).
    let config = config_new(b"cors", POLICY.as_bytes()).unwrap();
    let allowed: &[(&str, &[u8])] =
        &[(":method", b"GET"), (":path", b"/"), ("x-a", b"1"), ("x-b", b"2"), ("origin", b"https://app.example.com")];
    let first = run_stream(config, allowed, &[]);
    assert!(first.response.iter().any(|(k, _)| k == "access-control-allow-origin"), "{:?}", first.response);
    with_host(|h| h.hostile = Hostility { extra_count: 3, ..Hostility::default() });
    let second = run_stream(config, &[(":method", b"GET"), (":path", b"/")], &[]);
    with_host(|h| h.hostile = Hostility::default());
    assert!(!second.response.iter().any(|(k, _)| k.starts_with("access-control-")), "{:?}", second.response);
    unsafe { (module().config_destroy)(config) };
}

#[test]
fn a_local_reply_that_reenters_the_stream_is_left_alone() {
    let config = config_new(b"cors", POLICY.as_bytes()).unwrap();
    with_host(|h| {
        h.reenter = Some((0, 0));
        h.reentered = 0;
    });
    let preflight: &[(&str, &[u8])] = &[
        (":method", b"OPTIONS"),
        (":path", b"/"),
        ("origin", b"https://app.example.com"),
        ("access-control-request-method", b"PUT"),
    ];
    let seen = run_stream(config, preflight, &[]);
    with_host(|h| h.reenter = None);
    assert_eq!(with_host(|h| h.reentered), 1, "the mock ran the response hook inside the reply");
    assert_eq!(seen.request_status, 1);
    assert_eq!(seen.reply.as_ref().map(|r| r.0), Some(204));
    assert!(seen.response.is_empty(), "the reply was not edited twice: {:?}", seen.response);
    unsafe { (module().config_destroy)(config) };
}

#[test]
fn hostile_hosts_never_crash_the_module_nor_make_it_grant_more() {
    let h = module();
    let denied: &[(&str, &[u8])] = &[(":method", b"GET"), (":path", b"/"), ("origin", b"https://evil.example.net")];
    let engine = Arc::new(Config::from_json(POLICY).unwrap());
    let mut huge: Vec<(String, Vec<u8>)> = (0..5000).map(|i| (format!("x-h{i}"), vec![b'a'; 64])).collect();
    huge.push(("origin".into(), b"https://evil.example.net".to_vec()));
    let huge_ref: Vec<(&str, &[u8])> = huge.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
    let hostilities = [
        Hostility { extra_count: 3, ..Hostility::default() },
        Hostility { extra_count: usize::MAX / 64, ..Hostility::default() },
        Hostility { extra_count: usize::MAX / 64, get_headers_fails: true, ..Hostility::default() },
        Hostility { get_headers_fails: true, ..Hostility::default() },
        Hostility { null_values: true, ..Hostility::default() },
        Hostility { writes_fail: true, ..Hostility::default() },
        Hostility { metrics_code: 3, ..Hostility::default() },
        Hostility { metrics_code: 99, log_enabled: 7, ..Hostility::default() },
    ];
    for hostile in hostilities {
        with_host(|host| host.hostile = hostile.clone());
        // Counters defined under a failing host are lost, never fatal.
        let config = config_new(b"cors", POLICY.as_bytes()).expect("loads whatever metrics do");
        for (request, upstream) in cases().into_iter().chain([(denied, &[][..]), (&huge_ref[..], &[][..])]) {
            let got = run_stream(config, request, upstream);
            let want = expected(&engine, request, upstream);
            // A host that hides the request's headers makes it a request without any.
            let unread = expected(&engine, &[], upstream);
            // Whatever the host did, nothing is granted that the engine would not grant to the
            // request or to the request the module could read.
            let granted = |s: &Seen| {
                let headers = s.reply.as_ref().map_or(&s.response, |r| &r.1).clone();
                headers
                    .into_iter()
                    .filter(|(k, _)| k == "access-control-allow-origin" || k == "access-control-allow-credentials")
                    .collect::<Vec<_>>()
            };
            let (g, w, u) = (granted(&got), granted(&want), granted(&unread));
            assert!(g.iter().all(|x| w.contains(x) || u.contains(x)), "{request:?}: granted {g:?}, engine {w:?}");
            // A count of lines no Envoy allows (`max_headers_count` is at most 16,384) is a failed read.
            let readable = !hostile.get_headers_fails && !hostile.null_values && hostile.extra_count < 1 << 14;
            if readable && request.len() < 100 {
                // Headers read, only the writes or the counters failing: the same answer.
                assert_eq!(got.reply, want.reply, "{request:?}");
                assert_eq!(got.response, want.response, "{request:?}");
            }
        }
        unsafe { (h.config_destroy)(config) };
    }
    with_host(|host| host.hostile = Hostility::default());
}

#[test]
fn null_handles_pass_through() {
    let h = module();
    unsafe {
        assert!((h.filter_new)(std::ptr::null(), FILTER).is_null());
        assert_eq!((h.request_headers)(FILTER, std::ptr::null(), 1), 0);
        assert_eq!((h.response_headers)(FILTER, std::ptr::null(), 1), 0);
        (h.destroy)(std::ptr::null());
        (h.config_destroy)(std::ptr::null());
        (h.route_destroy)(std::ptr::null());
    }
}
