//! Response header names and a fixed-capacity list of headers to send, so building an
//! answer never allocates.

/// `Access-Control-Allow-Origin`.
pub(crate) const ALLOW_ORIGIN: &str = "access-control-allow-origin";
/// `Access-Control-Allow-Credentials`.
pub(crate) const ALLOW_CREDENTIALS: &str = "access-control-allow-credentials";
/// `Access-Control-Allow-Methods`.
pub(crate) const ALLOW_METHODS: &str = "access-control-allow-methods";
/// `Access-Control-Allow-Headers`.
pub(crate) const ALLOW_HEADERS: &str = "access-control-allow-headers";
/// `Access-Control-Max-Age`.
pub(crate) const MAX_AGE: &str = "access-control-max-age";
/// `Access-Control-Expose-Headers`.
pub(crate) const EXPOSE_HEADERS: &str = "access-control-expose-headers";
/// `Access-Control-Allow-Private-Network`.
pub(crate) const ALLOW_PRIVATE_NETWORK: &str = "access-control-allow-private-network";
/// `Vary`.
pub(crate) const VARY: &str = "vary";

/// Every response header the filter owns: an upstream's own values are replaced or removed.
pub(crate) const CORS_RESPONSE_HEADERS: [&str; 7] =
    [ALLOW_ORIGIN, ALLOW_CREDENTIALS, ALLOW_METHODS, ALLOW_HEADERS, MAX_AGE, EXPOSE_HEADERS, ALLOW_PRIVATE_NETWORK];

const CAPACITY: usize = 9;

/// Up to nine `(name, value)` pairs, on the stack, and which CORS headers they hold (recorded
/// as they are added, so what an answer lacks is known without searching it).
#[derive(Debug, Clone, Copy)]
pub struct ResponseHeaders<'a> {
    items: [(&'static str, &'a str); CAPACITY],
    len: usize,
    /// Bit `i` set: `CORS_RESPONSE_HEADERS[i]` was added.
    cors: u8,
}

impl Default for ResponseHeaders<'_> {
    fn default() -> Self {
        ResponseHeaders { items: [("", ""); CAPACITY], len: 0, cors: 0 }
    }
}

fn cors_bit(name: &str) -> u8 {
    CORS_RESPONSE_HEADERS.iter().position(|n| *n == name).map_or(0, |i| 1 << i)
}

impl<'a> ResponseHeaders<'a> {
    /// Adds a header; the callers add at most `CAPACITY`, a fixed set.
    pub(crate) fn push(&mut self, name: &'static str, value: &'a str) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = (name, value);
            self.len += 1;
            self.cors |= cors_bit(name);
        }
    }

    /// Whether the CORS header `name` (one of `CORS_RESPONSE_HEADERS`) was added.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.cors & cors_bit(name) != 0
    }

    /// The headers, in the order added.
    pub fn as_slice(&self) -> &[(&'static str, &'a str)] {
        self.items.get(..self.len).unwrap_or_default()
    }
}
