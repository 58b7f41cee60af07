//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through the same checks
//! the cargo-fuzz targets run (`testkit::fuzz_checks`), so `make test` keeps them passing without a
//! nightly toolchain. Add a crash reproducer to the corpus to keep it fixed.
// Test code: a failed unwrap or assertion is how a test reports (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use testkit::fuzz_checks as checks;

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect()
}

fn replay(target: &str, check: fn(&[u8])) {
    let files = corpus(target);
    assert!(files.len() >= 20, "{target}: only {} corpus files", files.len());
    for (path, data) in &files {
        if let Err(panic) = std::panic::catch_unwind(|| check(data)) {
            let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            panic!("{}: {msg}", path.display());
        }
    }
}

#[test]
fn config_corpus() {
    replay("config", checks::check_config);
}

#[test]
fn request_corpus() {
    replay("request", checks::check_request);
}

/// The decoder reads what the seeds mean: policy selector, request lines, upstream lines.
#[test]
fn request_format() {
    // b'1' % 7 policies = policy 0.
    let input = checks::decode(b"1\n:method: OPTIONS\norigin: https://app.example.com\naccess-control-request-method: PUT\n<vary: accept\n<access-control-allow-origin: *\n").unwrap();
    assert_eq!(input.policy, 0);
    assert_eq!(input.request.len(), 3);
    assert_eq!(input.request[0], (":method".to_string(), b"OPTIONS".to_vec()));
    assert_eq!(input.upstream, [("vary".to_string(), "accept".to_string())], "upstream CORS headers are dropped");
    let out = checks::check_input(&input);
    assert_eq!(out.local_reply.map(|r| r.0), Some(204));
}
