//! Every plugin configuration in `examples/` and `envoy/` loads with the plugin's own loader
//! (`Config::from_json`), found with the same extraction code as `cors-lint validate`, so no
//! example can drift from the code. Every YAML/JSON file there must hold at least one.
//! Native only (cors-lint is a native tool; `make lint` also checks wasm32-wasip1).
#![cfg(not(target_arch = "wasm32"))]
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use cors_lint::extract;

use std::path::{Path, PathBuf};

use cors_engine::Config;

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
            out.push(path);
        }
    }
}

#[test]
fn every_example_configuration_loads() {
    // The workspace root, where `examples/` and `envoy/` are.
    let root = &Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    files_under(&root.join("examples"), &mut files);
    files_under(&root.join("envoy"), &mut files);
    files.sort();
    assert!(
        files.iter().any(|f| f.starts_with(root.join("examples/istio"))),
        "no examples/istio/*.yaml found: {files:?}"
    );
    assert!(files.iter().any(|f| f.starts_with(root.join("envoy"))), "no envoy/*.yaml found");
    assert!(
        files.iter().any(|f| f.starts_with(root.join("examples/envoy-gateway"))),
        "no examples/envoy-gateway/*.yaml found"
    );

    let mut failures = Vec::new();
    let mut checked = 0;
    for file in &files {
        let shown = file.strip_prefix(root).unwrap_or(file).display().to_string();
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{shown}: {e}"));
        let found = match extract::extract(&text) {
            Ok(found) => found,
            Err(e) => {
                failures.push(format!("{shown}: {e}"));
                continue;
            }
        };
        if found.configs.is_empty() {
            failures.push(format!(
                "{shown}: no plugin configuration found (WasmPlugin spec.pluginConfig, EnvoyExtensionPolicy spec.wasm[].config or spec.dynamicModule[].config, Envoy wasm `configuration` or dynamic-module `filter_config`)"
            ));
        }
        for c in &found.configs {
            checked += 1;
            let result =
                c.config.clone().and_then(|json| Config::from_json(&json).map(|_| ()).map_err(|e| e.to_string()));
            if let Err(e) = result {
                failures.push(format!("{shown}: {}: {e}", c.location));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} example configurations fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{checked} example configurations in {} files load", files.len());
}

/// The extraction itself: a broken example must be reported, not silently skipped.
#[test]
fn extraction_finds_wasm_plugin_and_envoy_configs() {
    let wasm_plugin = "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: cors, namespace: x}\n\
                       spec:\n  url: oci://r/envoy-cors:1\n  pluginConfig:\n    allow_origins: [https://a.example.com]\n---\n\
                       apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: other}\n\
                       spec:\n  url: oci://r/other:1\n  pluginConfig: {foo: 1}\n";
    let found = extract::extract(wasm_plugin).unwrap();
    assert_eq!(found.configs.len(), 1);
    assert_eq!(found.configs[0].location, "document 1: WasmPlugin x/cors spec.pluginConfig");
    assert_eq!(found.skipped.len(), 1);
    Config::from_json(found.configs[0].config.as_ref().unwrap()).unwrap();

    let envoy = r#"{"static_resources": {"listeners": [{"filter_chains": [{"filters": [{"typed_config": {"http_filters": [
        {"name": "envoy.filters.http.wasm", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
         "config": {"root_id": "cors", "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
         "value": "{\"allow_origins\": [\"https://a.example.com/\"]}"}}}}]}}]}]}]}}"#;
    let found = extract::extract(envoy).unwrap();
    assert_eq!(found.configs.len(), 1);
    let err = Config::from_json(found.configs[0].config.as_ref().unwrap()).unwrap_err().into_vec().remove(0);
    assert_eq!(err.key, "allow_origins[0]");
}

/// Envoy Gateway: each `spec.wasm[i].config` of this plugin, other plugins' entries skipped.
#[test]
fn extraction_finds_envoy_extension_policy_configs() {
    let policy = r#"apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyExtensionPolicy
metadata: {name: p, namespace: gw}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: eg}]
  wasm:
  - name: other
    code: {type: Image, image: {url: r.example.com/other:1}}
    config: {foo: 1}
  - name: cors
    code: {type: Image, image: {url: r.example.com/envoy-cors:1}}
    config: {allow_origins: [https://a.example.com/]}
"#;
    let found = extract::extract(policy).unwrap();
    assert_eq!(found.skipped, ["EnvoyExtensionPolicy gw/p spec.wasm[0].config"]);
    assert_eq!(found.configs.len(), 1);
    assert_eq!(found.configs[0].location, "EnvoyExtensionPolicy gw/p spec.wasm[1].config");
    let err = Config::from_json(found.configs[0].config.as_ref().unwrap()).unwrap_err().into_vec().remove(0);
    assert_eq!(err.key, "allow_origins[0]");
}
