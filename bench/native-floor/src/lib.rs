//! Benchmark variant (m): the native floor, the least a dynamic module does to give the bench's
//! one-origin policy our native module's answers (n) through the same ABI (v0.1.0). It knows one
//! origin, one preflight and nothing else: no configuration, counters, logs, routes or panics
//! to catch. What it cannot avoid is what any dynamic-module CORS filter pays: Envoy's filter
//! wrapper and hooks, a per-stream allocation for the state between the request and the
//! response, one `get_header` per request line read, and on an allowed response three
//! `set_header` (ACAO, ACAC, ACEH) and one `add_header` (`vary: Origin`), which Envoy's own
//! filter writes through its pre-registered inline handles instead.
//!
//! - request: reads `origin` (with its count: two lines deny); without it, the response gets
//!   `vary: Origin` (the policy is not `*`), as n does;
//! - `OPTIONS` with `access-control-request-method`: a headers-only local reply, 204 with n's
//!   seven headers when the origin, the method and the one requested header are the policy's,
//!   403 with n's `vary` otherwise;
//! - actual request: on the response, ACAO, ACAC and ACEH set for the allowed origin, and
//!   `vary: Origin` added for every request.

#![allow(clippy::missing_safety_doc)]

use std::ffi::c_void;
use std::ptr;

const ALLOWED: &[u8] = b"https://app.example.com";
const METHODS: &[&[u8]] = &[b"GET", b"POST", b"PUT", b"DELETE"];
const HEADERS: &[&[u8]] = &[b"content-type", b"x-requested-with"];
const VARY_PREFLIGHT: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

#[repr(C)]
#[derive(Clone, Copy)]
pub struct Buf {
    pub ptr: *const u8,
    pub len: usize,
}

impl Buf {
    const fn of(s: &[u8]) -> Buf {
        Buf { ptr: s.as_ptr(), len: s.len() }
    }

    fn bytes<'a>(self) -> &'a [u8] {
        if self.ptr.is_null() {
            return &[];
        }
        // SAFETY: Envoy's buffer, valid for the hook that read it.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

#[repr(C)]
pub struct Line {
    pub key: Buf,
    pub value: Buf,
}

const REQUEST: u32 = 0;
const RESPONSE: u32 = 2;

extern "C" {
    fn envoy_dynamic_module_callback_http_get_header(
        filter: *mut c_void,
        header_type: u32,
        key: Buf,
        result: *mut Buf,
        index: usize,
        count: *mut usize,
    ) -> u8;
    fn envoy_dynamic_module_callback_http_set_header(filter: *mut c_void, header_type: u32, key: Buf, value: Buf)
        -> u8;
    fn envoy_dynamic_module_callback_http_add_header(filter: *mut c_void, header_type: u32, key: Buf, value: Buf)
        -> u8;
    fn envoy_dynamic_module_callback_http_send_response_headers(
        filter: *mut c_void,
        headers: *mut Line,
        count: usize,
        end_stream: bool,
    );
}

/// The first value of a request header and how many lines it has.
unsafe fn header(filter: *mut c_void, name: &[u8]) -> (&'static [u8], usize) {
    let mut value = Buf { ptr: ptr::null(), len: 0 };
    let mut count = 0;
    envoy_dynamic_module_callback_http_get_header(filter, REQUEST, Buf::of(name), &mut value, 0, &mut count);
    (value.bytes(), count)
}

/// What the response hook does.
#[derive(Clone, Copy, PartialEq)]
enum State {
    Vary,
    Allowed,
    Replied,
}

/// A headers-only local reply of these lines, kept on the stack.
unsafe fn reply<const N: usize>(filter: *mut c_void, lines: [(&str, &str); N]) {
    let mut lines = lines.map(|(k, v)| Line { key: Buf::of(k.as_bytes()), value: Buf::of(v.as_bytes()) });
    envoy_dynamic_module_callback_http_send_response_headers(filter, lines.as_mut_ptr(), N, true);
}

fn listed(value: &[u8], allowed: &[&[u8]]) -> bool {
    value.split(|&b| b == b',').all(|name| {
        let name = name.trim_ascii();
        allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const u8 {
    c"v0.1.0".as_ptr().cast()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(_: *mut c_void, _: Buf, _: Buf) -> *const c_void {
    // Any non-null pointer: the floor has no configuration.
    ALLOWED.as_ptr().cast()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(_: *const c_void) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_per_route_config_new(_: Buf, _: Buf) -> *const c_void {
    ptr::null()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_per_route_config_destroy(_: *const c_void) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(_: *const c_void, _: *mut c_void) -> *const c_void {
    Box::into_raw(Box::new(State::Vary)).cast_const().cast()
}

#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_destroy(stream: *const c_void) {
    drop(Box::from_raw(stream.cast_mut().cast::<State>()));
}

#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
    filter: *mut c_void,
    stream: *const c_void,
    _: u8,
) -> u32 {
    let state = stream.cast_mut().cast::<State>();
    let (origin, origins) = header(filter, b"origin");
    if origins == 0 {
        return 0;
    }
    let allowed = origins == 1 && origin == ALLOWED;
    let (method, _) = header(filter, b":method");
    if method == b"OPTIONS" {
        let (requested, requests) = header(filter, b"access-control-request-method");
        if requests > 0 {
            *state = State::Replied;
            let (headers, _) = header(filter, b"access-control-request-headers");
            if allowed && requests == 1 && METHODS.contains(&requested) && listed(headers, HEADERS) {
                reply(
                    filter,
                    [
                        (":status", "204"),
                        ("access-control-allow-origin", "https://app.example.com"),
                        ("access-control-allow-credentials", "true"),
                        ("access-control-allow-methods", "GET, POST, PUT, DELETE"),
                        ("access-control-allow-headers", "content-type, x-requested-with"),
                        ("access-control-expose-headers", "x-request-id"),
                        ("access-control-max-age", "600"),
                        ("vary", VARY_PREFLIGHT),
                    ],
                );
            } else {
                reply(filter, [(":status", "403"), ("vary", VARY_PREFLIGHT)]);
            }
            return 1;
        }
    }
    if allowed {
        *state = State::Allowed;
    }
    0
}

#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
    filter: *mut c_void,
    stream: *const c_void,
    _: u8,
) -> u32 {
    let state = *stream.cast::<State>();
    if state == State::Replied {
        return 0;
    }
    if state == State::Allowed {
        let set = |k: &[u8], v: &[u8]| {
            envoy_dynamic_module_callback_http_set_header(filter, RESPONSE, Buf::of(k), Buf::of(v))
        };
        set(b"access-control-allow-origin", ALLOWED);
        set(b"access-control-allow-credentials", b"true");
        set(b"access-control-expose-headers", b"x-request-id");
    }
    envoy_dynamic_module_callback_http_add_header(filter, RESPONSE, Buf::of(b"vary"), Buf::of(b"Origin"));
    0
}

// The hooks Envoy requires and the floor does not use.

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_body(_: *mut c_void, _: *const c_void, _: u8) -> u32 {
    0
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(_: *mut c_void, _: *const c_void) -> u32 {
    0
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_body(_: *mut c_void, _: *const c_void, _: u8) -> u32 {
    0
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(_: *mut c_void, _: *const c_void) -> u32 {
    0
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(_: *mut c_void, _: *const c_void) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(
    _: *mut c_void,
    _: *const c_void,
    _: u64,
    _: u32,
    _: *const c_void,
    _: usize,
    _: *const c_void,
    _: usize,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(
    _: *mut c_void,
    _: *const c_void,
    _: u64,
    _: *const c_void,
    _: usize,
    _: u8,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(
    _: *mut c_void,
    _: *const c_void,
    _: u64,
    _: *const c_void,
    _: usize,
    _: u8,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(
    _: *mut c_void,
    _: *const c_void,
    _: u64,
    _: *const c_void,
    _: usize,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(_: *mut c_void, _: *const c_void, _: u64) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(
    _: *mut c_void,
    _: *const c_void,
    _: u64,
    _: u32,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(_: *mut c_void, _: *const c_void, _: u64) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    _: *mut c_void,
    _: *const c_void,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    _: *mut c_void,
    _: *const c_void,
) {
}
