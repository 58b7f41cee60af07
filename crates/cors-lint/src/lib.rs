//! `cors-lint`'s reusable part: finding the plugin's configurations in the files a platform team
//! has (plugin JSON, Istio `WasmPlugin`, Envoy Gateway `EnvoyExtensionPolicy`, Envoy
//! bootstraps), read as Kubernetes reads YAML. The command itself is `main.rs`; the tests
//! validate `examples/` with this code, and the admission webhook runs the same checks.

pub mod admission;
pub mod extract;
pub mod kube_yaml;
pub mod yaml_types;
