//! The dev-only test kit of envoy-cors: what the tests, benches, fuzz targets and Python
//! harnesses share, written once. Never a dependency of the plugin or the engine (only of their
//! tests). One concept a module:
//!
//! - `paths`: the repository, the Envoy binary and the plugin under test;
//! - `fixtures`: temp dirs, ports, plugin configs, atomic file replace, `Fixture`;
//! - `http`: the raw HTTP/1.1 client;
//! - `upstream`: the in-test upstream server;
//! - `bootstrap`: the one Envoy bootstrap builder (and `spec`, its JSON spec for the
//!   `envoy-bootstrap` CLI the Python harnesses call);
//! - `ecds`: the filter delivered by ECDS, as Istio does;
//! - `envoy`: the Envoy process;
//! - `load`: the bounded load loop;
//! - `invariants`: what every answer of the filter keeps; `fuzz_checks`: the fuzz targets'
//!   checks (also replayed by `tests/fuzz_corpus.rs`);
//! - `alloc_counter`: the counting allocator.
//!
//! `use testkit::prelude::*` brings the end-to-end tests' vocabulary.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub mod alloc_counter;
pub mod bootstrap;
pub mod ecds;
pub mod envoy;
pub mod fixtures;
pub mod fuzz_checks;
pub mod http;
pub mod invariants;
pub mod load;
pub mod paths;
pub mod spec;
pub mod upstream;

/// Everything an end-to-end test uses.
pub mod prelude {
    pub use crate::bootstrap::*;
    pub use crate::ecds::*;
    pub use crate::envoy::*;
    pub use crate::fixtures::*;
    pub use crate::http::*;
    pub use crate::load::*;
    pub use crate::paths::*;
    pub use crate::upstream::*;
}
