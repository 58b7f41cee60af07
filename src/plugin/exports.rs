//! The functions Envoy calls: the proxy-wasm 0.2.1 ABI, exported by hand rather than by the
//! SDK's dispatcher. Envoy skips every callback a module does not export, so exporting only
//! what a CORS filter uses spares each stream the `proxy_on_log` and `proxy_on_done` calls (and
//! one call per body chunk and trailer block) that the SDK exports unconditionally; with the
//! SDK's per-stream bookkeeping that is ~1.3 µs a request (BENCHMARKS.md).
//!
//! Integers from the host are taken as `u32`, never as `bool` or an enum: an unexpected value
//! must not be undefined behaviour.

use super::{abi, logger, with_plugin};

#[cfg(target_os = "wasi")]
extern "C" {
    fn __wasm_call_ctors();
}

/// The WASI reactor's initializer, called once before anything else.
#[no_mangle]
pub extern "C" fn _initialize() {
    // SAFETY: the linker-generated constructor list, run once as the reactor ABI asks.
    #[cfg(target_os = "wasi")]
    unsafe {
        __wasm_call_ctors();
    }
    logger::install();
}

/// Tells Envoy which ABI the module speaks.
#[no_mangle]
pub extern "C" fn proxy_abi_version_0_2_1() {}

/// Where the host puts the values it returns (see `abi::take_host_buffer`).
#[no_mangle]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    abi::allocate_for_host(size)
}

#[no_mangle]
pub extern "C" fn proxy_on_vm_start(_root_context_id: u32, _vm_configuration_size: usize) -> bool {
    true
}

/// A root context (one per plugin configuration, `parent_context_id` 0) or an HTTP stream.
#[no_mangle]
pub extern "C" fn proxy_on_context_create(context_id: u32, parent_context_id: u32) {
    with_plugin((), |p| p.create_context(context_id, parent_context_id));
}

/// Compiles the plugin configuration; `false` makes Envoy reject it.
#[no_mangle]
pub extern "C" fn proxy_on_configure(root_context_id: u32, configuration_size: usize) -> bool {
    with_plugin(false, |p| p.configure(root_context_id, configuration_size))
}

/// Returns 0 to continue, 1 to stop (a local reply was sent).
#[no_mangle]
pub extern "C" fn proxy_on_request_headers(context_id: u32, _headers: usize, _end_of_stream: u32) -> u32 {
    with_plugin(CONTINUE, |p| p.on_request_headers(context_id))
}

#[no_mangle]
pub extern "C" fn proxy_on_response_headers(context_id: u32, _headers: usize, _end_of_stream: u32) -> u32 {
    with_plugin(CONTINUE, |p| p.on_response_headers(context_id))
}

#[no_mangle]
pub extern "C" fn proxy_on_delete(context_id: u32) {
    with_plugin((), |p| p.delete_context(context_id));
}

/// The ABI's `Continue` (`FilterHeadersStatus::Continue`).
pub const CONTINUE: u32 = 0;
/// The ABI's `Pause`: Envoy stops the filter chain (`StopAllIterationAndWatermark`).
pub const PAUSE: u32 = 1;
