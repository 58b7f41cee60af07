//! The CORS policy engine of envoy-cors: the configuration as written (`config`), compiled into
//! policies (`policy`) and selected per request (`routing`), decisions and the response headers
//! that answer them, and one stream's logic (`stream`) against the `ProxyHost` trait. It has no
//! proxy-wasm types and no `unsafe`; it is tested natively and under wasm. The plugin crate
//! adapts it to Envoy; `cors-lint` and the tests run it through `simulate`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod allow_headers;
pub mod config;
pub mod counter;
mod expose_headers;
pub mod fake_host;
pub mod fast_hash;
pub mod header_map;
mod header_names;
pub mod host;
mod host_port;
mod logged;
mod method;
pub mod mode;
pub mod origin;
pub mod policy;
pub mod response_headers;
pub mod routing;
pub mod simulate;
pub mod stream;
mod token;
mod vary;
mod worker_cache;

pub use routing::Config;

// A compiled configuration is shared by every worker thread of a native Envoy (behind an `Arc`),
// so it must stay `Send + Sync`: what the request path writes lives in `worker_cache`, per thread.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Config>();
};
