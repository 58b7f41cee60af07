//! The host calls the filter needs, as a trait, and the decisions the filter hands its host to
//! apply: a local reply with everything Envoy needs to send it (`LocalReply`), and the edits of
//! an upstream's response (`ResponseEdits`). The proxy-wasm and the native adapters implement
//! the trait over their ABI, `fake_host` in memory (tests, `simulate`); none of them derives
//! anything from what the engine decided. Named `ProxyHost` so it is never confused with an
//! origin's host.

use std::fmt;

use crate::counter::Counter;
use crate::header_map::RequestHeaders;
use crate::policy::Policy;
use crate::response_headers::{ResponseHeaders, CORS_RESPONSE_HEADERS};

/// A host call that failed, as the host reported it (its status, in its own words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError(pub String);

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A reply the filter makes itself: status, headers (no body) and Envoy's response-code details.
#[derive(Debug, Clone, Copy)]
pub struct LocalReply<'a> {
    /// HTTP status.
    pub status: u32,
    /// Every header of the reply.
    pub headers: ResponseHeaders<'a>,
    /// Envoy's `%RESPONSE_CODE_DETAILS%` for it (`cors_preflight_allowed`, or the denial's
    /// `cors_preflight_denied{...}`): no whitespace.
    pub details: &'a str,
}

/// One edit of the upstream's response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit<'a> {
    /// Replace every value of the header (the policy's answer overrides the upstream's).
    Set(&'static str, &'a str),
    /// Remove every value (an upstream header that would grant more than the policy does).
    Remove(&'static str),
    /// Add a value, keeping the upstream's (`Vary`: Envoy appends ",value").
    Append(&'static str, &'a str),
}

/// Most edits of one response: each header at most once (tested in `stream`), and the engine
/// edits only the CORS response headers and `Vary`.
const EDITS_MAX: usize = CORS_RESPONSE_HEADERS.len() + 1;

impl Edit<'_> {
    /// The header the edit writes.
    pub fn name(&self) -> &'static str {
        match *self {
            Edit::Set(name, _) | Edit::Remove(name) | Edit::Append(name, _) => name,
        }
    }
}

/// The edits of one response, in the order they apply, on the stack: each header at most once
/// (a fixed set of headers; tested in `stream`), so an adapter that reads the response once can
/// trust what it found for every edit.
#[derive(Debug, Clone, Copy)]
pub struct ResponseEdits<'a> {
    items: [Edit<'a>; EDITS_MAX],
    len: usize,
}

impl Default for ResponseEdits<'_> {
    fn default() -> Self {
        ResponseEdits { items: [Edit::Remove(""); EDITS_MAX], len: 0 }
    }
}

impl<'a> ResponseEdits<'a> {
    /// Adds an edit; the engine adds at most `EDITS_MAX` (a fixed set of headers).
    pub(crate) fn push(&mut self, edit: Edit<'a>) {
        debug_assert!(self.len < EDITS_MAX, "more edits than EDITS_MAX");
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = edit;
            self.len += 1;
        }
    }

    /// The edits, in order.
    pub fn as_slice(&self) -> &[Edit<'a>] {
        self.items.get(..self.len).unwrap_or_default()
    }
}

/// The host calls the filter needs. Values are bytes: header values need not be UTF-8. Every
/// call that can fail says so; the engine logs what failed (a failed read is "absent").
pub trait ProxyHost {
    /// The request headers in the host's own representation (no adapter converts them).
    type Headers<'a>: RequestHeaders
    where
        Self: 'a;

    /// Every request header (pseudo-headers included), in one call.
    fn request_headers(&self) -> Result<Self::Headers<'_>, HostError>;
    /// Replaces every value of `name`, or removes it with `None`.
    fn set_response_header(&self, name: &str, value: Option<&str>) -> Result<(), HostError>;
    /// Adds a header line; Envoy appends to an inline header such as `vary` (",value").
    fn add_response_header(&self, name: &str, value: &str) -> Result<(), HostError>;
    /// Sends a local reply; the request goes no further.
    fn send_response(&self, reply: &LocalReply<'_>) -> Result<(), HostError>;
    /// Whether a local reply's details reach Envoy's `%RESPONSE_CODE_DETAILS%`: when not, the
    /// engine does not name a denial for it (naming may parse the origin again).
    fn records_reply_details(&self) -> bool {
        true
    }
    /// Increments a counter, in total and for `policy` (its per-policy counter, by
    /// `Policy::slot`); a failure only loses a count.
    fn count(&self, counter: Counter, policy: &Policy);

    /// Applies the edits of a response, in order; a failed edit is logged and the rest applied.
    fn apply(&self, edits: &ResponseEdits<'_>) {
        for edit in edits.as_slice() {
            let (name, result) = match *edit {
                Edit::Set(name, value) => (name, self.set_response_header(name, Some(value))),
                Edit::Remove(name) => (name, self.set_response_header(name, None)),
                Edit::Append(name, value) => (name, self.add_response_header(name, value)),
            };
            if let Err(e) = result {
                log::warn!("cannot edit response header {name}: {e}");
            }
        }
    }
}
