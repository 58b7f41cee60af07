//! `cors-lint`'s reusable part: finding the plugin's configurations in the files a platform team
//! has (plugin JSON, Istio `WasmPlugin`, Envoy Gateway `EnvoyExtensionPolicy`, Envoy
//! bootstraps). The command itself is `main.rs`; the tests validate `examples/` with this code.

pub mod extract;
