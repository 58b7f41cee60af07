//! The host calls the filter needs, as a trait: the proxy-wasm adapter implements it over the
//! ABI, `fake_host` in memory (tests, `simulate`). Named `ProxyHost` so it is never confused
//! with an origin's host.

use crate::counter::Counter;
use crate::header_map::HeaderMap;
use crate::policy::Policy;

/// The host calls the filter needs. Values are bytes: header values need not be UTF-8.
pub trait ProxyHost {
    /// Every request header (pseudo-headers included), in one call.
    fn request_headers(&self) -> HeaderMap;
    /// Replaces every value of `name`, or removes it with `None`.
    fn set_response_header(&self, name: &str, value: Option<&str>);
    /// Adds a header line; Envoy appends to an inline header such as `vary` (",value").
    fn add_response_header(&self, name: &str, value: &str);
    /// Sends a local reply without a body; the request goes no further. `details` is Envoy's
    /// response code details (`%RESPONSE_CODE_DETAILS%`): no whitespace.
    fn send_response(&self, status: u32, headers: &[(&str, &str)], details: &str);
    /// Increments a counter, in total and for `policy` (its per-policy counter, by
    /// `Policy::slot`).
    fn count(&self, counter: Counter, policy: &Policy);
}
