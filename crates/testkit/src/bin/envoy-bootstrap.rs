//! `envoy-bootstrap`: prints the Envoy bootstrap (JSON, which Envoy reads as YAML) that the test
//! kit's builder makes from a JSON spec (`testkit::spec` documents it), so the Python harnesses
//! (bench, soak, browser) run Envoy on the same configuration code as the Rust tests.
//!
//! Usage: `envoy-bootstrap [SPEC_FILE]` (default: the spec on stdin); the bootstrap goes to
//! stdout. A bad spec is exit status 2 with the reason on stderr.

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = match args.as_slice() {
        [] => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map(|_| s).map_err(|e| format!("stdin: {e}"))
        }
        [h] if h == "-h" || h == "--help" => {
            println!("usage: envoy-bootstrap [SPEC_FILE]   (spec JSON on stdin by default; see testkit::spec)");
            return ExitCode::SUCCESS;
        }
        [path] => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}")),
        _ => Err("usage: envoy-bootstrap [SPEC_FILE]".to_string()),
    };
    let result = text
        .and_then(|t| serde_json::from_str(&t).map_err(|e| format!("spec is not JSON: {e}")))
        .and_then(|spec| testkit::spec::from_spec(&spec))
        .and_then(|cfg| serde_json::to_string_pretty(&cfg.to_json()).map_err(|e| e.to_string()));
    match result {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("envoy-bootstrap: {e}");
            ExitCode::from(2)
        }
    }
}
