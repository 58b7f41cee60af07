//! Arbitrary bytes as the plugin configuration: `Config::from_json` never panics, and what
//! loads keeps the invariants on a few hostile requests.
#![no_main]

use libfuzzer_sys::fuzz_target;

use testkit::fuzz_checks as checks;

fuzz_target!(|data: &[u8]| checks::check_config(data));
