//! The proxy-wasm ABI (0.2.1, as Envoy implements it), written by hand instead of the proxy-wasm
//! SDK, and fenced here: the only module of the workspace where `unsafe` is allowed, every
//! `unsafe` block with a `SAFETY:` comment stating its invariant. The names follow the SDK's
//! (`Action`, `Status`, `MapType`, `BufferType`, `MetricType`, `LogLevel`), so a proxy-wasm
//! developer reads it at once; the differences are on purpose (README, "Why not the proxy-wasm
//! SDK"): every status the host returns is a value, an unexpected one an error and never a
//! panic (a panic breaks every stream of the worker); header maps are read in place; a local
//! reply keeps its response-code details; only the callbacks a CORS filter needs are exported.
//!
//! `hostcalls` are the calls the plugin makes, `exports` the functions Envoy calls.

#![allow(unsafe_code)]

use std::fmt;

pub mod exports;
mod hostcalls;

pub use hostcalls::*;

/// A header map of the current stream (the ABI's `MapType`).
#[derive(Debug, Clone, Copy)]
#[repr(u32)]
pub enum MapType {
    HttpRequestHeaders = 0,
    HttpResponseHeaders = 2,
}

/// The ABI's `BufferType`: which host buffer a call reads (only the one this plugin reads).
#[derive(Debug, Clone, Copy)]
#[repr(u32)]
pub enum BufferType {
    PluginConfiguration = 7,
}

/// The ABI's `MetricType` (only the kind this plugin defines).
#[derive(Debug, Clone, Copy)]
#[repr(u32)]
pub enum MetricType {
    Counter = 0,
}

/// What a header callback tells the host: the ABI's `Action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Action {
    /// Go on with the filter chain.
    Continue = 0,
    /// Stop it (`StopAllIterationAndWatermark`): a local reply was sent.
    Pause = 1,
}

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

/// The ABI's `Status`, as the integer the host returned: a Rust enum would be undefined
/// behaviour for a code the host adds later. Only failures are kept (`Ok` is `Result::Ok`):
/// 1 is `NotFound`, 2 `BadArgument`, ...
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u32);

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
