//! The callbacks the module makes into Envoy, each wrapped in a safe function. `bool` and enum
//! results are read as integers (`u8`, `u32`): a C++ `bool` is one byte, 0 or 1, and reading it
//! as `u8` keeps any other value defined.

use std::ffi::{c_char, c_void, CStr};

use super::{ConfigHandle, EnvoyBuffer, Failure, HeaderType, LogLevel, ModuleBuffer, ModuleHeader, StreamHandle};

extern "C" {
    fn envoy_dynamic_module_callback_log(level: LogLevel, message: ModuleBuffer);
    fn envoy_dynamic_module_callback_log_enabled(level: LogLevel) -> u8;
    fn envoy_dynamic_module_callback_http_filter_config_define_counter(
        config: *mut c_void,
        name: ModuleBuffer,
        label_names: *mut ModuleBuffer,
        label_names_length: usize,
        counter_id: *mut usize,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_increment_counter(
        filter: *mut c_void,
        id: usize,
        label_values: *mut ModuleBuffer,
        label_values_length: usize,
        value: u64,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_get_header(
        filter: *mut c_void,
        header_type: HeaderType,
        key: ModuleBuffer,
        result: *mut EnvoyBuffer,
        index: usize,
        optional_size: *mut usize,
    ) -> u8;
    fn envoy_dynamic_module_callback_http_set_header(
        filter: *mut c_void,
        header_type: HeaderType,
        key: ModuleBuffer,
        value: ModuleBuffer,
    ) -> u8;
    fn envoy_dynamic_module_callback_http_add_header(
        filter: *mut c_void,
        header_type: HeaderType,
        key: ModuleBuffer,
        value: ModuleBuffer,
    ) -> u8;
    fn envoy_dynamic_module_callback_http_send_response(
        filter: *mut c_void,
        status_code: u32,
        headers: *mut ModuleHeader,
        headers_length: usize,
        body: ModuleBuffer,
        details: ModuleBuffer,
    );
    fn envoy_dynamic_module_callback_get_most_specific_route_config(filter: *mut c_void) -> *const c_void;
    /// libc's: finds a symbol of the process (`RTLD_DEFAULT`, the null handle on glibc).
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// A callback every Envoy that serves ABI v0.1.0 exports (1.38 on) and Envoy 1.37, whose ABI
/// this module cannot serve, lacks.
const ABI_PROBE: &CStr = c"envoy_dynamic_module_callback_get_concurrency";

/// `Err(name)` when the process lacks a callback of ABI v0.1.0: Envoy 1.37 and older, which
/// would refuse the module anyway, with a message that does not say why.
pub fn host_serves_abi() -> Result<(), &'static str> {
    // SAFETY: `ABI_PROBE` is a NUL-terminated string; the null handle is glibc's RTLD_DEFAULT
    // (search the process's global symbols); the result is only compared with null.
    let found = unsafe { dlsym(std::ptr::null_mut(), ABI_PROBE.as_ptr()) };
    if found.is_null() {
        Err("envoy_dynamic_module_callback_get_concurrency")
    } else {
        Ok(())
    }
}

/// Most values of one request header read: Envoy's limit (`max_headers_count`) is 100 lines by
/// default; a larger count from the host is read as this many.
const MAX_VALUES: usize = 1 << 16;

fn succeeded(result: u8) -> Result<(), Failure> {
    if result == 0 {
        Err(Failure(0))
    } else {
        Ok(())
    }
}

fn metrics_result(code: u32) -> Result<(), Failure> {
    if code == 0 {
        Ok(())
    } else {
        Err(Failure(code))
    }
}

/// Writes a line to Envoy's log (component `dynamic_modules`).
pub fn log(level: LogLevel, message: &str) {
    // SAFETY: the buffer points to `message`, alive for the call; Envoy copies it.
    unsafe { envoy_dynamic_module_callback_log(level, ModuleBuffer::of(message.as_bytes())) }
}

/// Whether Envoy logs `level` for dynamic modules.
pub fn log_enabled(level: LogLevel) -> bool {
    // SAFETY: takes a level by value and returns a byte.
    unsafe { envoy_dynamic_module_callback_log_enabled(level) != 0 }
}

/// Defines a counter of this filter configuration, with these label names (Envoy tags each
/// increment with its label values); only while Envoy creates the configuration.
pub fn define_counter(config: ConfigHandle, name: &str, labels: &[&str]) -> Result<usize, Failure> {
    let mut id = 0usize;
    let mut label_names: Vec<ModuleBuffer> = labels.iter().map(|l| ModuleBuffer::of(l.as_bytes())).collect();
    // SAFETY: `config` is the handle Envoy passed to the running `on_http_filter_config_new`;
    // the name buffer and the label buffers (and the strings they point to) live for the call;
    // `id` is a valid `usize` slot.
    let code = unsafe {
        envoy_dynamic_module_callback_http_filter_config_define_counter(
            config.0,
            ModuleBuffer::of(name.as_bytes()),
            label_names.as_mut_ptr(),
            label_names.len(),
            &mut id,
        )
    };
    metrics_result(code).map(|()| id)
}

impl StreamHandle {
    /// Adds one to a counter defined on the stream's filter configuration, with one value per
    /// label it was defined with.
    pub fn increment_counter(&self, id: usize, label_values: &[&str]) -> Result<(), Failure> {
        let mut values: Vec<ModuleBuffer> = label_values.iter().map(|v| ModuleBuffer::of(v.as_bytes())).collect();
        // SAFETY: `self` is the live handle of the stream Envoy is calling back for; the id was
        // returned by `define_counter` on its configuration, with as many labels as `values`
        // holds (the caller's contract, checked by Envoy too); the buffers live for the call.
        metrics_result(unsafe {
            envoy_dynamic_module_callback_http_filter_increment_counter(
                self.0,
                id,
                values.as_mut_ptr(),
                values.len(),
                1,
            )
        })
    }

    /// The `index`th value of request header `name` (any case; pseudo-headers included) and how
    /// many values it has: one lookup in Envoy's map, nothing copied. The slice points into
    /// Envoy's header map and is valid until the hook returns, as long as no request header is
    /// written (the module never writes one). A failed call is "absent".
    pub fn request_header(&self, name: &str, index: usize) -> (Option<&[u8]>, usize) {
        let mut value = EnvoyBuffer { ptr: std::ptr::null(), length: 0 };
        let mut count = 0usize;
        // SAFETY: `self` is the live handle of the stream Envoy is calling back for; the key
        // buffer lives for the call; `value` and `count` are valid slots Envoy writes.
        let ok = unsafe {
            envoy_dynamic_module_callback_http_get_header(
                self.0,
                HeaderType::Request,
                ModuleBuffer::of(name.as_bytes()),
                &mut value,
                index,
                &mut count,
            )
        };
        if ok == 0 {
            return (None, 0);
        }
        let found = (!value.ptr.is_null()).then(|| value.bytes());
        (found, count.min(MAX_VALUES))
    }

    /// Replaces every value of a response header, or removes it (`None`).
    pub fn set_response_header(&self, name: &str, value: Option<&str>) -> Result<(), Failure> {
        let value = value.map_or(ModuleBuffer::NULL, |v| ModuleBuffer::of(v.as_bytes()));
        // SAFETY: live stream handle; both buffers live for the call (a null value removes the
        // header, as the ABI defines); Envoy copies them.
        succeeded(unsafe {
            envoy_dynamic_module_callback_http_set_header(
                self.0,
                HeaderType::Response,
                ModuleBuffer::of(name.as_bytes()),
                value,
            )
        })
    }

    /// Adds a response header line (Envoy appends to `vary` with ",").
    pub fn add_response_header(&self, name: &str, value: &str) -> Result<(), Failure> {
        // SAFETY: live stream handle; both buffers live for the call; Envoy copies them.
        succeeded(unsafe {
            envoy_dynamic_module_callback_http_add_header(
                self.0,
                HeaderType::Response,
                ModuleBuffer::of(name.as_bytes()),
                ModuleBuffer::of(value.as_bytes()),
            )
        })
    }

    /// Sends a local reply without a body. Envoy may run encoder hooks of this very stream
    /// before this returns: the caller must hold no borrow of the stream's state.
    pub fn send_response(&self, status: u32, headers: &[(&str, &str)], details: &str) {
        let mut lines: Vec<ModuleHeader> = headers
            .iter()
            .map(|(k, v)| ModuleHeader {
                key_ptr: k.as_ptr(),
                key_length: k.len(),
                value_ptr: v.as_ptr(),
                value_length: v.len(),
            })
            .collect();
        // SAFETY: live stream handle; `lines` and the strings it points to, and `details`, live
        // for the call; the body is empty (null, 0); Envoy copies everything.
        unsafe {
            envoy_dynamic_module_callback_http_send_response(
                self.0,
                status,
                lines.as_mut_ptr(),
                lines.len(),
                ModuleBuffer::NULL,
                ModuleBuffer::of(details.as_bytes()),
            );
        }
    }

    /// The per-route configuration of the stream's route (the most specific one), if any: the
    /// pointer `on_http_filter_per_route_config_new` returned.
    pub fn route_config(&self) -> *const c_void {
        // SAFETY: live stream handle; Envoy returns null or a pointer this module returned.
        unsafe { envoy_dynamic_module_callback_get_most_specific_route_config(self.0) }
    }
}
