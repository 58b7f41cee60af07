//! The host calls the plugin makes, each wrapped in a safe function that turns the host's
//! status into a `Result`. Header maps stay in the host's serialized format (`HeaderMap`),
//! read in place.

use std::ptr::{null, null_mut};

use cors_engine::header_map::HeaderMap;

use super::{BufferType, LogLevel, MapType, MetricType, Status, EMPTY, NOT_FOUND, OK};

fn ok(status: u32) -> Result<(), Status> {
    if status == OK {
        Ok(())
    } else {
        Err(Status(status))
    }
}

// Statuses come back as plain integers: a Rust enum would be undefined behaviour for a code the
// host adds later.
#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: LogLevel, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_log_level(return_level: *mut u32) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: BufferType,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> u32;
    fn proxy_define_metric(metric_type: MetricType, name_data: *const u8, name_size: usize, return_id: *mut u32)
        -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_replace_header_map_value(
        map_type: MapType,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: MapType, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_add_header_map_value(
        map_type: MapType,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(map_type: MapType, return_map_data: *mut *mut u8, return_map_size: *mut usize)
        -> u32;
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
}

/// The buffer the host fills through `proxy_on_memory_allocate` (see `exports.rs`): a boxed
/// slice of exactly `size` bytes (zeroed, so it never holds uninitialized memory), whose
/// ownership passes to the host until it hands the buffer back in a host call's out-parameters.
/// A size the VM cannot hold is null, which the host reports to the call that wanted the buffer
/// as `InvalidMemoryAccess`: an infallible allocation would abort the VM instead
/// (tests/wasm_abi/).
pub fn allocate_for_host(size: usize) -> *mut u8 {
    let mut buffer: Vec<u8> = Vec::new();
    if buffer.try_reserve_exact(size).is_err() {
        return null_mut();
    }
    buffer.resize(size, 0);
    Box::into_raw(buffer.into_boxed_slice()).cast::<u8>()
}

/// Takes back a buffer the host filled and returned with its `size`.
fn take_host_buffer(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() || size == 0 {
        // Nothing was allocated for a zero size (a boxed empty slice owns no memory).
        return Vec::new();
    }
    let slice = std::ptr::slice_from_raw_parts_mut(data, size);
    // SAFETY: the host returns exactly what `allocate_for_host(size)` gave it, with the same
    // `size` (proxy-wasm ABI: the returned buffer is the one the host asked the module to
    // allocate), so `slice` is that boxed slice's pointer and length; the host no longer touches
    // it, so ownership comes back exactly once.
    let buffer: Box<[u8]> = unsafe { Box::from_raw(slice) };
    buffer.into_vec()
}

/// Replaces every value of `name` with `value`, or removes the header.
pub fn set_header(map: MapType, name: &str, value: Option<&str>) -> Result<(), Status> {
    // SAFETY: each pointer/length pair is a live `&str` borrowed for the call; the host only
    // reads them during it.
    let status = unsafe {
        match value {
            Some(v) => proxy_replace_header_map_value(map, name.as_ptr(), name.len(), v.as_ptr(), v.len()),
            None => proxy_remove_header_map_value(map, name.as_ptr(), name.len()),
        }
    };
    match status {
        OK | NOT_FOUND => Ok(()),
        status => Err(Status(status)),
    }
}

/// Appends a header line.
pub fn add_header(map: MapType, name: &str, value: &str) -> Result<(), Status> {
    // SAFETY: each pointer/length pair is a live `&str` borrowed for the call; the host only
    // reads them during it.
    ok(unsafe { proxy_add_header_map_value(map, name.as_ptr(), name.len(), value.as_ptr(), value.len()) })
}

/// Every header of `map`, in the host's serialized form.
pub fn get_header_map(map: MapType) -> Result<HeaderMap, Status> {
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: the out-parameters are live locals the host writes during the call; the buffer it
    // returns in them is taken back by `take_host_buffer`.
    ok(unsafe { proxy_get_header_map_pairs(map, &mut data, &mut size) })?;
    Ok(HeaderMap::from_bytes(take_host_buffer(data, size)))
}

/// Sends a local reply without a body. `details` shows in Envoy's `%RESPONSE_CODE_DETAILS%`.
pub fn send_local_response(status_code: u32, details: &str, headers: &HeaderMap) -> Result<(), Status> {
    let h = headers.as_bytes();
    // SAFETY: each pointer/length pair is a live slice borrowed for the call (the body is the
    // null, zero-length one the ABI allows); the host only reads them during it.
    ok(unsafe {
        proxy_send_local_response(status_code, details.as_ptr(), details.len(), null(), 0, h.as_ptr(), h.len(), -1)
    })
}

pub fn increment_metric(id: u32, offset: i64) -> Result<(), Status> {
    // SAFETY: plain integers; no memory is shared.
    ok(unsafe { proxy_increment_metric(id, offset) })
}

/// Defines a counter; its id is valid for the VM's lifetime.
pub fn define_counter(name: &str) -> Result<u32, Status> {
    let mut id = 0;
    // SAFETY: `name` is a live `&str` the host reads during the call; `id` a live local it writes.
    ok(unsafe { proxy_define_metric(MetricType::Counter, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

/// The plugin configuration (`configuration` in Envoy's `PluginConfig`); empty when none.
pub fn plugin_configuration(size: usize) -> Result<Vec<u8>, Status> {
    let mut data = null_mut();
    let mut len = 0;
    // SAFETY: the out-parameters are live locals the host writes during the call; the buffer it
    // returns in them is taken back by `take_host_buffer`.
    match unsafe { proxy_get_buffer_bytes(BufferType::PluginConfiguration, 0, size, &mut data, &mut len) } {
        OK => Ok(take_host_buffer(data, len)),
        NOT_FOUND | EMPTY => Ok(Vec::new()),
        status => Err(Status(status)),
    }
}

pub fn log(level: LogLevel, message: &str) -> Result<(), Status> {
    // SAFETY: `message` is a live `&str` the host only reads during the call.
    ok(unsafe { proxy_log(level, message.as_ptr(), message.len()) })
}

/// Asks the host to call `proxy_on_tick` for the current root context every `ms` milliseconds.
pub fn set_tick_period(ms: u32) -> Result<(), Status> {
    // SAFETY: a plain integer; no memory is shared.
    ok(unsafe { proxy_set_tick_period_milliseconds(ms) })
}

/// The host's log level for wasm (`--component-log-level wasm:debug`).
pub fn log_level() -> Result<LogLevel, Status> {
    let mut level = 0;
    // SAFETY: `level` is a live local the host writes during the call.
    ok(unsafe { proxy_get_log_level(&mut level) })?;
    Ok(match level {
        0 => LogLevel::Trace,
        1 => LogLevel::Debug,
        2 => LogLevel::Info,
        3 => LogLevel::Warn,
        4 => LogLevel::Error,
        _ => LogLevel::Critical,
    })
}
