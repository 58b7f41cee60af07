//! envoy-cors as a native Envoy dynamic module (`libenvoy_cors.so`, module name `envoy_cors`,
//! filter name `cors`): the same engine as the proxy-wasm plugin (`cors-engine`), behind a
//! second thin adapter.
//!
//! No Envoy SDK (it is not published): `abi` is the dynamic-module C ABI, fenced (the hooks
//! Envoy calls, only the callbacks a CORS filter needs, results as values; the only module where
//! `unsafe` is allowed), `logger` routes `log` to Envoy's log, `filter` is the adapter.

mod abi;
mod filter;
mod logger;

abi::exports::export_hooks!(filter::Adapter);
