//! The Envoy dynamic-module C ABI (v0.1.0, as in Envoy 1.38; Envoy 1.39 and 1.40 load it),
//! written by hand and fenced here like the plugin's `src/abi`: the only module of this crate
//! where `unsafe` is allowed, every `unsafe` block with a `SAFETY:` comment. Only what a CORS
//! filter needs is declared: the HTTP filter hooks Envoy requires (`exports`), and the callbacks
//! for headers, local replies, counters and logs (`callbacks`). Every value from Envoy is taken
//! as an integer, never as a Rust `bool` or enum, so an unexpected one is a value to judge, not
//! undefined behaviour; every result comes back as a `Result`.

#![allow(unsafe_code)]

use std::ffi::c_void;
use std::fmt;

mod callbacks;
pub mod exports;

pub use callbacks::*;

/// `envoy_dynamic_module_on_program_init`'s answer: the ABI this module was written against.
pub const ABI_VERSION: &[u8] = b"v0.1.0\0";

/// A buffer owned by Envoy (`envoy_dynamic_module_type_envoy_buffer`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct EnvoyBuffer {
    pub ptr: *const u8,
    pub length: usize,
}

impl EnvoyBuffer {
    const EMPTY: EnvoyBuffer = EnvoyBuffer { ptr: std::ptr::null(), length: 0 };

    /// The bytes, empty for a null pointer.
    ///
    /// The caller must only use the result within the hook that received the buffer (Envoy's
    /// guarantee of its lifetime).
    pub(crate) fn bytes<'a>(self) -> &'a [u8] {
        if self.ptr.is_null() || self.length == 0 {
            return &[];
        }
        // SAFETY: Envoy passes a pointer to `length` initialised bytes that stay valid until the
        // hook returns; every caller in this module uses the slice only within that hook.
        unsafe { std::slice::from_raw_parts(self.ptr, self.length) }
    }
}

/// A buffer owned by the module (`envoy_dynamic_module_type_module_buffer`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ModuleBuffer {
    pub ptr: *const u8,
    pub length: usize,
}

impl ModuleBuffer {
    fn of(bytes: &[u8]) -> ModuleBuffer {
        ModuleBuffer { ptr: bytes.as_ptr(), length: bytes.len() }
    }

    const NULL: ModuleBuffer = ModuleBuffer { ptr: std::ptr::null(), length: 0 };
}

/// A header line owned by Envoy (`envoy_dynamic_module_type_envoy_http_header`): name and value
/// buffers, the layout of two `EnvoyBuffer`s.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct EnvoyHeader {
    pub key: EnvoyBuffer,
    pub value: EnvoyBuffer,
}

impl EnvoyHeader {
    const EMPTY: EnvoyHeader = EnvoyHeader { key: EnvoyBuffer::EMPTY, value: EnvoyBuffer::EMPTY };
}

/// A header the module owns (`envoy_dynamic_module_type_module_http_header`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ModuleHeader {
    pub key_ptr: *const u8,
    pub key_length: usize,
    pub value_ptr: *const u8,
    pub value_length: usize,
}

/// Which header map a call reads or writes (`envoy_dynamic_module_type_http_header_type`).
#[derive(Debug, Clone, Copy)]
#[repr(u32)]
pub enum HeaderType {
    Request = 0,
    Response = 2,
}

/// Envoy's log levels (`envoy_dynamic_module_type_log_level`), `Trace` (0) to `Critical` (5).
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

/// What a request- or response-headers hook tells Envoy (`..._headers_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum HeadersStatus {
    /// Go on with the filter chain.
    Continue = 0,
    /// Stop it (`StopIteration`): a local reply was sent.
    StopIteration = 1,
}

/// The status every body and trailers hook returns: `Continue` (0).
const CONTINUE: u32 = 0;

/// A callback's failure, as the value Envoy returned: `false`, or a `metrics_result` code
/// (1 `MetricNotFound`, 2 `InvalidLabels`, 3 `Frozen`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Failure(pub u32);

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            0 => "false",
            1 => "MetricNotFound",
            2 => "InvalidLabels",
            3 => "Frozen",
            _ => "Unknown",
        };
        write!(f, "{name} ({})", self.0)
    }
}

/// Envoy's handle of one filter configuration (`http_filter_config_envoy_ptr`): counters are
/// defined through it, while the configuration is being created.
#[derive(Debug, Clone, Copy)]
pub struct ConfigHandle(*mut c_void);

/// Envoy's handle of one stream's filter (`http_filter_envoy_ptr`), valid from
/// `on_http_filter_new` until `on_http_filter_destroy`; the callbacks of this stream take it.
#[derive(Debug, Clone, Copy)]
pub struct StreamHandle(*mut c_void);
