//! A CORS policy engine and its proxy-wasm adapter for Envoy and Istio.
//!
//! The engine (`config`, `origin`, `method`, `header`, `policy`, `routing`, `decision`,
//! `stream`) has no proxy-wasm types: it is tested natively and under wasm. Only `plugin`
//! talks to the host, and only when built for `wasm32-wasip1`.

pub mod config;
pub mod counter;
pub mod decision;
mod fast_hash;
pub mod header;
pub mod header_list;
pub mod method;
pub mod origin;
pub mod policy;
pub mod request_path;
pub mod response;
pub mod routing;
pub mod simulate;
pub mod stream;
pub mod token;

#[cfg(target_os = "wasi")]
mod plugin;

pub use config::{Config, ConfigError};
