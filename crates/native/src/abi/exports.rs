//! The hooks Envoy calls. The adapter implements `Callbacks`; `export_hooks!` (invoked once, at
//! the crate root) writes the exported functions, which call the generic functions here, so the
//! ABI does not depend on the adapter and every pointer conversion stays in this module.
//!
//! In-process, a panic that reached Envoy would abort it: every hook runs its body under
//! `catch_unwind` (the module is built with `panic = "unwind"`, see `make build`) and answers a
//! caught panic with the safest value: pass the stream through, refuse a configuration. The
//! adapter is written not to panic at all; this is the second line.
//!
//! Envoy looks up every HTTP filter hook below when it creates a filter configuration and
//! refuses a module that lacks one; those a CORS filter does not use (bodies, trailers, HTTP
//! callouts, scheduling, watermarks) are exported as no-ops.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use super::{ConfigHandle, EnvoyBuffer, HeadersStatus, StreamHandle};

/// What the exported hooks call: the adapter's side of the ABI.
pub trait Callbacks {
    /// A compiled filter configuration, shared by every worker.
    type Config: Send + Sync;
    /// A per-route configuration.
    type RouteConfig: Send + Sync;
    /// One stream's filter state (one worker thread; Envoy may call back into it while one of
    /// its callbacks runs, so its hooks take it by shared reference).
    type Stream;

    /// Once, when Envoy loads the module.
    fn program_init();
    /// Compiles a filter configuration; `None` makes Envoy refuse it.
    fn new_config(handle: ConfigHandle, name: &[u8], config: &[u8]) -> Option<Self::Config>;
    /// Compiles a per-route configuration; `None` makes Envoy refuse it.
    fn new_route_config(name: &[u8], config: &[u8]) -> Option<Self::RouteConfig>;
    /// A stream's filter; `None` makes Envoy close the stream.
    fn new_stream() -> Option<Self::Stream>;
    /// The request headers, under the stream's filter configuration; `route` is the most
    /// specific per-route configuration.
    fn on_request_headers(
        config: &Self::Config,
        stream: &Self::Stream,
        handle: StreamHandle,
        route: Option<&Self::RouteConfig>,
    ) -> HeadersStatus;
    /// The response headers.
    fn on_response_headers(config: &Self::Config, stream: &Self::Stream, handle: StreamHandle) -> HeadersStatus;
}

/// What Envoy holds for one stream: the adapter's state and the filter configuration it was
/// made under. The hooks hand the configuration to the adapter by reference, so a stream costs
/// no reference count on it (a shared counter every worker would write).
struct Held<C: Callbacks> {
    config: *const C::Config,
    stream: C::Stream,
}

/// Runs a hook body; a panic becomes `fallback`.
fn guarded<R>(fallback: R, body: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

pub fn program_init<C: Callbacks>() -> *const u8 {
    guarded(std::ptr::null(), || {
        if let Err(missing) = super::host_serves_abi() {
            super::log(
                super::LogLevel::Critical,
                &format!(
                    "envoy-cors: this Envoy does not serve the dynamic-module ABI v0.1.0 the module is \
                     built for (Envoy 1.38 or later): it lacks {missing}; the module refuses to load"
                ),
            );
            return std::ptr::null();
        }
        C::program_init();
        super::ABI_VERSION.as_ptr()
    })
}

pub fn config_new<C: Callbacks>(handle: *mut c_void, name: EnvoyBuffer, config: EnvoyBuffer) -> *const c_void {
    guarded(std::ptr::null(), || match C::new_config(ConfigHandle(handle), name.bytes(), config.bytes()) {
        Some(config) => Box::into_raw(Box::new(config)).cast_const().cast(),
        None => std::ptr::null(),
    })
}

pub fn config_destroy<C: Callbacks>(config: *const c_void) {
    if config.is_null() {
        return;
    }
    guarded((), || {
        // SAFETY: a non-null configuration pointer is one `config_new` made with `Box::into_raw`
        // of a `C::Config`; Envoy destroys each exactly once, after its last stream.
        drop(unsafe { Box::from_raw(config.cast_mut().cast::<C::Config>()) });
    });
}

/// Set once Envoy has made a per-route configuration of this module: until then no route can
/// hold one, and a stream does not ask Envoy for its route's. Envoy makes route configurations
/// before it hands the routes to its workers, which orders this store before their loads.
static ROUTE_CONFIGS_MADE: AtomicBool = AtomicBool::new(false);

pub fn route_config_new<C: Callbacks>(name: EnvoyBuffer, config: EnvoyBuffer) -> *const c_void {
    guarded(std::ptr::null(), || match C::new_route_config(name.bytes(), config.bytes()) {
        Some(config) => {
            ROUTE_CONFIGS_MADE.store(true, Ordering::Relaxed);
            Box::into_raw(Box::new(config)).cast_const().cast()
        }
        None => std::ptr::null(),
    })
}

pub fn route_config_destroy<C: Callbacks>(config: *const c_void) {
    if config.is_null() {
        return;
    }
    guarded((), || {
        // SAFETY: as in `config_destroy`, for `route_config_new`'s `C::RouteConfig`.
        drop(unsafe { Box::from_raw(config.cast_mut().cast::<C::RouteConfig>()) });
    });
}

pub fn filter_new<C: Callbacks>(config: *const c_void, _filter: *mut c_void) -> *const c_void {
    if config.is_null() {
        return std::ptr::null();
    }
    guarded(std::ptr::null(), || {
        // The configuration is kept beside the stream and read by its hooks (`stream_ref`).
        let config = config.cast::<C::Config>();
        match C::new_stream() {
            Some(stream) => Box::into_raw(Box::new(Held::<C> { config, stream })).cast_const().cast(),
            None => std::ptr::null(),
        }
    })
}

/// The stream behind `stream` and its filter configuration, or `None` for a null pointer.
///
/// # Safety
/// A non-null `stream` must be a pointer `filter_new` returned and not yet destroyed.
unsafe fn stream_ref<'a, C: Callbacks + 'a>(stream: *const c_void) -> Option<(&'a C::Config, &'a C::Stream)> {
    // SAFETY: the caller's contract; only shared references are ever made, so a hook Envoy runs
    // while another hook of the same stream is running does not alias a `&mut`.
    let held = unsafe { stream.cast::<Held<C>>().as_ref() }?;
    // SAFETY: `held.config` is the configuration `filter_new` was given: Envoy destroys a
    // configuration only after every stream made under it (each holds a reference to it).
    Some((unsafe { &*held.config }, &held.stream))
}

pub fn request_headers<C: Callbacks>(filter: *mut c_void, stream: *const c_void) -> u32 {
    guarded(HeadersStatus::Continue, || {
        // SAFETY: Envoy passes the pointer `filter_new` returned for this stream.
        let Some((config, stream)) = (unsafe { stream_ref::<C>(stream) }) else {
            return HeadersStatus::Continue;
        };
        let handle = StreamHandle(filter);
        let route = if ROUTE_CONFIGS_MADE.load(Ordering::Relaxed) { handle.route_config() } else { std::ptr::null() };
        // SAFETY: Envoy returns null or a pointer `route_config_new` returned, alive while the
        // route that holds it can serve this stream.
        let route = unsafe { route.cast::<C::RouteConfig>().as_ref() };
        C::on_request_headers(config, stream, handle, route)
    }) as u32
}

pub fn response_headers<C: Callbacks>(filter: *mut c_void, stream: *const c_void) -> u32 {
    guarded(HeadersStatus::Continue, || {
        // SAFETY: Envoy passes the pointer `filter_new` returned for this stream.
        match unsafe { stream_ref::<C>(stream) } {
            Some((config, stream)) => C::on_response_headers(config, stream, StreamHandle(filter)),
            None => HeadersStatus::Continue,
        }
    }) as u32
}

pub fn filter_destroy<C: Callbacks>(stream: *const c_void) {
    if stream.is_null() {
        return;
    }
    guarded((), || {
        // SAFETY: a non-null stream pointer is one `filter_new` made with `Box::into_raw`; Envoy
        // destroys each exactly once, after its last hook.
        drop(unsafe { Box::from_raw(stream.cast_mut().cast::<Held<C>>()) });
    });
}

/// What every body and trailers hook answers: go on.
pub const CONTINUE: u32 = super::CONTINUE;

/// Exports the hooks, each calling the generic function above for `$callbacks`.
macro_rules! export_hooks {
    ($callbacks:ty) => {
        /// Tells Envoy the ABI this module speaks (null would unload it).
        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const u8 {
            $crate::abi::exports::program_init::<$callbacks>()
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
            config_envoy: *mut ::std::ffi::c_void,
            name: $crate::abi::EnvoyBuffer,
            config: $crate::abi::EnvoyBuffer,
        ) -> *const ::std::ffi::c_void {
            $crate::abi::exports::config_new::<$callbacks>(config_envoy, name, config)
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(config: *const ::std::ffi::c_void) {
            $crate::abi::exports::config_destroy::<$callbacks>(config)
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_per_route_config_new(
            name: $crate::abi::EnvoyBuffer,
            config: $crate::abi::EnvoyBuffer,
        ) -> *const ::std::ffi::c_void {
            $crate::abi::exports::route_config_new::<$callbacks>(name, config)
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_per_route_config_destroy(
            config: *const ::std::ffi::c_void,
        ) {
            $crate::abi::exports::route_config_destroy::<$callbacks>(config)
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_new(
            config: *const ::std::ffi::c_void,
            filter: *mut ::std::ffi::c_void,
        ) -> *const ::std::ffi::c_void {
            $crate::abi::exports::filter_new::<$callbacks>(config, filter)
        }

        /// `end_of_stream` is a C++ `bool`, taken as a byte and not read.
        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
            filter: *mut ::std::ffi::c_void,
            stream: *const ::std::ffi::c_void,
            _end_of_stream: u8,
        ) -> u32 {
            $crate::abi::exports::request_headers::<$callbacks>(filter, stream)
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
            filter: *mut ::std::ffi::c_void,
            stream: *const ::std::ffi::c_void,
            _end_of_stream: u8,
        ) -> u32 {
            $crate::abi::exports::response_headers::<$callbacks>(filter, stream)
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_destroy(stream: *const ::std::ffi::c_void) {
            $crate::abi::exports::filter_destroy::<$callbacks>(stream)
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_request_body(
            _filter: *mut ::std::ffi::c_void,
            _stream: *const ::std::ffi::c_void,
            _end_of_stream: u8,
        ) -> u32 {
            $crate::abi::exports::CONTINUE
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(
            _filter: *mut ::std::ffi::c_void,
            _stream: *const ::std::ffi::c_void,
        ) -> u32 {
            $crate::abi::exports::CONTINUE
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_response_body(
            _filter: *mut ::std::ffi::c_void,
            _stream: *const ::std::ffi::c_void,
            _end_of_stream: u8,
        ) -> u32 {
            $crate::abi::exports::CONTINUE
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(
            _filter: *mut ::std::ffi::c_void,
            _stream: *const ::std::ffi::c_void,
        ) -> u32 {
            $crate::abi::exports::CONTINUE
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(
            _filter: *mut ::std::ffi::c_void,
            _stream: *const ::std::ffi::c_void,
        ) {
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(
            _filter: *mut ::std::ffi::c_void,
            _stream: *const ::std::ffi::c_void,
            _callout_id: u64,
            _result: u32,
            _headers: *const ::std::ffi::c_void,
            _headers_size: usize,
            _body_chunks: *const ::std::ffi::c_void,
            _body_chunks_size: usize,
        ) {
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(
            _filter: *mut ::std::ffi::c_void,
            _stream: *const ::std::ffi::c_void,
            _stream_id: u64,
            _headers: *const ::std::ffi::c_void,
            _headers_size: usize,
            _end_stream: u8,
        ) {
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(
            _filter: *mut ::std::ffi::c_void,
            _stream: *const ::std::ffi::c_void,
            _stream_id: u64,
            _data: *const ::std::ffi::c_void,
            _data_count: usize,
            _end_stream: u8,
        ) {
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(
            _filter: *mut ::std::ffi::c_void,
            _stream: *const ::std::ffi::c_void,
            _stream_id: u64,
            _trailers: *const ::std::ffi::c_void,
            _trailers_size: usize,
        ) {
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(
            _filter: *mut ::std::ffi::c_void,
            _stream: *const ::std::ffi::c_void,
            _stream_id: u64,
        ) {
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(
            _filter: *mut ::std::ffi::c_void,
            _stream: *const ::std::ffi::c_void,
            _stream_id: u64,
            _reason: u32,
        ) {
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(
            _filter: *mut ::std::ffi::c_void,
            _stream: *const ::std::ffi::c_void,
            _event_id: u64,
        ) {
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
            _filter: *mut ::std::ffi::c_void,
            _stream: *const ::std::ffi::c_void,
        ) {
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
            _filter: *mut ::std::ffi::c_void,
            _stream: *const ::std::ffi::c_void,
        ) {
        }
    };
}
pub(crate) use export_hooks;
