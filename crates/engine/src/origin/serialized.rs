//! Strict parsing of a serialized origin (`scheme "://" host [ ":" port ]`), as browsers send
//! it in the `Origin` header (Fetch, "byte-serializing a request origin"; WHATWG URL for hosts).
//!
//! Browsers serialize origins canonically: lowercase scheme and host, punycode, no default
//! port, IPv6 as the WHATWG URL serializer writes it (compressed, lowercase hex, never dotted). Anything else did not come from a browser's origin serialization,
//! so it is refused here, before any matching: nothing that is not a valid serialized origin
//! can ever be matched by a pattern or a regex, or be reflected.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Longest `Origin` value the filter looks at: scheme, a 253-byte host and a port fit easily.
pub(crate) const MAX_ORIGIN_LEN: usize = 512;

/// The host of an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Host<'a> {
    /// A lowercase ASCII domain (punycode for IDNs), without trailing dot.
    Domain(&'a str),
    /// Dotted-decimal, as browsers serialize it.
    Ipv4(&'a str),
    /// The bracketed form, as serialized: `[::1]`.
    Ipv6(&'a str),
}

impl<'a> Host<'a> {
    /// The host as it appears in the origin.
    pub(crate) fn as_str(&self) -> &'a str {
        match *self {
            Host::Domain(s) | Host::Ipv4(s) | Host::Ipv6(s) => s,
        }
    }
}

/// A parsed serialized origin borrowing the request's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    /// The whole serialized origin, exactly as received.
    pub(crate) serialized: &'a str,
    /// Lowercase scheme (`https`).
    pub(crate) scheme: &'a str,
    /// The host, classified.
    pub(crate) host: Host<'a>,
    /// Explicit port; never the scheme's default (browsers omit it).
    pub(crate) port: Option<u16>,
}

impl<'a> Origin<'a> {
    /// Parses `value` as a browser-serialized origin. `None` for anything else, including
    /// `null` (handled by the caller), uppercase, default ports and non-ASCII bytes.
    pub fn parse(value: &'a [u8]) -> Option<Origin<'a>> {
        if value.len() > MAX_ORIGIN_LEN || !value.is_ascii() {
            return None;
        }
        let serialized = std::str::from_utf8(value).ok()?;
        let (scheme, rest) = serialized.split_once("://")?;
        if !is_scheme(scheme) {
            return None;
        }
        let (host, port) = crate::host_port::split_str(rest)?;
        let host = parse_host(host)?;
        let port = match port {
            None => None,
            Some(p) => {
                let p = parse_port(p)?;
                if Some(p) == default_port(scheme) {
                    return None;
                }
                Some(p)
            }
        };
        Some(Origin { serialized, scheme, host, port })
    }

    /// Why `value` is not a serialized origin, for a denial that explains itself: `parse`'s
    /// steps in its order, each named. Only called once `parse` refused `value`.
    pub fn invalid_reason(value: &[u8]) -> &'static str {
        if value.is_empty() {
            return "empty";
        }
        if value.len() > MAX_ORIGIN_LEN {
            return "too long";
        }
        let Some(text) = std::str::from_utf8(value).ok().filter(|t| t.is_ascii()) else {
            return "not ASCII (browsers send hosts in punycode)";
        };
        if text.contains(',') {
            return "several origins joined with `,`";
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return "no scheme://";
        };
        if !is_scheme(scheme) {
            return "not a lowercase scheme";
        }
        if rest.ends_with('/') {
            return "trailing slash (browsers never send a path)";
        }
        if rest.contains(['/', '?', '#']) {
            return "has a path, query or fragment (browsers send scheme://host[:port] only)";
        }
        if rest.contains('@') {
            return "has userinfo";
        }
        let Some((host, port)) = crate::host_port::split_str(rest) else {
            return "malformed host or port";
        };
        if let Some(p) = port {
            match parse_port(p) {
                None => return "invalid port",
                Some(p) if Some(p) == default_port(scheme) => return "default port (browsers leave it out)",
                Some(_) => {}
            }
        }
        if host.bytes().any(|b| b.is_ascii_uppercase()) {
            return "uppercase host (browsers send it lowercase)";
        }
        if parse_host(host).is_none() {
            return "invalid host";
        }
        "not a serialized origin"
    }

    /// `scheme://host`, the origin without its port.
    pub(crate) fn scheme_and_host(&self) -> &'a str {
        &self.serialized[..self.scheme.len() + 3 + self.host.as_str().len()]
    }
}

/// The port a scheme's origins leave out.
pub(crate) fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// RFC 3986 scheme, lowercase only (browsers serialize schemes lowercase).
fn is_scheme(s: &str) -> bool {
    let Some((first, rest)) = s.as_bytes().split_first() else {
        return false;
    };
    s.len() <= 32
        && first.is_ascii_lowercase()
        && rest.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.'))
}

/// A decimal port, 1..=65535, without sign or leading zero.
pub(crate) fn parse_port(p: &str) -> Option<u16> {
    let b = p.as_bytes();
    if b.is_empty() || b.len() > 5 || b.first() == Some(&b'0') || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    p.parse::<u16>().ok()
}

pub(crate) fn parse_host(h: &str) -> Option<Host<'_>> {
    if let Some(inner) = h.strip_prefix('[') {
        let inner = inner.strip_suffix(']')?;
        // Only the one form a browser serializes: `[0:0:0:0:0:0:0:1]`, `[::0001]`, `[::ABCD]`
        // and `[::127.0.0.1]` are the same addresses written otherwise, and never come from one.
        if inner.len() > MAX_IPV6_LEN {
            return None;
        }
        let addr = Ipv6Addr::from_str(inner).ok()?;
        if serialize_ipv6(addr).as_str() != inner {
            return None;
        }
        return Some(Host::Ipv6(h));
    }
    if is_ipv4_like(h) {
        // Rust's parser refuses leading zeros and out-of-range parts, as WHATWG serialization would never produce them.
        Ipv4Addr::from_str(h).ok()?;
        return Some(Host::Ipv4(h));
    }
    is_domain(h).then_some(Host::Domain(h))
}

/// Longest domain in an origin: a DNS name has at most 253 characters (without the root's
/// trailing dot), so no longer one can be resolved and serve a page.
pub(crate) const MAX_HOST_LEN: usize = 253;

/// Longest serialized IPv6 address: eight pieces of four hex digits and seven colons.
const MAX_IPV6_LEN: usize = 39;

/// An IPv6 address as the WHATWG URL standard serializes it (without brackets), on the stack.
pub(crate) struct Ipv6Text {
    buf: [u8; MAX_IPV6_LEN],
    len: usize,
}

impl Ipv6Text {
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII hex digits and colons are ever written.
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }
}

/// WHATWG URL "IPv6 serializer": each piece in lowercase hex without leading zeros; the first
/// longest run of two or more zero pieces becomes `::`; an embedded IPv4 address is never
/// written dotted (`::ffff:7f7f:7f7f`, where RFC 5952 and Rust's `Display` write
/// `::ffff:127.127.127.127`).
pub(crate) fn serialize_ipv6(addr: Ipv6Addr) -> Ipv6Text {
    let pieces = addr.segments();
    // The first longest run of zero pieces, if it is at least two long.
    let (mut best_start, mut best_len) = (0, 0);
    let mut i = 0;
    while i < pieces.len() {
        let start = i;
        while pieces.get(i) == Some(&0) {
            i += 1;
        }
        if i - start > best_len {
            (best_start, best_len) = (start, i - start);
        }
        i += 1;
    }
    let compress = (best_len >= 2).then_some(best_start);

    let mut out = Ipv6Text { buf: [0; MAX_IPV6_LEN], len: 0 };
    let mut i = 0;
    while i < pieces.len() {
        if Some(i) == compress {
            out.push(b':');
            if i == 0 {
                out.push(b':');
            }
            i += best_len;
            continue;
        }
        let Some(&piece) = pieces.get(i) else {
            break;
        };
        let mut started = false;
        for shift in [12u32, 8, 4, 0] {
            let digit = ((piece >> shift) & 0xf) as u8;
            if started || digit != 0 || shift == 0 {
                started = true;
                out.push(if digit < 10 { b'0' + digit } else { b'a' + digit - 10 });
            }
        }
        if i != pieces.len() - 1 {
            out.push(b':');
        }
        i += 1;
    }
    out
}

/// WHATWG treats a host whose last label is numeric as IPv4; so do we.
fn is_ipv4_like(h: &str) -> bool {
    let last = h.rsplit('.').next().unwrap_or(h);
    !last.is_empty() && last.bytes().all(|c| c.is_ascii_digit())
}

/// Lowercase LDH labels (underscore allowed, as browsers accept it), 1..=63 bytes each,
/// 253 in all, no empty label, so no leading, trailing or double dot.
/// A host name as browsers serialize it: lowercase labels of letters, digits, `-` and `_`, each
/// 1 to 63 bytes, at most `MAX_HOST_LEN` in all (no trailing dot).
pub(crate) fn is_domain(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= MAX_HOST_LEN
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
        })
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn parse(s: &str) -> Option<Origin<'_>> {
        Origin::parse(s.as_bytes())
    }

    #[test]
    fn accepts_browser_serializations() {
        let o = parse("https://app.example.com").unwrap();
        assert_eq!((o.scheme, o.host, o.port), ("https", Host::Domain("app.example.com"), None));
        let o = parse("http://localhost:3000").unwrap();
        assert_eq!((o.host, o.port, o.scheme_and_host()), (Host::Domain("localhost"), Some(3000), "http://localhost"));
        let o = parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(o.host, Host::Ipv4("127.0.0.1"));
        let o = parse("http://[::1]:8080").unwrap();
        assert_eq!((o.host, o.port), (Host::Ipv6("[::1]"), Some(8080)));
        assert!(parse("https://xn--80ak6aa92e.com").is_some());
        assert!(parse("chrome-extension://abcdefghijklmnop").is_some());
        assert!(parse("https://a:65535").is_some());
    }

    #[test]
    fn ipv6_only_in_the_whatwg_serialization() {
        // What browsers send: `new URL("http://[::ffff:127.127.127.127]:90").origin` is
        // `http://[::ffff:7f7f:7f7f]:90`.
        for ok in [
            "http://[::1]:4000",
            "http://[::]",
            "http://[::ffff:7f7f:7f7f]:90",
            "http://[::ffff:a00:1]",
            "http://[::7f00:1]",
            "http://[2001:db8::1]",
            "http://[1::]",
            "http://[1:0:2:3:4:5:6:7]",
            "http://[1::2:0:0:3:4]",
            "http://[1:0:0:2::3]",
            "http://[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]",
        ] {
            let o = parse(ok).unwrap_or_else(|| panic!("{ok} refused"));
            assert!(matches!(o.host, Host::Ipv6(_)), "{ok}");
        }
        // The same addresses written in forms no browser serializes.
        for bad in [
            "http://[0:0:0:0:0:0:0:1]:4000",
            "http://[::0001]",
            "http://[::01]",
            "http://[0::1]",
            "http://[::127.0.0.1]",
            "http://[::ffff:127.127.127.127]:90",
            "http://[::FFFF:7F7F:7F7F]",
            "http://[1::2:3:4:5:6:7]",
            "http://[1:0:0:2::3:4]",
            "http://[1:0:0:2:0:0:0:3]",
            "http://[0:0::1]",
            "http://[::1%25eth0]",
            "http://[]",
        ] {
            assert!(parse(bad).is_none(), "{bad} accepted");
        }
    }

    #[test]
    fn ipv6_serializer_agrees_with_rfc5952_except_for_embedded_ipv4() {
        // Rust's `Display` follows RFC 5952, which the WHATWG serializer matches except that it
        // never writes the dotted form. Pieces drawn mostly from {0, 1, ffff} to get zero runs.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut pieces = [0u16; 8];
            for p in &mut pieces {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                *p = match seed >> 61 {
                    0..=3 => 0,
                    4 => 1,
                    5 => 0xffff,
                    _ => (seed >> 20) as u16,
                };
            }
            let addr = Ipv6Addr::from(pieces);
            let ours = serialize_ipv6(addr);
            let ours = ours.as_str();
            assert_eq!(Ipv6Addr::from_str(ours).ok(), Some(addr), "{ours} does not parse back");
            let display = addr.to_string();
            if display.contains('.') {
                assert!(!ours.contains('.') && addr.to_ipv4_mapped().is_some(), "{display} / {ours}");
            } else {
                assert_eq!(ours, display);
            }
            let origin = format!("http://[{ours}]");
            assert!(parse(&origin).is_some(), "{origin}");
        }
        let mapped = Ipv6Addr::from_str("::ffff:127.127.127.127").unwrap();
        assert_eq!(serialize_ipv6(mapped).as_str(), "::ffff:7f7f:7f7f");
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "null",
            "https://",
            "https:/a.com",
            "//a.com",
            "a.com",
            "HTTPS://a.com",
            "https://A.com",
            "https://a.com/",
            "https://a.com/path",
            "https://a.com?q",
            "https://a.com#f",
            "https://u@a.com",
            "https://u:p@a.com",
            "https://a.com:",
            "https://a.com:0",
            "https://a.com:65536",
            "https://a.com:80800",
            "https://a.com:443",
            "http://a.com:80",
            "https://a.com:+1",
            "https://a.com:08",
            "https://a.com.",
            "https://.a.com",
            "https://a..com",
            "https://a%2ecom",
            "https://a.com\r\nx: y",
            "https://a.com\0",
            "https://caf\u{e9}.com",
            "https://a.com, https://b.com",
            "https://a.com ",
            " https://a.com",
            "https://256.1.1.1",
            "https://1.2.3",
            "https://01.2.3.4",
            "https://[::1",
            "https://[::G]",
            "https://[::1]x",
            "https://[::1]:",
            "https://[::FFFF]",
            "https://[0:0:0:0:0:0:0:1]",
            "https://[::127.0.0.1]",
            "https://*.a.com",
            "1https://a.com",
        ] {
            assert!(parse(bad).is_none(), "{bad:?} must be refused");
        }
        assert!(Origin::parse(&[b'h', 0xff]).is_none());
        let long = format!("https://{}.com", "a".repeat(600));
        assert!(parse(&long).is_none());
        let label = format!("https://{}.com", "a".repeat(64));
        assert!(parse(&label).is_none());
    }
}
