//! envoy-cors, the proxy-wasm plugin: a thin adapter between Envoy and the CORS engine
//! (`cors-engine`, which holds every rule and has no proxy-wasm types).
//!
//! No proxy-wasm SDK: `abi` is the ABI, fenced (the exports Envoy calls, only the callbacks a
//! CORS filter needs, and the host calls made, statuses as values, never unwrapped; the only
//! module where `unsafe` is allowed), `logger` routes `log` to the host, `filter` is the
//! adapter itself.
//! Everything here builds for `wasm32-wasip1` only; natively this crate is empty.

#[cfg(target_os = "wasi")]
mod abi;
#[cfg(target_os = "wasi")]
mod filter;
#[cfg(target_os = "wasi")]
mod logger;

#[cfg(target_os = "wasi")]
abi::exports::export_callbacks!(filter::Exports);
