//! `cors-lint validate` reads manifests as Kubernetes does (YAML 1.1 scalars) and names the
//! manifest line and the fix of a bare scalar the two YAML versions read differently.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cors-lint");

fn validate(name: &str, text: &str) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("cors-lint-k8s-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out: Output = Command::new(BIN).arg("validate").arg(&path).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout).replace(path.to_str().unwrap(), "FILE");
    (out.status.code(), text)
}

const WASM_PLUGIN: &str = "\
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: cors
  namespace: istio-system
spec:
  url: oci://registry.example/envoy-cors:v0.1.0
  pluginConfig:
    allow_origins: [\"https://app.example.com\"]
    MODE_LINE
";

#[test]
fn unquoted_mode_off_fails_with_the_line_and_the_fix() {
    let (code, out) = validate("off.yaml", &WASM_PLUGIN.replace("MODE_LINE", "mode: off"));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "FILE:10: WasmPlugin istio-system/cors spec.pluginConfig: `mode: off`: Kubernetes reads YAML 1.1, \
             where a bare off is the boolean false, but `mode` takes a string (YAML 1.2 tools read the string \"off\"): \
             quote it: `mode: \"off\"`"
        ),
        "{out}"
    );
    // The plugin's own refusal of what Kubernetes sends, at the same line.
    assert!(
        out.contains("FILE:10: WasmPlugin istio-system/cors spec.pluginConfig: invalid CORS configuration: `mode`: invalid type: boolean `false`, expected one of \"enforce\", \"shadow\", \"off\""),
        "{out}"
    );
}

#[test]
fn quoted_mode_off_is_valid() {
    let (code, out) = validate("quoted.yaml", &WASM_PLUGIN.replace("MODE_LINE", "mode: \"off\""));
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn bare_yes_is_the_boolean_kubernetes_sends_with_a_warning() {
    let (code, out) = validate("yes.yaml", &WASM_PLUGIN.replace("MODE_LINE", "allow_credentials: yes"));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("FILE:10: WasmPlugin istio-system/cors spec.pluginConfig: warning: `allow_credentials: yes`: Kubernetes (YAML 1.1) sends the boolean true, YAML 1.2 tools read the string \"yes\""), "{out}");
}

#[test]
fn list_items_and_entries_get_their_own_line() {
    let text = "\
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyExtensionPolicy
metadata: {name: p, namespace: gw}
spec:
  wasm:
  - name: cors
    config:
      allow_origins: [\"https://a.example\"]
      policies:
      - match: {hosts: [api.example.com]}
        allow_methods:
        - PUT
        - on
        allow_origins: [\"https://a.example/\"]
";
    let (code, out) = validate("eep.yaml", text);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FILE:13: EnvoyExtensionPolicy gw/p spec.wasm[0].config: `- on`: Kubernetes reads YAML 1.1, where a bare on is the boolean true, but `policies[0].allow_methods[1]` takes a string"), "{out}");
    assert!(out.contains("quote it: `- \"on\"`"), "{out}");
}

#[test]
fn plugin_errors_name_the_manifest_line_of_their_key() {
    let text = WASM_PLUGIN.replace("MODE_LINE", "max_age: 9999999");
    let (code, out) = validate("max-age.yaml", &text);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "FILE:10: WasmPlugin istio-system/cors spec.pluginConfig: invalid CORS configuration: `max_age` = 9999999"
        ),
        "{out}"
    );
}

#[test]
fn octal_looking_numbers_are_read_as_kubernetes_reads_them() {
    // 0600 is octal (384) to Kubernetes: valid, with a warning saying so.
    let (code, out) = validate("octal.yaml", &WASM_PLUGIN.replace("MODE_LINE", "max_age: 0600"));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("`max_age: 0600`: Kubernetes (YAML 1.1) sends the number 384, YAML 1.2 tools read the number 600"),
        "{out}"
    );
}
