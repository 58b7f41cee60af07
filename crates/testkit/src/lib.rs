//! The dev-only test kit of envoy-cors: what the tests, benches and fuzz targets share, written
//! once. Never a dependency of the plugin or the engine (only of their tests).

pub mod alloc_counter;
