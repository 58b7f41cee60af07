//! The proxy-wasm host calls the plugin makes, declared here with the ABI's integer codes (the
//! ABI is proxy-wasm 0.2.1, as Envoy implements it). Every status the host returns is a value:
//! an unexpected one is an error, never a panic (a panic breaks every stream of the worker), and
//! header maps stay in the host's serialized format (`HeaderMap`), read in place.

use std::fmt;
use std::ptr::{null, null_mut};

use crate::header_map::HeaderMap;

/// A header map of the current stream (the ABI's `MapType`).
#[derive(Debug, Clone, Copy)]
#[repr(u32)]
pub enum MapType {
    HttpRequestHeaders = 0,
    HttpResponseHeaders = 2,
}

/// The ABI's `BufferType` of the plugin configuration.
const BUFFER_PLUGIN_CONFIGURATION: u32 = 7;
/// The ABI's `MetricType::Counter`.
const METRIC_COUNTER: u32 = 0;

/// The ABI's log levels, `Trace` (0) to `Critical` (5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

/// A status the host returned other than `Ok` (0): 1 is `NotFound`, 2 `BadArgument`, ...
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Status(u32);

const OK: u32 = 0;
const NOT_FOUND: u32 = 1;
const EMPTY: u32 = 7;

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            NOT_FOUND => "NotFound",
            2 => "BadArgument",
            3 => "SerializationFailure",
            4 => "ParseFailure",
            EMPTY => "Empty",
            8 => "CasMismatch",
            10 => "InternalFailure",
            12 => "Unimplemented",
            _ => "Unknown",
        };
        write!(f, "{name} ({})", self.0)
    }
}

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
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_log_level(return_level: *mut u32) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> u32;
    fn proxy_define_metric(metric_type: u32, name_data: *const u8, name_size: usize, return_id: *mut u32) -> u32;
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

/// The buffer the host fills through `proxy_on_memory_allocate` (see `exports.rs`): a `Vec`
/// whose capacity is exactly the requested size, left to the host. A size the VM cannot hold is
/// null, which the host reports to the call that wanted the buffer as `InvalidMemoryAccess`:
/// `Vec::with_capacity` would abort the VM instead (tests/wasm_abi.rs).
pub fn allocate_for_host(size: usize) -> *mut u8 {
    let mut buffer: Vec<u8> = Vec::new();
    if buffer.try_reserve_exact(size).is_err() {
        return null_mut();
    }
    let data = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    data
}

/// Takes ownership of a buffer the host filled, allocated by `allocate_for_host(size)`.
fn take_host_buffer(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() || size == 0 {
        return Vec::new();
    }
    // SAFETY: see above; the host hands the buffer over and never touches it again.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// Replaces every value of `name` with `value`, or removes the header.
pub fn set_header(map: MapType, name: &str, value: Option<&str>) -> Result<(), Status> {
    // SAFETY: the host only reads the given slices during the call.
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
    // SAFETY: the host only reads the given slices during the call.
    ok(unsafe { proxy_add_header_map_value(map, name.as_ptr(), name.len(), value.as_ptr(), value.len()) })
}

/// Every header of `map`, in the host's serialized form.
pub fn get_header_map(map: MapType) -> Result<HeaderMap, Status> {
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: the host writes the two out-parameters.
    ok(unsafe { proxy_get_header_map_pairs(map, &mut data, &mut size) })?;
    Ok(HeaderMap::from_bytes(take_host_buffer(data, size)))
}

/// Sends a local reply without a body. `details` shows in Envoy's `%RESPONSE_CODE_DETAILS%`.
pub fn send_local_response(status_code: u32, details: &str, headers: &HeaderMap) -> Result<(), Status> {
    let h = headers.as_bytes();
    // SAFETY: the host only reads the given slices during the call.
    ok(unsafe {
        proxy_send_local_response(status_code, details.as_ptr(), details.len(), null(), 0, h.as_ptr(), h.len(), -1)
    })
}

pub fn increment_metric(id: u32, offset: i64) -> Result<(), Status> {
    // SAFETY: plain values.
    ok(unsafe { proxy_increment_metric(id, offset) })
}

/// Defines a counter; its id is valid for the VM's lifetime.
pub fn define_counter(name: &str) -> Result<u32, Status> {
    let mut id = 0;
    // SAFETY: the host reads `name` during the call and writes `id`.
    ok(unsafe { proxy_define_metric(METRIC_COUNTER, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

/// The plugin configuration (`configuration` in Envoy's `PluginConfig`); empty when none.
pub fn plugin_configuration(size: usize) -> Result<Vec<u8>, Status> {
    let mut data = null_mut();
    let mut len = 0;
    // SAFETY: the host writes the two out-parameters.
    match unsafe { proxy_get_buffer_bytes(BUFFER_PLUGIN_CONFIGURATION, 0, size, &mut data, &mut len) } {
        OK => Ok(take_host_buffer(data, len)),
        NOT_FOUND | EMPTY => Ok(Vec::new()),
        status => Err(Status(status)),
    }
}

pub fn log(level: LogLevel, message: &str) -> Result<(), Status> {
    // SAFETY: the host only reads `message` during the call.
    ok(unsafe { proxy_log(level as u32, message.as_ptr(), message.len()) })
}

/// The host's log level for wasm (`--component-log-level wasm:debug`).
pub fn log_level() -> Result<LogLevel, Status> {
    let mut level = 0;
    // SAFETY: the host writes `level`.
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
