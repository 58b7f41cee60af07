//! A header map in the proxy-wasm wire format, read in place. The host hands over all of a
//! map's headers as one buffer; reading pairs straight out of it saves the two allocations per
//! header that a `Vec<(String, Vec<u8>)>` costs, on every preflight and every response.
//!
//! Format: `u32 count`, then `count` times `(u32 name_len, u32 value_len)`, then every name and
//! value, each followed by a NUL byte. All integers little-endian.

/// The request headers the filter reads (pseudo-headers included).
pub(crate) const ORIGIN: &str = "origin";
/// `Access-Control-Request-Method`: what makes an OPTIONS a preflight.
pub(crate) const REQUEST_METHOD: &str = "access-control-request-method";
/// `Access-Control-Request-Headers`.
pub(crate) const REQUEST_HEADERS: &str = "access-control-request-headers";
/// `Access-Control-Request-Private-Network`.
pub(crate) const REQUEST_PRIVATE_NETWORK: &str = "access-control-request-private-network";
/// The request method (HTTP/2 pseudo-header, as Envoy exposes it for every protocol).
pub(crate) const METHOD: &str = ":method";
/// The request's host and port.
pub(crate) const AUTHORITY: &str = ":authority";
/// The request target: path and query.
pub(crate) const PATH: &str = ":path";

/// Request headers as the filter reads them, whatever the host's representation: the proxy-wasm
/// adapter's serialized map (`HeaderMap`), the native adapter's lookups in Envoy's own map.
/// The engine asks for lowercase names; a representation compares them ASCII
/// case-insensitively unless its own names are lowercase by construction (Envoy's map). `Default`:
/// no headers (what a failed read gives).
pub trait RequestHeaders: Default {
    /// Every value of `name`, in order.
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a;

    /// The first value of `name`.
    fn first<'a>(&'a self, name: &'a str) -> Option<&'a [u8]> {
        self.values(name).next()
    }

    /// True when some header is named `name`.
    fn contains(&self, name: &str) -> bool {
        self.first(name).is_some()
    }

    /// Every value of `name`, as a slice: held in place for none or one line (a preflight's
    /// usual `Origin` and `Access-Control-Request-Headers`), collected only for several.
    fn all_values<'a>(&'a self, name: &'a str) -> ValueLines<'a> {
        let mut values = self.values(name);
        match (values.next(), values.next()) {
            (first, None) => ValueLines::AtMostOne(first),
            _ => ValueLines::Several(self.values(name).collect()),
        }
    }
}

/// The values of one header name (`RequestHeaders::all_values`).
#[derive(Debug)]
pub enum ValueLines<'a> {
    /// No line, or one.
    AtMostOne(Option<&'a [u8]>),
    /// Two or more.
    Several(Vec<&'a [u8]>),
}

impl<'a> ValueLines<'a> {
    /// The values, in order.
    pub fn as_slice(&self) -> &[&'a [u8]] {
        match self {
            ValueLines::AtMostOne(value) => value.as_slice(),
            ValueLines::Several(values) => values,
        }
    }
}

impl RequestHeaders for HeaderMap {
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        HeaderMap::values(self, name)
    }
}

/// A serialized header map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    bytes: Vec<u8>,
}

impl HeaderMap {
    /// Wraps a buffer from the host. A malformed buffer is not an error: iteration stops where
    /// the buffer stops making sense.
    pub fn from_bytes(bytes: Vec<u8>) -> HeaderMap {
        HeaderMap { bytes }
    }

    /// Serializes pairs (for the host, and for hosts made in tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])> + Clone) -> HeaderMap {
        let count = pairs.clone().into_iter().count();
        let data: usize = pairs.clone().into_iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        let mut bytes = Vec::with_capacity(4 + 8 * count + data);
        bytes.extend_from_slice(&len32(count).to_le_bytes());
        for (k, v) in pairs.clone() {
            bytes.extend_from_slice(&len32(k.len()).to_le_bytes());
            bytes.extend_from_slice(&len32(v.len()).to_le_bytes());
        }
        for (k, v) in pairs {
            bytes.extend_from_slice(k);
            bytes.push(0);
            bytes.extend_from_slice(v);
            bytes.push(0);
        }
        HeaderMap { bytes }
    }

    /// The serialized map, as the host takes it back (a local reply's headers).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Every `(name, value)` pair, in order.
    pub(crate) fn iter(&self) -> Pairs<'_> {
        let count = read_u32(&self.bytes, 0).unwrap_or(0);
        // Names and values start after the size table; a count too large for the buffer yields nothing.
        let data = count.checked_mul(8).and_then(|n| n.checked_add(4)).filter(|&d| d <= self.bytes.len());
        Pairs { bytes: &self.bytes, index: 0, count: if data.is_some() { count } else { 0 }, data: data.unwrap_or(0) }
    }

    /// Every value of `name` (ASCII case-insensitive), in order.
    pub(crate) fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v)
    }
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<usize> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(b)).ok()
}

/// Iterator over the pairs of a `HeaderMap`.
pub(crate) struct Pairs<'a> {
    bytes: &'a [u8],
    index: usize,
    count: usize,
    /// Offset of the next name.
    data: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.index >= self.count {
            return None;
        }
        let sizes = 4 + 8 * self.index;
        let (Some(k_len), Some(v_len)) = (read_u32(self.bytes, sizes), read_u32(self.bytes, sizes + 4)) else {
            self.count = 0;
            return None;
        };
        let k_start = self.data;
        let v_start = k_start.checked_add(k_len)?.checked_add(1)?;
        let next = v_start.checked_add(v_len)?.checked_add(1)?;
        let (Some(k), Some(v)) = (self.bytes.get(k_start..k_start + k_len), self.bytes.get(v_start..v_start + v_len))
        else {
            self.count = 0;
            return None;
        };
        self.index += 1;
        self.data = next;
        Some((k, v))
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn list(pairs: &[(&str, &str)]) -> HeaderMap {
        HeaderMap::from_pairs(pairs.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())))
    }

    #[test]
    fn round_trip() {
        let h = list(&[(":status", "200"), ("vary", "a"), ("Vary", "b"), ("x-empty", "")]);
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(pairs.len(), 4);
        assert_eq!(pairs[0], (&b":status"[..], &b"200"[..]));
        assert_eq!(h.values("vary").collect::<Vec<_>>(), [&b"a"[..], b"b"]);
        assert_eq!(h.first("x-empty"), Some(&b""[..]));
        assert!(!h.contains("origin"));
        assert_eq!(HeaderMap::default().iter().count(), 0);
        // The format the SDK writes: count, sizes, then NUL-terminated names and values.
        assert_eq!(list(&[("a", "bc")]).as_bytes(), &[1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, b'a', 0, b'b', b'c', 0]);
    }

    #[test]
    fn malformed_buffers_end_iteration_without_panicking() {
        let good = list(&[("origin", "https://a.example"), ("x", "y")]).as_bytes().to_vec();
        for cut in 0..good.len() {
            let h = HeaderMap::from_bytes(good[..cut].to_vec());
            assert!(h.iter().count() <= 2);
        }
        let huge_count = HeaderMap::from_bytes(vec![0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0]);
        assert_eq!(huge_count.iter().count(), 0);
        let huge_len = HeaderMap::from_bytes(vec![1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, b'a', 0]);
        assert_eq!(huge_len.iter().count(), 0);
    }
}
