//! `cors-lint convert --check` in real Envoy (needs Envoy and `dist/cors.wasm`: `make test-e2e`):
//! the same requests against Envoy's own filter, configured as the source system generates it,
//! and against the plugin with the converted configuration; the answers that differ are printed,
//! and a different browser outcome is exit status 3.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;
use std::process::{Command, Output};

use testkit::paths::{cors_wasm, envoy_bin};

const BIN: &str = env!("CARGO_BIN_EXE_cors-lint");

fn check(file: &str) -> (Option<i32>, String, String) {
    let out: Output = Command::new(BIN)
        .args(["convert", "--check", file, "--envoy"])
        .arg(envoy_bin())
        .arg("--wasm")
        .arg(cors_wasm())
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .output()
        .expect("cors-lint runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Envoy's suffix matched http:// origins, the converted policy does not (a note says so): the
/// check shows it as a different browser outcome, and exits 3.
#[test]
fn a_different_browser_outcome_is_shown_and_fails_the_check() {
    let (code, json, report) = check("tests/cors-lint/envoy-route-cors.yaml");
    assert_eq!(code, Some(3), "{report}");
    serde_json::from_str::<serde_json::Value>(&json).expect("the configuration is still written");
    assert!(report.contains("note: `allow_origin_string_match[1]`: suffix"), "{report}");
    assert!(
        report.contains(
            "preflight GET from http://probe.partners.example.com: BROWSER OUTCOME DIFFERS: allowed by Envoy, denied \
             by the plugin"
        ),
        "{report}"
    );
    assert!(report.contains("GET from http://probe.partners.example.com: BROWSER OUTCOME DIFFERS"), "{report}");
    assert!(report.contains("2 with a different browser outcome"), "{report}");
    // By-design differences are listed, with the same outcome for a browser.
    assert!(
        report.contains("preflight GET with header x-cors-check from https://app.example.com: browser: denied by both"),
        "{report}"
    );
}

/// Istio's policy converts without any different browser outcome: the answers that differ (204,
/// 403 for what is not listed) are printed, and the check passes.
#[test]
fn an_istio_policy_converts_with_the_same_browser_outcomes() {
    let (code, _, report) = check("tests/peers/manifests/istio-fields-forward.yaml");
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("preflight GET from https://app.example.com: browser: allowed by both"), "{report}");
    assert!(report.contains("    Istio: 200,") && report.contains("    plugin: 204,"), "{report}");
    assert!(report.contains(", 0 with a different browser outcome"), "{report}");
}

#[test]
fn a_missing_envoy_is_a_clear_error() {
    let out = Command::new(BIN)
        .args([
            "convert",
            "--check",
            "tests/peers/manifests/istio-fields-forward.yaml",
            "--envoy",
            "/nonexistent/envoy",
        ])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.contains("--check could not run: cannot run /nonexistent/envoy"), "{report}");
}
