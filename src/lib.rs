//! A CORS policy engine and its proxy-wasm adapter for Envoy and Istio.
//!
//! The engine (everything but `plugin`) has no proxy-wasm types: it is tested natively and
//! under wasm. Only `plugin` talks to the host, and only when built for `wasm32-wasip1`.

pub mod allow_headers;
pub mod config;
pub mod counter;
pub mod expose_headers;
pub mod fake_host;
mod fast_hash;
pub mod header_map;
pub mod header_names;
pub mod host;
pub mod host_port;
pub mod method;
pub mod mode;
pub mod origin;
pub mod policy;
pub mod response_headers;
pub mod routing;
pub mod simulate;
pub mod stream;
pub mod token;
pub mod vary;

#[cfg(target_os = "wasi")]
mod plugin;

pub use config::ConfigError;
pub use routing::Config;
