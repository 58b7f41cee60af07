//! Arbitrary request header lines (and upstream response headers) against fixed policies,
//! through the plugin's stream logic (`simulate::run`), asserting the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

use testkit::fuzz_checks as checks;

fuzz_target!(|data: &[u8]| checks::check_request(data));
