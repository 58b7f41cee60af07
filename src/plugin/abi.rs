//! The proxy-wasm host calls a stream makes, declared here rather than taken from the SDK:
//! the SDK panics on any status it does not expect (a panic breaks every stream of the
//! worker), and turns a header map's one buffer into two allocations per header. Here every
//! status is an error value and maps stay in the host's format (`HeaderList`).

use std::ptr::{null, null_mut};

use proxy_wasm::types::{MapType, Status};

use crate::header_list::HeaderList;

// Same signatures as the SDK's declarations of these imports.
#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_header_map_value(
        map_type: MapType,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> Status;
    fn proxy_replace_header_map_value(
        map_type: MapType,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> Status;
    fn proxy_remove_header_map_value(map_type: MapType, key_data: *const u8, key_size: usize) -> Status;
    fn proxy_add_header_map_value(
        map_type: MapType,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> Status;
    fn proxy_get_header_map_pairs(
        map_type: MapType,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> Status;
    fn proxy_set_header_map_pairs(map_type: MapType, map_data: *const u8, map_size: usize) -> Status;
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> Status;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> Status;
}

/// Takes ownership of a buffer the host filled. The host allocates it through the SDK's
/// `proxy_on_memory_allocate`: a boxed slice of exactly `size` bytes.
fn take_host_buffer(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() || size == 0 {
        return Vec::new();
    }
    // SAFETY: see above; the host hands the buffer over and never touches it again.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// The first value of header `name`; `Ok(None)` when absent.
pub fn get_header(map: MapType, name: &str) -> Result<Option<Vec<u8>>, Status> {
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: the host reads `name` during the call and writes the two out-parameters.
    match unsafe { proxy_get_header_map_value(map, name.as_ptr(), name.len(), &mut data, &mut size) } {
        Status::Ok => Ok(Some(take_host_buffer(data, size))),
        Status::NotFound => Ok(None),
        status => Err(status),
    }
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
        Status::Ok | Status::NotFound => Ok(()),
        status => Err(status),
    }
}

/// Appends a header line.
pub fn add_header(map: MapType, name: &str, value: &str) -> Result<(), Status> {
    // SAFETY: the host only reads the given slices during the call.
    match unsafe { proxy_add_header_map_value(map, name.as_ptr(), name.len(), value.as_ptr(), value.len()) } {
        Status::Ok => Ok(()),
        status => Err(status),
    }
}

/// Every header of `map`, in the host's serialized form.
pub fn get_header_map(map: MapType) -> Result<HeaderList, Status> {
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: the host writes the two out-parameters.
    match unsafe { proxy_get_header_map_pairs(map, &mut data, &mut size) } {
        Status::Ok => Ok(HeaderList::from_bytes(take_host_buffer(data, size))),
        status => Err(status),
    }
}

/// Replaces every header of `map` with `headers`.
pub fn set_header_map(map: MapType, headers: &HeaderList) -> Result<(), Status> {
    let bytes = headers.as_bytes();
    // SAFETY: the host only reads `bytes` during the call.
    match unsafe { proxy_set_header_map_pairs(map, bytes.as_ptr(), bytes.len()) } {
        Status::Ok => Ok(()),
        status => Err(status),
    }
}

/// Sends a local reply without a body. `details` shows in Envoy's `%RESPONSE_CODE_DETAILS%`.
pub fn send_local_response(status_code: u32, details: &str, headers: &HeaderList) -> Result<(), Status> {
    let h = headers.as_bytes();
    // SAFETY: the host only reads the given slices during the call.
    match unsafe {
        proxy_send_local_response(status_code, details.as_ptr(), details.len(), null(), 0, h.as_ptr(), h.len(), -1)
    } {
        Status::Ok => Ok(()),
        status => Err(status),
    }
}

pub fn increment_metric(id: u32, offset: i64) -> Result<(), Status> {
    // SAFETY: plain values.
    match unsafe { proxy_increment_metric(id, offset) } {
        Status::Ok => Ok(()),
        status => Err(status),
    }
}
