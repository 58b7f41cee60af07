//! The host of an `:authority` as `match.hosts` compare it, read every way a router might.
//!
//! `match.hosts` compare the host without its port (ports are not part of a `match.hosts`
//! entry) and ignore case, as DNS and Envoy's virtual-host matching do. A trailing dot is the
//! one thing routers disagree on: `api.example.com.` names the same DNS host, Envoy's
//! virtual-host matching does not strip it (unless `strip_trailing_host_dot`), so it is read
//! both ways. An authority that is no `host[:port]` (`a.example.com:1:2`, `a.example.com:8443:`
//! is read, `a:1:2` is not), or whose host holds anything but letters, digits, `-`, `_`, `.`
//! (or a bracketed IPv6 address), is `Uninterpretable`: Envoy's `host:*` domains still route it.

use crate::host_port;

/// How an `:authority`'s host can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostReadings<'a> {
    /// One host, or two when it ends in a dot.
    Readings {
        /// The host without port (and without a trailing dot).
        first: &'a [u8],
        /// The host with its trailing dot, when it has one.
        second: Option<&'a [u8]>,
    },
    /// Not a `host[:port]`, or not a host name or IP address.
    Uninterpretable,
}

/// Every reading of an `:authority`'s host.
pub(crate) fn readings(authority: &[u8]) -> HostReadings<'_> {
    let Some((host, _port)) = host_port::split(authority) else {
        return HostReadings::Uninterpretable;
    };
    if !is_host(host) {
        return HostReadings::Uninterpretable;
    }
    match host.strip_suffix(b".") {
        Some(without) if !without.is_empty() => HostReadings::Readings { first: without, second: Some(host) },
        Some(_) => HostReadings::Uninterpretable,
        None => HostReadings::Readings { first: host, second: None },
    }
}

/// A registered name or IPv4 address (letters, digits, `-`, `_`, `.`), or a bracketed IPv6
/// address: what a router can compare with a domain.
fn is_host(host: &[u8]) -> bool {
    if let Some(inner) = host.strip_prefix(b"[").and_then(|h| h.strip_suffix(b"]")) {
        return !inner.is_empty() && inner.iter().all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    !host.is_empty() && host.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn one(host: &[u8]) -> HostReadings<'_> {
        HostReadings::Readings { first: host, second: None }
    }

    #[test]
    fn ports_are_left_out() {
        assert_eq!(readings(b"api.example.com:8443"), one(b"api.example.com"));
        assert_eq!(readings(b"api.example.com"), one(b"api.example.com"));
        assert_eq!(readings(b"API.example.com"), one(b"API.example.com"), "case is the patterns' to ignore");
        assert_eq!(readings(b"[::1]:80"), one(b"[::1]"));
        assert_eq!(readings(b"[::1]"), one(b"[::1]"));
        assert_eq!(readings(b"api.example.com:"), one(b"api.example.com"));
    }

    #[test]
    fn a_trailing_dot_is_read_both_ways() {
        let both = HostReadings::Readings { first: b"api.example.com", second: Some(b"api.example.com.") };
        assert_eq!(readings(b"api.example.com."), both);
        assert_eq!(readings(b"api.example.com.:8443"), both);
    }

    #[test]
    fn not_a_host() {
        for authority in [
            &b"a.com:80:90"[..],
            b"a.example.com:8443:",
            b"[::1",
            b"[::1]x",
            b"",
            b":80",
            b".",
            b"[]",
            b"user@a.example.com",
            b"a%2eexample.com",
            b"a.example.com\\x",
            b"a b.com",
        ] {
            assert_eq!(readings(authority), HostReadings::Uninterpretable, "{}", String::from_utf8_lossy(authority));
        }
    }
}
