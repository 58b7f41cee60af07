//! The callbacks the module makes into Envoy, each wrapped in a safe function. `bool` and enum
//! results are read as integers (`u8`, `u32`): a C++ `bool` is one byte, 0 or 1, and reading it
//! as `u8` keeps any other value defined.

use std::cell::Cell;
use std::ffi::{c_char, c_void, CStr};

use std::marker::PhantomData;

use super::{ConfigHandle, EnvoyHeader, Failure, HeaderType, LogLevel, ModuleBuffer, ModuleHeader, StreamHandle};

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
    fn envoy_dynamic_module_callback_http_get_headers_size(filter: *mut c_void, header_type: HeaderType) -> usize;
    fn envoy_dynamic_module_callback_http_get_headers(
        filter: *mut c_void,
        header_type: HeaderType,
        result: *mut EnvoyHeader,
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
    fn envoy_dynamic_module_callback_http_send_response_headers(
        filter: *mut c_void,
        headers: *mut ModuleHeader,
        headers_length: usize,
        end_stream: bool,
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

/// Most lines of one header map read: Envoy's `max_headers_count` is 100 by default; a larger
/// count from the host is a failed read (the buffer for it is never allocated).
const MAX_LINES: usize = 1 << 14;

/// Lines a worker's spare buffer keeps room for between reads: a browser sends 20-30 header
/// lines; a buffer grown past this by a larger map is freed, not kept.
const SPARE_LINES: usize = 128;

thread_local! {
    /// The worker's buffer for header reads: taken by a read, given back when its lines are
    /// dropped, so a stream's two reads allocate nothing once the worker has served one
    /// (an allocation and its free cost about a third of a read). A read made while the
    /// buffer is out (a hook Envoy runs inside another) allocates its own.
    static SPARE: Cell<Vec<EnvoyHeader>> = const { Cell::new(Vec::new()) };
}

/// Every line of one of the stream's header maps, read in one call: names and values point into
/// Envoy's map, valid until the hook returns or a header of that map is written (Envoy's
/// guarantee); `'h` ties them to the hook's handle. (On the heap, in the worker's spare buffer:
/// a buffer on the stack for a browser's 30 lines measured slower, as it is filled and moved
/// whole.)
pub struct HeaderLines<'h> {
    lines: Vec<EnvoyHeader>,
    hook: PhantomData<&'h StreamHandle>,
}

impl Default for HeaderLines<'_> {
    fn default() -> Self {
        HeaderLines { lines: Vec::new(), hook: PhantomData }
    }
}

impl Drop for HeaderLines<'_> {
    fn drop(&mut self) {
        if self.lines.capacity() == 0 || self.lines.capacity() > SPARE_LINES {
            return;
        }
        let lines = std::mem::take(&mut self.lines);
        // After the thread's storage is gone the buffer is simply freed.
        let _ = SPARE.try_with(|spare| spare.set(lines));
    }
}

impl<'h> HeaderLines<'h> {
    /// Every value of the header named `name` (not empty), in Envoy's order: a line is passed
    /// over on its name's length before its bytes are compared, and a line Envoy did not fill
    /// (a count larger than the lines written) has no name.
    pub fn values<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'h [u8]> + 'a {
        self.lines.iter().filter(move |l| l.key.length == name.len() && l.key.bytes() == name).map(|l| l.value.bytes())
    }

    /// Every line's name, in Envoy's order (empty for a line Envoy did not fill).
    pub fn names(&self) -> impl Iterator<Item = &'h [u8]> + '_ {
        self.lines.iter().map(|l| l.key.bytes())
    }
}

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

    /// Every line of the request or the response headers, in two calls (the count, then the
    /// lines): no name is copied or lowercased, as a lookup by name would make Envoy do. The
    /// caller must not use the lines after writing a header of the same map.
    pub fn header_lines(&self, map: HeaderType) -> Result<HeaderLines<'_>, Failure> {
        // SAFETY: `self` is the live handle of the stream Envoy is calling back for.
        let count = unsafe { envoy_dynamic_module_callback_http_get_headers_size(self.0, map) };
        if count == 0 {
            return Ok(HeaderLines::default());
        }
        if count > MAX_LINES {
            return Err(Failure(0));
        }
        let mut lines = SPARE.try_with(Cell::take).unwrap_or_default();
        lines.clear();
        lines.resize(count, EnvoyHeader::EMPTY);
        // From here on `lines` goes back to the spare slot when dropped, a failed read included.
        let mut lines = HeaderLines { lines, hook: PhantomData };
        // SAFETY: live stream handle; `lines` holds the `count` entries Envoy said the map has
        // (its precondition), each initialised so an entry Envoy leaves alone reads as empty; the
        // map does not change between the two calls (one worker thread, no write in between).
        succeeded(unsafe { envoy_dynamic_module_callback_http_get_headers(self.0, map, lines.lines.as_mut_ptr()) })?;
        Ok(lines)
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

    /// Sends a reply of headers only, ending the stream, straight to the encoder filters as
    /// Envoy's own CORS filter sends its preflight answers: none of the local-reply path's work
    /// (a reply map built, then edited through a callback, the local-reply mapper), and no
    /// response-code details. Envoy runs this very stream's encoder hooks before this returns: the
    /// caller must hold no borrow of the stream's state.
    pub fn send_headers_only(&self, status: u32, headers: &[(&str, &str)]) {
        let status = StatusText::of(status);
        with_reply_lines(status.as_str(), headers, |lines| {
            // SAFETY: live stream handle; `lines` and the strings it points to (`status`
            // included) live for the call; Envoy copies them.
            unsafe {
                envoy_dynamic_module_callback_http_send_response_headers(self.0, lines.as_mut_ptr(), lines.len(), true);
            }
        });
    }

    /// The per-route configuration of the stream's route (the most specific one), if any: the
    /// pointer `on_http_filter_per_route_config_new` returned.
    pub fn route_config(&self) -> *const c_void {
        // SAFETY: live stream handle; Envoy returns null or a pointer this module returned.
        unsafe { envoy_dynamic_module_callback_get_most_specific_route_config(self.0) }
    }
}

/// The lines of a reply kept on the stack (the engine's replies have at most nine).
const INLINE_REPLY_LINES: usize = 12;

/// The lines of a reply: `:status` first, then `headers`; on the stack up to
/// `INLINE_REPLY_LINES`. `send` gets them as a slice Envoy may read during the call.
fn with_reply_lines(status: &str, headers: &[(&str, &str)], send: impl FnOnce(&mut [ModuleHeader])) {
    let line = |(k, v): (&str, &str)| ModuleHeader {
        key_ptr: k.as_ptr(),
        key_length: k.len(),
        value_ptr: v.as_ptr(),
        value_length: v.len(),
    };
    let all = std::iter::once((":status", status)).chain(headers.iter().copied()).map(line);
    let count = headers.len() + 1;
    if count <= INLINE_REPLY_LINES {
        let empty =
            ModuleHeader { key_ptr: std::ptr::null(), key_length: 0, value_ptr: std::ptr::null(), value_length: 0 };
        let mut lines = [empty; INLINE_REPLY_LINES];
        for (slot, l) in lines.iter_mut().zip(all) {
            *slot = l;
        }
        send(lines.get_mut(..count).unwrap_or_default());
    } else {
        send(&mut all.collect::<Vec<_>>());
    }
}

/// A status code as the three digits of `:status`, without allocating; a code outside 100-999
/// (the engine sends 200, 204 or 403) is sent as 500.
struct StatusText([u8; 3]);

impl StatusText {
    fn of(status: u32) -> StatusText {
        let code = if (100..1000).contains(&status) { status } else { 500 };
        let digit = |d: u32| b'0' + u8::try_from(d % 10).unwrap_or(0);
        StatusText([digit(code / 100), digit(code / 10), digit(code)])
    }

    fn as_str(&self) -> &str {
        // The engine's statuses without a UTF-8 check (about 50 instructions a reply).
        match &self.0 {
            b"200" => "200",
            b"204" => "204",
            b"403" => "403",
            digits => std::str::from_utf8(digits).unwrap_or("500"),
        }
    }
}
