//! `cors-lint` for CI: `--help` on every command, `validate --format json|sarif`, a directory
//! argument searched for manifests, "did you mean" for a mistyped key.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cors-lint");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).current_dir(root()).output().unwrap()
}

fn temp_dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cors-lint-ci-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

#[test]
fn every_command_has_help() {
    for command in ["validate", "explain", "convert", "webhook", "schema"] {
        let out = run(&[command, "--help"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{command}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(&format!("cors-lint {command}")), "{command}:\n{text}");
    }
    let out = run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty() && !out.stderr.is_empty(), "usage errors go to stderr");
}

#[test]
fn json_and_sarif_name_file_line_rule_and_key() {
    let dir = temp_dir(
        "formats",
        &[(
            "wp.yaml",
            "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: cors}\nspec:\n  url: oci://r/cors:1\n  pluginConfig:\n    allow_origins: [\"https://a.example/\"]\n    mode: off\n",
        )],
    );
    let file = dir.join("wp.yaml");
    let out = run(&["validate", "--format", "json", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["checked"], 1);
    let findings = v["findings"].as_array().unwrap();
    let ambiguity = findings.iter().find(|f| f["rule"] == "YamlAmbiguity").unwrap();
    assert_eq!(
        (ambiguity["line"].as_u64(), ambiguity["key"].as_str(), ambiguity["level"].as_str()),
        (Some(8), Some("mode"), Some("error"))
    );
    // serde stops at the first syntax error, so the origin is refused in a second run: the
    // `mode` error is the plugin's own.
    let plugin = findings.iter().find(|f| f["rule"] == "Syntax").unwrap();
    assert_eq!(plugin["line"], 8, "{plugin}");
    let out = run(&["validate", "--format", "sarif", file.to_str().unwrap()]);
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let results = s["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().all(|r| r["level"] == "error"));
    assert_eq!(results[0]["locations"][0]["physicalLocation"]["region"]["startLine"], 8);
    assert!(s["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap().iter().any(|r| r["id"] == "YamlAmbiguity"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_directory_is_searched_for_manifests() {
    let out = run(&["validate", "-q", "examples"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let out = run(&["validate", "examples"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("examples/istio/ingress-gateway.yaml: WasmPlugin istio-system/cors spec.pluginConfig: ok"),
        "{text}"
    );
    let empty = temp_dir("empty", &[("notes.yaml", "just: notes\n"), ("sub/other.json", "[1]")]);
    let out = run(&["validate", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "a directory without a configuration fails");
    assert!(String::from_utf8_lossy(&out.stdout).contains("no CORS plugin configuration found in any"));
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn a_mistyped_key_gets_a_suggestion() {
    let dir = temp_dir("typo", &[("c.json", r#"{"alow_origins": ["https://a.example"]}"#)]);
    let out = run(&["validate", dir.join("c.json").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("unknown field `alow_origins`") && text.contains("(did you mean `allow_origins`?)"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
